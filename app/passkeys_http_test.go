package app

import (
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"authapi/adapters/otp"
	"authapi/domain"
	"authapi/internal/testkit"
)

// The passkey routes through the real router, with testkit's authenticator
// playing the browser on the default public URL's page.

const defaultOrigin = "http://localhost:8080"

// amrOf reads the amr claim of a token the service issued.
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

// raw returns a JSON body as it was sent.
func raw(res response) []byte { return res.Body.Bytes() }

// addPasskeyOverHTTP registers a passkey of auth for the access token's user.
func (api *testAPI) addPasskeyOverHTTP(t *testing.T, access string, auth *testkit.Authenticator, name string) map[string]any {
	t.Helper()
	bearer := []string{"Authorization", "Bearer " + access}
	options := api.do(t, "POST", "/me/passkeys/options", nil, bearer...)
	wantStatus(t, options, http.StatusOK)
	res := api.do(t, "POST", "/me/passkeys", map[string]any{"credential": json.RawMessage(auth.Create(t, raw(options))), "name": name}, bearer...)
	wantStatus(t, res, http.StatusCreated)
	return res.body
}

func (api *testAPI) passkeyLoginOverHTTP(t *testing.T, auth *testkit.Authenticator) response {
	t.Helper()
	options := api.do(t, "POST", "/login/passkey/options", nil)
	wantStatus(t, options, http.StatusOK)
	return api.do(t, "POST", "/login/passkey", map[string]any{"credential": json.RawMessage(auth.Get(t, raw(options)))})
}

func TestPasskeysOverHTTP(t *testing.T) {
	api := newTestAPI(t)
	api.activeUser(t)
	access, _ := api.login(t)
	bearer := []string{"Authorization", "Bearer " + access}

	options := api.do(t, "POST", "/me/passkeys/options", map[string]any{}, bearer...)
	wantStatus(t, options, http.StatusOK)
	if cc := options.Header().Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("options with Cache-Control %q, want no-store", cc)
	}
	var creation struct {
		PublicKey struct {
			RP struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"rp"`
			User struct {
				Name string `json:"name"`
			} `json:"user"`
			AuthenticatorSelection struct {
				ResidentKey      string `json:"residentKey"`
				UserVerification string `json:"userVerification"`
			} `json:"authenticatorSelection"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(raw(options), &creation); err != nil {
		t.Fatal(err)
	}
	pk := creation.PublicKey
	if pk.RP.ID != "localhost" || pk.RP.Name != "authapi" || pk.User.Name != email ||
		pk.AuthenticatorSelection.ResidentKey != "preferred" || pk.AuthenticatorSelection.UserVerification != "preferred" {
		t.Errorf("creation options: %s", options.Body)
	}

	auth := testkit.NewAuthenticator(defaultOrigin)
	res := api.do(t, "POST", "/me/passkeys", map[string]any{"credential": json.RawMessage(auth.Create(t, raw(options))), "name": "Work laptop"}, bearer...)
	wantStatus(t, res, http.StatusCreated)
	id, _ := res.body["id"].(string)
	if id == "" || res.body["name"] != "Work laptop" || res.body["last_used_at"] != nil || res.body["aaguid"] != "aa010000-0000-0000-0000-000000000000" {
		t.Errorf("added passkey: %s", res.Body)
	}
	api.deliverMail(t)
	if last := api.mailer.sent[len(api.mailer.sent)-1]; !strings.Contains(last.Subject, "passkey was added") || !strings.Contains(last.Text, "Work laptop") {
		t.Errorf("notice email: %q %q", last.Subject, last.Text)
	}

	login := api.passkeyLoginOverHTTP(t, auth)
	wantStatus(t, login, http.StatusOK)
	passkeyAccess, _ := login.body["access_token"].(string)
	if got := amrOf(t, passkeyAccess); !slices.Equal(got, []string{"hwk", "user"}) {
		t.Errorf("amr of a passkey login = %q, want hwk and user", got)
	}
	if login.body["refresh_token"] == nil || login.body["token_type"] != "bearer" {
		t.Errorf("passkey login answer: %s", login.Body)
	}
	wantStatus(t, api.do(t, "GET", "/me", nil, "Authorization", "Bearer "+passkeyAccess), http.StatusOK)

	list := api.do(t, "GET", "/me/passkeys", nil, bearer...)
	wantStatus(t, list, http.StatusOK)
	keys, _ := list.body["passkeys"].([]any)
	if len(keys) != 1 || keys[0].(map[string]any)["last_used_at"] == nil {
		t.Errorf("passkeys after a login: %s", list.Body)
	}

	renamed := api.do(t, "PATCH", "/me/passkeys/"+id, map[string]string{"name": "Old laptop"}, bearer...)
	wantStatus(t, renamed, http.StatusOK)
	if renamed.body["name"] != "Old laptop" {
		t.Errorf("renamed: %s", renamed.Body)
	}
	wantProblem(t, api.do(t, "DELETE", "/me/passkeys/not-"+id, nil, bearer...), http.StatusNotFound, "passkey_not_found")
	deleted := api.do(t, "DELETE", "/me/passkeys/"+id, nil, bearer...)
	wantStatus(t, deleted, http.StatusNoContent)
	wantProblem(t, api.do(t, "DELETE", "/me/passkeys/"+id, nil, bearer...), http.StatusNotFound, "passkey_not_found")
	wantProblem(t, api.passkeyLoginOverHTTP(t, auth), http.StatusBadRequest, "invalid_passkey")

	for _, route := range []struct{ method, path string }{
		{"POST", "/me/passkeys/options"}, {"POST", "/me/passkeys"}, {"GET", "/me/passkeys"},
		{"PATCH", "/me/passkeys/" + id}, {"DELETE", "/me/passkeys/" + id},
	} {
		wantProblem(t, api.do(t, route.method, route.path, map[string]string{}), http.StatusUnauthorized, "invalid_token")
	}
}

func TestPasskeyAsSecondFactorOverHTTP(t *testing.T) {
	api := newTestAPI(t)
	api.activeUser(t)
	access, _ := api.login(t)
	bearer := []string{"Authorization", "Bearer " + access}

	enrolment := api.do(t, "POST", "/me/mfa/totp", nil, bearer...)
	wantStatus(t, enrolment, http.StatusOK)
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(enrolment.body["secret"].(string))
	if err != nil {
		t.Fatal(err)
	}
	code := func() string {
		c, err := otp.Authenticator{}.CodeAt(secret, api.clock.Now().Unix()/30)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	wantStatus(t, api.do(t, "POST", "/me/mfa/totp/confirm", map[string]string{"code": code()}, bearer...), http.StatusOK)

	// The code that confirmed the enrolment was a second factor; ten
	// minutes on, registering needs another.
	api.clock.Advance(domain.StepUpWindow + time.Second)
	wantProblem(t, api.do(t, "POST", "/me/passkeys/options", nil, bearer...), http.StatusForbidden, "mfa_step_up_required")
	options := api.do(t, "POST", "/me/passkeys/options", map[string]string{"code": code()}, bearer...)
	wantStatus(t, options, http.StatusOK)
	auth := testkit.NewAuthenticator(defaultOrigin)
	wantStatus(t, api.do(t, "POST", "/me/passkeys", map[string]any{"credential": json.RawMessage(auth.Create(t, raw(options)))}, bearer...), http.StatusCreated)

	res := api.do(t, "POST", "/login", map[string]string{"email": email, "password": password})
	wantProblem(t, res, http.StatusForbidden, "mfa_required")
	methods, _ := res.body["methods"].([]any)
	if len(methods) != 3 || methods[1] != "webauthn" {
		t.Errorf("methods = %v, want webauthn among them", methods)
	}
	webauthnOptions, err := json.Marshal(res.body["webauthn"])
	if err != nil || res.body["webauthn"] == nil {
		t.Fatalf("mfa_required without webauthn options: %s", res.Body)
	}
	mfaToken, _ := res.body["mfa_token"].(string)
	assertion := json.RawMessage(auth.Get(t, webauthnOptions))

	wantProblem(t, api.do(t, "POST", "/login/mfa", map[string]any{"mfa_token": mfaToken, "credential": assertion, "code": "123456"}),
		http.StatusBadRequest, "validation_failed")
	done := api.do(t, "POST", "/login/mfa", map[string]any{"mfa_token": mfaToken, "credential": assertion})
	wantStatus(t, done, http.StatusOK)
	if got := amrOf(t, done.body["access_token"].(string)); !slices.Equal(got, []string{"pwd", "hwk", "user"}) {
		t.Errorf("amr = %q, want pwd, hwk and user", got)
	}
	wantProblem(t, api.do(t, "POST", "/login/mfa", map[string]any{"mfa_token": mfaToken, "credential": assertion}), http.StatusUnauthorized, "invalid_token")

	// A passkey that verified its user logs in alone; one that did not
	// leads to the second step, which then offers no passkey.
	wantStatus(t, api.passkeyLoginOverHTTP(t, auth), http.StatusOK)
	auth.UserVerified = false
	unverified := api.passkeyLoginOverHTTP(t, auth)
	wantProblem(t, unverified, http.StatusForbidden, "mfa_required")
	if unverified.body["webauthn"] != nil || unverified.body["mfa_token"] == nil {
		t.Errorf("mfa_required after an unverified passkey: %s", unverified.Body)
	}
}

// TestHostilePasskeyInput sends what a broken or malicious client might to
// every passkey route: each is a clear 4xx, never a 5xx.
func TestHostilePasskeyInput(t *testing.T) {
	api := newTestAPI(t, noLimits)
	api.activeUser(t)
	access, _ := api.login(t)
	bearer := []string{"Authorization", "Bearer " + access}
	auth := testkit.NewAuthenticator(defaultOrigin)
	id, _ := api.addPasskeyOverHTTP(t, access, auth, "mine")["id"].(string)

	junk := `{"id":"` + strings.Repeat("A", 60_000) + `","type":"public-key","response":{}}`
	credentials := map[string]string{
		"a string":             `"credential"`,
		"a number":             `42`,
		"an array":             `[1,2,3]`,
		"an empty object":      `{}`,
		"a bad id":             `{"id":"!!!","rawId":"!!!","type":"public-key","response":{}}`,
		"another type":         `{"id":"AAAA","rawId":"AAAA","type":"password","response":{"clientDataJSON":"e30","authenticatorData":"AAAA","signature":"AAAA"}}`,
		"bad client data":      `{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"clientDataJSON":"!!","attestationObject":"o2NmbXRkbm9uZQ","authenticatorData":"AAAA","signature":"AAAA"}}`,
		"client data not JSON": `{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"clientDataJSON":"bm90IGpzb24","attestationObject":"AAAA","authenticatorData":"AAAA","signature":"AAAA"}}`,
		"deep nesting":         strings.Repeat(`{"a":`, 5000) + `1` + strings.Repeat(`}`, 5000),
		"a large junk id":      junk,
	}
	for name, credential := range credentials {
		t.Run(name, func(t *testing.T) {
			for _, route := range []struct {
				path   string
				body   string
				header []string
			}{
				{"/me/passkeys", `{"credential":` + credential + `,"name":"x"}`, bearer},
				{"/login/passkey", `{"credential":` + credential + `}`, nil},
				{"/login/mfa", `{"mfa_token":"not-a-token","credential":` + credential + `}`, nil},
			} {
				res := api.do(t, "POST", route.path, route.body, route.header...)
				if res.Code < 400 || res.Code >= 500 {
					t.Errorf("%s with %s: %d %s", route.path, name, res.Code, res.Body)
				}
			}
		})
	}

	wantProblem(t, api.do(t, "POST", "/login/passkey", `{"credential":null}`), http.StatusBadRequest, "validation_failed")
	wantProblem(t, api.do(t, "POST", "/login/passkey", `{}`), http.StatusBadRequest, "validation_failed")
	wantProblem(t, api.do(t, "POST", "/me/passkeys", `{"name":"x"}`, bearer...), http.StatusBadRequest, "validation_failed")
	wantProblem(t, api.do(t, "POST", "/login/passkey", `{"credential":`+strings.Repeat(" ", 70<<10)+`{}}`), http.StatusRequestEntityTooLarge, "body_too_large")
	wantProblem(t, api.do(t, "POST", "/login/passkey/options", `[]`), http.StatusBadRequest, "malformed_body")
	wantProblem(t, api.do(t, "POST", "/me/passkeys/options", `{"code":12}`, bearer...), http.StatusBadRequest, "validation_failed")
	wantProblem(t, api.do(t, "PATCH", "/me/passkeys/"+id, map[string]any{"name": strings.Repeat("n", 65)}, bearer...), http.StatusBadRequest, "validation_failed")
	wantProblem(t, api.do(t, "PATCH", "/me/passkeys/"+id, map[string]any{"name": 7}, bearer...), http.StatusBadRequest, "validation_failed")
	for _, bad := range []string{"%00", "%2E%2E", strings.Repeat("9", 5000), "%F0%9F%94%91", "'%20OR%201=1", "%25"} {
		wantProblem(t, api.do(t, "DELETE", "/me/passkeys/"+bad, nil, bearer...), http.StatusNotFound, "passkey_not_found")
		wantProblem(t, api.do(t, "PATCH", "/me/passkeys/"+bad, map[string]string{"name": "x"}, bearer...), http.StatusNotFound, "passkey_not_found")
	}
	// A path that leaves the route is no passkey's either.
	wantProblem(t, api.do(t, "DELETE", "/me/passkeys/..%2F..%2Fadmin", nil, bearer...), http.StatusNotFound, "not_found")
	// The account's passkey survived all of it.
	wantStatus(t, api.passkeyLoginOverHTTP(t, auth), http.StatusOK)
}
