//go:build linux

// The tests in this file build the authapi binary and run it as a separate
// process, to find out what happens when things go wrong the way they do in
// production: the process is killed, many clients race for one row, the
// service is stopped with requests in flight, the disk fills up.
package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to inspect the database as any tool would
	_ "modernc.org/sqlite"             // the "sqlite" driver, likewise

	"authapi/internal/testkit"
)

// testPassword passes any sensible password policy.
const testPassword = "Vivid-Harbor-Lantern-7319"

func TestMain(m *testing.M) { testkit.Main(m) }

// TestKillDuringSignups kills the process with SIGKILL while clients are
// signing up and the mail server is down, then restarts it with the mail
// server up: every signup that was answered 201 must still exist, once, in a
// sound database, and its activation email must go out.
func TestKillDuringSignups(t *testing.T) {
	cfg := withDatabase(t, serviceConfig{smtpPort: mailServerDown(t)})
	svc := startService(t, cfg)

	const clients, signupsEach, killAfter = 16, 6, 24
	var (
		mu       sync.Mutex
		acked    []string // answered 201
		cut      int      // requests the kill interrupted
		answered atomic.Int32
		wrong    []string // any other answer
		killNow  = make(chan struct{})
		killOnce sync.Once
		wg       sync.WaitGroup
	)
	client := newClient()
	for c := range clients {
		wg.Go(func() {
			for i := range signupsEach {
				email := fmt.Sprintf("client%02d-%d@example.com", c, i)
				res, err := signup(client, svc.URL, email)
				mu.Lock()
				switch {
				case err != nil:
					cut++
				case res.status == http.StatusCreated:
					acked = append(acked, email)
				default:
					wrong = append(wrong, fmt.Sprintf("%s: %d %s", email, res.status, res.body))
				}
				mu.Unlock()
				if err != nil {
					return // the process is gone
				}
				if answered.Add(1) == killAfter {
					killOnce.Do(func() { close(killNow) })
				}
			}
		})
	}
	allDone := make(chan struct{})
	go func() {
		wg.Wait()
		close(allDone)
	}()
	select {
	case <-killNow:
	case <-allDone:
		t.Fatalf("every client stopped before %d signups were answered:\n%s", killAfter, strings.Join(wrong, "\n"))
	}
	svc.Kill()
	<-allDone

	if len(wrong) > 0 {
		t.Errorf("signups answered other than 201 before the kill:\n%s", strings.Join(wrong, "\n"))
	}
	if cut == 0 {
		t.Fatal("the kill interrupted no request; it did not happen mid-flight")
	}
	t.Logf("%d signups acknowledged, %d cut off by the kill", len(acked), cut)

	db := openDatabase(t, cfg.database)
	if !testkit.OnPostgres() {
		if got := integrityCheck(t, db); got != "ok" {
			t.Errorf("integrity_check after the kill = %q, want ok", got)
		}
	}
	stored := map[string]int{}
	rows, err := db.Query("SELECT email, count(*) FROM users GROUP BY email")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var email string
		var n int
		if err := rows.Scan(&email, &n); err != nil {
			t.Fatal(err)
		}
		stored[email] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, email := range acked {
		if stored[email] != 1 {
			t.Errorf("%s was acknowledged with 201 and is stored %d times, want once", email, stored[email])
		}
	}
	for email, n := range stored {
		if n != 1 {
			t.Errorf("%s is stored %d times, want once", email, n)
		}
	}
	var withoutMail int
	if err := db.QueryRow(`SELECT count(*) FROM users u WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.recipient = u.email)`).Scan(&withoutMail); err != nil {
		t.Fatal(err)
	}
	if withoutMail != 0 {
		t.Errorf("%d stored accounts have no activation email queued, want none", withoutMail)
	}
	db.Close()

	mail := testkit.StartSMTP(t, testkit.SMTPOptions{})
	cfg.smtpPort = mail.Port
	svc = startService(t, cfg)
	mail.WaitFor(t, 60*time.Second, func(msgs []testkit.Message) string {
		got := map[string]bool{}
		for _, m := range msgs {
			for _, to := range m.To {
				got[to] = true
			}
		}
		var missing []string
		for _, email := range acked {
			if !got[email] {
				missing = append(missing, email)
			}
		}
		if len(missing) > 0 {
			return fmt.Sprintf("no activation email yet for %d acknowledged signups, such as %s", len(missing), missing[0])
		}
		return ""
	})
	svc.Stop(t)
}

// TestConcurrentSignupsOfOneEmail races 100 signups of one address: one
// account, 99 clean refusals, and no lock errors.
func TestConcurrentSignupsOfOneEmail(t *testing.T) {
	svc := startService(t, serviceConfig{smtpPort: mailServerDown(t)})
	const racers = 100
	results := make([]result, racers)
	errs := make([]error, racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	client := newClient()
	for i := range racers {
		wg.Go(func() {
			<-start
			results[i], errs[i] = signup(client, svc.URL, "race@example.com")
		})
	}
	close(start)
	wg.Wait()

	counts := map[string]int{}
	for i, r := range results {
		if errs[i] != nil {
			t.Fatalf("signup %d: %v", i, errs[i])
		}
		counts[fmt.Sprintf("%d %s", r.status, r.problemCode())]++
		if r.status >= 500 {
			t.Errorf("signup %d = %d %s, want no server error", i, r.status, r.body)
		}
	}
	want := map[string]int{"201 ": 1, "400 email_taken": racers - 1}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("answers = %v, want %v", counts, want)
	}
	for _, bad := range []string{"SQLITE_BUSY", "database is locked"} {
		if strings.Contains(svc.Log(), bad) {
			t.Errorf("the log mentions %q:\n%s", bad, svc.Log())
		}
	}
}

// TestConcurrentWrongCodes sends 50 wrong activation codes at once: the attempt
// counter must see every one of them, so exactly 5 count as wrong guesses and
// the rest find the code used up.
func TestConcurrentWrongCodes(t *testing.T) {
	mail := testkit.StartSMTP(t, testkit.SMTPOptions{})
	svc := startService(t, serviceConfig{smtpPort: mail.Port})
	client := newClient()
	const email = "guess@example.com"
	if res, err := signup(client, svc.URL, email); err != nil || res.status != http.StatusCreated {
		t.Fatalf("signup: %v %v", res, err)
	}
	code := activationCode(t, mail, email)
	n, _ := strconv.Atoi(code)
	wrongCode := fmt.Sprintf("%06d", (n+1)%1_000_000)

	const guesses = 50
	results := make([]result, guesses)
	errs := make([]error, guesses)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range guesses {
		wg.Go(func() {
			<-start
			results[i], errs[i] = postJSON(client, svc.URL+"/verify", map[string]string{"email": email, "activation_code": wrongCode})
		})
	}
	close(start)
	wg.Wait()

	counts := map[string]int{}
	for i, r := range results {
		if errs[i] != nil {
			t.Fatalf("verify %d: %v", i, errs[i])
		}
		counts[fmt.Sprintf("%d %s", r.status, r.problemCode())]++
	}
	want := map[string]int{"400 invalid_code": 5, "400 code_exhausted": guesses - 5}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("answers = %v, want %v", counts, want)
	}

	res, err := postJSON(client, svc.URL+"/verify", map[string]string{"email": email, "activation_code": code})
	if err != nil {
		t.Fatal(err)
	}
	if res.status != http.StatusBadRequest || res.problemCode() != "code_exhausted" {
		t.Errorf("the right code after the attempts ran out = %d %s, want 400 code_exhausted", res.status, res.body)
	}
}

// TestSIGTERMFinishesRequestsInFlight stops the service while logins are in
// flight: each must get its normal answer, no new connection is accepted, and
// the process exits 0 once it has stopped.
func TestSIGTERMFinishesRequestsInFlight(t *testing.T) {
	mail := testkit.StartSMTP(t, testkit.SMTPOptions{})
	svc := startService(t, serviceConfig{smtpPort: mail.Port})
	client := newClient()
	const email, password = "inflight@example.com", testPassword
	if res, err := signup(client, svc.URL, email); err != nil || res.status != http.StatusCreated {
		t.Fatalf("signup: %v %v", res, err)
	}
	code := activationCode(t, mail, email)
	if res, err := postJSON(client, svc.URL+"/verify", map[string]string{"email": email, "activation_code": code}); err != nil || res.status != http.StatusOK {
		t.Fatalf("verify: %v %v", res, err)
	}

	// Each login announces its body with Expect: 100-continue. The server
	// answers 100 Continue only once the handler reads the body, which
	// proves the request is being served; the body is then held back until
	// after the signal, so that no login can finish before it. Six is as
	// many as the login slow-down lets one client have checked at once,
	// since every attempt counts as a failure until its password is right.
	const logins = 6
	release := make(chan struct{})
	serving := make(chan struct{}, logins)
	results := make([]result, logins)
	errs := make([]error, logins)
	var wg sync.WaitGroup
	slow := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Minute, DisableKeepAlives: true}}
	for i := range logins {
		wg.Go(func() {
			results[i], errs[i] = heldLogin(slow, svc.URL, email, password, release, serving)
		})
	}
	releaseAll := sync.OnceFunc(func() { close(release) })
	defer releaseAll() // should the test stop early
	for range logins {
		select {
		case <-serving:
		case <-time.After(30 * time.Second):
			t.Fatalf("the server never asked for a login's body:\n%s", svc.Log())
		}
	}

	svc.Signal(t, syscall.SIGTERM)
	svc.WaitLogged(t, "shutting down; waiting for requests in flight")
	// The listener closes as shutdown begins; a connection attempt from then
	// on is refused, while the logins above are still waiting for their
	// bodies.
	deadline := time.Now().Add(20 * time.Second)
	for {
		conn, err := net.Dial("tcp", svc.Addr)
		if err != nil {
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Fatalf("dial during shutdown: %v, want connection refused", err)
			}
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("new connections are still accepted after SIGTERM")
		}
		time.Sleep(5 * time.Millisecond)
	}
	releaseAll()
	wg.Wait()

	for i, r := range results {
		if errs[i] != nil {
			t.Errorf("login %d in flight at SIGTERM: %v", i, errs[i])
			continue
		}
		if r.status != http.StatusOK || !strings.Contains(r.body, `"access_token"`) {
			t.Errorf("login %d in flight at SIGTERM = %d %s, want 200 with tokens", i, r.status, r.body)
		}
	}
	state := svc.Wait(t)
	if state.ExitCode() != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0; log:\n%s", state.ExitCode(), svc.Log())
	}
	msgs := svc.Messages()
	stopping, stopped := slices.Index(msgs, "shutting down; waiting for requests in flight"), slices.Index(msgs, "stopped")
	if stopped < 0 || stopped < stopping {
		t.Errorf("the log does not say the service stopped after shutting down; messages: %q", msgs)
	}
}

// TestRecoveryAgainstTheBinary runs the forgotten-password flow on the built
// binary with a real SMTP server: the reset code arrives by email, the reset
// ends the sessions of the old password and the owner is told. Then it asks
// for resets of registered and unknown addresses, which must get the same
// answer and take at least the configured minimum time.
func TestRecoveryAgainstTheBinary(t *testing.T) {
	const minimum = 300 * time.Millisecond
	mail := testkit.StartSMTP(t, testkit.SMTPOptions{})
	svc := startService(t, serviceConfig{smtpPort: mail.Port,
		env: []string{"AUTH_FORGOT_PASSWORD_MIN_DURATION=" + minimum.String()}})
	client := newClient()
	const email, newPassword = "recover@example.com", "Amber-Quarry-Nimbus-4821"
	activateAccount(t, client, svc.URL, mail, email)
	oldRefresh := loginTokens(t, client, svc.URL, email, testPassword)

	res, err := postJSON(client, svc.URL+"/password/forgot", map[string]string{"email": email})
	if err != nil || res.status != http.StatusAccepted {
		t.Fatalf("forgot: %v %v", res, err)
	}
	code := mail.Match(t, email, resetCodeInMail)[1]
	res, err = postJSON(client, svc.URL+"/password/reset", map[string]string{"email": email, "code": code, "new_password": newPassword})
	if err != nil || res.status != http.StatusOK {
		t.Fatalf("reset: %v %v", res, err)
	}
	res, err = postJSON(client, svc.URL+"/refresh", map[string]string{"refresh_token": oldRefresh})
	if err != nil || res.status != http.StatusUnauthorized || res.problemCode() != "invalid_token" {
		t.Errorf("refresh with a token from before the reset = %v %v, want 401 invalid_token", res, err)
	}
	res, err = postJSON(client, svc.URL+"/login", map[string]string{"email": email, "password": testPassword})
	if err != nil || res.status != http.StatusUnauthorized {
		t.Errorf("login with the old password = %v %v, want 401", res, err)
	}
	loginTokens(t, client, svc.URL, email, newPassword)
	mail.Match(t, email, regexp.MustCompile(`(?m)^Subject: Your password was changed\r?$`))

	// Registered and unknown addresses, asked for in turn, one request each
	// (the per-address limit allows one a minute).
	const rounds = 5
	var known, unknown []time.Duration
	for i := range rounds {
		registered := fmt.Sprintf("known-%d@example.com", i)
		activateAccount(t, client, svc.URL, mail, registered)
		id := fmt.Sprintf("enumeration-%d", i)
		kres, ktook := timedForgot(t, client, svc.URL, registered, id)
		ures, utook := timedForgot(t, client, svc.URL, fmt.Sprintf("unknown-%d@example.com", i), id)
		if kres.status != http.StatusAccepted || ures.status != kres.status || ures.body != kres.body {
			t.Errorf("answers differ:\nregistered: %d %s\nunknown:    %d %s", kres.status, kres.body, ures.status, ures.body)
		}
		for _, took := range []time.Duration{ktook, utook} {
			if took < minimum {
				t.Errorf("an answer took %v, less than AUTH_FORGOT_PASSWORD_MIN_DURATION=%v", took, minimum)
			}
		}
		known, unknown = append(known, ktook), append(unknown, utook)
	}
	t.Logf("median /password/forgot time over %d requests: registered %v, unknown %v (minimum %v)",
		rounds, median(known), median(unknown), minimum)

	logs := svc.Log()
	for name, secret := range map[string]string{"reset code": code, "new password": newPassword} {
		if strings.Contains(logs, secret) {
			t.Errorf("the %s appears in the service log", name)
		}
	}
}

// TestConcealedAccountsTakeAlikeTime: with accounts concealed, the time an
// answer takes does not tell either. A signup for a taken address does the
// same work as a new one (a password hash and a write), and every answer of
// /verify and /resend-activation takes at least the configured minimum.
func TestConcealedAccountsTakeAlikeTime(t *testing.T) {
	const minimum = 200 * time.Millisecond
	mail := testkit.StartSMTP(t, testkit.SMTPOptions{})
	svc := startService(t, serviceConfig{smtpPort: mail.Port, env: []string{
		"AUTH_CONCEAL_ACCOUNTS=true", "AUTH_FORGOT_PASSWORD_MIN_DURATION=" + minimum.String(),
		"AUTH_LIMIT_RESEND_PER_IP=off", "AUTH_LIMIT_CODES_PER_EMAIL=off",
	}})
	client := newClient()
	activateAccount(t, client, svc.URL, mail, "taken@example.com")

	timed := func(path string, body map[string]string) (result, time.Duration) {
		t.Helper()
		start := time.Now()
		res, err := postJSON(client, svc.URL+path, body)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return res, time.Since(start)
	}
	const rounds = 7
	var taken, fresh, known, unknown []time.Duration
	for i := range rounds {
		body := func(addr string) map[string]string {
			return map[string]string{"email": addr, "password": testPassword, "first_name": "Astro", "last_name": "User"}
		}
		tres, ttook := timed("/signup", body("taken@example.com"))
		fres, ftook := timed("/signup", body(fmt.Sprintf("fresh-%d@example.com", i)))
		if tres.status != http.StatusCreated || fres.status != http.StatusCreated {
			t.Fatalf("signup answers: taken %d %s, fresh %d %s; want 201 for both", tres.status, tres.body, fres.status, fres.body)
		}
		taken, fresh = append(taken, ttook), append(fresh, ftook)

		kres, ktook := timed("/verify", map[string]string{"email": "taken@example.com", "activation_code": "000000"})
		ures, utook := timed("/verify", map[string]string{"email": fmt.Sprintf("nobody-%d@example.com", i), "activation_code": "000000"})
		if kres.status != ures.status || kres.problemCode() != ures.problemCode() {
			t.Errorf("verify answers differ: %d %s and %d %s", kres.status, kres.body, ures.status, ures.body)
		}
		known, unknown = append(known, ktook), append(unknown, utook)
		for _, took := range []time.Duration{ktook, utook} {
			if took < minimum {
				t.Errorf("a /verify answer took %v, less than the minimum %v", took, minimum)
			}
		}
		for _, addr := range []string{"taken@example.com", fmt.Sprintf("fresh-%d@example.com", i), "nobody@example.com"} {
			if res, took := timed("/resend-activation", map[string]string{"email": addr}); res.status != http.StatusOK || took < minimum {
				t.Errorf("resend for %s = %d after %v, want 200 after at least %v", addr, res.status, took, minimum)
			}
		}
	}
	t.Logf("median signup: taken %v, new %v; median verify: existing %v, unknown %v",
		median(taken), median(fresh), median(known), median(unknown))
	// Hashing a password is the bulk of a signup either way; answering a
	// taken address without it would be tens of times faster. The bounds
	// leave room for a loaded machine: only missing (or extra) work on one
	// side can cross them. TestConcealedSignupDoesTheSameWork counts the work
	// itself.
	const far = 5.0
	if ratio := float64(median(taken)) / float64(median(fresh)); ratio < 1/far || ratio > far {
		t.Errorf("a signup for a taken address takes %.2f times as long as a new one; want about the same", ratio)
	}
	if ratio := float64(median(known)) / float64(median(unknown)); ratio < 1/far || ratio > far {
		t.Errorf("/verify for an existing account takes %.2f times as long as for an unknown one; want about the same", ratio)
	}
	mail.Match(t, "taken@example.com", regexp.MustCompile(`(?m)^Subject: Someone tried to sign up with your email address\r?$`))
}

// activateAccount signs addr up and activates it with the code from the
// activation email.
func activateAccount(t *testing.T, client *http.Client, base string, mail *testkit.SMTPServer, addr string) {
	t.Helper()
	if res, err := signup(client, base, addr); err != nil || res.status != http.StatusCreated {
		t.Fatalf("signup %s: %v %v", addr, res, err)
	}
	code := activationCode(t, mail, addr)
	res, err := postJSON(client, base+"/verify", map[string]string{"email": addr, "activation_code": code})
	if err != nil || res.status != http.StatusOK {
		t.Fatalf("verify %s: %v %v", addr, res, err)
	}
}

var codeInMail = regexp.MustCompile(`activation code is (\d{6})`)

// activationCode waits for an activation email to addr and returns the code
// in the newest one.
func activationCode(t *testing.T, mail *testkit.SMTPServer, addr string) string {
	t.Helper()
	return mail.Match(t, addr, codeInMail)[1]
}

var resetCodeInMail = regexp.MustCompile(`reset code is (\d{6})`)

// mailServerDown returns the port of a mail server that is down.
func mailServerDown(t *testing.T) int {
	t.Helper()
	return testkit.StartSMTP(t, testkit.SMTPOptions{Behaviour: testkit.Refuse}).Port
}

// loginTokens logs in and returns the refresh token.
func loginTokens(t *testing.T, client *http.Client, base, addr, password string) string {
	t.Helper()
	res, err := postJSON(client, base+"/login", map[string]string{"email": addr, "password": password})
	if err != nil || res.status != http.StatusOK {
		t.Fatalf("login %s: %v %v", addr, res, err)
	}
	var tokens struct {
		Refresh string `json:"refresh_token"`
	}
	if err := json.Unmarshal([]byte(res.body), &tokens); err != nil || tokens.Refresh == "" {
		t.Fatalf("login answer %s: %v", res.body, err)
	}
	return tokens.Refresh
}

// timedForgot asks for a reset of addr under the request id and returns the
// answer and how long it took to arrive.
func timedForgot(t *testing.T, client *http.Client, base, addr, requestID string) (result, time.Duration) {
	t.Helper()
	payload, err := json.Marshal(map[string]string{"email": addr})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, base+"/password/forgot", bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-ID", requestID)
	start := time.Now()
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("forgot %s: %v", addr, err)
	}
	r, err := readResult(res)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("forgot %s: %v", addr, err)
	}
	return r, took
}

func median(ds []time.Duration) time.Duration {
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	return sorted[len(sorted)/2]
}

// TestFullDisk fills the file system that holds the database: signups must
// get 503 problems and readiness must fail while liveness holds, and both
// must recover once space is freed.
func TestFullDisk(t *testing.T) {
	if testkit.OnPostgres() {
		t.Skip("fills the disk under a SQLite file; a PostgreSQL server's disk is its own (readiness asks it for a write)")
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", data, "tmpfs", 0, "size=2m"); err != nil {
		t.Skipf("cannot mount a 2 MiB tmpfs to fill up (%v); this test needs root or CAP_SYS_ADMIN", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(data, 0); err != nil {
			t.Errorf("unmount %s: %v", data, err)
		}
	})
	mail := testkit.StartSMTP(t, testkit.SMTPOptions{})
	svc := startService(t, serviceConfig{dir: dir, database: filepath.Join(data, "auth.db"), smtpPort: mail.Port})
	client := newClient()
	if res, err := signup(client, svc.URL, "before@example.com"); err != nil || res.status != http.StatusCreated {
		t.Fatalf("signup before the disk fills: %v %v", res, err)
	}

	filler := filepath.Join(data, "filler")
	fill(t, filler)

	// Writes fail once the database needs a block it cannot get; a signup or
	// two may still fit in space the files already hold.
	var refused result
	for i := 0; ; i++ {
		res, err := signup(client, svc.URL, fmt.Sprintf("full-%d@example.com", i))
		if err != nil {
			t.Fatalf("signup on a full disk: %v", err)
		}
		if res.status != http.StatusCreated {
			refused = res
			break
		}
		if i == 20 {
			t.Fatal("20 signups succeeded on a full disk")
		}
	}
	if refused.status != http.StatusServiceUnavailable || refused.problemCode() != "unavailable" ||
		!strings.HasPrefix(refused.header.Get("Content-Type"), "application/problem+json") || refused.header.Get("Retry-After") == "" {
		t.Errorf("signup on a full disk = %d %s %s (Retry-After %q), want 503 application/problem+json, code unavailable, with Retry-After",
			refused.status, refused.header.Get("Content-Type"), refused.body, refused.header.Get("Retry-After"))
	}
	if res := get(t, client, svc.URL+"/readyz"); res.status != http.StatusServiceUnavailable || res.problemCode() != "unavailable" {
		t.Errorf("readyz on a full disk = %d %s, want 503 unavailable", res.status, res.body)
	}
	if res := get(t, client, svc.URL+"/healthz"); res.status != http.StatusOK {
		t.Errorf("healthz on a full disk = %d %s, want 200", res.status, res.body)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if res, err := signup(client, svc.URL, "after@example.com"); err != nil || res.status != http.StatusCreated {
		t.Errorf("signup once space is free = %v %v, want 201", res, err)
	}
	if res := get(t, client, svc.URL+"/readyz"); res.status != http.StatusOK {
		t.Errorf("readyz once space is free = %d %s, want 200", res.status, res.body)
	}
	// The log reaches the test through a pipe, possibly after the answer.
	svc.WaitLogged(t, "database writes are failing; reporting not ready until a write succeeds")
	svc.WaitLogged(t, "database writes work again")
}

// fill writes zeros to a new file at path until the file system is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		_, err := f.Write(chunk)
		if errors.Is(err, syscall.ENOSPC) {
			return
		}
		if err != nil {
			t.Fatalf("fill the disk: %v", err)
		}
	}
}

// serviceConfig says where a service keeps its files and state and sends
// its mail.
type serviceConfig struct {
	dir string // holds the keys, and the SQLite database unless database is set; a new one if empty
	// database is AUTH_DATABASE_URL; empty means auth.db in dir or, when the
	// suite runs on PostgreSQL, a new schema of the test's own.
	database string
	smtpPort int
	env      []string // more settings, as NAME=value
}

// withDatabase fills in the directory and the database of cfg, so that a
// second start of the service finds the state of the first.
func withDatabase(t *testing.T, cfg serviceConfig) serviceConfig {
	t.Helper()
	if cfg.dir == "" {
		cfg.dir = t.TempDir()
	}
	if cfg.database == "" {
		cfg.database = filepath.Join(cfg.dir, "auth.db")
		if testkit.OnPostgres() {
			cfg.database = testkit.Postgres(t)
		}
	}
	return cfg
}

// startService runs the built binary, sending its mail to the SMTP server on
// smtpPort, and waits until it is ready.
func startService(t *testing.T, cfg serviceConfig) *testkit.Process {
	t.Helper()
	env := []string{
		"AUTH_MAILER=smtp",
		"AUTH_SMTP_HOST=127.0.0.1",
		"AUTH_SMTP_PORT=" + strconv.Itoa(cfg.smtpPort),
		"AUTH_SMTP_TLS=none",
		"AUTH_SMTP_FROM=Authapi <no-reply@example.com>",
		// Every client here is 127.0.0.1; the per-client and per-address
		// limits would turn these races into 429s before they reach the
		// database.
		"AUTH_LIMIT_SIGNUP_PER_IP=off",
		"AUTH_LIMIT_SIGNUP_PER_EMAIL=off",
		"AUTH_LIMIT_VERIFY_PER_IP=off",
		"AUTH_LIMIT_LOGIN_PER_IP=off",
	}
	cfg = withDatabase(t, cfg)
	env = append(env, "AUTH_DATABASE_URL="+cfg.database)
	return testkit.Start(t, testkit.Options{Dir: cfg.dir, Env: append(env, cfg.env...)})
}

// result is an HTTP answer.
type result struct {
	status int
	header http.Header
	body   string
}

// problemCode is the code of a problem document, or "".
func (r result) problemCode() string {
	var p struct {
		Code string `json:"code"`
	}
	if json.Unmarshal([]byte(r.body), &p) != nil {
		return ""
	}
	return p.Code
}

func newClient() *http.Client {
	return &http.Client{
		Timeout:   time.Minute,
		Transport: &http.Transport{MaxIdleConnsPerHost: 100},
	}
}

func signup(client *http.Client, base, email string) (result, error) {
	return postJSON(client, base+"/signup", map[string]string{
		"email": email, "password": testPassword, "first_name": "Ada", "last_name": "Lovelace",
	})
}

func postJSON(client *http.Client, url string, body any) (result, error) {
	return postJSONWith(client, url, body, nil)
}

// postJSONWith is postJSON with extra request headers.
func postJSONWith(client *http.Client, url string, body any, header http.Header) (result, error) {
	payload, err := json.Marshal(body)
	if err != nil {
		return result{}, err
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return result{}, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return result{}, err
	}
	return readResult(res)
}

func get(t *testing.T, client *http.Client, url string) result {
	t.Helper()
	res, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	r, err := readResult(res)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return r
}

func readResult(res *http.Response) (result, error) {
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return result{}, err
	}
	return result{status: res.StatusCode, header: res.Header, body: string(body)}, nil
}

// heldLogin sends a login whose body waits for release, and signals serving
// once the server has asked for the body.
func heldLogin(client *http.Client, base, email, password string, release <-chan struct{}, serving chan<- struct{}) (result, error) {
	payload, err := json.Marshal(map[string]string{"email": email, "password": password})
	if err != nil {
		return result{}, err
	}
	trace := &httptrace.ClientTrace{Got100Continue: func() { serving <- struct{}{} }}
	ctx := httptrace.WithClientTrace(context.Background(), trace)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/login", &heldBody{data: payload, release: release})
	if err != nil {
		return result{}, err
	}
	req.ContentLength = int64(len(payload))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Expect", "100-continue")
	res, err := client.Do(req)
	if err != nil {
		return result{}, err
	}
	return readResult(res)
}

// heldBody is a request body that yields nothing until release is closed.
type heldBody struct {
	data    []byte
	release <-chan struct{}
}

func (b *heldBody) Read(p []byte) (int, error) {
	<-b.release
	if len(b.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p, b.data)
	b.data = b.data[n:]
	return n, nil
}

// openDatabase opens the database of a stopped service, as any tool would:
// a SQLite file, or a PostgreSQL URL.
func openDatabase(t *testing.T, database string) *sql.DB {
	t.Helper()
	driver, source := "sqlite", (&url.URL{Scheme: "file", Path: database}).String()
	if strings.HasPrefix(database, "postgres://") {
		driver, source = "pgx", database
	}
	db, err := sql.Open(driver, source)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func integrityCheck(t *testing.T, db *sql.DB) string {
	t.Helper()
	var got string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&got); err != nil {
		t.Fatalf("integrity_check: %v", err)
	}
	return got
}
