//go:build linux

// The tests in this file run a fleet: three authapi processes on three ports
// that share one PostgreSQL database, one server secret and one mail server,
// with requests spread over them in turn. Each shows one way in which the
// replicas must behave as one service (issue 12): a race between replicas
// has one winner, a limit counts every replica's requests, an ended session
// ends everywhere, each email goes out once, mail survives the death of the
// replica that held it, and a rotated key reaches every replica before any
// of them signs with it. A fleet needs PostgreSQL, so these tests run on it
// whatever AUTH_TEST_DATABASE says.
package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"authapi/internal/testkit"
)

// fleetSize is how many replicas a fleet runs.
const fleetSize = 3

// fleetTest skips t under -short, since it runs built binaries, and
// otherwise runs it in parallel with the other fleet tests, each of which
// has a fleet of its own.
func fleetTest(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs a fleet of built binaries; skipped with -short")
	}
	t.Parallel()
}

// fleetConfig shapes a fleet.
type fleetConfig struct {
	// mailPorts are the SMTP ports of the replicas, in order; the last one
	// also serves the replicas beyond it, so one port serves them all.
	mailPorts []int
	// env is more settings for every replica, as NAME=value.
	env []string
}

// fleet is replicas of authapi that share one database, one server secret
// and their settings.
type fleet struct {
	replicas []*testkit.Process
	// database is the URL of the shared database, as the test opens it.
	database string
	// env is what every replica is given but its mail server: what
	// `authapi keys rotate` needs to act on the fleet's keys.
	env []string
}

// startFleet starts fleetSize replicas on a new PostgreSQL schema and a new
// server secret, one after another, each ready before the next starts. Each
// replica has a directory of its own, as it would on a machine of its own;
// only the secret file is shared, as an operator would copy it to each.
func startFleet(t *testing.T, cfg fleetConfig) *fleet {
	t.Helper()
	database := testkit.Postgres(t)
	f := &fleet{database: database, env: append([]string{
		"AUTH_DATABASE_URL=" + withPoolSize(t, database, 4),
		"AUTH_SECRET_KEY_FILE=" + newSecretFile(t),
	}, cfg.env...)}
	for i := range fleetSize {
		port := cfg.mailPorts[min(i, len(cfg.mailPorts)-1)]
		env := append([]string{
			"AUTH_MAILER=smtp",
			"AUTH_SMTP_HOST=127.0.0.1",
			"AUTH_SMTP_PORT=" + strconv.Itoa(port),
			"AUTH_SMTP_TLS=none",
			"AUTH_SMTP_FROM=Authapi <no-reply@example.com>",
		}, f.env...)
		f.replicas = append(f.replicas, testkit.Start(t, testkit.Options{Env: env}))
	}
	return f
}

// url returns the address of the replica that serves request i: requests
// go to the replicas in turn.
func (f *fleet) url(i int) string {
	return f.replicas[i%len(f.replicas)].URL
}

// withPoolSize returns the database URL with a connection pool of size
// connections for each replica, so that the fleets of tests running in
// parallel stay well within the server's connection limit.
func withPoolSize(t *testing.T, database string, size int) string {
	t.Helper()
	u, err := url.Parse(database)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("pool_max_conns", strconv.Itoa(size))
	u.RawQuery = q.Encode()
	return u.String()
}

// newSecretFile writes a server secret as an operator makes one for a
// fleet (openssl rand -base64 32): 32 random bytes, base64 on one line,
// mode 0600.
func newSecretFile(t *testing.T) string {
	t.Helper()
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "secret.key")
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(secret)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestFleetSignupRaceMakesOneAccount races 50 signups of one email over the
// replicas. A replica makes the signups of one address that it serves take
// turns, but only its own: between replicas, the database has to decide.
// One account, 49 answers 400 email_taken, and no server error.
func TestFleetSignupRaceMakesOneAccount(t *testing.T) {
	fleetTest(t)
	f := startFleet(t, fleetConfig{mailPorts: []int{mailServerDown(t)}, env: []string{
		// Every client here is 127.0.0.1, and every signup names one
		// address: the limits would answer most of them with 429.
		"AUTH_LIMIT_SIGNUP_PER_IP=off", "AUTH_LIMIT_SIGNUP_PER_EMAIL=off",
	}})
	const racers, email = 50, "fleet-race@example.com"
	results := make([]result, racers)
	errs := make([]error, racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	client := newClient()
	for i := range racers {
		wg.Go(func() {
			<-start
			results[i], errs[i] = signup(client, f.url(i), email)
		})
	}
	close(start)
	wg.Wait()

	counts := map[string]int{}
	for i, r := range results {
		if errs[i] != nil {
			t.Fatalf("signup %d: %v", i, errs[i])
		}
		if r.status >= 500 {
			t.Errorf("signup %d, on replica %d, = %d %s; want no server error", i, i%fleetSize, r.status, r.body)
		}
		counts[fmt.Sprintf("%d %s", r.status, r.problemCode())]++
	}
	if want := map[string]int{"201 ": 1, "400 email_taken": racers - 1}; !maps.Equal(counts, want) {
		t.Errorf("answers = %v, want %v", counts, want)
	}
	var stored int
	if err := openDatabase(t, f.database).QueryRow("SELECT count(*) FROM users WHERE email = $1", email).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != 1 {
		t.Errorf("the database holds %d accounts of %s, want 1", stored, email)
	}
}

// TestFleetLoginLimitsAreShared: the login throttle and the rate limits
// count the requests of every replica, so that spreading attempts over the
// fleet buys an attacker nothing.
func TestFleetLoginLimitsAreShared(t *testing.T) {
	fleetTest(t)
	// With AUTH_LOGIN_FREE_FAILURES=n, an attempt counts as a failure as
	// soon as it is admitted, and only a run of more than n failures must
	// wait before the next attempt (domain.LoginPolicy.Admit and wait): the
	// first n+1 wrong passwords are checked and answered 401. The first wait
	// is 1 s, so an attempt sent right after the (n+1)th is refused with
	// 429. Locking takes AUTH_LOGIN_LOCKOUT_FAILURES (10), more than that.
	const freeFailures = 5
	const wantChecked = freeFailures + 1
	const forgotPerIP = 3
	f := startFleet(t, fleetConfig{mailPorts: []int{mailServerDown(t)}, env: []string{
		"AUTH_LOGIN_FREE_FAILURES=" + strconv.Itoa(freeFailures),
		"AUTH_LOGIN_LOCKOUT_FAILURES=10",
		// Only the throttle, which counts per account and client, is to
		// answer the logins here.
		"AUTH_LIMIT_LOGIN_PER_IP=off",
		"AUTH_LIMIT_FORGOT_PER_IP=" + strconv.Itoa(forgotPerIP) + "/1h",
		"AUTH_FORGOT_PASSWORD_MIN_DURATION=0s",
	}})
	client := newClient()

	t.Run("wrong passwords in a row", func(t *testing.T) {
		// A slow run can only overstate the count, when a wait ran out
		// before the next attempt: such a run is repeated on another
		// account.
		measure := func(name string, at func(int) string) int {
			for try := 1; ; try++ {
				email := fmt.Sprintf("%s-%d@example.com", name, try)
				if res, err := signup(client, at(0), email); err != nil || res.status != http.StatusCreated {
					t.Fatalf("signup %s: %v %v", email, res, err)
				}
				run := wrongPasswordsInARow(t, client, at, email)
				t.Logf("%s: %s", email, run.trace)
				if run.checked <= wantChecked || !run.slow || try == 3 {
					return run.checked
				}
			}
		}
		one := measure("one-replica", func(int) string { return f.url(0) })
		all := measure("whole-fleet", f.url)
		if all != one {
			t.Errorf("the fleet checked %d wrong passwords before the first refusal, one of its replicas %d; want the same", all, one)
		}
		if one != wantChecked || all != wantChecked {
			t.Errorf("wrong passwords checked before the first refusal: one replica %d, the fleet %d; "+
				"want %d with AUTH_LOGIN_FREE_FAILURES=%d", one, all, wantChecked, freeFailures)
		}
	})

	t.Run("wrong passwords at once", func(t *testing.T) {
		// Attempts that arrive together at different replicas queue on the
		// account's row, so none slips past the count of another.
		const email, attempts = "burst@example.com", 24
		if res, err := signup(client, f.url(0), email); err != nil || res.status != http.StatusCreated {
			t.Fatalf("signup %s: %v %v", email, res, err)
		}
		results := make([]result, attempts)
		errs := make([]error, attempts)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range attempts {
			wg.Go(func() {
				<-start
				results[i], errs[i] = postJSON(client, f.url(i)+"/login", map[string]string{"email": email, "password": "Wrong-Password-0000"})
			})
		}
		close(start)
		wg.Wait()
		counts := map[string]int{}
		for i, r := range results {
			if errs[i] != nil {
				t.Fatalf("login %d: %v", i, errs[i])
			}
			counts[fmt.Sprintf("%d %s", r.status, r.problemCode())]++
		}
		want := map[string]int{"401 invalid_credentials": wantChecked, "429 too_many_requests": attempts - wantChecked}
		if !maps.Equal(counts, want) {
			t.Errorf("%d wrong passwords at once over the fleet: answers %v, want %v", attempts, counts, want)
		}
	})

	t.Run("forgotten passwords per client address", func(t *testing.T) {
		// Each request names another address, so that only the limit per
		// client address can refuse it.
		const requests = 3 * fleetSize
		var answers []string
		for i := range requests {
			res, err := postJSON(client, f.url(i)+"/password/forgot", map[string]string{"email": fmt.Sprintf("nobody-%d@example.com", i)})
			if err != nil {
				t.Fatal(err)
			}
			answers = append(answers, strconv.Itoa(res.status))
		}
		want := slices.Repeat([]string{"202"}, forgotPerIP)
		want = append(want, slices.Repeat([]string{"429"}, requests-forgotPerIP)...)
		if !slices.Equal(answers, want) {
			t.Errorf("with AUTH_LIMIT_FORGOT_PER_IP=%d/1h, %d requests over the fleet in turn were answered %v, want %v",
				forgotPerIP, requests, answers, want)
		}
	})
}

// slowDownFirstWait is the first wait of the login slow-down
// (domain.LoginPolicy.FirstDelay), which no setting changes.
const slowDownFirstWait = time.Second

// loginRun is what a run of wrong passwords in a row met.
type loginRun struct {
	// checked is how many were checked, answered 401, before the first
	// refusal.
	checked int
	// slow reports an answer that came slowDownFirstWait or more after the
	// attempt before it was sent: a wait may have run out between them.
	slow bool
	// trace lists the answers and their times, for the test's log.
	trace string
}

// wrongPasswordsInARow logs in to email with a wrong password, one attempt
// after another, each at the replica that at names for it, until an attempt
// is refused with 429 or 403 account_locked. Any other answer fails the
// test.
func wrongPasswordsInARow(t *testing.T, client *http.Client, at func(i int) string, email string) loginRun {
	t.Helper()
	const most = 30
	var (
		run   loginRun
		trace []string
		prev  time.Time
	)
	begin := time.Now()
	for i := range most {
		sent := time.Now()
		res, err := postJSON(client, at(i)+"/login", map[string]string{"email": email, "password": "Wrong-Password-0000"})
		if err != nil {
			t.Fatalf("login %d: %v", i, err)
		}
		if i > 0 && time.Since(prev) >= slowDownFirstWait {
			run.slow = true
		}
		prev = sent
		trace = append(trace, fmt.Sprintf("%d at %v", res.status, time.Since(begin).Round(time.Millisecond)))
		switch code := res.problemCode(); {
		case res.status == http.StatusUnauthorized && code == "invalid_credentials":
		case res.status == http.StatusTooManyRequests, res.status == http.StatusForbidden && code == "account_locked":
			run.checked, run.trace = i, strings.Join(trace, ", ")
			return run
		default:
			t.Fatalf("wrong password %d = %d %s, want 401 invalid_credentials, 429 or 403 account_locked", i+1, res.status, res.body)
		}
	}
	t.Fatalf("%d wrong passwords in a row were all checked: %s", most, strings.Join(trace, ", "))
	return run
}

// TestFleetLogoutEndsTheSessionOnEveryReplica: a session ended on one
// replica is ended on all of them at once; no replica keeps a copy that
// would let its refresh token work a little longer.
func TestFleetLogoutEndsTheSessionOnEveryReplica(t *testing.T) {
	fleetTest(t)
	mail := testkit.StartSMTP(t, testkit.SMTPOptions{})
	f := startFleet(t, fleetConfig{mailPorts: []int{mail.Port}})
	client := newClient()
	const email = "fleet-logout@example.com"

	// Signed up on one replica, activated on the next, logged in on the
	// third.
	if res, err := signup(client, f.url(0), email); err != nil || res.status != http.StatusCreated {
		t.Fatalf("signup: %v %v", res, err)
	}
	code := activationCode(t, mail, email)
	if res, err := postJSON(client, f.url(1)+"/verify", map[string]string{"email": email, "activation_code": code}); err != nil || res.status != http.StatusOK {
		t.Fatalf("verify: %v %v", res, err)
	}
	refresh := loginTokens(t, client, f.url(2), email, testPassword)
	for i := range fleetSize {
		res, err := postJSON(client, f.url(i)+"/refresh", map[string]string{"refresh_token": refresh})
		if err != nil || res.status != http.StatusOK {
			t.Fatalf("refresh on replica %d before the logout = %v %v, want 200", i, res, err)
		}
	}

	res, err := postJSON(client, f.url(0)+"/logout", map[string]string{"refresh_token": refresh})
	if err != nil || res.status != http.StatusOK {
		t.Fatalf("logout on replica 0 = %v %v, want 200", res, err)
	}
	for _, i := range []int{1, 2, 0} {
		res, err := postJSON(client, f.url(i)+"/refresh", map[string]string{"refresh_token": refresh})
		if err != nil {
			t.Fatal(err)
		}
		if res.status != http.StatusUnauthorized || res.problemCode() != "invalid_token" {
			t.Errorf("refresh on replica %d right after the logout on replica 0 = %d %s, want 401 invalid_token", i, res.status, res.body)
		}
	}
}

// TestFleetSendsEachActivationEmailOnce signs up 200 accounts over the
// fleet, so that the three dispatchers deliver from one outbox at once:
// each account gets exactly one activation email, even a few seconds after
// the last one arrived, and every message is recorded as sent.
func TestFleetSendsEachActivationEmailOnce(t *testing.T) {
	fleetTest(t)
	mail := testkit.StartSMTP(t, testkit.SMTPOptions{})
	f := startFleet(t, fleetConfig{mailPorts: []int{mail.Port}, env: []string{
		"AUTH_LIMIT_SIGNUP_PER_IP=off",
	}})
	const accounts = 200
	emails := make([]string, accounts)
	for i := range emails {
		emails[i] = fmt.Sprintf("fleet-mail-%03d@example.com", i)
	}
	acked := signupAll(t, newClient(), f.url, emails)
	if len(acked) != accounts {
		t.Fatalf("%d of %d signups were answered 201", len(acked), accounts)
	}

	mail.WaitFor(t, 60*time.Second, func(msgs []testkit.Message) string {
		return missingMail(msgs, acked)
	})
	// A message that two dispatchers claimed would go out twice at about
	// the same time; a few seconds more let a late second copy arrive.
	time.Sleep(3 * time.Second)
	if extra := unexpectedMail(mail.Messages(), acked); extra != "" {
		t.Error(extra)
	}
	states := map[string]int{}
	rows, err := openDatabase(t, f.database).Query("SELECT state, count(*) FROM outbox GROUP BY state")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			t.Fatal(err)
		}
		states[state] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"sent": accounts}; !maps.Equal(states, want) {
		t.Errorf("the outbox holds %v, want %v", states, want)
	}
}

// TestFleetDeliversTheMailOfAKilledReplica kills a replica with SIGKILL
// while it is sending an email, and so holds a claim on it, and the rest of
// its mail waits for the mail server: the other replicas deliver the email
// of every acknowledged signup once the server is up, the held one when
// the claim's lease runs out.
//
// A replica's mail server is fixed when it starts, so each sends to a port
// of the test's: the replica to be killed to one that accepts connections
// and never answers, so that its send hangs; the others to one that drops
// every connection until after the kill, when it relays them to a working
// server.
func TestFleetDeliversTheMailOfAKilledReplica(t *testing.T) {
	fleetTest(t)
	hanging, down := startMailPort(t, hangMail), startMailPort(t, dropMail)
	f := startFleet(t, fleetConfig{mailPorts: []int{hanging.port, down.port}, env: []string{
		"AUTH_LIMIT_SIGNUP_PER_IP=off",
	}})
	victim := f.replicas[0]

	const accounts = 20
	emails := make([]string, accounts)
	for i := range emails {
		emails[i] = fmt.Sprintf("fleet-kill-%02d@example.com", i)
	}
	// Each signup wakes the dispatcher of the replica that served it.
	acked := signupAll(t, newClient(), func(int) string { return victim.URL }, emails)
	if len(acked) != accounts {
		t.Fatalf("%d of %d signups were answered 201", len(acked), accounts)
	}
	// A dispatcher claims a message before it connects to send it.
	deadline := time.Now().Add(20 * time.Second)
	for hanging.holding() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the replica to be killed never connected to its mail server to send")
		}
		time.Sleep(10 * time.Millisecond)
	}
	victim.Kill()
	killed := time.Now()

	mail := testkit.StartSMTP(t, testkit.SMTPOptions{})
	down.relay(mail.Addr())
	// The held email waits for its lease (15 s), the others for their next
	// attempt: the delay doubles from 2 s.
	mail.WaitFor(t, 90*time.Second, func(msgs []testkit.Message) string {
		return missingMail(msgs, acked)
	})
	t.Logf("killed replica 0 while it was sending; every email arrived %v after the kill",
		time.Since(killed).Round(100*time.Millisecond))
	// The killed replica never got a message through, so nothing may
	// arrive twice.
	if extra := unexpectedMail(mail.Messages(), acked); extra != "" {
		t.Error(extra)
	}
}

// signupAll signs up each of emails, a few at a time, at the replica that
// at names for it, and returns the addresses answered 201. Any other answer
// fails the test.
func signupAll(t *testing.T, client *http.Client, at func(i int) string, emails []string) []string {
	t.Helper()
	const clients = 12
	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
	)
	next := make(chan int)
	for range clients {
		wg.Go(func() {
			for i := range next {
				res, err := signup(client, at(i), emails[i])
				if err != nil || res.status != http.StatusCreated {
					t.Errorf("signup %s at %s = %v %v, want 201", emails[i], at(i), res, err)
					continue
				}
				mu.Lock()
				acked = append(acked, emails[i])
				mu.Unlock()
			}
		})
	}
	for i := range emails {
		next <- i
	}
	close(next)
	wg.Wait()
	return acked
}

// mailCounts counts the messages to each recipient.
func mailCounts(msgs []testkit.Message) map[string]int {
	counts := map[string]int{}
	for _, m := range msgs {
		for _, to := range m.To {
			counts[to]++
		}
	}
	return counts
}

// missingMail names the addresses of want that no message has reached yet,
// or returns "" once every one has mail.
func missingMail(msgs []testkit.Message, want []string) string {
	counts := mailCounts(msgs)
	var missing []string
	for _, addr := range want {
		if counts[addr] == 0 {
			missing = append(missing, addr)
		}
	}
	if len(missing) > 0 {
		return fmt.Sprintf("%d of %d addresses have no email yet, such as %s", len(missing), len(want), missing[0])
	}
	return ""
}

// unexpectedMail says which addresses got other than exactly one message,
// each of want one and any other none, or returns "".
func unexpectedMail(msgs []testkit.Message, want []string) string {
	counts := mailCounts(msgs)
	var wrong []string
	for _, addr := range want {
		if counts[addr] != 1 {
			wrong = append(wrong, fmt.Sprintf("%s got %d", addr, counts[addr]))
		}
		delete(counts, addr)
	}
	for addr, n := range counts {
		wrong = append(wrong, fmt.Sprintf("%s, who signed up nowhere, got %d", addr, n))
	}
	if len(wrong) > 0 {
		slices.Sort(wrong)
		if len(wrong) > 10 {
			wrong = append(wrong[:10], fmt.Sprintf("%d more", len(wrong)-10))
		}
		return fmt.Sprintf("%d messages for %d addresses; want one each, but %s", len(msgs), len(want), strings.Join(wrong, "; "))
	}
	return ""
}

// mailBehaviour is how a mailPort treats a connection.
type mailBehaviour int

// The behaviours of a mailPort.
const (
	// dropMail closes each connection as soon as it is accepted, so that
	// every send fails at once, as to a mail server that is down.
	dropMail mailBehaviour = iota
	// hangMail holds each connection and never says a word, as a mail
	// server that hangs.
	hangMail
	// relayMail relays each connection to a working server.
	relayMail
)

// mailPort is a loopback port where replicas find their mail server, whose
// behaviour the test changes while they run: a replica's mail server is
// fixed when it starts, and testkit's SMTP servers behave one way from
// start to end.
type mailPort struct {
	port int

	mu        sync.Mutex
	behaviour mailBehaviour
	target    string // the working server's host:port, with relayMail
	held      int    // connections held silent now
	conns     map[net.Conn]bool
	closed    bool
}

// startMailPort listens on a free loopback port with the behaviour given,
// until the test ends.
func startMailPort(t *testing.T, behaviour mailBehaviour) *mailPort {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &mailPort{port: l.Addr().(*net.TCPAddr).Port, behaviour: behaviour, conns: map[net.Conn]bool{}}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { p.serve(c) })
		}
	})
	t.Cleanup(func() {
		l.Close()
		p.mu.Lock()
		p.closed = true
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		wg.Wait()
	})
	return p
}

// relay relays every connection from now on to the server at target.
func (p *mailPort) relay(target string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.behaviour, p.target = relayMail, target
}

// holding returns how many connections the port is holding silent now.
func (p *mailPort) holding() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.held
}

// serve treats c as the port's behaviour says.
func (p *mailPort) serve(c net.Conn) {
	defer c.Close()
	p.mu.Lock()
	behaviour, target := p.behaviour, p.target
	p.mu.Unlock()
	hang := behaviour == hangMail
	if behaviour == dropMail || !p.track(c, hang) {
		return
	}
	defer p.untrack(c, hang)
	if hang {
		io.Copy(io.Discard, c) // until the client gives up or the test ends
		return
	}
	server, err := net.Dial("tcp", target)
	if err != nil || !p.track(server, false) {
		return
	}
	defer p.untrack(server, false)
	defer server.Close()
	done := make(chan struct{}, 2)
	go func() { io.Copy(server, c); done <- struct{}{} }()
	go func() { io.Copy(c, server); done <- struct{}{} }()
	<-done
	c.Close()
	server.Close()
	<-done
}

// track records an open connection, held silent or not, so that the end
// of the test closes it; it reports false, and the caller must close it,
// if the test is over.
func (p *mailPort) track(c net.Conn, held bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = true
	if held {
		p.held++
	}
	return true
}

// untrack forgets a connection that track recorded.
func (p *mailPort) untrack(c net.Conn, held bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
	if held {
		p.held--
	}
}

// TestFleetRotatesKeysWithoutARestart rotates the signing keys of a running
// fleet with `authapi keys rotate`: every replica publishes the new key in
// its JWKS before any replica signs a token with it, tokens signed before
// the rotation stay valid everywhere, and every replica then signs with
// the new key. Nothing is restarted.
func TestFleetRotatesKeysWithoutARestart(t *testing.T) {
	fleetTest(t)
	const activationDelay = 3 * time.Second
	mail := testkit.StartSMTP(t, testkit.SMTPOptions{})
	f := startFleet(t, fleetConfig{mailPorts: []int{mail.Port}, env: []string{
		"AUTH_KEYS_RELOAD_INTERVAL=1s", "AUTH_KEY_ACTIVATION_DELAY=" + activationDelay.String(),
		// The test logs in on every replica again and again.
		"AUTH_LIMIT_LOGIN_PER_IP=off",
	}})
	client := newClient()
	const email = "fleet-keys@example.com"
	activateAccount(t, client, f.url(0), mail, email)
	oldToken, err := accessToken(client, f.url(1), email)
	if err != nil {
		t.Fatal(err)
	}
	oldKid, err := tokenKid(oldToken)
	if err != nil {
		t.Fatal(err)
	}

	rotated := time.Now()
	newKid := f.rotateKeys(t)
	rotation := time.Since(rotated)
	if newKid == oldKid {
		t.Fatalf("keys rotate added the key that signs already, %s", newKid)
	}
	var activeFrom time.Time
	if err := openDatabase(t, f.database).QueryRow("SELECT max(active_from) FROM signing_keys").Scan(&activeFrom); err != nil {
		t.Fatal(err)
	}
	since := func(at time.Time) string {
		if at.IsZero() {
			return "never"
		}
		return "+" + at.Sub(rotated).Round(time.Millisecond).String()
	}
	// The command started after rotated, so its key may sign no sooner
	// than the delay after that.
	notBefore := rotated.Add(activationDelay)
	if activeFrom.Before(notBefore) {
		t.Errorf("the new key signs from %s, sooner than AUTH_KEY_ACTIVATION_DELAY=%s after the rotation", since(activeFrom), activationDelay)
	}
	signsFrom := activeFrom
	if signsFrom.Before(notBefore) {
		signsFrom = notBefore
	}

	// Each replica is watched by two pollers until the deadline: one reads
	// its JWKS until the new key is there, the other logs in until a token
	// carries the new kid.
	var (
		mu        sync.Mutex
		published = make([]time.Time, fleetSize) // when a JWKS answer with the new key arrived
		signed    = make([]time.Time, fleetSize) // when the first login answered with it was sent
		answers   = make([]time.Time, fleetSize) // and when it was answered
		early     []string                       // logins answered with the new key before it may sign
		wg        sync.WaitGroup
	)
	deadline := activeFrom.Add(15 * time.Second)
	for r := range fleetSize {
		base := f.url(r)
		wg.Go(func() {
			for time.Now().Before(deadline) {
				kids, err := jwksKids(client, base)
				if err != nil {
					t.Errorf("replica %d: %v", r, err)
					return
				}
				if slices.Contains(kids, newKid) {
					mu.Lock()
					published[r] = time.Now()
					mu.Unlock()
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
		wg.Go(func() {
			for time.Now().Before(deadline) {
				sent := time.Now()
				token, err := accessToken(client, base, email)
				if err != nil {
					t.Errorf("replica %d: %v", r, err)
					return
				}
				answered := time.Now()
				kid, err := tokenKid(token)
				if err != nil {
					t.Errorf("replica %d: %v", r, err)
					return
				}
				if kid == newKid {
					mu.Lock()
					signed[r], answers[r] = sent, answered
					if answered.Before(signsFrom) {
						early = append(early, fmt.Sprintf("replica %d answered a login with a token of the new key at %s", r, since(answered)))
					}
					mu.Unlock()
					return
				}
				if kid != oldKid {
					t.Errorf("replica %d signed with %s, neither the old key %s nor the new %s", r, kid, oldKid, newKid)
					return
				}
				time.Sleep(200 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	firstTokens := make([]string, fleetSize)
	for r := range fleetSize {
		firstTokens[r] = since(signed[r]) + " to " + since(answers[r])
	}
	t.Logf("rotation at +0 (took %s); the new key signs from %s; the JWKS showed it at %s; the first token of it came from logins at %s",
		rotation.Round(time.Millisecond), since(activeFrom), strings.Join(mapTimes(published, since), ", "), strings.Join(firstTokens, ", "))

	// (a) Published everywhere before it signs anywhere.
	firstSigned := time.Time{}
	for _, at := range signed {
		if !at.IsZero() && (firstSigned.IsZero() || at.Before(firstSigned)) {
			firstSigned = at
		}
	}
	for r, at := range published {
		switch {
		case at.IsZero():
			t.Errorf("replica %d never published the new key %s in its JWKS", r, newKid)
		case !at.Before(activeFrom):
			t.Errorf("replica %d published the new key at %s, not before it signs, from %s", r, since(at), since(activeFrom))
		case !firstSigned.IsZero() && !at.Before(firstSigned):
			t.Errorf("replica %d published the new key at %s, not before the first token of it (from a login sent at %s)", r, since(at), since(firstSigned))
		}
	}
	for _, e := range early {
		t.Errorf("%s, before the key may sign, from %s", e, since(signsFrom))
	}
	// (c) Every replica signs with the new key.
	for r, at := range signed {
		if at.IsZero() {
			t.Errorf("replica %d still signs with the old key %s at %s", r, oldKid, since(deadline))
		}
	}
	// (b) The token signed before the rotation is still good everywhere.
	for r := range fleetSize {
		res, err := getWithToken(client, f.url(r)+"/me", oldToken)
		if err != nil {
			t.Fatal(err)
		}
		if res.status != http.StatusOK {
			t.Errorf("GET /me on replica %d with a token of the old key = %d %s, want 200", r, res.status, res.body)
		}
	}
}

// mapTimes formats each of times with format.
func mapTimes(times []time.Time, format func(time.Time) string) []string {
	out := make([]string, len(times))
	for i, at := range times {
		out[i] = format(at)
	}
	return out
}

var addedKey = regexp.MustCompile(`added signing key (\S+) to `)

// rotateKeys runs `authapi keys rotate` with the settings of the fleet's
// replicas and returns the kid of the key it added.
func (f *fleet) rotateKeys(t *testing.T) string {
	t.Helper()
	cmd := exec.Command(testkit.Build(t), "keys", "rotate")
	cmd.Env = f.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("authapi keys rotate: %v\n%s", err, out)
	}
	m := addedKey.FindSubmatch(out)
	if m == nil {
		t.Fatalf("authapi keys rotate named no new key:\n%s", out)
	}
	return string(m[1])
}

// accessToken logs in to email with testPassword and returns the access
// token.
func accessToken(client *http.Client, base, email string) (string, error) {
	res, err := postJSON(client, base+"/login", map[string]string{"email": email, "password": testPassword})
	if err != nil {
		return "", err
	}
	var tokens struct {
		Access string `json:"access_token"`
	}
	if res.status != http.StatusOK || json.Unmarshal([]byte(res.body), &tokens) != nil || tokens.Access == "" {
		return "", fmt.Errorf("login at %s = %d %s, want 200 with an access token", base, res.status, res.body)
	}
	return tokens.Access, nil
}

// tokenKid returns the kid in the header of a JWT.
func tokenKid(token string) (string, error) {
	header, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(header)
	if err != nil {
		return "", fmt.Errorf("token header: %w", err)
	}
	var h struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(raw, &h); err != nil || h.Kid == "" {
		return "", fmt.Errorf("token header %s has no kid", raw)
	}
	return h.Kid, nil
}

// jwksKids returns the kids of the keys that the replica at base publishes.
func jwksKids(client *http.Client, base string) ([]string, error) {
	res, err := client.Get(base + "/.well-known/jwks.json")
	if err != nil {
		return nil, err
	}
	r, err := readResult(res)
	if err != nil {
		return nil, err
	}
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if r.status != http.StatusOK || json.Unmarshal([]byte(r.body), &set) != nil {
		return nil, fmt.Errorf("JWKS at %s = %d %s", base, r.status, r.body)
	}
	kids := make([]string, len(set.Keys))
	for i, k := range set.Keys {
		kids[i] = k.Kid
	}
	return kids, nil
}

// getWithToken sends a GET with token as its bearer token.
func getWithToken(client *http.Client, target, token string) (result, error) {
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		return result{}, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := client.Do(req)
	if err != nil {
		return result{}, err
	}
	return readResult(res)
}
