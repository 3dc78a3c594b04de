package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"authapi/domain"
	"authapi/internal/testkit"
	"authapi/ports"
)

// The two-step login tests drive every route of it through the real router
// and store, every exchange held to the OpenAPI document; the codes come
// from testkit's authenticator, on the test's clock.

// bearer is the Authorization header of an access token, for do.
func bearer(access string) []string { return []string{"Authorization", "Bearer " + access} }

// startTOTP starts an enrolment with POST /me/mfa/totp and returns the app
// that scanned it and the secret.
func (api *testAPI) startTOTP(t *testing.T, access string) (testkit.AuthenticatorApp, string) {
	t.Helper()
	res := api.do(t, "POST", "/me/mfa/totp", nil, bearer(access)...)
	wantStatus(t, res, http.StatusOK)
	secret, _ := res.body["secret"].(string)
	app, err := testkit.NewAuthenticatorApp(secret)
	if err != nil {
		t.Fatalf("enrolment %s: %v", res.Body, err)
	}
	return app, secret
}

// totpCode is what app shows at the clock's time moved by steps time steps.
func (api *testAPI) totpCode(app testkit.AuthenticatorApp, steps int64) string {
	return app.CodeOfStep(testkit.TOTPStepAt(api.clock.Now()) + steps)
}

// enrolTOTP turns two-step login on for the account of access and returns
// the app and the recovery codes. The clock then moves on by a step, past
// the code that confirmed.
func (api *testAPI) enrolTOTP(t *testing.T, access string) (testkit.AuthenticatorApp, []string) {
	t.Helper()
	app, _ := api.startTOTP(t, access)
	res := api.do(t, "POST", "/me/mfa/totp/confirm", map[string]string{"code": api.totpCode(app, 0)}, bearer(access)...)
	wantStatus(t, res, http.StatusOK)
	var recovery []string
	for _, c := range res.body["recovery_codes"].([]any) {
		recovery = append(recovery, c.(string))
	}
	api.clock.Advance(testkit.TOTPPeriod)
	return app, recovery
}

// mfaToken logs in with the right password of an account with two-step
// login and returns the mfa_token of the 403 mfa_required answer.
func (api *testAPI) mfaToken(t *testing.T) string {
	t.Helper()
	res := api.do(t, "POST", "/login", map[string]string{"email": email, "password": password})
	wantProblem(t, res, http.StatusForbidden, "mfa_required")
	token, _ := res.body["mfa_token"].(string)
	if token == "" {
		t.Fatalf("mfa_required without an mfa_token: %s", res.Body)
	}
	return token
}

// loginMFA finishes a login with body's second factor and returns the
// tokens.
func (api *testAPI) loginMFA(t *testing.T, second map[string]string) (access, refresh string) {
	t.Helper()
	body := map[string]string{"mfa_token": api.mfaToken(t)}
	maps.Copy(body, second)
	res := api.do(t, "POST", "/login/mfa", body)
	wantStatus(t, res, http.StatusOK)
	if res.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("tokens may be cached: %v", res.Header())
	}
	access, _ = res.body["access_token"].(string)
	refresh, _ = res.body["refresh_token"].(string)
	return access, refresh
}

// amrOf reads the amr claim of a JWT, unverified: the service made it.
func amrOf(t *testing.T, token string) []string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
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

// mfaOf is the mfa member of GET /me.
func (api *testAPI) mfaOf(t *testing.T, access string) (factors []string, left float64) {
	t.Helper()
	res := api.do(t, "GET", "/me", nil, bearer(access)...)
	wantStatus(t, res, http.StatusOK)
	mfa, ok := res.body["mfa"].(map[string]any)
	if !ok {
		t.Fatalf("GET /me without mfa: %s", res.Body)
	}
	for _, f := range mfa["factors"].([]any) {
		factors = append(factors, f.(string))
	}
	left, _ = mfa["recovery_codes_left"].(float64)
	return factors, left
}

const (
	twoStepOnSubject    = "Two-step login is on"
	twoStepOffSubject   = "Two-step login is off"
	recoveryUsedSubject = "A recovery code was used to log in"
)

// TestTwoStepLoginOverHTTP follows an account through every route of
// two-step login: enrolment, confirmation, both ways to log in, replay,
// refresh, new recovery codes and turning it off.
func TestTwoStepLoginOverHTTP(t *testing.T) {
	api := newTestAPI(t)
	api.activeUser(t)
	access, _ := api.login(t)
	if factors, left := api.mfaOf(t, access); len(factors) != 0 || left != 0 {
		t.Errorf("before enrolment, factors %q and %v recovery codes, want none", factors, left)
	}

	res := api.do(t, "POST", "/me/mfa/totp", nil, bearer(access)...)
	wantStatus(t, res, http.StatusOK)
	if res.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("the enrolment may be cached: %v", res.Header())
	}
	secret, _ := res.body["secret"].(string)
	uri, _ := res.body["otpauth_uri"].(string)
	qr, _ := res.body["qr_code"].(string)
	if !strings.HasPrefix(uri, "otpauth://totp/") || !strings.Contains(uri, "secret="+secret) {
		t.Errorf("otpauth_uri = %q, want one with the secret %q", uri, secret)
	}
	png, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(qr, "data:image/png;base64,"))
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("qr_code is not a PNG data URI: %.60s…", qr)
	}
	app, err := testkit.NewAuthenticatorApp(secret)
	if err != nil {
		t.Fatal(err)
	}
	if factors, _ := api.mfaOf(t, access); len(factors) != 0 {
		t.Errorf("a pending enrolment shows as factors %q", factors)
	}
	wantStatus(t, api.do(t, "POST", "/login", map[string]string{"email": email, "password": password}), http.StatusOK)

	wrong := otherCode(api.totpCode(app, 0))
	res = api.do(t, "POST", "/me/mfa/totp/confirm", map[string]string{"code": wrong}, bearer(access)...)
	wantProblem(t, res, http.StatusUnauthorized, "invalid_mfa_code")
	if res.Header().Get("WWW-Authenticate") != "" {
		t.Errorf("a wrong code challenges the access token: %v", res.Header())
	}
	confirmCode := api.totpCode(app, 0)
	res = api.do(t, "POST", "/me/mfa/totp/confirm", map[string]string{"code": confirmCode}, bearer(access)...)
	wantStatus(t, res, http.StatusOK)
	if res.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("recovery codes may be cached: %v", res.Header())
	}
	codes, _ := res.body["recovery_codes"].([]any)
	if len(codes) != 10 {
		t.Fatalf("recovery_codes = %s", res.Body)
	}
	recovery := make([]string, len(codes))
	for i, c := range codes {
		recovery[i] = c.(string)
	}
	wantProblem(t, api.do(t, "POST", "/me/mfa/totp/confirm", map[string]string{"code": confirmCode}, bearer(access)...), http.StatusConflict, "mfa_already_enabled")
	wantProblem(t, api.do(t, "POST", "/me/mfa/totp", nil, bearer(access)...), http.StatusConflict, "mfa_already_enabled")
	if factors, left := api.mfaOf(t, access); !slices.Equal(factors, []string{"totp"}) || left != 10 {
		t.Errorf("factors %q with %v recovery codes, want totp and 10", factors, left)
	}

	api.clock.Advance(testkit.TOTPPeriod)
	code := api.totpCode(app, 0)
	otpAccess, otpRefresh := api.loginMFA(t, map[string]string{"code": code})
	for name, token := range map[string]string{"access": otpAccess, "refresh": otpRefresh} {
		if got := amrOf(t, token); !slices.Equal(got, []string{"pwd", "otp"}) {
			t.Errorf("amr of the %s token = %q, want pwd and otp", name, got)
		}
	}
	res = api.do(t, "POST", "/login/mfa", map[string]string{"mfa_token": api.mfaToken(t), "code": code})
	wantProblem(t, res, http.StatusUnauthorized, "invalid_mfa_code")

	mfaAccess, _ := api.loginMFA(t, map[string]string{"recovery_code": recovery[0]})
	if got := amrOf(t, mfaAccess); !slices.Equal(got, []string{"pwd", "mfa"}) {
		t.Errorf("amr after a recovery code = %q, want pwd and mfa", got)
	}
	if _, left := api.mfaOf(t, mfaAccess); left != 9 {
		t.Errorf("%v recovery codes left, want 9", left)
	}
	res = api.do(t, "POST", "/login/mfa", map[string]string{"mfa_token": api.mfaToken(t), "recovery_code": recovery[0]})
	wantProblem(t, res, http.StatusUnauthorized, "invalid_mfa_code")

	api.clock.Advance(time.Hour)
	res = api.do(t, "POST", "/refresh", map[string]string{"refresh_token": otpRefresh})
	wantStatus(t, res, http.StatusOK)
	refreshed, _ := res.body["access_token"].(string)
	if got := amrOf(t, refreshed); !slices.Equal(got, []string{"pwd", "otp"}) {
		t.Errorf("amr after /refresh = %q, want pwd and otp", got)
	}

	// A fresh login with a code is a recent second factor for new codes.
	newAccess, _ := api.loginMFA(t, map[string]string{"code": api.totpCode(app, 0)})
	res = api.do(t, "POST", "/me/mfa/recovery-codes", map[string]string{}, bearer(newAccess)...)
	wantStatus(t, res, http.StatusOK)
	if fresh, _ := res.body["recovery_codes"].([]any); len(fresh) != 10 || slices.Contains(fresh, any(recovery[1])) {
		t.Errorf("new recovery codes = %s, want 10 new ones", res.Body)
	}
	res = api.do(t, "POST", "/login/mfa", map[string]string{"mfa_token": api.mfaToken(t), "recovery_code": recovery[1]})
	wantProblem(t, res, http.StatusUnauthorized, "invalid_mfa_code")

	api.clock.Advance(testkit.TOTPPeriod)
	res = api.do(t, "DELETE", "/me/mfa/totp", map[string]string{"password": password, "code": api.totpCode(app, 0)}, bearer(newAccess)...)
	wantStatus(t, res, http.StatusOK)
	if factors, left := api.mfaOf(t, newAccess); len(factors) != 0 || left != 0 {
		t.Errorf("after turning it off, factors %q and %v recovery codes", factors, left)
	}
	wantProblem(t, api.do(t, "DELETE", "/me/mfa/totp", map[string]string{"password": password, "code": api.totpCode(app, 1)}, bearer(newAccess)...),
		http.StatusConflict, "mfa_not_enabled")
	plain, _ := api.login(t)
	if got := amrOf(t, plain); !slices.Equal(got, []string{"pwd"}) {
		t.Errorf("amr of a password login = %q, want pwd", got)
	}

	subjects := api.subjects(t, email)
	for subject, want := range map[string]int{twoStepOnSubject: 1, twoStepOffSubject: 1, recoveryUsedSubject: 1} {
		if got := countOf(subjects, subject); got != want {
			t.Errorf("%d emails %q, want %d; all: %q", got, subject, want, subjects)
		}
	}
	logs := api.logs.String()
	for _, secret := range append([]string{secret, code, confirmCode}, recovery...) {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs hold the secret or a code %q", secret)
		}
	}
}

// TestMFARequiredProblem: the right password of an account with two-step
// login is a 403 problem whose extension members are the mfa_token and the
// methods; a wrong password is answered as it is for an unknown email.
func TestMFARequiredProblem(t *testing.T) {
	api := newTestAPI(t)
	api.activeUser(t)
	access, _ := api.login(t)
	api.enrolTOTP(t, access)

	res := api.do(t, "POST", "/login", map[string]string{"email": email, "password": password})
	wantProblem(t, res, http.StatusForbidden, "mfa_required")
	members := slices.Sorted(maps.Keys(res.body))
	if want := []string{"code", "detail", "methods", "mfa_token", "request_id", "status", "title", "type"}; !slices.Equal(members, want) {
		t.Errorf("members %q, want %q", members, want)
	}
	if methods, _ := res.body["methods"].([]any); !slices.Equal(methods, []any{"totp", "recovery_code"}) {
		t.Errorf("methods = %v, want totp and recovery_code", res.body["methods"])
	}
	if res.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("the mfa_token may be cached: %v", res.Header())
	}
	if token, _ := res.body["mfa_token"].(string); strings.Count(token, ".") != 2 {
		t.Errorf("mfa_token = %q, want a JWT", token)
	}

	wrongPassword := api.do(t, "POST", "/login", map[string]string{"email": email, "password": "WrongPassword1!"}, "X-Request-ID", "same")
	unknownEmail := api.do(t, "POST", "/login", map[string]string{"email": "nobody@example.com", "password": "WrongPassword1!"}, "X-Request-ID", "same")
	wantProblem(t, wrongPassword, http.StatusUnauthorized, "invalid_credentials")
	if wrongPassword.Body.String() != unknownEmail.Body.String() || slices.Contains(slices.Collect(maps.Keys(wrongPassword.body)), "mfa_token") {
		t.Errorf("a wrong password of an account with two-step login tells it apart:\n%s\n%s", wrongPassword.Body, unknownEmail.Body)
	}
}

// TestStepUpOverHTTP: a session whose second factor is older than 10
// minutes changes the password, deletes the account or makes new recovery
// codes only with a current code, and is told so with mfa_step_up_required.
func TestStepUpOverHTTP(t *testing.T) {
	api := newTestAPI(t)
	api.activeUser(t)
	access, _ := api.login(t)
	app, _ := api.enrolTOTP(t, access)
	access, refresh := api.loginMFA(t, map[string]string{"code": api.totpCode(app, 0)})
	api.clock.Advance(10*time.Minute + time.Second)

	res := api.do(t, "POST", "/me/mfa/recovery-codes", map[string]string{}, bearer(access)...)
	wantProblem(t, res, http.StatusForbidden, "mfa_step_up_required")
	if _, ok := res.body["mfa_token"]; ok {
		t.Errorf("a step-up problem carries an mfa_token: %s", res.Body)
	}
	change := map[string]string{"current_password": password, "new_password": newPassword}
	wantProblem(t, api.do(t, "POST", "/me/password", change, bearer(access)...), http.StatusForbidden, "mfa_step_up_required")
	wantProblem(t, api.do(t, "DELETE", "/me", map[string]string{"password": password}, bearer(access)...), http.StatusForbidden, "mfa_step_up_required")
	// Turning it off always takes a code or a recovery code.
	res = api.do(t, "DELETE", "/me/mfa/totp", map[string]string{"password": password}, bearer(access)...)
	wantProblem(t, res, http.StatusBadRequest, "validation_failed")

	change["code"] = otherCode(api.totpCode(app, 0))
	res = api.do(t, "POST", "/me/password", change, bearer(access)...)
	wantProblem(t, res, http.StatusUnauthorized, "invalid_mfa_code")
	if res.Header().Get("WWW-Authenticate") != "" {
		t.Errorf("a wrong step-up code challenges the access token: %v", res.Header())
	}
	change["code"] = api.totpCode(app, 0)
	wantStatus(t, api.do(t, "POST", "/me/password", change, bearer(access)...), http.StatusOK)
	// The code counts for the session now.
	wantStatus(t, api.do(t, "POST", "/me/mfa/recovery-codes", map[string]string{}, bearer(access)...), http.StatusOK)
	api.clock.Advance(10*time.Minute + time.Second)
	// A refresh renews the access token, not the second factor.
	res = api.do(t, "POST", "/refresh", map[string]string{"refresh_token": refresh})
	wantStatus(t, res, http.StatusOK)
	access, _ = res.body["access_token"].(string)
	wantProblem(t, api.do(t, "DELETE", "/me", map[string]string{"password": newPassword}, bearer(access)...), http.StatusForbidden, "mfa_step_up_required")
	wantStatus(t, api.do(t, "DELETE", "/me", map[string]string{"password": newPassword, "code": api.totpCode(app, 0)}, bearer(access)...), http.StatusOK)
}

// TestWrongCodesMeetTheLoginLimitsOverHTTP: with the default limits, the
// right password and five wrong codes from one client slow its next login
// down, with Retry-After, as six wrong passwords would.
func TestWrongCodesMeetTheLoginLimitsOverHTTP(t *testing.T) {
	api := newTestAPI(t)
	api.activeUser(t)
	access, _ := api.login(t)
	app, _ := api.enrolTOTP(t, access)
	token := api.mfaToken(t)
	wrong := otherCode(api.totpCode(app, 0))
	if wrong == api.totpCode(app, -1) || wrong == api.totpCode(app, 1) {
		t.Skip("the wrong code is a code of the window by chance")
	}
	for range 5 {
		wantProblem(t, api.do(t, "POST", "/login/mfa", map[string]string{"mfa_token": token, "code": wrong}), http.StatusUnauthorized, "invalid_mfa_code")
	}
	wantProblem(t, api.do(t, "POST", "/login/mfa", map[string]string{"mfa_token": token, "code": api.totpCode(app, 0)}), http.StatusUnauthorized, "invalid_token")
	res := api.do(t, "POST", "/login", map[string]string{"email": email, "password": password})
	wantProblem(t, res, http.StatusTooManyRequests, "too_many_requests")
	if res.Header().Get("Retry-After") != "1" {
		t.Errorf("Retry-After = %q, want 1", res.Header().Get("Retry-After"))
	}
}

// TestDisabledBetweenTheStepsOverHTTP: an account disabled between its
// password and its code is told so, as its password's login would be.
func TestDisabledBetweenTheStepsOverHTTP(t *testing.T) {
	api := newTestAPI(t)
	api.activeUser(t)
	access, _ := api.login(t)
	app, _ := api.enrolTOTP(t, access)
	token := api.mfaToken(t)
	_, err := api.storage.accounts.UpdateUser(context.Background(), ports.UserEmail(email), func(u *domain.User) (ports.Effects, error) {
		u.Disable(api.clock.Now())
		return ports.Effects{}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	res := api.do(t, "POST", "/login/mfa", map[string]string{"mfa_token": token, "code": api.totpCode(app, 0)})
	wantProblem(t, res, http.StatusForbidden, "account_disabled")
}

// TestTwoStepLoginInTheAuditLog: the events of two-step login reach the
// owner's activity and the operators' audit log, as the document names
// them: turning it on, a wrong code with its reason, a recovery code used,
// new codes, and turning it off, by the owner or an operator.
func TestTwoStepLoginInTheAuditLog(t *testing.T) {
	api := newTestAPI(t, noLimits)
	api.activeUser(t)
	access, _ := api.login(t)
	app, recovery := api.enrolTOTP(t, access)
	token := api.mfaToken(t)
	wantProblem(t, api.do(t, "POST", "/login/mfa", map[string]string{"mfa_token": token, "code": otherCode(api.totpCode(app, 0))}),
		http.StatusUnauthorized, "invalid_mfa_code")
	access, _ = api.loginMFA(t, map[string]string{"recovery_code": recovery[0]})
	wantStatus(t, api.do(t, "POST", "/me/mfa/recovery-codes", map[string]string{}, bearer(access)...), http.StatusOK)
	wantStatus(t, api.do(t, "DELETE", "/me/mfa/totp", map[string]string{"password": password, "code": api.totpCode(app, 0)}, bearer(access)...),
		http.StatusOK)

	res := api.do(t, "GET", "/me/activity", nil, bearer(access)...)
	wantStatus(t, res, http.StatusOK)
	var got []string
	var reason any
	for _, e := range res.body["events"].([]any) {
		e := e.(map[string]any)
		got = append(got, e["event"].(string))
		if e["event"] == "login_failed" {
			reason = e["reason"]
		}
	}
	for _, want := range []string{"mfa_enabled", "login_failed", "recovery_code_used", "recovery_codes_renewed", "mfa_disabled"} {
		if !slices.Contains(got, want) {
			t.Errorf("activity %q lacks %s", got, want)
		}
	}
	if reason != "wrong_mfa_code" {
		t.Errorf("the failed login's reason = %v, want wrong_mfa_code", reason)
	}

	// An operator turns it off for an owner who lost both the app and the
	// codes; the audit log says who.
	api.enrolTOTP(t, access)
	key, err := api.operators.CreateAdminKey(context.Background(), ports.Operator{Actor: domain.ActorCLI}, "tests")
	if err != nil {
		t.Fatal(err)
	}
	res = api.do(t, "GET", "/me", nil, bearer(access)...)
	wantStatus(t, res, http.StatusOK)
	id, _ := res.body["id"].(string)
	res = api.do(t, "PATCH", "/admin/users/"+id, map[string]any{"mfa_enabled": false}, bearer(key)...)
	wantStatus(t, res, http.StatusOK)
	if res.body["mfa_enabled"] != false {
		t.Errorf("PATCH mfa_enabled false answered %s", res.Body)
	}
	res = api.do(t, "GET", "/admin/audit?user_id="+id+"&event=mfa_enabled,mfa_disabled,recovery_code_used,recovery_codes_renewed", nil, bearer(key)...)
	wantStatus(t, res, http.StatusOK)
	var types, actors []string
	for _, e := range res.body["events"].([]any) {
		e := e.(map[string]any)
		types = append(types, e["event"].(string))
		actor, _ := e["actor"].(string)
		actors = append(actors, actor)
	}
	if want := []string{"mfa_disabled", "mfa_enabled", "mfa_disabled", "recovery_codes_renewed", "recovery_code_used", "mfa_enabled"}; !slices.Equal(types, want) {
		t.Errorf("audit events %q, want %q", types, want)
	}
	if len(actors) == 0 || actors[0] != "admin:tests" {
		t.Errorf("the operator's reset has actors %q, want admin:tests first", actors)
	}
	if factors, _ := api.mfaOf(t, access); len(factors) != 0 {
		t.Errorf("after the operator's reset, factors %q", factors)
	}
	wantStatus(t, api.do(t, "POST", "/login", map[string]string{"email": email, "password": password}), http.StatusOK)
}
