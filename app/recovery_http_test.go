package app

import (
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"authapi/ports"
)

// The recovery tests drive forgotten-password resets, password changes and
// account deletion through the real router and store, every exchange held to
// the OpenAPI document.

const (
	newPassword    = "Vivid-Harbor-Lantern-7319"
	changedSubject = "Your password was changed"
)

var (
	mailedResetCode = regexp.MustCompile(`reset code is (\d{6})`)
	mailedResetLink = regexp.MustCompile(`https?://\S+/reset-password\?\S+`)
)

// mailsTo returns the messages delivered to addr so far, oldest first.
func (m *captureMailer) mailsTo(addr string) []ports.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	var got []ports.Message
	for _, msg := range m.sent {
		if string(msg.To) == addr {
			got = append(got, msg)
		}
	}
	return got
}

// resetMail delivers the queued mail and returns the reset email last sent
// to addr and its code.
func (api *testAPI) resetMail(t *testing.T, addr string) (ports.Message, string) {
	t.Helper()
	api.deliverMail(t)
	mails := api.mailer.mailsTo(addr)
	for i := len(mails) - 1; i >= 0; i-- {
		if m := mailedResetCode.FindStringSubmatch(mails[i].Text); m != nil {
			return mails[i], m[1]
		}
	}
	t.Fatalf("no reset code mailed to %s", addr)
	return ports.Message{}, ""
}

// resetCode delivers the queued mail and returns the reset code last mailed
// to addr.
func (api *testAPI) resetCode(t *testing.T, addr string) string {
	t.Helper()
	_, code := api.resetMail(t, addr)
	return code
}

// subjects delivers the queued mail and returns the subjects of every email
// sent to addr, oldest first.
func (api *testAPI) subjects(t *testing.T, addr string) []string {
	t.Helper()
	api.deliverMail(t)
	var got []string
	for _, m := range api.mailer.mailsTo(addr) {
		got = append(got, m.Subject)
	}
	return got
}

func countOf(list []string, s string) int {
	n := 0
	for _, v := range list {
		if v == s {
			n++
		}
	}
	return n
}

// loginAs logs addr in with pw and returns the tokens.
func (api *testAPI) loginAs(t *testing.T, addr, pw string) (access, refresh string) {
	t.Helper()
	res := api.do(t, "POST", "/login", map[string]string{"email": addr, "password": pw})
	wantStatus(t, res, http.StatusOK)
	access, _ = res.body["access_token"].(string)
	refresh, _ = res.body["refresh_token"].(string)
	return access, refresh
}

func (api *testAPI) forgot(t *testing.T, addr string, header ...string) response {
	t.Helper()
	return api.do(t, "POST", "/password/forgot", map[string]string{"email": addr}, header...)
}

func (api *testAPI) reset(t *testing.T, addr, code, pw string, header ...string) response {
	t.Helper()
	return api.do(t, "POST", "/password/reset", map[string]string{"email": addr, "code": code, "new_password": pw}, header...)
}

// wantRefresh fails unless refreshing with token answers status.
func (api *testAPI) wantRefresh(t *testing.T, token string, status int) {
	t.Helper()
	res := api.do(t, "POST", "/refresh", map[string]string{"refresh_token": token})
	if status == http.StatusOK {
		wantStatus(t, res, status)
		return
	}
	wantProblem(t, res, status, "invalid_token")
}

// wantFieldProblem fails unless res is validation_failed naming field.
func wantFieldProblem(t *testing.T, res response, field string) {
	t.Helper()
	wantProblem(t, res, http.StatusBadRequest, "validation_failed")
	errs, _ := res.body["errors"].([]any)
	for _, e := range errs {
		if e, _ := e.(map[string]any); e["field"] == field {
			return
		}
	}
	t.Errorf("no error for field %s: %s", field, res.Body)
}

// TestForgotPasswordAnswersAlike asks for a reset for an active account, an
// inactive one and an address without an account: the three answers are
// identical byte for byte, and only the email sent differs.
func TestForgotPasswordAnswersAlike(t *testing.T) {
	api := newTestAPI(t, noPadding)
	api.activeUser(t)
	const inactive, unknown = "pending.user@example.com", "nobody@example.com"
	signupAccount(t, api, inactive)

	answers := map[string]response{}
	for _, addr := range []string{email, inactive, unknown} {
		res := api.forgot(t, addr, "X-Request-ID", "forgot-1")
		wantStatus(t, res, http.StatusAccepted)
		if res.body["message"] == "" {
			t.Errorf("no message for %s: %s", addr, res.Body)
		}
		answers[addr] = res
	}
	for _, addr := range []string{inactive, unknown} {
		if got, want := answers[addr].Body.String(), answers[email].Body.String(); got != want {
			t.Errorf("answer for %s differs from the active account's:\n%s\n%s", addr, got, want)
		}
		if got, want := answers[addr].Header(), answers[email].Header(); !maps.EqualFunc(got, want, func(a, b []string) bool {
			return strings.Join(a, ",") == strings.Join(b, ",")
		}) {
			t.Errorf("headers for %s differ from the active account's:\n%v\n%v", addr, got, want)
		}
	}

	// The active account got a reset code with a link to the reset page,
	// which carries a long token rather than the code.
	mail, code := api.resetMail(t, email)
	link := mailedResetLink.FindString(mail.Text)
	u, err := url.Parse(link)
	if err != nil || u.Path != "/reset-password" || u.Query().Get("email") != email ||
		len(u.Query().Get("token")) < 40 || strings.Contains(link, code) {
		t.Errorf("reset link = %q (%v), want the reset page with the email and a token, not the code", link, err)
	}
	if !strings.Contains(mail.HTML, code) {
		t.Error("the HTML part lacks the code")
	}
	// The inactive account got its activation code again, which works.
	if got := len(api.mailer.mailsTo(inactive)); got != 2 {
		t.Errorf("%d emails to the inactive account, want the signup's and a second activation email", got)
	}
	activation := api.mailer.lastCode(t, inactive)
	wantStatus(t, api.do(t, "POST", "/verify", map[string]string{"email": inactive, "activation_code": activation}), http.StatusOK)
	// The unknown address got nothing, and no account was made for it.
	if got := api.mailer.mailsTo(unknown); len(got) != 0 {
		t.Errorf("mail sent to an address without an account: %v", got)
	}
	api.clock.Advance(time.Minute) // the forgotten-password request spent the address's code budget
	wantProblem(t, api.do(t, "POST", "/resend-activation", map[string]string{"email": unknown}), http.StatusNotFound, "user_not_found")
	if strings.Contains(api.logs.String(), code) {
		t.Error("the reset code appears in the logs")
	}
}

// TestForgotPasswordLimitsAnswerAlike: the per-email limit answers the same
// for an address with an account and one without.
func TestForgotPasswordLimitsAnswerAlike(t *testing.T) {
	api := newTestAPI(t, noPadding)
	api.activeUser(t)
	const unknown = "nobody@example.com"
	for _, addr := range []string{email, unknown} {
		wantStatus(t, api.forgot(t, addr), http.StatusAccepted)
	}
	known := api.forgot(t, email, "X-Request-ID", "limited")
	other := api.forgot(t, unknown, "X-Request-ID", "limited")
	wantProblem(t, known, http.StatusTooManyRequests, "too_many_requests")
	wantProblem(t, other, http.StatusTooManyRequests, "too_many_requests")
	if known.Body.String() != other.Body.String() || known.Header().Get("Retry-After") != other.Header().Get("Retry-After") {
		t.Errorf("limited answers differ:\n%v %s\n%v %s", known.Header(), known.Body, other.Header(), other.Body)
	}
	api.clock.Advance(time.Minute)
	wantStatus(t, api.forgot(t, email), http.StatusAccepted)
}

// TestForgotPasswordTakesItsMinimumDuration: answers for an address with an
// account and for one without both take at least the configured time. Only
// the lower bound is checked, which the service guarantees whatever the
// machine's load.
func TestForgotPasswordTakesItsMinimumDuration(t *testing.T) {
	const minimum = 100 * time.Millisecond
	api := newTestAPI(t, func(c *Config) { c.ForgotPasswordMinDuration = minimum })
	api.activeUser(t)
	for _, addr := range []string{email, "nobody@example.com"} {
		start := time.Now()
		res := api.forgot(t, addr)
		took := time.Since(start)
		wantStatus(t, res, http.StatusAccepted)
		if took < minimum {
			t.Errorf("the answer for %s took %v, less than %v", addr, took, minimum)
		}
	}
}

func TestPasswordReset(t *testing.T) {
	api := newTestAPI(t, noPadding)
	api.activeUser(t)
	access, first := api.login(t)
	_, second := api.login(t)

	wantStatus(t, api.forgot(t, email), http.StatusAccepted)
	code := api.resetCode(t, email)

	wrong := api.reset(t, email, otherCode(code), newPassword, "X-Request-ID", "reset-1")
	wantProblem(t, wrong, http.StatusBadRequest, "invalid_reset_code")
	again := api.reset(t, email, otherCode(code), newPassword, "X-Request-ID", "reset-1")
	if again.Body.String() != wrong.Body.String() {
		t.Errorf("two wrong codes answered differently:\n%s\n%s", wrong.Body, again.Body)
	}
	wantStatus(t, api.reset(t, email, code, newPassword), http.StatusOK)

	// Every session ended; the access token lives on until it expires.
	api.wantRefresh(t, first, http.StatusUnauthorized)
	api.wantRefresh(t, second, http.StatusUnauthorized)
	wantStatus(t, api.do(t, "GET", "/me", nil, "Authorization", "Bearer "+access), http.StatusOK)
	// The old password is gone, the new one works.
	wantProblem(t, api.do(t, "POST", "/login", map[string]string{"email": email, "password": password}), http.StatusUnauthorized, "invalid_credentials")
	_, refresh := api.loginAs(t, email, newPassword)
	api.wantRefresh(t, refresh, http.StatusOK)
	// The code worked once, and the owner was told of the change.
	used := api.reset(t, email, code, "Another-Harbor-Lantern-42", "X-Request-ID", "reset-1")
	if used.Body.String() != wrong.Body.String() {
		t.Errorf("a used code answered unlike a wrong one:\n%s\n%s", used.Body, wrong.Body)
	}
	if got := countOf(api.subjects(t, email), changedSubject); got != 1 {
		t.Errorf("%d %q emails, want 1", got, changedSubject)
	}
	logs := api.logs.String()
	for name, secret := range map[string]string{"reset code": code, "new password": newPassword} {
		if strings.Contains(logs, secret) {
			t.Errorf("the %s appears in the logs", name)
		}
	}
}

// TestResetCodeFailuresLookAlike: every way a reset code can fail gets the
// same answer, byte for byte, as a plainly wrong code, and leaves the
// password as it was.
func TestResetCodeFailuresLookAlike(t *testing.T) {
	tests := []struct {
		name string
		// attempt spoils the situation and returns the reset to send.
		attempt func(t *testing.T, api *testAPI, code string) (addr, sent string)
	}{
		{"wrong code", func(t *testing.T, api *testAPI, code string) (string, string) {
			return email, otherCode(code)
		}},
		{"expired code", func(t *testing.T, api *testAPI, code string) (string, string) {
			api.clock.Advance(15 * time.Minute)
			return email, code
		}},
		{"exhausted code", func(t *testing.T, api *testAPI, code string) (string, string) {
			for range 5 {
				wantProblem(t, api.reset(t, email, otherCode(code), newPassword), http.StatusBadRequest, "invalid_reset_code")
			}
			return email, code
		}},
		{"replaced code", func(t *testing.T, api *testAPI, code string) (string, string) {
			api.clock.Advance(time.Minute)
			wantStatus(t, api.forgot(t, email), http.StatusAccepted)
			if api.resetCode(t, email) == code {
				t.Skip("the new code equals the old one by chance (one in a million)")
			}
			return email, code
		}},
		{"code voided by a password change", func(t *testing.T, api *testAPI, code string) (string, string) {
			access, _ := api.login(t)
			wantStatus(t, api.do(t, "POST", "/me/password", map[string]string{"current_password": password, "new_password": newPassword},
				"Authorization", "Bearer "+access), http.StatusOK)
			return email, code
		}},
		{"address without an account", func(t *testing.T, api *testAPI, code string) (string, string) {
			return "nobody@example.com", code
		}},
		{"another account's code", func(t *testing.T, api *testAPI, code string) (string, string) {
			signupAccount(t, api, "other.user@example.com")
			return "other.user@example.com", code
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newTestAPI(t, noPadding)
			api.activeUser(t)
			wantStatus(t, api.forgot(t, email), http.StatusAccepted)
			code := api.resetCode(t, email)
			addr, sent := tt.attempt(t, api, code)

			got := api.reset(t, addr, sent, "Brand-New-Harbor-88", "X-Request-ID", "same")
			wantProblem(t, got, http.StatusBadRequest, "invalid_reset_code")
			want := api.reset(t, "astro.user@example.com", "not-a-code", "Brand-New-Harbor-88", "X-Request-ID", "same")
			if got.Body.String() != want.Body.String() {
				t.Errorf("answer differs from a wrong code's:\n%s\n%s", got.Body, want.Body)
			}
			res := api.do(t, "POST", "/login", map[string]string{"email": addr, "password": "Brand-New-Harbor-88"})
			if res.Code == http.StatusOK {
				t.Error("the failed reset set the password")
			}
		})
	}
}

// TestWeakNewPasswordKeepsTheCode: a new password that breaks the rules is
// refused on its field and does not spend the code or count as an attempt.
func TestWeakNewPasswordKeepsTheCode(t *testing.T) {
	api := newTestAPI(t, noPadding)
	api.activeUser(t)
	wantStatus(t, api.forgot(t, email), http.StatusAccepted)
	code := api.resetCode(t, email)
	weak := []struct{ name, password string }{
		{"too short", "short"},
		{"too long", strings.Repeat("a", 129)},
		{"the email", email},
		{"a common password", "password123"},
		{"built from the email", "Astro.User1"},
	}
	for _, w := range weak {
		res := api.reset(t, email, code, w.password)
		if res.Code != http.StatusBadRequest {
			t.Fatalf("a new password that is %s: %d %s", w.name, res.Code, res.Body)
		}
		wantFieldProblem(t, res, "new_password")
	}
	wantStatus(t, api.reset(t, email, code, newPassword), http.StatusOK)
	api.loginAs(t, email, newPassword)
}

// TestResetLiftsALock: wrong current passwords on /me/password count as
// failed logins and can lock the account; a reset proves control of the
// mailbox and lifts the lock.
func TestResetLiftsALock(t *testing.T) {
	api := newTestAPI(t, noPadding, func(c *Config) { c.Limits.Login.FreeFailures, c.Limits.Login.LockAfter = 1000, 3 })
	api.activeUser(t)
	access, _ := api.login(t)
	bearer := []string{"Authorization", "Bearer " + access}
	change := map[string]string{"current_password": "WrongPassword1!", "new_password": newPassword}
	for range 2 {
		wantProblem(t, api.do(t, "POST", "/me/password", change, bearer...), http.StatusUnauthorized, "invalid_credentials")
	}
	wantProblem(t, api.do(t, "POST", "/login", map[string]string{"email": email, "password": "WrongPassword1!"}), http.StatusUnauthorized, "invalid_credentials")
	wantProblem(t, api.do(t, "POST", "/login", map[string]string{"email": email, "password": password}), http.StatusForbidden, "account_locked")
	change["current_password"] = password
	wantProblem(t, api.do(t, "POST", "/me/password", change, bearer...), http.StatusForbidden, "account_locked")
	wantProblem(t, api.do(t, "DELETE", "/me", map[string]string{"password": password}, bearer...), http.StatusForbidden, "account_locked")

	wantStatus(t, api.forgot(t, email), http.StatusAccepted)
	wantStatus(t, api.reset(t, email, api.resetCode(t, email), newPassword), http.StatusOK)
	api.loginAs(t, email, newPassword)
}

func TestChangePassword(t *testing.T) {
	api := newTestAPI(t, noPadding)
	api.activeUser(t)
	access, own := api.login(t)
	_, other := api.login(t)
	bearer := []string{"Authorization", "Bearer " + access}

	res := api.do(t, "POST", "/me/password", map[string]string{"current_password": "WrongPassword1!", "new_password": newPassword}, bearer...)
	wantProblem(t, res, http.StatusUnauthorized, "invalid_credentials")
	if got := res.Header().Get("WWW-Authenticate"); got != "" {
		t.Errorf("a wrong password with a good token carries the challenge %q", got)
	}
	wantFieldProblem(t, api.do(t, "POST", "/me/password", map[string]string{"current_password": password, "new_password": "short"}, bearer...), "new_password")
	wantFieldProblem(t, api.do(t, "POST", "/me/password", map[string]string{"new_password": newPassword}, bearer...), "current_password")
	res = api.do(t, "POST", "/me/password", map[string]string{"current_password": password, "new_password": newPassword})
	wantProblem(t, res, http.StatusUnauthorized, "invalid_token")
	if got := res.Header().Get("WWW-Authenticate"); got != `Bearer error="invalid_token"` {
		t.Errorf("WWW-Authenticate = %q", got)
	}
	api.wantRefresh(t, other, http.StatusOK) // nothing has changed yet

	wantStatus(t, api.do(t, "POST", "/me/password", map[string]string{"current_password": password, "new_password": newPassword}, bearer...), http.StatusOK)
	api.wantRefresh(t, other, http.StatusUnauthorized)
	api.wantRefresh(t, own, http.StatusOK)
	wantProblem(t, api.do(t, "POST", "/login", map[string]string{"email": email, "password": password}), http.StatusUnauthorized, "invalid_credentials")
	if got := countOf(api.subjects(t, email), changedSubject); got != 1 {
		t.Errorf("%d %q emails, want 1", got, changedSubject)
	}

	// Asked to, the change ends the caller's session too.
	access, own = api.loginAs(t, email, newPassword)
	_, other = api.loginAs(t, email, newPassword)
	res = api.do(t, "POST", "/me/password", map[string]any{
		"current_password": newPassword, "new_password": password, "end_current_session": true,
	}, "Authorization", "Bearer "+access)
	wantStatus(t, res, http.StatusOK)
	if msg, _ := res.body["message"].(string); !strings.Contains(msg, "every session has ended") {
		t.Errorf("message = %q, want it to say that every session has ended", msg)
	}
	api.wantRefresh(t, own, http.StatusUnauthorized)
	api.wantRefresh(t, other, http.StatusUnauthorized)
	api.login(t)
}

func TestDeleteAccount(t *testing.T) {
	api := newTestAPI(t, noPadding)
	api.activeUser(t)
	access, refresh := api.login(t)
	bearer := []string{"Authorization", "Bearer " + access}

	wantProblem(t, api.do(t, "DELETE", "/me", nil, bearer...), http.StatusBadRequest, "malformed_body")
	res := api.do(t, "DELETE", "/me", map[string]string{"password": "WrongPassword1!"}, bearer...)
	wantProblem(t, res, http.StatusUnauthorized, "invalid_credentials")
	if got := res.Header().Get("WWW-Authenticate"); got != "" {
		t.Errorf("a wrong password with a good token carries the challenge %q", got)
	}
	res = api.do(t, "GET", "/me", nil, bearer...)
	wantStatus(t, res, http.StatusOK)
	oldID := res.body["id"]

	wantStatus(t, api.do(t, "DELETE", "/me", map[string]string{"password": password}, bearer...), http.StatusOK)
	res = api.do(t, "GET", "/me", nil, bearer...)
	wantProblem(t, res, http.StatusUnauthorized, "invalid_token")
	if got := res.Header().Get("WWW-Authenticate"); got != `Bearer error="invalid_token"` {
		t.Errorf("WWW-Authenticate = %q", got)
	}
	wantProblem(t, api.do(t, "DELETE", "/me", map[string]string{"password": password}, bearer...), http.StatusUnauthorized, "invalid_token")
	api.wantRefresh(t, refresh, http.StatusUnauthorized)
	wantProblem(t, api.do(t, "POST", "/login", map[string]string{"email": email, "password": password}), http.StatusUnauthorized, "invalid_credentials")
	if got := usersInDatabase(t, api); len(got) != 0 {
		t.Errorf("users left after the deletion: %q", got)
	}

	// The address is free again: a new account, with a new id.
	res = api.do(t, "POST", "/signup", signupBody)
	wantStatus(t, res, http.StatusCreated)
	code := api.code(t, email)
	wantStatus(t, api.do(t, "POST", "/verify", map[string]string{"email": email, "activation_code": code}), http.StatusOK)
	newAccess, _ := api.login(t)
	me := api.do(t, "GET", "/me", nil, "Authorization", "Bearer "+newAccess)
	wantStatus(t, me, http.StatusOK)
	if id := me.body["id"]; id == oldID || id == "" {
		t.Errorf("the new account has id %v, want a new one (the deleted account's was %v)", id, oldID)
	}
	wantProblem(t, api.do(t, "GET", "/me", nil, bearer...), http.StatusUnauthorized, "invalid_token")
}

// TestResetPageChangesNothing follows the emailed link: the page shows the
// email, keeps the link's token, escaped, under a strict policy, and opening
// it leaves the token working.
func TestResetPageChangesNothing(t *testing.T) {
	api := newTestAPI(t, noPadding)
	api.activeUser(t)
	wantStatus(t, api.forgot(t, email), http.StatusAccepted)
	mail, _ := api.resetMail(t, email)
	link, err := url.Parse(mailedResetLink.FindString(mail.Text))
	if err != nil {
		t.Fatal(err)
	}
	token := link.Query().Get("token")

	for range 2 {
		res := api.do(t, "GET", link.RequestURI(), nil)
		wantStatus(t, res, http.StatusOK)
		page := res.Body.String()
		for _, want := range []string{`value="` + email + `"`, `name="token" type="hidden" value="` + token + `"`, `autocomplete="new-password"`, "<button"} {
			if !strings.Contains(page, want) {
				t.Errorf("page lacks %s:\n%s", want, page)
			}
		}
		if strings.Contains(page, `id="code"`) {
			t.Error("the page asks for the code although the link carries a token")
		}
		csp := res.Header().Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'sha256-") {
			t.Errorf("Content-Security-Policy = %q", csp)
		}
		for key, want := range map[string]string{"X-Frame-Options": "DENY", "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"} {
			if got := res.Header().Get(key); got != want {
				t.Errorf("%s = %q, want %q", key, got, want)
			}
		}
	}
	res := api.do(t, "GET", `/reset-password?email="><script>alert(1)</script>&token=<b>1</b>`, nil)
	if strings.Contains(res.Body.String(), "<script>alert(1)") || strings.Contains(res.Body.String(), "<b>1") {
		t.Error("the page reflects markup unescaped")
	}
	// Opening the link spent nothing: the token, as the page posts it,
	// still resets the password, once.
	reset := map[string]string{"email": email, "token": token, "new_password": newPassword}
	wantStatus(t, api.do(t, "POST", "/password/reset", reset), http.StatusOK)
	wantProblem(t, api.do(t, "POST", "/password/reset", reset), http.StatusBadRequest, "invalid_reset_code")
	api.loginAs(t, email, newPassword)
}
