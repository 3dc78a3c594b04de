//go:build linux

package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"authapi/internal/testkit"
)

// TestTwoStepLoginAgainstTheBinary runs two-step login on the built binary,
// on the real clock, with a real SMTP server, and computes the codes with
// testkit's authenticator, written from the RFCs rather than with the
// library the service uses: enrolment, the second step with a code and with
// a recovery code, replays and codes outside the window, step-up, and how
// it meets session listing, logout, refresh-token rotation, the login
// limits and the audit log.
func TestTwoStepLoginAgainstTheBinary(t *testing.T) {
	mail := testkit.StartSMTP(t, testkit.SMTPOptions{})
	cfg := withDatabase(t, serviceConfig{smtpPort: mail.Port, env: []string{
		"AUTH_REFRESH_ROTATION=true", "AUTH_REFRESH_REUSE_INTERVAL=0s",
	}})
	svc := startService(t, cfg)
	c := &apiClient{t: t, http: newClient(), base: svc.URL}
	const addr = "two.step@example.com"
	activateAccount(t, c.http, svc.URL, mail, addr)
	credentials := map[string]string{"email": addr, "password": testPassword}

	// Two sessions of the password alone: one enrols the app, the other
	// stays without a second factor, for the step-up.
	enrolling := c.tokens(c.call("POST", "/login", credentials, ""), http.StatusOK)
	bare := c.tokens(c.call("POST", "/login", credentials, ""), http.StatusOK)

	res := c.call("POST", "/me/mfa/totp", nil, enrolling.access)
	c.want(res, http.StatusOK, "")
	var enrolment struct {
		Secret string `json:"secret"`
		URI    string `json:"otpauth_uri"`
	}
	c.decode(res, &enrolment)
	app, err := testkit.NewAuthenticatorApp(enrolment.Secret)
	if err != nil {
		t.Fatalf("enrolment %s: %v", res.body, err)
	}
	codes := &codeSource{app: app}
	confirmCode := codes.next(t)
	res = c.call("POST", "/me/mfa/totp/confirm", map[string]string{"code": confirmCode}, enrolling.access)
	c.want(res, http.StatusOK, "")
	var confirmed struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	c.decode(res, &confirmed)
	recovery := confirmed.RecoveryCodes
	if len(recovery) != 10 {
		t.Fatalf("recovery codes %s", res.body)
	}
	mail.Match(t, addr, regexp.MustCompile(`(?m)^Subject: Two-step login is on\r?$`))

	// The right password now answers 403 mfa_required.
	res = c.call("POST", "/login", credentials, "")
	c.want(res, http.StatusForbidden, "mfa_required")
	var required struct {
		MFAToken string   `json:"mfa_token"`
		Methods  []string `json:"methods"`
	}
	c.decode(res, &required)
	if required.MFAToken == "" || !slices.Equal(required.Methods, []string{"totp", "recovery_code"}) {
		t.Fatalf("mfa_required = %s", res.body)
	}
	loginCode := codes.next(t)
	otp := c.tokens(c.call("POST", "/login/mfa", map[string]string{"mfa_token": required.MFAToken, "code": loginCode}, ""), http.StatusOK)
	for name, token := range map[string]string{"access": otp.access, "refresh": otp.refresh} {
		if got := amrClaim(t, token); !slices.Equal(got, []string{"pwd", "otp"}) {
			t.Errorf("amr of the %s token = %q, want pwd and otp", name, got)
		}
	}
	c.want(c.call("GET", "/me", nil, otp.access), http.StatusOK, "")
	// The mfa_token served its login.
	c.want(c.call("POST", "/login/mfa", map[string]string{"mfa_token": required.MFAToken, "code": loginCode}, ""), http.StatusUnauthorized, "invalid_token")

	// A code works once, and only in its window: the same code, the
	// earlier step's, and codes two steps away are refused.
	token := c.mfaToken(credentials)
	for name, code := range map[string]string{
		"the same code":       loginCode,
		"the earlier code":    confirmCode,
		"two steps back":      app.CodeOfStep(testkit.TOTPStepAt(time.Now()) - 2),
		"two steps ahead":     codes.outside(t, 2),
		"an unused wrong one": wrongCode(app),
	} {
		res := c.call("POST", "/login/mfa", map[string]string{"mfa_token": token, "code": code}, "")
		if res.status != http.StatusUnauthorized || res.problemCode() != "invalid_mfa_code" {
			t.Errorf("%s = %d %s, want 401 invalid_mfa_code", name, res.status, res.body)
		}
	}

	// A recovery code logs in once, and its owner is told.
	mfa := c.tokens(c.retry("POST", "/login/mfa", map[string]string{"mfa_token": c.mfaToken(credentials), "recovery_code": recovery[0]}, ""), http.StatusOK)
	if got := amrClaim(t, mfa.access); !slices.Equal(got, []string{"pwd", "mfa"}) {
		t.Errorf("amr after a recovery code = %q, want pwd and mfa", got)
	}
	mail.Match(t, addr, regexp.MustCompile(`(?m)^Subject: A recovery code was used to log in\r?$`))
	c.want(c.retry("POST", "/login/mfa", map[string]string{"mfa_token": c.mfaToken(credentials), "recovery_code": recovery[0]}, ""),
		http.StatusUnauthorized, "invalid_mfa_code")
	res = c.call("GET", "/me", nil, mfa.access)
	c.want(res, http.StatusOK, "")
	if !strings.Contains(res.body, `"mfa":{"factors":["totp"],"recovery_codes_left":9}`) {
		t.Errorf("GET /me = %s, want totp and 9 recovery codes", res.body)
	}

	// Sessions: each login is one, listed; rotation keeps amr, and a
	// replaced refresh token ends its session.
	res = c.call("GET", "/sessions", nil, otp.access)
	c.want(res, http.StatusOK, "")
	if n := strings.Count(res.body, `"id":`); n != 4 {
		t.Errorf("%d sessions listed, want 4 (two of the password, one with a code, one with a recovery code): %s", n, res.body)
	}
	rotated := c.tokens(c.call("POST", "/refresh", map[string]string{"refresh_token": otp.refresh}, ""), http.StatusOK)
	for name, token := range map[string]string{"access": rotated.access, "refresh": rotated.refresh} {
		if got := amrClaim(t, token); !slices.Equal(got, []string{"pwd", "otp"}) {
			t.Errorf("amr of the rotated %s token = %q, want pwd and otp", name, got)
		}
	}
	c.want(c.call("POST", "/refresh", map[string]string{"refresh_token": otp.refresh}, ""), http.StatusUnauthorized, "invalid_token")
	c.want(c.call("POST", "/refresh", map[string]string{"refresh_token": rotated.refresh}, ""), http.StatusUnauthorized, "invalid_token")
	c.want(c.call("POST", "/logout", map[string]string{"refresh_token": mfa.refresh}, ""), http.StatusOK, "")
	c.want(c.call("POST", "/refresh", map[string]string{"refresh_token": mfa.refresh}, ""), http.StatusUnauthorized, "invalid_token")
	res = c.call("GET", "/sessions", nil, bare.access)
	if n := strings.Count(res.body, `"id":`); n != 2 {
		t.Errorf("%d sessions listed after the reuse and the logout, want the 2 of the password: %s", n, res.body)
	}

	// Step-up: the session without a second factor needs a code for new
	// recovery codes, and then has one.
	c.want(c.call("POST", "/me/mfa/recovery-codes", map[string]string{}, bare.access), http.StatusForbidden, "mfa_step_up_required")
	c.want(c.call("POST", "/me/password", map[string]string{"current_password": testPassword, "new_password": testPassword + "!"}, bare.access),
		http.StatusForbidden, "mfa_step_up_required")
	res = c.retry("POST", "/me/mfa/recovery-codes", map[string]string{"code": codes.next(t)}, bare.access)
	c.want(res, http.StatusOK, "")
	var first struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	c.decode(res, &first)
	recovery = first.RecoveryCodes
	res = c.call("POST", "/me/mfa/recovery-codes", map[string]string{}, bare.access)
	c.want(res, http.StatusOK, "")
	var renewed struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	c.decode(res, &renewed)
	if slices.Contains(renewed.RecoveryCodes, recovery[0]) {
		t.Errorf("the second new set %q holds a code of the first", renewed.RecoveryCodes)
	}
	recovery = renewed.RecoveryCodes

	// Limits: five wrong codes end the mfa_token and, after the right
	// password, slow this client down as six wrong passwords would.
	token = c.mfaToken(credentials)
	for range 5 {
		c.want(c.call("POST", "/login/mfa", map[string]string{"mfa_token": token, "code": wrongCode(app)}, ""), http.StatusUnauthorized, "invalid_mfa_code")
	}
	c.want(c.call("POST", "/login/mfa", map[string]string{"mfa_token": token, "recovery_code": recovery[1]}, ""), http.StatusUnauthorized, "invalid_token")
	res = c.call("POST", "/login", credentials, "")
	c.want(res, http.StatusTooManyRequests, "too_many_requests")
	if res.header.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After: %v", res.header)
	}
	res = c.retry("POST", "/login", credentials, "")
	c.want(res, http.StatusForbidden, "mfa_required")
	c.decode(res, &required)
	res = c.retry("POST", "/login/mfa", map[string]string{"mfa_token": required.MFAToken, "recovery_code": recovery[1]}, "")
	last := c.tokens(res, http.StatusOK)

	// The audit log: the owner's activity, and the operators' log.
	res = c.call("GET", "/me/activity", nil, last.access)
	c.want(res, http.StatusOK, "")
	for _, event := range []string{"mfa_enabled", "recovery_code_used", "recovery_codes_renewed", "refresh_token_reuse", "logout", "login"} {
		if !strings.Contains(res.body, `"event":"`+event+`"`) {
			t.Errorf("the activity lacks %s: %s", event, res.body)
		}
	}
	if !strings.Contains(res.body, `"reason":"wrong_mfa_code"`) {
		t.Errorf("the activity has no failed login for a wrong code: %s", res.body)
	}
	key := adminKey(t, cfg)
	var me struct {
		ID string `json:"id"`
	}
	c.decode(c.call("GET", "/me", nil, last.access), &me)
	res = c.call("GET", "/admin/audit?event=login_failed&user_id="+me.ID, nil, key)
	c.want(res, http.StatusOK, "")
	// Five refused codes, the used recovery code, and five wrong codes.
	if n := strings.Count(res.body, `"reason":"wrong_mfa_code"`); n != 11 {
		t.Errorf("%d failed logins for wrong codes in the audit log, want 11: %s", n, res.body)
	}

	// Turning it off needs the password and a second factor; login then
	// asks for the password alone.
	c.want(c.call("DELETE", "/me/mfa/totp", map[string]string{"password": testPassword}, last.access), http.StatusBadRequest, "validation_failed")
	c.want(c.retry("DELETE", "/me/mfa/totp", map[string]string{"password": testPassword, "recovery_code": recovery[2]}, last.access), http.StatusOK, "")
	mail.Match(t, addr, regexp.MustCompile(`(?m)^Subject: Two-step login is off\r?$`))
	plain := c.tokens(c.retry("POST", "/login", credentials, ""), http.StatusOK)
	if got := amrClaim(t, plain.access); !slices.Equal(got, []string{"pwd"}) {
		t.Errorf("amr once it is off = %q, want pwd", got)
	}

	logs := svc.Log()
	for _, secret := range append([]string{enrolment.Secret, loginCode, confirmCode, required.MFAToken, token}, recovery...) {
		if strings.Contains(logs, secret) {
			t.Errorf("the service log holds a secret, code or token: %.12s…", secret)
		}
	}
}

// apiClient sends JSON requests to the service, with an access token when
// given one.
type apiClient struct {
	t    *testing.T
	http *http.Client
	base string
}

func (c *apiClient) call(method, path string, body any, access string) result {
	c.t.Helper()
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			c.t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(payload))
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if access != "" {
		req.Header.Set("Authorization", "Bearer "+access)
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	r, err := readResult(res)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// retry is call, waiting out the login slow-down: an answer 429 is asked
// again after its Retry-After.
func (c *apiClient) retry(method, path string, body any, access string) result {
	c.t.Helper()
	for range 5 {
		res := c.call(method, path, body, access)
		if res.status != http.StatusTooManyRequests {
			return res
		}
		wait, err := strconv.Atoi(res.header.Get("Retry-After"))
		if err != nil || wait > 60 {
			c.t.Fatalf("%s %s: 429 with Retry-After %q", method, path, res.header.Get("Retry-After"))
		}
		time.Sleep(time.Duration(wait)*time.Second + 100*time.Millisecond)
	}
	c.t.Fatalf("%s %s: still slowed down after five waits", method, path)
	return result{}
}

// want fails unless res has status and, if code is not empty, is a problem
// with that code.
func (c *apiClient) want(res result, status int, code string) {
	c.t.Helper()
	if res.status != status || res.problemCode() != code {
		c.t.Fatalf("answer %d %s, want %d %s", res.status, res.body, status, code)
	}
}

func (c *apiClient) decode(res result, into any) {
	c.t.Helper()
	if err := json.Unmarshal([]byte(res.body), into); err != nil {
		c.t.Fatalf("answer %s: %v", res.body, err)
	}
}

// tokenPair is a login's tokens.
type tokenPair struct{ access, refresh string }

// tokens reads the tokens of a login or refresh answered with status.
func (c *apiClient) tokens(res result, status int) tokenPair {
	c.t.Helper()
	c.want(res, status, "")
	var body struct {
		Access  string `json:"access_token"`
		Refresh string `json:"refresh_token"`
	}
	c.decode(res, &body)
	if body.Access == "" || body.Refresh == "" {
		c.t.Fatalf("no tokens in %s", res.body)
	}
	return tokenPair{body.Access, body.Refresh}
}

// mfaToken logs in with credentials and returns the mfa_token.
func (c *apiClient) mfaToken(credentials map[string]string) string {
	c.t.Helper()
	res := c.retry("POST", "/login", credentials, "")
	c.want(res, http.StatusForbidden, "mfa_required")
	var body struct {
		MFAToken string `json:"mfa_token"`
	}
	c.decode(res, &body)
	return body.MFAToken
}

// codeSource hands out an app's codes on the real clock, each of a step the
// service has not seen: the current step's, else the next one's, which the
// window of one step either side accepts, else it waits for the next step.
type codeSource struct {
	app  testkit.AuthenticatorApp
	last int64
}

func (s *codeSource) next(t *testing.T) string {
	t.Helper()
	for {
		now := testkit.TOTPStepAt(time.Now())
		if step := max(s.last+1, now); step <= now+1 {
			s.last = step
			return s.app.CodeOfStep(step)
		}
		time.Sleep(time.Until(time.Unix((now+1)*int64(testkit.TOTPPeriod/time.Second), 0)) + 50*time.Millisecond)
	}
}

// outside is the code of the step steps away from the current one, with
// at least three seconds of that step left, so that the service, a moment
// later, reads the same current step.
func (s *codeSource) outside(t *testing.T, steps int64) string {
	t.Helper()
	period := int64(testkit.TOTPPeriod / time.Second)
	for {
		now := time.Now()
		step := testkit.TOTPStepAt(now)
		if left := time.Unix((step+1)*period, 0).Sub(now); left >= 3*time.Second {
			return s.app.CodeOfStep(step + steps)
		}
		time.Sleep(3 * time.Second)
	}
}

// wrongCode is six digits that are no code of app's around now.
func wrongCode(app testkit.AuthenticatorApp) string {
	now := testkit.TOTPStepAt(time.Now())
	for _, c := range []string{"000000", "111111", "222222", "333333", "444444", "555555"} {
		if !slices.Contains([]string{app.CodeOfStep(now - 1), app.CodeOfStep(now), app.CodeOfStep(now + 1), app.CodeOfStep(now + 2)}, c) {
			return c
		}
	}
	panic("six codes in a window of four")
}

// amrClaim reads the amr claim of a JWT without verifying it.
func amrClaim(t *testing.T, token string) []string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %.20q", token)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		AMR []string `json:"amr"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return claims.AMR
}

// adminKey makes an admin key with the binary's admin-keys command, on the
// service's database and server secret, and returns it.
func adminKey(t *testing.T, cfg serviceConfig) string {
	t.Helper()
	cmd := exec.Command(testkit.Build(t), "admin-keys", "create", "e2e")
	cmd.Env = []string{
		"AUTH_DATABASE_URL=" + cfg.database,
		"AUTH_SIGNING_KEY_FILE=" + filepath.Join(cfg.dir, "signing-key.pem"),
		"AUTH_SECRET_KEY_FILE=" + filepath.Join(cfg.dir, "secret.key"),
	}
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if e, ok := err.(*exec.ExitError); ok {
			stderr = e.Stderr
		}
		t.Fatalf("authapi admin-keys create: %v\n%s", err, stderr)
	}
	key, _, _ := strings.Cut(string(out), "\n")
	if !strings.HasPrefix(key, "authapi_admin_") {
		t.Fatalf("admin-keys create printed %q", out)
	}
	return key
}
