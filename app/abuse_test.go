package app

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// The abuse tests play an attacker with one machine against the limits:
// a whole IPv6 network, a campaign of wrong passwords from many addresses,
// code guessing across resent codes, and reading a copy of the database.

// TestLimitsCountAnIPv6NetworkAsOneClient: a home connection gets a /64, so
// the addresses in it are one client to every per-address limit.
func TestLimitsCountAnIPv6NetworkAsOneClient(t *testing.T) {
	api := newTestAPI(t)
	login := map[string]string{"email": "nobody@example.com", "password": "WrongPassword1!"}
	for i := 1; i <= 30; i++ {
		remote := fmt.Sprintf("[2001:db8:1:2::%x]:40000", i)
		wantProblem(t, api.doFrom(t, remote, "POST", "/login", login), http.StatusUnauthorized, "invalid_credentials")
		login["email"] = fmt.Sprintf("nobody%d@example.com", i) // keep the per-account slow-down out of it
	}
	res := api.doFrom(t, "[2001:db8:1:2:ffff:ffff:ffff:ffff]:40000", "POST", "/login", login)
	wantProblem(t, res, http.StatusTooManyRequests, "too_many_requests")
	// Another /64 is another client.
	wantProblem(t, api.doFrom(t, "[2001:db8:1:3::1]:40000", "POST", "/login", login), http.StatusUnauthorized, "invalid_credentials")
}

// TestIPv4MappedAddressesAreTheIPv4Client: ::ffff:a.b.c.d is a.b.c.d, and
// an address is one client however a proxy spells it.
func TestIPv4MappedAddressesAreTheIPv4Client(t *testing.T) {
	api := newTestAPI(t, func(c *Config) { c.TrustedProxies = []string{"192.0.2.1"} })
	spellings := []string{"198.51.100.7", "::ffff:198.51.100.7", "::FFFF:c633:6407", "0:0:0:0:0:ffff:198.51.100.7"}
	for i := range 30 {
		login := map[string]string{"email": fmt.Sprintf("nobody%d@example.com", i), "password": "WrongPassword1!"}
		res := api.doFrom(t, "192.0.2.1:40000", "POST", "/login", login, "X-Forwarded-For", spellings[i%len(spellings)])
		wantProblem(t, res, http.StatusUnauthorized, "invalid_credentials")
	}
	login := map[string]string{"email": "last@example.com", "password": "WrongPassword1!"}
	res := api.doFrom(t, "192.0.2.1:40000", "POST", "/login", login, "X-Forwarded-For", "::ffff:198.51.100.7")
	wantProblem(t, res, http.StatusTooManyRequests, "too_many_requests")
}

var mailedUnlockLink = regexp.MustCompile(`https?://\S+/unlock\?\S+`)

// lastLink delivers the queued mail and returns the last link matching re
// that was mailed to addr.
func (api *testAPI) lastLink(t *testing.T, addr string, re *regexp.Regexp) *url.URL {
	t.Helper()
	api.deliverMail(t)
	mails := api.mailer.mailsTo(addr)
	for i := len(mails) - 1; i >= 0; i-- {
		if raw := re.FindString(mails[i].Text); raw != "" {
			link, err := url.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			return link
		}
	}
	t.Fatalf("no link matching %s mailed to %s", re, addr)
	return nil
}

// guessPasswords sends n wrong passwords for email, each from its own
// address, as an attacker with many addresses does.
func (api *testAPI) guessPasswords(t *testing.T, addr string, n, first int) {
	t.Helper()
	for i := range n {
		remote := fmt.Sprintf("203.0.%d.%d:40000", (first+i)/250, (first+i)%250+1)
		res := api.doFrom(t, remote, "POST", "/login", map[string]string{"email": addr, "password": "WrongPassword1!"})
		wantProblem(t, res, http.StatusUnauthorized, "invalid_credentials")
	}
}

// TestLockoutExpiresByItself: a campaign of wrong passwords from many
// addresses locks the account for a while, not until its owner acts, and
// the lock grows with the campaign.
func TestLockoutExpiresByItself(t *testing.T) {
	api := newTestAPI(t)
	api.activeUser(t)
	api.guessPasswords(t, email, 10, 0)
	res := api.do(t, "POST", "/login", map[string]string{"email": email, "password": password})
	wantProblem(t, res, http.StatusForbidden, "account_locked")
	first, err := time.ParseDuration(res.Header().Get("Retry-After") + "s")
	if err != nil || first <= 0 || first > time.Hour {
		t.Fatalf("Retry-After of the first lock = %q, want a short positive wait", res.Header().Get("Retry-After"))
	}

	api.clock.Advance(first)
	api.guessPasswords(t, email, 10, 10)
	res = api.do(t, "POST", "/login", map[string]string{"email": email, "password": password})
	wantProblem(t, res, http.StatusForbidden, "account_locked")
	second, _ := time.ParseDuration(res.Header().Get("Retry-After") + "s")
	if second <= first {
		t.Errorf("the second lock lasts %v, the first %v: want it to grow with the campaign", second, first)
	}
	api.clock.Advance(second)
	api.login(t)
}

// TestUnlockLinkLiftsTheLockAtOnce: the owner is emailed a long single-use
// link when the account locks, and it ends the lock without waiting.
func TestUnlockLinkLiftsTheLockAtOnce(t *testing.T) {
	api := newTestAPI(t)
	api.activeUser(t)
	api.guessPasswords(t, email, 10, 0)
	wantProblem(t, api.do(t, "POST", "/login", map[string]string{"email": email, "password": password}), http.StatusForbidden, "account_locked")

	link := api.lastLink(t, email, mailedUnlockLink)
	token := link.Query().Get("token")
	if len(token) < 40 {
		t.Fatalf("unlock token %q is too short to be unguessable", token)
	}
	res := api.do(t, "GET", link.RequestURI(), nil)
	wantStatus(t, res, http.StatusOK)
	if res.Header().Get("Content-Security-Policy") == "" || !strings.Contains(res.Body.String(), "<button") {
		t.Errorf("unlock page: headers %v body:\n%s", res.Header(), res.Body)
	}
	// Opening the page changed nothing.
	wantProblem(t, api.do(t, "POST", "/login", map[string]string{"email": email, "password": password}), http.StatusForbidden, "account_locked")

	unlock := map[string]string{"email": email, "token": token}
	wantStatus(t, api.do(t, "POST", "/unlock", unlock), http.StatusOK)
	api.login(t)
	wantProblem(t, api.do(t, "POST", "/unlock", unlock), http.StatusBadRequest, "invalid_unlock_token")
}

// TestWrongCodesAreCappedAcrossCodes: resending a code does not buy another
// five guesses for ever; once an account's cap of wrong codes is reached,
// even the right code is refused, and only the emailed link still works.
func TestWrongCodesAreCappedAcrossCodes(t *testing.T) {
	api := newTestAPI(t)
	code := api.signup(t)
	wrong := map[string]string{"email": email, "activation_code": otherCode(code)}
	for round := range 2 {
		for range 5 {
			wantProblem(t, api.doFrom(t, fmt.Sprintf("198.51.100.%d:1", round+1), "POST", "/verify", wrong), http.StatusBadRequest, "invalid_code")
		}
		api.clock.Advance(time.Hour)
		wantStatus(t, api.do(t, "POST", "/resend-activation", map[string]string{"email": email}), http.StatusOK)
		code = api.code(t, email)
		wrong["activation_code"] = otherCode(code)
	}
	wantProblem(t, api.do(t, "POST", "/verify", map[string]string{"email": email, "activation_code": code}), http.StatusBadRequest, "code_exhausted")

	link := api.lastLink(t, email, regexp.MustCompile(`https?://\S+/activate\?\S+`))
	if link.Query().Get("code") != "" {
		t.Errorf("the activation link carries the guessable code: %s", link)
	}
	res := api.do(t, "POST", "/verify", map[string]string{"email": email, "token": link.Query().Get("token")})
	wantStatus(t, res, http.StatusOK)
	api.login(t)
}

// TestForgotPasswordSharesTheCodeBudget: asking /password/forgot for an
// inactive account's activation code again draws on the same budget as
// /resend-activation, rather than doubling it.
func TestForgotPasswordSharesTheCodeBudget(t *testing.T) {
	api := newTestAPI(t, noPadding)
	api.signup(t)
	wantStatus(t, api.do(t, "POST", "/resend-activation", map[string]string{"email": email}), http.StatusOK)
	wantProblem(t, api.forgot(t, email), http.StatusTooManyRequests, "too_many_requests")
}

// TestStoredCodesRevealNothingWithoutTheServerSecret: a copy of the
// database alone does not give the codes away: they are hashed under a key
// the server holds, not a bare hash of six digits that anyone can search.
func TestStoredCodesRevealNothingWithoutTheServerSecret(t *testing.T) {
	api := newTestAPI(t)
	code := api.signup(t)
	db := openAsTool(t, api)
	var id string
	var stored []byte
	if err := db.QueryRowContext(t.Context(), "SELECT id, activation_code_hash FROM users WHERE email = '"+email+"'").Scan(&id, &stored); err != nil {
		t.Fatal(err)
	}
	for _, purpose := range []string{"authapi activation code v1", ""} {
		for n := range 1_000_000 {
			guess := fmt.Sprintf("%06d", n)
			for _, candidate := range [][]byte{unkeyedHash(purpose, id, guess), unkeyedHash("", "", guess)} {
				if string(candidate) == string(stored) {
					t.Fatalf("the stored hash gives the code away: SHA-256 of %q finds %s (mailed: %s)", purpose, guess, code)
				}
			}
		}
	}
}

func unkeyedHash(purpose, id, code string) []byte {
	h := sha256.New()
	if purpose != "" {
		h.Write([]byte(purpose + "\x00" + id + "\x00"))
	}
	h.Write([]byte(code))
	return h.Sum(nil)
}

// TestResetChecksTheCodeBeforeTheNames: a reset whose new password is built
// from the owner's names must not say so before the code is known to be
// right, or it confirms to a stranger who guesses the names that the address
// has an account.
func TestResetChecksTheCodeBeforeTheNames(t *testing.T) {
	api := newTestAPI(t, noPadding)
	api.activeUser(t)
	wantStatus(t, api.forgot(t, email), http.StatusAccepted)
	code := api.resetCode(t, email)
	wantProblem(t, api.reset(t, email, otherCode(code), "AstroUser"), http.StatusBadRequest, "invalid_reset_code")
	wantProblem(t, api.reset(t, "nobody@example.com", otherCode(code), "AstroUser"), http.StatusBadRequest, "invalid_reset_code")
	// With the right code, the owner learns why the password is refused.
	wantFieldProblem(t, api.reset(t, email, code, "AstroUser"), "new_password")
}

// TestNamesRefuseInvisibleLineBreaks: names are printed in emails, where a
// control character or a line or paragraph separator breaks or hides text.
func TestNamesRefuseInvisibleLineBreaks(t *testing.T) {
	for name, value := range map[string]string{
		"line separator":      "Astro\u2028Evil",
		"paragraph separator": "Astro\u2029Evil",
		"next line (C1)":      "Astro\u0085Evil",
		"escape (C0)":         "Astro\u001bEvil",
		"delete":              "Astro\u007fEvil",
	} {
		t.Run(name, func(t *testing.T) {
			api := newTestAPI(t)
			body := map[string]string{"email": email, "password": password, "first_name": value, "last_name": "User"}
			wantFieldProblem(t, api.do(t, "POST", "/signup", body), "first_name")
		})
	}
}

// TestDeletionEmailsANotice: like a password change, deleting the account
// tells the owner, so that a deletion they did not make does not go
// unnoticed.
func TestDeletionEmailsANotice(t *testing.T) {
	api := newTestAPI(t, noPadding)
	api.activeUser(t)
	access, _ := api.login(t)
	wantStatus(t, api.do(t, "DELETE", "/me", map[string]string{"password": password}, "Authorization", "Bearer "+access), http.StatusOK)
	subjects := api.subjects(t, email)
	if got := countOf(subjects, "Your account was deleted"); got != 1 {
		t.Errorf("subjects mailed after the deletion: %q, want one %q", subjects, "Your account was deleted")
	}
}

// concealed turns on AUTH_CONCEAL_ACCOUNTS.
func concealed(c *Config) { c.ConcealAccounts = true }

// TestConcealedAccountsAnswerAlike: with accounts concealed, signup, verify
// and resend answer an address with an account exactly as one without, and
// the owner is told by email instead.
func TestConcealedAccountsAnswerAlike(t *testing.T) {
	api := newTestAPI(t, concealed, noPadding)
	api.activeUser(t)
	const stranger = "nobody@example.com"
	pending := map[string]string{"email": "pending@example.com", "password": password, "first_name": "Pen", "last_name": "Ding"}
	wantStatus(t, api.do(t, "POST", "/signup", pending), http.StatusCreated)

	// Signup: the taken address gets a 201 shaped like a new account's.
	taken := api.do(t, "POST", "/signup", signupBody)
	fresh := api.do(t, "POST", "/signup", map[string]string{"email": "fresh@example.com", "password": password, "first_name": "Astro", "last_name": "User"})
	wantStatus(t, taken, http.StatusCreated)
	wantStatus(t, fresh, http.StatusCreated)
	if shape(taken.body) != shape(fresh.body) || taken.body["is_active"] != false || taken.body["id"] == "" {
		t.Errorf("signup answers differ in shape:\n%s\n%s", taken.Body, fresh.Body)
	}
	subjects := api.subjects(t, email)
	if countOf(subjects, "Someone tried to sign up with your email address") != 1 {
		t.Errorf("the owner was not told of the signup attempt: %q", subjects)
	}
	api.login(t) // the account is untouched

	// Verify: an unknown address, an active account and a wrong code alike.
	var answers []string
	for _, addr := range []string{stranger, email, "pending@example.com"} {
		res := api.do(t, "POST", "/verify", map[string]string{"email": addr, "activation_code": "000000"}, "X-Request-ID", "same")
		wantProblem(t, res, http.StatusBadRequest, "invalid_code")
		answers = append(answers, res.Body.String())
	}
	if answers[0] != answers[1] || answers[1] != answers[2] {
		t.Errorf("verify answers differ:\n%s", strings.Join(answers, "\n"))
	}

	// Resend: every address gets the same 200.
	answers = answers[:0]
	for _, addr := range []string{stranger, email, "pending@example.com"} {
		res := api.do(t, "POST", "/resend-activation", map[string]string{"email": addr}, "X-Request-ID", "same")
		wantStatus(t, res, http.StatusOK)
		answers = append(answers, res.Body.String())
	}
	if answers[0] != answers[1] || answers[1] != answers[2] {
		t.Errorf("resend answers differ:\n%s", strings.Join(answers, "\n"))
	}
	if got := len(api.mailer.mailsTo(stranger)); got != 0 {
		t.Errorf("%d emails to an address without an account", got)
	}
	// The pending account did get its new code, which works.
	code := api.code(t, "pending@example.com")
	wantStatus(t, api.do(t, "POST", "/verify", map[string]string{"email": "pending@example.com", "activation_code": code}), http.StatusOK)
}

// TestDefaultModeKeepsTheDocumentedAnswers: without concealment the API
// document's answers stand: email_taken, 404 user_not_found.
func TestDefaultModeKeepsTheDocumentedAnswers(t *testing.T) {
	api := newTestAPI(t)
	api.activeUser(t)
	wantProblem(t, api.do(t, "POST", "/signup", signupBody), http.StatusBadRequest, "email_taken")
	wantProblem(t, api.do(t, "POST", "/verify", map[string]string{"email": "nobody@example.com", "activation_code": "000000"}), http.StatusNotFound, "user_not_found")
	wantProblem(t, api.do(t, "POST", "/resend-activation", map[string]string{"email": "nobody@example.com"}), http.StatusNotFound, "user_not_found")
}

// shape is the sorted member names of a JSON object.
func shape(body map[string]any) string {
	var names []string
	for k := range body {
		names = append(names, k)
	}
	slices.Sort(names)
	return strings.Join(names, ",")
}

// TestIPv6PrefixIsASetting: AUTH_IPV6_PREFIX sets the network an IPv6
// client counts as.
func TestIPv6PrefixIsASetting(t *testing.T) {
	api := newTestAPI(t, func(c *Config) { c.IPv6Prefix = 48 })
	login := map[string]string{"password": "WrongPassword1!"}
	for i := 1; i <= 30; i++ {
		login["email"] = fmt.Sprintf("nobody%d@example.com", i)
		// Thirty different /64s of one /48.
		res := api.doFrom(t, fmt.Sprintf("[2001:db8:1:%x::1]:40000", i), "POST", "/login", login)
		wantProblem(t, res, http.StatusUnauthorized, "invalid_credentials")
	}
	wantProblem(t, api.doFrom(t, "[2001:db8:1:ffff::1]:40000", "POST", "/login", login), http.StatusTooManyRequests, "too_many_requests")
	wantProblem(t, api.doFrom(t, "[2001:db8:2::1]:40000", "POST", "/login", login), http.StatusUnauthorized, "invalid_credentials")
}
