package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to read the database as any tool would
	_ "modernc.org/sqlite"             // the "sqlite" driver, likewise

	"authapi/adapters/hasher"
	"authapi/adapters/httpapi"
	"authapi/app/admin"
	"authapi/app/auth"
	"authapi/app/outbox"
	"authapi/internal/testkit"
	"authapi/ports"
)

// The end-to-end tests drive the real router wired to the real store (SQLite,
// or PostgreSQL when the suite runs on it), hasher and token adapter; only the mailer captures instead of sending, and
// the clock is moved by hand.

type captureMailer struct {
	mu   sync.Mutex
	sent []ports.Message
	down error // when set, every Send fails with it
}

func (m *captureMailer) Send(_ context.Context, msg ports.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down != nil {
		return m.down
	}
	m.sent = append(m.sent, msg)
	return nil
}

func (m *captureMailer) setDown(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.down = err
}

var mailedCode = regexp.MustCompile(`activation code is (\d{6})`)

// lastCode returns the activation code most recently mailed to email.
func (m *captureMailer) lastCode(t *testing.T, email string) string {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.sent) - 1; i >= 0; i-- {
		if string(m.sent[i].To) == email {
			if match := mailedCode.FindStringSubmatch(m.sent[i].Text); match != nil {
				return match[1]
			}
		}
	}
	t.Fatalf("no activation code mailed to %s", email)
	return ""
}

type testAPI struct {
	config     Config
	database   Database
	storage    *storage
	handler    http.Handler
	dispatcher *outbox.Dispatcher
	keys       *keyManager
	metrics    http.Handler
	// admin is the admin API's own handler when AUTH_ADMIN_ADDR is set,
	// nil when the admin routes are served beside the public ones.
	admin     http.Handler
	operators *admin.Service
	mailer    *captureMailer
	clock     *testkit.Clock
	logs      *testkit.Buffer
}

// cheapHash keeps the tests fast; the hashing code path is the production one.
var cheapHash = hasher.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// testDatabase is a database of the test's own, in dir or, when the suite
// runs on PostgreSQL, in a schema of its own there.
func testDatabase(t *testing.T, dir string) Database {
	t.Helper()
	if testkit.OnPostgres() {
		return Database{URL: testkit.Postgres(t)}
	}
	return Database{Path: filepath.Join(dir, "auth.db")}
}

// newTestAPI wires the service on a database, signing key and server secret
// of the test's own, with DefaultConfig changed by opts.
func newTestAPI(t *testing.T, opts ...func(*Config)) *testAPI {
	t.Helper()
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.Database = testDatabase(t, dir)
	cfg.SigningKeyFile = filepath.Join(dir, "signing-key.pem")
	cfg.SecretKeyFile = filepath.Join(dir, "secret.key")
	for _, opt := range opts {
		opt(&cfg)
	}
	api := &testAPI{
		config:   cfg,
		database: cfg.Database,
		mailer:   &captureMailer{},
		clock:    testkit.NewClock(time.Now().UTC()),
		logs:     &testkit.Buffer{},
	}
	log := slog.New(slog.NewTextHandler(api.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var err error
	api.storage, err = openStorage(context.Background(), cfg, log, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.storage.Close() })
	svc, err := wire(context.Background(), cfg, log, api.storage, runtimeDeps{
		mailer: api.mailer, clock: api.clock, random: rand.Reader, hashParams: cheapHash, outbox: cfg.Outbox,
	})
	if err != nil {
		t.Fatal(err)
	}
	api.handler, api.dispatcher, api.keys, api.metrics = svc.handler, svc.dispatcher, svc.keys, svc.metrics
	api.admin, api.operators = svc.admin, svc.operators
	return api
}

// noLimits turns the abuse limits off, for tests that send many requests
// from one address about something else.
func noLimits(c *Config) {
	c.Limits = auth.Limits{Login: c.Limits.Login}
	c.Limits.Login.FreeFailures = 1000
	c.Limits.Login.LockAfter = 0
}

// noPadding stops /password/forgot (and, with concealed accounts, /verify
// and /resend-activation) from padding its answers with real time.
func noPadding(c *Config) { c.ForgotPasswordMinDuration = 0 }

// signingKeyPEM returns the signing keys, private keys included, as PEM.
func (api *testAPI) signingKeyPEM(t *testing.T) []byte {
	t.Helper()
	keys, err := api.storage.keys.SigningKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	for _, k := range keys {
		der, err := x509.MarshalPKCS8PrivateKey(k.Private)
		if err != nil {
			t.Fatal(err)
		}
		pem.Encode(&out, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	return out.Bytes()
}

// deliverMail runs the mail dispatcher once, as its goroutine would.
func (api *testAPI) deliverMail(t *testing.T) {
	t.Helper()
	if _, err := api.dispatcher.DeliverDue(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// code delivers the queued mail and returns the code last mailed to email.
func (api *testAPI) code(t *testing.T, email string) string {
	t.Helper()
	api.deliverMail(t)
	return api.mailer.lastCode(t, email)
}

type response struct {
	*httptest.ResponseRecorder
	body map[string]any
}

func (api *testAPI) do(t *testing.T, method, path string, body any, header ...string) response {
	t.Helper()
	return api.doFrom(t, "", method, path, body, header...)
}

// doFrom is do from the client address remote (host:port); empty keeps
// httptest's default.
func (api *testAPI) doFrom(t *testing.T, remote, method, path string, body any, header ...string) response {
	t.Helper()
	return api.send(t, api.handler, remote, method, path, body, header...)
}

// send serves a request with handler, one of the service's listeners, and
// holds the exchange to the OpenAPI document.
func (api *testAPI) send(t *testing.T, handler http.Handler, remote, method, path string, body any, header ...string) response {
	t.Helper()
	var data []byte
	switch b := body.(type) {
	case nil:
	case string:
		data = []byte(b)
	default:
		var err error
		if data, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	req := httptest.NewRequest(method, path, bytes.NewReader(data))
	if remote != "" {
		req.RemoteAddr = remote
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	checkContract(t, req, data, rec)
	res := response{ResponseRecorder: rec}
	if strings.Contains(rec.Header().Get("Content-Type"), "json") && rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), &res.body); err != nil {
			t.Fatalf("%s %s: body is not a JSON object: %v: %s", method, path, err, rec.Body)
		}
	}
	return res
}

// wantStatus fails unless res has the given status.
func wantStatus(t *testing.T, res response, status int) {
	t.Helper()
	if res.Code != status {
		t.Fatalf("status = %d, want %d; body %s", res.Code, status, res.Body)
	}
}

// wantProblem fails unless res is a problem document with status and code.
func wantProblem(t *testing.T, res response, status int, code string) {
	t.Helper()
	wantStatus(t, res, status)
	if ct := res.Header().Get("Content-Type"); ct != httpapi.ProblemContentType {
		t.Errorf("Content-Type = %q, want %q", ct, httpapi.ProblemContentType)
	}
	if got := res.body["code"]; got != code {
		t.Errorf("code = %v, want %q; body %s", got, code, res.Body)
	}
	if got := res.body["status"]; got != float64(status) {
		t.Errorf("status member = %v, want %d", got, status)
	}
	if res.body["type"] != "/problems/"+code || res.body["title"] == "" || res.body["detail"] == "" {
		t.Errorf("incomplete problem: %s", res.Body)
	}
	for _, leak := range []string{"sql", "SQL", "goroutine", ".go:", "panic"} {
		if strings.Contains(res.Body.String(), leak) {
			t.Errorf("problem leaks %q: %s", leak, res.Body)
		}
	}
}

const (
	email    = "astro.user@example.com"
	password = "StrongPassword123!"
)

var signupBody = map[string]string{"email": email, "password": password, "first_name": "Astro", "last_name": "User"}

func (api *testAPI) signup(t *testing.T) string {
	t.Helper()
	wantStatus(t, api.do(t, "POST", "/signup", signupBody), http.StatusCreated)
	return api.code(t, email)
}

func (api *testAPI) activeUser(t *testing.T) {
	t.Helper()
	code := api.signup(t)
	wantStatus(t, api.do(t, "POST", "/verify", map[string]string{"email": email, "activation_code": code}), http.StatusOK)
}

func (api *testAPI) login(t *testing.T) (access, refresh string) {
	t.Helper()
	res := api.do(t, "POST", "/login", map[string]string{"email": email, "password": password})
	wantStatus(t, res, http.StatusOK)
	access, _ = res.body["access_token"].(string)
	refresh, _ = res.body["refresh_token"].(string)
	return access, refresh
}

func TestFullFlow(t *testing.T) {
	api := newTestAPI(t)

	res := api.do(t, "POST", "/signup", map[string]string{
		"email": " Astro.User@Example.com", "password": password, "first_name": " Astro ", "last_name": "User",
		"unknown_field": "ignored",
	})
	wantStatus(t, res, http.StatusCreated)
	if res.body["email"] != email || res.body["first_name"] != "Astro" || res.body["is_active"] != false {
		t.Errorf("signup body = %s", res.Body)
	}
	id, _ := res.body["id"].(string)
	if id == "" {
		t.Error("signup returned no id")
	}
	createdAt, _ := res.body["created_at"].(string)
	if _, err := time.Parse(time.RFC3339, createdAt); err != nil {
		t.Errorf("created_at: %v", err)
	}
	code := api.code(t, email)

	wantStatus(t, api.do(t, "POST", "/verify", map[string]string{"email": email, "activation_code": code}), http.StatusOK)

	res = api.do(t, "POST", "/login", map[string]string{"email": "ASTRO.USER@example.com", "password": password})
	wantStatus(t, res, http.StatusOK)
	if res.body["token_type"] != "bearer" || res.body["expires_in"] != float64(900) {
		t.Errorf("login body = %s", res.Body)
	}
	if res.Header().Get("Cache-Control") != "no-store" || res.Header().Get("Pragma") != "no-cache" {
		t.Errorf("token response may be cached: %v", res.Header())
	}
	access, refresh := res.body["access_token"].(string), res.body["refresh_token"].(string)

	res = api.do(t, "GET", "/me", nil, "Authorization", "Bearer "+access)
	wantStatus(t, res, http.StatusOK)
	if res.body["id"] != id || res.body["email"] != email || res.body["is_active"] != true || res.body["created_at"] != createdAt {
		t.Errorf("/me body = %s", res.Body)
	}

	api.clock.Advance(20 * time.Minute) // the access token has expired
	wantProblem(t, api.do(t, "GET", "/me", nil, "Authorization", "Bearer "+access), http.StatusUnauthorized, "invalid_token")

	res = api.do(t, "POST", "/refresh", map[string]string{"refresh_token": refresh})
	wantStatus(t, res, http.StatusOK)
	if res.body["token_type"] != "bearer" || res.body["expires_in"] != float64(900) || res.body["refresh_token"] != nil {
		t.Errorf("refresh body = %s", res.Body)
	}
	newAccess, _ := res.body["access_token"].(string)
	wantStatus(t, api.do(t, "GET", "/me", nil, "Authorization", "bearer "+newAccess), http.StatusOK)

	wantStatus(t, api.do(t, "GET", "/sessions", nil, "Authorization", "Bearer "+newAccess), http.StatusOK)
	wantStatus(t, api.do(t, "POST", "/logout", map[string]string{"refresh_token": refresh}), http.StatusOK)

	logs := api.logs.String()
	secrets := map[string]string{"password": password, "code": code, "access token": access, "refresh token": refresh, "new access token": newAccess}
	for i, line := range strings.Split(strings.TrimSpace(string(api.signingKeyPEM(t))), "\n") {
		if !strings.HasPrefix(line, "-----") && !strings.Contains(line, ":") && len(line) > 16 {
			secrets[fmt.Sprintf("signing key line %d", i)] = line
		}
	}
	if len(secrets) < 6 {
		t.Fatal("the signing key file holds no key material to look for")
	}
	for name, secret := range secrets {
		if strings.Contains(logs, secret) {
			t.Errorf("the %s appears in the logs", name)
		}
	}
	if !strings.Contains(logs, `route=/signup status=201`) {
		t.Errorf("no access log line for the signup:\n%s", logs)
	}
}

func TestSignupErrors(t *testing.T) {
	api := newTestAPI(t)
	api.signup(t)

	res := api.do(t, "POST", "/signup", map[string]string{"email": "ASTRO.user@example.com ", "password": "OtherPassword1!", "first_name": "A", "last_name": "B"})
	wantProblem(t, res, http.StatusBadRequest, "email_taken")

	res = api.do(t, "POST", "/signup", map[string]string{"email": "not-an-email", "password": "short"})
	wantProblem(t, res, http.StatusBadRequest, "validation_failed")
	fields := map[string]bool{}
	for _, e := range res.body["errors"].([]any) {
		fields[e.(map[string]any)["field"].(string)] = true
	}
	for _, f := range []string{"email", "password", "first_name", "last_name"} {
		if !fields[f] {
			t.Errorf("no error for %s in %s", f, res.Body)
		}
	}
}

func TestVerifyErrors(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(t *testing.T, api *testAPI, code string) map[string]string
		status int
		code   string
	}{
		{"unknown email", func(t *testing.T, api *testAPI, code string) map[string]string {
			return map[string]string{"email": "nobody@example.com", "activation_code": code}
		}, 404, "user_not_found"},
		{"wrong code", func(t *testing.T, api *testAPI, code string) map[string]string {
			return map[string]string{"email": email, "activation_code": otherCode(code)}
		}, 400, "invalid_code"},
		{"expired code", func(t *testing.T, api *testAPI, code string) map[string]string {
			api.clock.Advance(time.Hour + time.Second)
			return map[string]string{"email": email, "activation_code": code}
		}, 400, "code_expired"},
		{"exhausted code", func(t *testing.T, api *testAPI, code string) map[string]string {
			for i := 0; i < 5; i++ {
				wantProblem(t, api.do(t, "POST", "/verify", map[string]string{"email": email, "activation_code": otherCode(code)}), 400, "invalid_code")
			}
			return map[string]string{"email": email, "activation_code": code}
		}, 400, "code_exhausted"},
		{"already active", func(t *testing.T, api *testAPI, code string) map[string]string {
			wantStatus(t, api.do(t, "POST", "/verify", map[string]string{"email": email, "activation_code": code}), 200)
			return map[string]string{"email": email, "activation_code": code}
		}, 400, "already_active"},
		{"missing code", func(t *testing.T, api *testAPI, code string) map[string]string {
			return map[string]string{"email": email}
		}, 400, "validation_failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newTestAPI(t)
			code := api.signup(t)
			body := tt.setup(t, api, code)
			wantProblem(t, api.do(t, "POST", "/verify", body), tt.status, tt.code)
		})
	}
}

func TestResendActivation(t *testing.T) {
	api := newTestAPI(t)
	oldCode := api.signup(t)
	wantProblem(t, api.do(t, "POST", "/resend-activation", map[string]string{"email": "nobody@example.com"}), 404, "user_not_found")

	res := api.do(t, "POST", "/resend-activation", map[string]string{"email": email})
	wantStatus(t, res, http.StatusOK)
	if res.body["message"] == "" {
		t.Errorf("no message: %s", res.Body)
	}
	newCode := api.code(t, email)
	if newCode == oldCode {
		t.Skip("the new code equals the old one by chance (one in a million)")
	}
	wantProblem(t, api.do(t, "POST", "/verify", map[string]string{"email": email, "activation_code": oldCode}), 400, "invalid_code")
	wantStatus(t, api.do(t, "POST", "/verify", map[string]string{"email": email, "activation_code": newCode}), 200)
	// A second resend within the minute is limited, whatever its outcome.
	wantProblem(t, api.do(t, "POST", "/resend-activation", map[string]string{"email": email}), 429, "too_many_requests")
	api.clock.Advance(time.Minute)
	wantProblem(t, api.do(t, "POST", "/resend-activation", map[string]string{"email": email}), 400, "already_active")
}

func TestLoginErrors(t *testing.T) {
	api := newTestAPI(t)
	code := api.signup(t)
	wantProblem(t, api.do(t, "POST", "/login", map[string]string{"email": email, "password": password}), 403, "account_not_active")
	// Without the password nobody learns whether the account is active.
	wantProblem(t, api.do(t, "POST", "/login", map[string]string{"email": email, "password": "WrongPassword1!"}), 401, "invalid_credentials")

	wantStatus(t, api.do(t, "POST", "/verify", map[string]string{"email": email, "activation_code": code}), http.StatusOK)
	wrongPassword := api.do(t, "POST", "/login", map[string]string{"email": email, "password": "WrongPassword1!"}, "X-Request-ID", "same")
	unknownEmail := api.do(t, "POST", "/login", map[string]string{"email": "nobody@example.com", "password": password}, "X-Request-ID", "same")
	wantProblem(t, wrongPassword, 401, "invalid_credentials")
	wantProblem(t, unknownEmail, 401, "invalid_credentials")
	if wrongPassword.Body.String() != unknownEmail.Body.String() {
		t.Errorf("bodies differ, telling which emails exist:\n%s\n%s", wrongPassword.Body, unknownEmail.Body)
	}
}

func TestTokenErrors(t *testing.T) {
	api := newTestAPI(t)
	api.activeUser(t)
	access, refresh := api.login(t)

	tests := []struct {
		name   string
		method string
		path   string
		body   any
		header []string
	}{
		{"no Authorization header", "GET", "/me", nil, nil},
		{"not a bearer scheme", "GET", "/me", nil, []string{"Authorization", "Basic " + access}},
		{"empty bearer", "GET", "/me", nil, []string{"Authorization", "Bearer "}},
		{"garbage bearer", "GET", "/me", nil, []string{"Authorization", "Bearer abc.def.ghi"}},
		{"refresh token as access token", "GET", "/me", nil, []string{"Authorization", "Bearer " + refresh}},
		{"tampered access token", "GET", "/me", nil, []string{"Authorization", "Bearer " + access[:len(access)-4] + "AAAA"}},
		{"access token as refresh token", "POST", "/refresh", map[string]string{"refresh_token": access}, nil},
		{"garbage refresh token", "POST", "/refresh", map[string]string{"refresh_token": "nope"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := api.do(t, tt.method, tt.path, tt.body, tt.header...)
			wantProblem(t, res, http.StatusUnauthorized, "invalid_token")
			challenge := res.Header().Get("WWW-Authenticate")
			if tt.path == "/me" && challenge != `Bearer error="invalid_token"` {
				t.Errorf("WWW-Authenticate = %q", challenge)
			}
		})
	}
}

func TestRequestErrors(t *testing.T) {
	api := newTestAPI(t)
	tests := []struct {
		name        string
		method      string
		path        string
		body        string
		contentType string
		status      int
		code        string
	}{
		{"unknown route", "GET", "/nope", "", "", 404, "not_found"},
		{"wrong method", "GET", "/signup", "", "", 405, "method_not_allowed"},
		{"trailing slash is another route", "POST", "/login/", `{}`, "application/json", 404, "not_found"},
		{"empty body", "POST", "/login", "", "application/json", 400, "malformed_body"},
		{"malformed JSON", "POST", "/login", `{"email":`, "application/json", 400, "malformed_body"},
		{"array body", "POST", "/login", `[1,2]`, "application/json", 400, "malformed_body"},
		{"two objects", "POST", "/login", `{}{}`, "application/json", 400, "malformed_body"},
		{"wrong field type", "POST", "/login", `{"email": 42, "password": "x"}`, "application/json", 400, "validation_failed"},
		{"null body", "POST", "/login", `null`, "application/json", 400, "validation_failed"},
		{"form content type", "POST", "/login", `email=a`, "application/x-www-form-urlencoded", 415, "unsupported_media_type"},
		{"body over the limit", "POST", "/signup", `{"email":"` + strings.Repeat("a", httpapi.MaxBodyBytes) + `"}`, "application/json", 413, "body_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			rec := httptest.NewRecorder()
			api.handler.ServeHTTP(rec, req)
			checkContract(t, req, []byte(tt.body), rec)
			res := response{ResponseRecorder: rec}
			if err := json.Unmarshal(rec.Body.Bytes(), &res.body); err != nil {
				t.Fatalf("body is not JSON: %s", rec.Body)
			}
			wantProblem(t, res, tt.status, tt.code)
		})
	}
}

func TestBodyOverLimitWithoutContentLength(t *testing.T) {
	api := newTestAPI(t)
	body := io.MultiReader(strings.NewReader(`{"email":"`), strings.NewReader(strings.Repeat("a", 2*httpapi.MaxBodyBytes)))
	req := httptest.NewRequest("POST", "/signup", io.NopCloser(body))
	req.ContentLength = -1
	rec := httptest.NewRecorder()
	api.handler.ServeHTTP(rec, req)
	res := response{ResponseRecorder: rec}
	_ = json.Unmarshal(rec.Body.Bytes(), &res.body)
	wantProblem(t, res, http.StatusRequestEntityTooLarge, "body_too_large")
}

func TestOperationalRoutes(t *testing.T) {
	api := newTestAPI(t)
	res := api.do(t, "GET", "/healthz", nil)
	wantStatus(t, res, 200)
	if res.body["status"] != "ok" {
		t.Errorf("healthz body %s", res.Body)
	}
	res = api.do(t, "GET", "/readyz", nil)
	wantStatus(t, res, 200)
	if res.body["status"] != "ready" || res.body["mail"] == nil {
		t.Errorf("readyz body %s", res.Body)
	}

	res = api.do(t, "GET", "/.well-known/jwks.json", nil)
	wantStatus(t, res, 200)
	keys, _ := res.body["keys"].([]any)
	if len(keys) != 1 || keys[0].(map[string]any)["alg"] != "ES256" || keys[0].(map[string]any)["d"] != nil {
		t.Errorf("jwks = %s", res.Body)
	}
	if res.Header().Get("X-Content-Type-Options") != "nosniff" || res.Header().Get("X-Request-ID") == "" {
		t.Errorf("missing standard headers: %v", res.Header())
	}

	api.storage.Close()
	wantProblem(t, api.do(t, "GET", "/readyz", nil), http.StatusServiceUnavailable, "unavailable")
	res = api.do(t, "POST", "/signup", signupBody)
	wantProblem(t, res, http.StatusServiceUnavailable, "unavailable")
	if res.Header().Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
}

func TestMailOutageDelaysMailButFailsNothing(t *testing.T) {
	api := newTestAPI(t)
	api.mailer.setDown(errors.New("dial tcp 127.0.0.1:25: connection refused"))
	wantStatus(t, api.do(t, "POST", "/signup", signupBody), http.StatusCreated)
	api.deliverMail(t) // fails and schedules a retry
	api.clock.Advance(time.Minute)
	wantStatus(t, api.do(t, "POST", "/resend-activation", map[string]string{"email": email}), http.StatusOK)
	api.deliverMail(t)

	res := api.do(t, "GET", "/readyz", nil)
	wantStatus(t, res, http.StatusOK)
	mail, _ := res.body["mail"].(map[string]any)
	if mail["pending"] != float64(1) || mail["superseded"] != float64(1) || mail["oldest_pending_seconds"] != float64(0) {
		t.Errorf("readyz mail = %v, want the resent email pending and the first superseded", mail)
	}

	api.mailer.setDown(nil)
	api.clock.Advance(10 * time.Minute) // past any backoff
	code := api.code(t, email)
	if len(api.mailer.sent) != 1 {
		t.Fatalf("delivered %d emails, want only the live code's", len(api.mailer.sent))
	}
	wantStatus(t, api.do(t, "POST", "/verify", map[string]string{"email": email, "activation_code": code}), http.StatusOK)
}

func TestActivatePageChangesNothing(t *testing.T) {
	api := newTestAPI(t)
	code := api.signup(t)
	res := api.do(t, "GET", "/activate?email=astro.user%40example.com&code="+code, nil)
	wantStatus(t, res, 200)
	page := res.Body.String()
	if !strings.Contains(page, code) || !strings.Contains(page, email) || !strings.Contains(page, "<button") {
		t.Errorf("page lacks the code, email or button:\n%s", page)
	}
	csp := res.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'sha256-") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	if res.Header().Get("X-Frame-Options") != "DENY" || res.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("headers = %v", res.Header())
	}
	wantProblem(t, api.do(t, "POST", "/login", map[string]string{"email": email, "password": password}), 403, "account_not_active")

	res = api.do(t, "GET", `/activate?email="><script>alert(1)</script>`, nil)
	if strings.Contains(res.Body.String(), "<script>alert(1)") {
		t.Error("the page reflects markup unescaped")
	}
}

// otherCode returns a six-digit code different from code.
func otherCode(code string) string {
	if code == "000000" {
		return "111111"
	}
	return "000000"
}

// queryStrings runs query, which selects one text column, straight on the
// database of api, as an operator's tool would, and returns the values.
func queryStrings(t *testing.T, api *testAPI, query string) []string {
	t.Helper()
	rows, err := openAsTool(t, api).QueryContext(context.Background(), query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var values []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		values = append(values, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return values
}

func TestMain(m *testing.M) { testkit.Main(m) }

// openAsTool opens the database of api straight, as an operator's tool, or
// anyone holding a copy, would: SQLite read-only, PostgreSQL by its URL.
func openAsTool(t *testing.T, api *testAPI) *sql.DB {
	t.Helper()
	driver, source := "sqlite", "file:"+api.database.Path+"?mode=ro"
	if api.database.Postgres() {
		driver, source = "pgx", api.database.URL
	}
	db, err := sql.Open(driver, source)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
