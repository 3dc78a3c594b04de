package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"authapi/domain"
	"authapi/ports"
)

// fuzzAuth is an AuthService that answers from its inputs alone, so that the
// fuzzer reaches the success answers and the domain errors as well as the
// decoding failures. It never fails unexpectedly: any 5xx is the adapter's.
// It records the fields each call was given, by their JSON names.
type fuzzAuth struct {
	mu  sync.Mutex
	got map[string]string
}

var _ ports.AuthService = (*fuzzAuth)(nil)

func (a *fuzzAuth) record(fields ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.got = map[string]string{}
	for i := 0; i+1 < len(fields); i += 2 {
		a.got[fields[i]] = fields[i+1]
	}
}

// take returns and forgets the fields of the last call, nil if none.
func (a *fuzzAuth) take() map[string]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	got := a.got
	a.got = nil
	return got
}

const (
	fuzzEmail    = "astro.user@example.com"
	fuzzPassword = "StrongPassword123!"
	fuzzCode     = "123456"
	fuzzToken    = "good-token"
)

var fuzzCreated = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func required(fields ...string) error {
	var v domain.Validation
	for i := 0; i+1 < len(fields); i += 2 {
		v.Require(fields[i], fields[i+1])
	}
	return v.Err()
}

func fuzzPair() ports.TokenPair {
	return ports.TokenPair{
		Access:  ports.IssuedToken{Token: "access", ExpiresIn: 15 * time.Minute},
		Refresh: ports.IssuedToken{Token: "refresh", ExpiresIn: 720 * time.Hour},
	}
}

func (a *fuzzAuth) Signup(_ context.Context, req ports.SignupRequest, _ domain.Client) (domain.User, error) {
	a.record("email", req.Email, "password", req.Password, "first_name", req.FirstName, "last_name", req.LastName)
	reg, err := domain.NewRegistration(req.Email, req.Password, req.FirstName, req.LastName)
	if err != nil {
		return domain.User{}, err
	}
	if reg.Email == fuzzEmail {
		return domain.User{}, domain.ErrEmailTaken
	}
	return domain.User{
		ID: "0194694c-5dc0-7c3d-9a4f-2e5b6c7d8e9f", Email: reg.Email, FirstName: reg.FirstName, LastName: reg.LastName,
		CreatedAt: fuzzCreated, UpdatedAt: fuzzCreated,
	}, nil
}

// proofFields names the member a proof came from, as recorded: the token
// when one was sent, the code otherwise.
func proofFields(codeField string, proof domain.Proof) (string, string) {
	if proof.IsLink() {
		return "token", proof.Secret()
	}
	return codeField, proof.Secret()
}

func (a *fuzzAuth) Verify(_ context.Context, email string, proof domain.Proof, _ domain.Client) error {
	field, secret := proofFields("activation_code", proof)
	a.record("email", email, field, secret)
	if err := required("email", email, field, secret); err != nil {
		return err
	}
	switch {
	case domain.NormalizeEmail(email) != fuzzEmail:
		return domain.ErrUserNotFound
	case secret != fuzzCode:
		return domain.ErrInvalidCode
	}
	return nil
}

func (a *fuzzAuth) ResendActivation(_ context.Context, email string, _ domain.Client) error {
	a.record("email", email)
	if err := required("email", email); err != nil {
		return err
	}
	if domain.NormalizeEmail(email) != fuzzEmail {
		return domain.ErrUserNotFound
	}
	return nil
}

func (a *fuzzAuth) Login(_ context.Context, email, password string, _ domain.Client) (ports.TokenPair, error) {
	a.record("email", email, "password", password)
	if err := required("email", email, "password", password); err != nil {
		return ports.TokenPair{}, err
	}
	if domain.NormalizeEmail(email) != fuzzEmail || password != fuzzPassword {
		return ports.TokenPair{}, domain.ErrInvalidCredentials
	}
	return fuzzPair(), nil
}

func (a *fuzzAuth) Refresh(_ context.Context, refreshToken string, _ domain.Client) (ports.TokenPair, error) {
	a.record("refresh_token", refreshToken)
	if err := required("refresh_token", refreshToken); err != nil {
		return ports.TokenPair{}, err
	}
	if refreshToken != fuzzToken {
		return ports.TokenPair{}, domain.ErrInvalidToken
	}
	return ports.TokenPair{Access: fuzzPair().Access}, nil
}

func (a *fuzzAuth) Logout(_ context.Context, refreshToken string, _ domain.Client) error {
	a.record("refresh_token", refreshToken)
	if err := required("refresh_token", refreshToken); err != nil {
		return err
	}
	if refreshToken != fuzzToken {
		return domain.ErrInvalidToken
	}
	return nil
}

func (*fuzzAuth) LogoutAll(context.Context, string, domain.Client) (int, error) {
	return 0, domain.ErrInvalidToken
}

func (*fuzzAuth) Activity(context.Context, string) ([]domain.AuditEvent, error) {
	return nil, domain.ErrInvalidToken
}

func (a *fuzzAuth) ForgotPassword(_ context.Context, email string, _ domain.Client) error {
	a.record("email", email)
	return required("email", email)
}

func (a *fuzzAuth) ResetPassword(_ context.Context, email string, proof domain.Proof, newPassword string, _ domain.Client) error {
	field, secret := proofFields("code", proof)
	a.record("email", email, field, secret, "new_password", newPassword)
	if err := required("email", email, field, secret, "new_password", newPassword); err != nil {
		return err
	}
	return domain.ErrInvalidResetCode
}

func (a *fuzzAuth) Unlock(_ context.Context, email, token string, _ domain.Client) error {
	a.record("email", email, "token", token)
	if err := required("email", email, "token", token); err != nil {
		return err
	}
	if domain.NormalizeEmail(email) != fuzzEmail || token != fuzzToken {
		return domain.ErrInvalidUnlockToken
	}
	return nil
}

func (a *fuzzAuth) ChangePassword(_ context.Context, _ domain.Claims, current, newPassword string, _ bool, _ string, _ domain.Client) error {
	a.record("current_password", current, "new_password", newPassword)
	if err := required("current_password", current, "new_password", newPassword); err != nil {
		return err
	}
	if current != fuzzPassword {
		return domain.ErrInvalidCredentials
	}
	return domain.CheckNewPassword("new_password", newPassword, fuzzEmail)
}

func (a *fuzzAuth) DeleteAccount(_ context.Context, _ domain.Claims, password, _ string, _ domain.Client) error {
	a.record("password", password)
	if err := required("password", password); err != nil {
		return err
	}
	if password != fuzzPassword {
		return domain.ErrInvalidCredentials
	}
	return nil
}

func (*fuzzAuth) Sessions(context.Context, string) ([]domain.Session, error) {
	return nil, domain.ErrInvalidToken
}

func (*fuzzAuth) EndSession(context.Context, string, string, domain.Client) error {
	return domain.ErrSessionNotFound
}

// Authenticate accepts fuzzToken, so that the fuzzer reaches the bodies of
// the bearer routes.
func (*fuzzAuth) Authenticate(_ context.Context, token string) (domain.Claims, error) {
	if token != fuzzToken {
		return domain.Claims{}, domain.ErrInvalidToken
	}
	return domain.Claims{UserID: "0194694c-5dc0-7c3d-9a4f-2e5b6c7d8e9f", SessionID: "fuzz-session"}, nil
}

func (*fuzzAuth) CurrentUser(context.Context, string) (domain.User, error) {
	return domain.User{}, domain.ErrInvalidToken
}

type fuzzPinger struct{}

func (fuzzPinger) Ping(context.Context) (ports.DatabaseStatus, error) {
	return ports.DatabaseStatus{Engine: "sqlite", MaxConnections: 1}, nil
}

// repeatReader yields one byte forever: request ids need not be random here.
type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

// jsonRoute is a route that reads a JSON body; bearer routes are called with
// the token fuzzAuth accepts. The seed corpus names routes by their index
// here: add new ones at the end.
type jsonRoute struct {
	method, path string
	bearer       bool
	// template is the path as the document lists it, if not path itself.
	template string
}

func (r jsonRoute) documented() string {
	if r.template != "" {
		return r.template
	}
	return r.path
}

var jsonRoutes = []jsonRoute{
	{http.MethodPost, "/signup", false, ""},
	{http.MethodPost, "/verify", false, ""},
	{http.MethodPost, "/login", false, ""},
	{http.MethodPost, "/refresh", false, ""},
	{http.MethodPost, "/resend-activation", false, ""},
	{http.MethodPost, "/logout", false, ""},
	{http.MethodPost, "/password/forgot", false, ""},
	{http.MethodPost, "/password/reset", false, ""},
	{http.MethodPost, "/me/password", true, ""},
	{http.MethodDelete, "/me", true, ""},
	{http.MethodPost, "/unlock", false, ""},
	{http.MethodPost, "/login/mfa", false, ""},
	{http.MethodPost, "/me/passkeys/options", true, ""},
	{http.MethodPost, "/me/passkeys", true, ""},
	{http.MethodPatch, "/me/passkeys/passkey-1", true, "/me/passkeys/{id}"},
	{http.MethodPost, "/login/passkey/options", false, ""},
	{http.MethodPost, "/login/passkey", false, ""},
}

// FuzzDecodeRequest sends arbitrary bodies under arbitrary content types to
// every route that reads JSON. Whatever arrives, the answer is one the
// document lists for the route, never a 5xx, and an error is always a valid
// problem document. When a body gets through to the service, the service
// sees exactly the members with the documented names, as an independent
// decoding of the body finds them.
func FuzzDecodeRequest(f *testing.F) {
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPIDocument)
	if err != nil {
		f.Fatal(err)
	}
	problemSchema := doc.Components.Schemas["Problem"]
	if problemSchema == nil {
		f.Fatal("the document has no Problem schema")
	}
	auth := &fuzzAuth{}
	router := NewRouter(Config{
		Auth: auth, Ready: fuzzPinger{}, Keys: staticKeys(`{"keys":[]}`),
		Logger: slog.New(slog.DiscardHandler), Random: repeatReader('r'),
	})

	seeds := []struct {
		contentType, body string
	}{
		{"application/json", `{"email":"astro.user@example.com","password":"StrongPassword123!","first_name":"A","last_name":"B"}`},
		{"application/json", `{"email":"astro.user@example.com","activation_code":"123456","refresh_token":"good-token","password":"StrongPassword123!"}`},
		{"application/json", `{"email":"new.user@example.com","password":"StrongPassword123!","first_name":"A","last_name":"B"}`},
		{"application/json; charset=utf-8", `{"email":42}`},
		{"application/problem+json", `null`},
		{"", `{}`},
		{"text/plain", `{}`},
		{"application/json;;", `{}`},
		{"application/json", `{"email":"a"}{}`},
		{"application/json", `[{"email":"a"}]`},
		{"application/json", `{"email":{"$gt":""},"password":["x"]}`},
		{"application/json", strings.Repeat("[", 10_001)},
		{"application/json", "{\"email\":\"\xff\x00\"}"},
		{"application/json", `{"EMAIL":"astro.user@example.com","Password":"StrongPassword123!"}`},
		{"application/json", ""},
	}
	for i, s := range seeds {
		f.Add(uint8(i), s.contentType, []byte(s.body))
	}
	// Bodies that reach the newer routes' use cases, whatever the seed index.
	routeSeeds := map[string][]string{
		"/password/forgot": {`{"email":"astro.user@example.com"}`},
		"/password/reset": {
			`{"email":"astro.user@example.com","code":"123456","new_password":"StrongPassword123!"}`,
			`{"email":"astro.user@example.com","code":123456,"new_password":null}`,
		},
		"/me/password": {
			`{"current_password":"StrongPassword123!","new_password":"Vivid-Harbor-Lantern-7319","end_current_session":true}`,
			`{"current_password":"StrongPassword123!","new_password":"short","end_current_session":"yes"}`,
		},
		"/me": {`{"password":"StrongPassword123!"}`, `{"Password":"StrongPassword123!"}`},
		"/unlock": {
			`{"email":"astro.user@example.com","token":"good-token"}`,
			`{"email":"astro.user@example.com","token":" good-token "}`,
		},
		"/verify": {`{"email":"astro.user@example.com","token":"a-link-token","activation_code":"123456"}`},
		"/login/mfa": {
			`{"mfa_token":"good-token","code":"123456"}`,
			`{"mfa_token":"good-token","credential":{"id":"AAAA","type":"public-key","response":{}}}`,
			`{"mfa_token":"good-token","credential":{"id":"AAAA"},"code":"123456"}`,
		},
		"/me/passkeys/options":   {``, `{"code":"123456"}`},
		"/me/passkeys":           {`{"credential":{"id":"AAAA","type":"public-key"},"name":"Work laptop"}`, `{"credential":null}`},
		"/me/passkeys/passkey-1": {`{"name":"Phone"}`},
		"/login/passkey/options": {``, `{}`},
		"/login/passkey":         {`{"credential":{"id":"AAAA","type":"public-key"}}`, `{"credential":"AAAA"}`},
	}
	for i, r := range jsonRoutes {
		for _, body := range routeSeeds[r.path] {
			f.Add(uint8(i), "application/json", []byte(body))
		}
	}

	f.Fuzz(func(t *testing.T, route uint8, contentType string, body []byte) {
		r := jsonRoutes[int(route)%len(jsonRoutes)]
		method, path := r.method, r.path
		req := httptest.NewRequest(method, path, bytes.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if r.bearer {
			req.Header.Set("Authorization", "Bearer "+fuzzToken)
		}
		rec := httptest.NewRecorder()
		auth.take()
		router.ServeHTTP(rec, req)
		if got := auth.take(); got != nil {
			members := body
			if len(members) == 0 {
				// Routes whose members are all optional take no body.
				members = []byte("{}")
			}
			wantExactMembers(t, members, got)
		}

		if rec.Code >= 500 || rec.Code < 200 {
			t.Fatalf("%s %s answered %d: %s", method, path, rec.Code, rec.Body)
		}
		item := doc.Paths.Value(r.documented())
		if item == nil || item.GetOperation(method) == nil {
			t.Fatalf("the document has no %s %s", method, path)
		}
		op := item.GetOperation(method)
		if op.Responses.Status(rec.Code) == nil {
			t.Errorf("%s %s answered %d, which the document does not list: %s", method, path, rec.Code, rec.Body)
		}
		var v any
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
			t.Fatalf("%s %s answered %d with a body that is not JSON: %v", method, path, rec.Code, err)
		}
		if rec.Code < 400 {
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("success with Content-Type %q", ct)
			}
			return
		}
		if ct := rec.Header().Get("Content-Type"); ct != ProblemContentType {
			t.Errorf("error %d with Content-Type %q", rec.Code, ct)
		}
		if err := problemSchema.Value.VisitJSON(v); err != nil {
			t.Errorf("error %d breaks the Problem schema: %v: %s", rec.Code, err, rec.Body)
		}
		var p Problem
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		if p.Status != rec.Code || p.Type != "/problems/"+p.Code || p.Title == "" || p.Detail == "" {
			t.Errorf("inconsistent problem for status %d: %s", rec.Code, rec.Body)
		}
		if p.Code == string(domain.CodeValidationFailed) && len(p.Errors) == 0 {
			t.Errorf("validation problem without fields: %s", rec.Body)
		}
	})
}

// wantExactMembers checks that the service was given, for each field, the
// string member of the body object with exactly that name, or "" when the
// member is absent or null.
func wantExactMembers(t *testing.T, body []byte, got map[string]string) {
	t.Helper()
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		t.Fatalf("the service was called for a body that is not a JSON object: %v", err)
	}
	for name, value := range got {
		var want string
		if raw, ok := members[name]; ok && string(raw) != "null" {
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatalf("the service was called although member %s is not a string: %v", name, err)
			}
		}
		if value != want {
			t.Errorf("the service got %s = %q, but the body's %q member is %q", name, value, name, want)
		}
	}
}

// staticKeys is a key set that never changes.
type staticKeys string

func (k staticKeys) JWKS() []byte { return []byte(k) }

func (a *fuzzAuth) LoginMFA(_ context.Context, mfaToken, code, recoveryCode string, _ domain.Client) (ports.TokenPair, error) {
	a.record("mfa_token", mfaToken, "code", code, "recovery_code", recoveryCode)
	if err := required("mfa_token", mfaToken); err != nil {
		return ports.TokenPair{}, err
	}
	return ports.TokenPair{}, domain.ErrInvalidToken
}

func (*fuzzAuth) StartTOTP(context.Context, string) (ports.TOTPEnrolment, error) {
	return ports.TOTPEnrolment{}, domain.ErrInvalidToken
}

func (a *fuzzAuth) ConfirmTOTP(_ context.Context, _ domain.Claims, code string, _ domain.Client) ([]string, error) {
	a.record("code", code)
	return nil, required("code", code)
}

func (a *fuzzAuth) NewRecoveryCodes(_ context.Context, _ domain.Claims, code string, _ domain.Client) ([]string, error) {
	a.record("code", code)
	return nil, domain.ErrMFANotEnabled
}

func (a *fuzzAuth) DisableTOTP(_ context.Context, _ domain.Claims, password, code, recoveryCode string, _ domain.Client) error {
	a.record("password", password, "code", code, "recovery_code", recoveryCode)
	if err := required("password", password); err != nil {
		return err
	}
	return domain.ErrMFANotEnabled
}

// fuzzOptions stands for a ceremony's options: the adapter passes them on
// as they are.
const fuzzOptions = `{"publicKey":{"challenge":"Y2hhbGxlbmdl"}}`

func (a *fuzzAuth) PasskeyRegistrationOptions(_ context.Context, _ domain.Claims, code string, _ domain.Client) (json.RawMessage, error) {
	a.record("code", code)
	return json.RawMessage(fuzzOptions), nil
}

func (a *fuzzAuth) AddPasskey(_ context.Context, _ domain.Claims, credential []byte, name string, _ domain.Client) (domain.Passkey, error) {
	a.record("name", name)
	if len(credential) == 0 {
		return domain.Passkey{}, domain.ValidationError("credential", "is required")
	}
	return domain.Passkey{ID: "passkey-1", Name: name, CreatedAt: fuzzCreated}, nil
}

func (*fuzzAuth) Passkeys(context.Context, string) ([]domain.Passkey, error) { return nil, nil }

func (a *fuzzAuth) RenamePasskey(_ context.Context, _ domain.Claims, _, name string, _ domain.Client) (domain.Passkey, error) {
	a.record("name", name)
	return domain.Passkey{}, domain.ErrPasskeyNotFound
}

func (*fuzzAuth) RemovePasskey(context.Context, domain.Claims, string, domain.Client) error {
	return domain.ErrPasskeyNotFound
}

func (*fuzzAuth) PasskeyLoginOptions(context.Context, domain.Client) (json.RawMessage, error) {
	return json.RawMessage(fuzzOptions), nil
}

func (*fuzzAuth) LoginWithPasskey(_ context.Context, credential []byte, _ domain.Client) (ports.TokenPair, error) {
	if len(credential) == 0 {
		return ports.TokenPair{}, domain.ValidationError("credential", "is required")
	}
	return ports.TokenPair{}, domain.ErrInvalidPasskey
}

func (a *fuzzAuth) LoginMFAWithPasskey(_ context.Context, mfaToken string, _ []byte, _ domain.Client) (ports.TokenPair, error) {
	a.record("mfa_token", mfaToken)
	if err := required("mfa_token", mfaToken); err != nil {
		return ports.TokenPair{}, err
	}
	return ports.TokenPair{}, domain.ErrInvalidToken
}
