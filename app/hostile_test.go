package app

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"authapi/adapters/httpapi"
)

// The hostile tests send what a careless or malicious client might: broken
// and oversized bodies, values of the wrong type, injection strings, forged
// tokens, odd methods, paths and headers. Every request goes through the real
// router and SQLite store and is held to the OpenAPI document; each must get
// the exact 4xx the API promises (or, for the few harmless cases, its normal
// answer), never a 5xx or a leak, and afterwards the service must still work
// and hold no account that a hostile request should not have created.

// hostileCase is one request and the answer it must get.
type hostileCase struct {
	name   string
	method string
	target string      // path and query, percent-encoded
	body   []byte      // sent as is; nil sends no body
	header http.Header // a body without a Content-Type entry is sent as JSON; an empty entry sends none
	status int
	// code is the problem code the answer must carry; empty for the few
	// requests whose normal, non-problem answer is the right one.
	code string
	// field is a field that a validation_failed problem must name.
	field string
	// creates is the email of the account the request legitimately creates.
	creates string
	// bearer sends the active account's access token, unless header sets
	// an Authorization of its own.
	bearer bool
	check  func(t *testing.T, rec *httptest.ResponseRecorder)
}

// Accounts that exist before the hostile requests arrive.
const (
	activeEmail  = email // activated, with the password below
	pendingEmail = "pending.user@example.com"
)

// leakMarkers must never appear in an answer: they would reveal SQL, Go
// internals or raw decoder errors. Lower case; bodies are compared lower-cased.
var leakMarkers = []string{
	"sql", "goroutine", "panic", ".go:", "runtime error", "stack trace",
	"invalid character", "unexpected eof", "cannot unmarshal", "constraint", "syntax error",
}

// hostileConfig switches off the abuse limits, the login slow-down and the
// guessability check of new passwords. A table sends up to hundreds of
// requests to one service, which the limits would answer with 429 after the
// first few dozen, hiding what it tests: how each input is handled. Those
// features have their own tests; with them off, what each route answers
// follows from the documented field rules alone. Forgotten-password answers
// are not padded, since a table may send dozens of them.
func hostileConfig(c *Config) {
	noLimits(c)
	noPadding(c)
	c.PasswordMinScore = 0
}

// hostileFixture is what each hostile test builds before its requests
// arrive: a service of its own, an active account logged in once, a pending
// account, and what /password/forgot answers for an address without an
// account, which it must answer every other address alike.
type hostileFixture struct {
	api             *testAPI
	access, refresh string // the active account's first session
	pendingCode     string // the code mailed to the pending account
	forgotAnswer    string
}

func newHostileFixture(t *testing.T) *hostileFixture {
	t.Helper()
	f := &hostileFixture{api: newTestAPI(t, hostileConfig)}
	f.api.activeUser(t)
	f.access, f.refresh = f.api.login(t)
	f.pendingCode = signupAccount(t, f.api, pendingEmail)
	res := f.api.do(t, "POST", "/password/forgot", map[string]string{"email": "reference@example.com"})
	wantStatus(t, res, http.StatusAccepted)
	f.forgotAnswer = res.Body.String()
	return f
}

// run sends the cases in order, each as a subtest, and then checks that the
// service still works and holds no account that a hostile request should
// not have created.
func (f *hostileFixture) run(t *testing.T, cases []hostileCase) {
	t.Helper()
	if len(cases) == 0 {
		t.Fatal("no hostile cases")
	}
	names := map[string]bool{}
	wantUsers := []string{activeEmail, pendingEmail}
	for i, tc := range cases {
		if tc.bearer {
			cases[i].header = withBearer(tc.header, f.access)
		}
		if names[tc.name] {
			t.Fatalf("two cases are named %q", tc.name)
		}
		names[tc.name] = true
		if tc.creates != "" {
			wantUsers = append(wantUsers, tc.creates)
		}
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := sendHostile(t, f.api, tc)
			checkHostileAnswer(t, tc, rec)
		})
	}
	f.checkAfter(t, wantUsers)
}

// checkAfter checks that the service is still healthy and serves a normal
// account end to end, that the accounts of the fixture survived, and that
// the users table holds exactly wantUsers and the account it signs up.
func (f *hostileFixture) checkAfter(t *testing.T, wantUsers []string) {
	t.Helper()
	api := f.api
	wantStatus(t, api.do(t, "GET", "/healthz", nil), http.StatusOK)
	wantStatus(t, api.do(t, "GET", "/readyz", nil), http.StatusOK)
	const afterEmail = "after.hostile@example.com"
	code := signupAccount(t, api, afterEmail)
	wantStatus(t, api.do(t, "POST", "/verify", map[string]string{"email": afterEmail, "activation_code": code}), http.StatusOK)
	res := api.do(t, "POST", "/login", map[string]string{"email": afterEmail, "password": password})
	wantStatus(t, res, http.StatusOK)
	token, _ := res.body["access_token"].(string)
	afterRefresh, _ := res.body["refresh_token"].(string)
	res = api.do(t, "GET", "/me", nil, "Authorization", "Bearer "+token)
	wantStatus(t, res, http.StatusOK)
	if res.body["email"] != afterEmail {
		t.Errorf("/me = %s", res.Body)
	}
	// Knowing another account's session id is not enough to end it.
	res = api.do(t, "GET", "/sessions", nil, "Authorization", "Bearer "+token)
	wantStatus(t, res, http.StatusOK)
	sessions, _ := res.body["sessions"].([]any)
	if len(sessions) != 1 {
		t.Fatalf("sessions = %s", res.Body)
	}
	id, _ := sessions[0].(map[string]any)["id"].(string)
	wantProblem(t, api.do(t, "DELETE", "/sessions/"+id, nil, "Authorization", "Bearer "+f.access), http.StatusNotFound, "session_not_found")
	wantStatus(t, api.do(t, "POST", "/refresh", map[string]string{"refresh_token": afterRefresh}), http.StatusOK)
	// The pending account survived the wrong codes and any resend aimed at
	// it.
	code = api.code(t, pendingEmail)
	wantStatus(t, api.do(t, "POST", "/verify", map[string]string{"email": pendingEmail, "activation_code": code}), http.StatusOK)
	// The active account still logs in with its password, which no hostile
	// change or reset replaced, and its first session survived them all.
	api.login(t)
	wantStatus(t, api.do(t, "POST", "/refresh", map[string]string{"refresh_token": f.refresh}), http.StatusOK)
	wantUsers = append(slices.Clone(wantUsers), afterEmail)

	got := usersInDatabase(t, api)
	slices.Sort(wantUsers)
	if !slices.Equal(got, wantUsers) {
		t.Errorf("users table holds\n%q\nwant\n%q", got, wantUsers)
	}
	logs := api.logs.String()
	for _, bad := range []string{"level=ERROR", "panic", "\nmsg=forged", "\nlevel=INFO msg=forged"} {
		if strings.Contains(logs, bad) {
			t.Errorf("logs contain %q", bad)
		}
	}
}

// Each hostile test below is independent of the others: it builds its own
// fixture, so that it can run alone, and in parallel with the rest.

func TestHostileBodies(t *testing.T) {
	t.Parallel()
	f := newHostileFixture(t)
	f.run(t, bodyCases())
}

func TestHostileWrongTypes(t *testing.T) {
	t.Parallel()
	f := newHostileFixture(t)
	f.run(t, wrongTypeCases())
}

func TestHostileStrings(t *testing.T) {
	t.Parallel()
	f := newHostileFixture(t)
	f.run(t, stringCases(f.api, otherCode(f.pendingCode), f.forgotAnswer))
}

func TestHostilePendingCodes(t *testing.T) {
	t.Parallel()
	f := newHostileFixture(t)
	f.run(t, pendingCodeCases())
}

func TestHostileActiveLogin(t *testing.T) {
	t.Parallel()
	f := newHostileFixture(t)
	f.run(t, activeLoginCases())
}

func TestHostileRecovery(t *testing.T) {
	t.Parallel()
	f := newHostileFixture(t)
	// The hostile codes are tried against a reset code that is live.
	wantStatus(t, f.api.do(t, "POST", "/password/forgot", map[string]string{"email": activeEmail}), http.StatusAccepted)
	f.run(t, recoveryCases())
}

func TestHostileContentTypes(t *testing.T) {
	t.Parallel()
	f := newHostileFixture(t)
	f.run(t, contentTypeCases())
}

func TestHostileQueries(t *testing.T) {
	t.Parallel()
	f := newHostileFixture(t)
	f.run(t, queryCases())
}

func TestHostileAuthorization(t *testing.T) {
	t.Parallel()
	f := newHostileFixture(t)
	f.run(t, authorizationCases(t, f.access, f.refresh))
}

func TestHostileSessions(t *testing.T) {
	t.Parallel()
	f := newHostileFixture(t)
	f.run(t, sessionCases(f.api, f.access))
}

func TestHostileMethods(t *testing.T) {
	t.Parallel()
	f := newHostileFixture(t)
	f.run(t, methodCases())
}

func TestHostilePaths(t *testing.T) {
	t.Parallel()
	f := newHostileFixture(t)
	f.run(t, pathCases())
}

func TestHostileHeaders(t *testing.T) {
	t.Parallel()
	f := newHostileFixture(t)
	f.run(t, headerCases())
}

func TestHostilePages(t *testing.T) {
	t.Parallel()
	f := newHostileFixture(t)
	f.run(t, pageCases())
}

func TestHostileMassAssignment(t *testing.T) {
	t.Parallel()
	f := newHostileFixture(t)
	f.run(t, massAssignmentCases(t, f.api))
}

// signupAccount creates an inactive account for addr and returns its code.
func signupAccount(t *testing.T, api *testAPI, addr string) string {
	t.Helper()
	body := map[string]string{"email": addr, "password": password, "first_name": "Test", "last_name": "User"}
	wantStatus(t, api.do(t, "POST", "/signup", body), http.StatusCreated)
	return api.code(t, addr)
}

// sendHostile serves tc and holds the exchange to the OpenAPI document.
func sendHostile(t *testing.T, api *testAPI, tc hostileCase) *httptest.ResponseRecorder {
	t.Helper()
	var body io.Reader
	if tc.body != nil {
		body = bytes.NewReader(tc.body)
	}
	req := httptest.NewRequest(tc.method, tc.target, body)
	req.RemoteAddr = hostileClient(tc.name)
	if _, ok := tc.header["Content-Type"]; !ok && tc.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for key, values := range tc.header {
		req.Header.Del(key)
		for _, v := range values {
			req.Header.Add(key, v)
		}
	}
	rec := httptest.NewRecorder()
	api.handler.ServeHTTP(rec, req)
	checkContract(t, req, tc.body, rec)
	return rec
}

// hostileClient is the client address of the case named name: each case is
// a client of its own, so that no limit set per client address, switched off
// or not, answers for the input under test.
func hostileClient(name string) string {
	sum := sha256.Sum256([]byte(name))
	return fmt.Sprintf("10.%d.%d.%d:40000", sum[0], sum[1], sum[2])
}

// withBearer returns header, copied, with the access token added unless it
// has an Authorization of its own.
func withBearer(header http.Header, access string) http.Header {
	h := header.Clone()
	if h == nil {
		h = http.Header{}
	}
	if _, ok := h["Authorization"]; !ok {
		h["Authorization"] = []string{"Bearer " + access}
	}
	return h
}

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// checkHostileAnswer asserts what every answer to a hostile request must
// satisfy, and what this case in particular expects.
func checkHostileAnswer(t *testing.T, tc hostileCase, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("server error %d: %s", rec.Code, rec.Body)
	}
	if rec.Code != tc.status {
		t.Errorf("status = %d, want %d; body %.300s", rec.Code, tc.status, rec.Body)
	}
	for key, values := range rec.Header() {
		for _, v := range values {
			if strings.ContainsAny(v, "\r\n\x00") {
				t.Errorf("header %s carries a control character: %q", key, v)
			}
		}
	}
	for _, injected := range []string{"Set-Cookie", "X-Injected"} {
		if v := rec.Header().Get(injected); v != "" {
			t.Errorf("response has %s: %q", injected, v)
		}
	}
	id := rec.Header().Get("X-Request-ID")
	if !requestIDPattern.MatchString(id) {
		t.Errorf("X-Request-ID = %q", id)
	}
	lower := strings.ToLower(rec.Body.String())
	for _, marker := range leakMarkers {
		// Internals leak through errors. A success may reflect (escaped)
		// what the client sent, and its tokens are random base64url text
		// that can spell anything, "sql" included.
		if tc.code == "" {
			break
		}
		if strings.Contains(lower, marker) {
			t.Errorf("answer leaks %q: %.300s", marker, rec.Body)
		}
	}
	if tc.code == "" {
		if rec.Header().Get("Content-Type") == httpapi.ProblemContentType {
			t.Errorf("unexpected problem: %s", rec.Body)
		}
	} else {
		checkProblemBody(t, rec, tc.code, tc.field, id)
	}
	if tc.check != nil {
		tc.check(t, rec)
	}
}

// checkProblemBody asserts that rec is a complete problem with code.
func checkProblemBody(t *testing.T, rec *httptest.ResponseRecorder, code, field, id string) {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != httpapi.ProblemContentType {
		t.Errorf("Content-Type = %q, want %q", ct, httpapi.ProblemContentType)
	}
	var p struct {
		Type      *string `json:"type"`
		Title     *string `json:"title"`
		Status    *int    `json:"status"`
		Detail    *string `json:"detail"`
		Code      *string `json:"code"`
		RequestID string  `json:"request_id"`
		Errors    []struct {
			Field   string `json:"field"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("problem is not JSON: %v: %.300s", err, rec.Body)
	}
	if p.Type == nil || p.Title == nil || p.Status == nil || p.Detail == nil || p.Code == nil ||
		*p.Title == "" || *p.Detail == "" {
		t.Fatalf("incomplete problem: %s", rec.Body)
	}
	if *p.Code != code || *p.Type != "/problems/"+code || *p.Status != rec.Code {
		t.Errorf("problem %s/%s/%d, want code %s with status %d", *p.Code, *p.Type, *p.Status, code, rec.Code)
	}
	if p.RequestID != id {
		t.Errorf("request_id %q differs from X-Request-ID %q", p.RequestID, id)
	}
	if field == "" {
		return
	}
	for _, e := range p.Errors {
		if e.Field == field && e.Message != "" {
			return
		}
	}
	t.Errorf("no error for field %s: %s", field, rec.Body)
}

// usersInDatabase lists the emails of every account, read straight from
// api's database.
func usersInDatabase(t *testing.T, api *testAPI) []string {
	t.Helper()
	return queryStrings(t, api, "SELECT email FROM users ORDER BY email")
}

// jsonObject writes an object from name and raw JSON value pairs, in order and
// unchecked, so that a case can send what json.Marshal never would.
func jsonObject(pairs ...string) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i := 0; i+1 < len(pairs); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(jsonString(pairs[i]))
		b.WriteByte(':')
		b.WriteString(pairs[i+1])
	}
	b.WriteByte('}')
	return b.Bytes()
}

func jsonString(s string) string {
	data, _ := json.Marshal(s) // a string always marshals
	return string(data)
}

// jsonRoute is a route that reads a JSON body, with its string fields. The
// bearer routes are called with the active account's access token, so that
// their bodies are read.
type jsonRoute struct {
	method, path string
	fields       []string
	bearer       bool
}

// name is how case names call the route: its path, and its method unless
// POST.
func (r jsonRoute) name() string {
	if r.method == "POST" {
		return r.path
	}
	return r.method + " " + r.path
}

// problemCase returns a case for route whose answer is a problem.
func (r jsonRoute) problemCase(name, target string, body []byte, status int, code string) hostileCase {
	tc := problemCase(r.name()+" "+name, r.method, target, body, status, code)
	tc.bearer = r.bearer
	return tc
}

// The order matters where one case prepares the next: for one hostile
// string, /resend-activation and /password/forgot issue the codes that the
// later routes try.
var jsonRoutes = []jsonRoute{
	{"POST", "/signup", []string{"email", "password", "first_name", "last_name"}, false},
	{"POST", "/verify", []string{"email", "activation_code"}, false},
	{"POST", "/login", []string{"email", "password"}, false},
	{"POST", "/refresh", []string{"refresh_token"}, false},
	{"POST", "/resend-activation", []string{"email"}, false},
	{"POST", "/logout", []string{"refresh_token"}, false},
	{"POST", "/password/forgot", []string{"email"}, false},
	{"POST", "/password/reset", []string{"email", "code", "new_password"}, false},
	{"POST", "/me/password", []string{"current_password", "new_password"}, true},
	{"DELETE", "/me", []string{"password"}, true},
}

// fillers returns raw JSON values for the fields of route. Each signup gets a
// fresh email, so an accepted case cannot make a later one email_taken; the
// other routes name accounts whose answer does not depend on the field under
// test: unknown emails, each its own so that no account collects enough
// failed logins to be slowed down (activeLoginCases try the real one), and
// on the bearer routes a wrong password, so that nothing changes.
func fillers(route, label, wrongCode string) map[string]string {
	switch route {
	case "/signup":
		return map[string]string{
			"email": jsonString(fillerEmail(label)), "password": jsonString(password),
			"first_name": jsonString("Hostile"), "last_name": jsonString("Case"),
		}
	case "/verify":
		return map[string]string{"email": jsonString("nobody-" + label + "@example.com"), "activation_code": jsonString(wrongCode)}
	case "/login":
		return map[string]string{"email": jsonString("nobody-" + label + "@example.com"), "password": jsonString("WrongPassword1!")}
	case "/password/reset":
		return map[string]string{
			"email": jsonString("nobody-" + label + "@example.com"), "code": jsonString(wrongCode), "new_password": jsonString(password),
		}
	case "/me/password":
		// A wrong current password: no case may change the real one.
		return map[string]string{"current_password": jsonString("WrongPassword1!"), "new_password": jsonString(password)}
	case "/me":
		return map[string]string{"password": jsonString("WrongPassword1!")}
	}
	return map[string]string{"refresh_token": jsonString("not-a-token"), "email": jsonString("nobody-" + label + "@example.com")}
}

// withField returns the body of route with field set to raw and the other
// fields filled in.
func withField(route jsonRoute, field, raw, label, wrongCode string) []byte {
	fill := fillers(route.path, label, wrongCode)
	var pairs []string
	for _, f := range route.fields {
		v := fill[f]
		if f == field {
			v = raw
		}
		pairs = append(pairs, f, v)
	}
	return jsonObject(pairs...)
}

// fillerEmail is the fresh signup address of the case labelled label.
func fillerEmail(label string) string { return "hostile-" + label + "@example.com" }

func problemCase(name, method, target string, body []byte, status int, code string) hostileCase {
	return hostileCase{name: name, method: method, target: target, body: body, status: status, code: code}
}

// hostileBody is a body that is not one JSON object, or an object with
// nothing a route needs, and the answer it gets.
type hostileBody struct {
	name   string
	body   string
	status int
	code   string
}

// malformedBodies are the bodies that bodyCases send to every JSON route.
// Those answered validation_failed hold no member a route reads.
func malformedBodies() []hostileBody {
	// As deep as fits in the body limit; deeper bodies are refused unread.
	deep := httpapi.MaxBodyBytes - 8
	return []hostileBody{
		{"empty body", "", 400, "malformed_body"},
		{"whitespace body", " \r\n\t ", 400, "malformed_body"},
		{"lone brace", "{", 400, "malformed_body"},
		{"closing brace", "}", 400, "malformed_body"},
		{"truncated after key", `{"email":`, 400, "malformed_body"},
		{"truncated inside string", `{"email":"astro.user@exa`, 400, "malformed_body"},
		{"truncated before closing brace", `{"email":"astro.user@example.com"`, 400, "malformed_body"},
		{"missing colon", `{"email" "astro.user@example.com"}`, 400, "malformed_body"},
		{"trailing comma", `{"email":"astro.user@example.com",}`, 400, "malformed_body"},
		{"single quotes", `{'email':'astro.user@example.com'}`, 400, "malformed_body"},
		{"unquoted key", `{email:"astro.user@example.com"}`, 400, "malformed_body"},
		{"comment", `{/* hi */}`, 400, "malformed_body"},
		{"NaN value", `{"email":NaN}`, 400, "malformed_body"},
		{"byte order mark", "\xef\xbb\xbf{}", 400, "malformed_body"},
		{"raw NUL", "{\x00}", 400, "malformed_body"},
		{"raw control character in string", "{\"email\":\"a\x01b@example.com\"}", 400, "malformed_body"},
		{"invalid UTF-8 outside strings", "{\"email\":\xff}", 400, "malformed_body"},
		{"array body", `["astro.user@example.com"]`, 400, "malformed_body"},
		{"string body", `"astro.user@example.com"`, 400, "malformed_body"},
		{"number body", `42`, 400, "malformed_body"},
		{"boolean body", `true`, 400, "malformed_body"},
		{"two objects", `{}{}`, 400, "malformed_body"},
		{"object then garbage", `{} garbage`, 400, "malformed_body"},
		{"object then array", `{}[]`, 400, "malformed_body"},
		{"8k open brackets", strings.Repeat("[", deep), 400, "malformed_body"},
		{"1.6k nested objects", strings.Repeat(`{"a":`, deep/5), 400, "malformed_body"},
		{"4k closed brackets in an unknown field", `{"x":` + strings.Repeat("[", deep/2) + strings.Repeat("]", deep/2) + `}`, 400, "validation_failed"},
		{"100k open brackets", strings.Repeat("[", 100_000), 413, "body_too_large"},
		{"500 closed brackets in an unknown field", `{"x":` + strings.Repeat("[", 500) + strings.Repeat("]", 500) + `}`, 400, "validation_failed"},
		{"null body", `null`, 400, "validation_failed"},
		{"empty object", `{}`, 400, "validation_failed"},
		{"body over 8 KiB", `{"x":"` + strings.Repeat("a", httpapi.MaxBodyBytes) + `"}`, 413, "body_too_large"},
	}
}

// bodyCases send bodies that are not one JSON object to every JSON route.
func bodyCases() []hostileCase {
	var cases []hostileCase
	for _, route := range jsonRoutes {
		for _, b := range malformedBodies() {
			cases = append(cases, route.problemCase(b.name, route.path, []byte(b.body), b.status, b.code))
		}
	}
	return cases
}

// wrongTypeCases send each field of each route as every JSON type but a
// string, and as null.
func wrongTypeCases() []hostileCase {
	values := []struct{ name, raw string }{
		{"number", `42`},
		{"huge number", `1e999999`},
		{"boolean", `true`},
		{"array", `["astro.user@example.com"]`},
		{"empty object", `{}`},
		{"NoSQL $gt object", `{"$gt": ""}`},
		{"NoSQL $ne object", `{"$ne": null}`},
		{"NoSQL $regex object", `{"$regex": ".*"}`},
	}
	var cases []hostileCase
	n := 0
	for _, route := range jsonRoutes {
		for _, field := range route.fields {
			for _, v := range values {
				n++
				cases = append(cases, hostileCase{
					name:   fmt.Sprintf("%s %s as %s", route.name(), field, v.name),
					method: route.method, target: route.path, bearer: route.bearer,
					body:   withField(route, field, v.raw, fmt.Sprintf("type-%03d", n), "000000"),
					status: 400, code: "validation_failed", field: field,
					check: wantFieldMessage(field, "must be a string"),
				})
			}
			n++
			// null leaves the field empty, which every route refuses.
			cases = append(cases, hostileCase{
				name:   fmt.Sprintf("%s %s as null", route.name(), field),
				method: route.method, target: route.path, bearer: route.bearer,
				body:   withField(route, field, `null`, fmt.Sprintf("type-%03d", n), "000000"),
				status: 400, code: "validation_failed", field: field,
			})
		}
	}
	return cases
}

func wantFieldMessage(field, message string) func(t *testing.T, rec *httptest.ResponseRecorder) {
	return func(t *testing.T, rec *httptest.ResponseRecorder) {
		t.Helper()
		want := jsonString(field) + `,"message":` + jsonString(message)
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("want field %s with message %q: %s", field, message, rec.Body)
		}
	}
}

// hostileString is a string value and what each field makes of it. The
// expectations are written out by hand from the documented rules rather than
// computed with the domain package, so that a change in the rules shows here.
type hostileString struct {
	name string
	raw  string // the value's JSON text
	// blank: nothing is left once surrounding whitespace is trimmed.
	blank bool
	// asEmail is the normalized address when the value is a valid email.
	asEmail string
	// asPassword: 8 to 128 characters, so signup takes it as a password.
	asPassword bool
	// asName: 1 to 100 characters after trimming, no control characters.
	asName bool
	// account is the existing account the value names once normalized.
	account string
	// tooLong: longer than any email once normalized, so that no route
	// looks it up.
	tooLong bool
}

func hostileStrings() []hostileString {
	// Long values stay within the body limit, so that what is tested is
	// how each field takes them.
	sixKB := strings.Repeat("a", 6<<10)
	return []hostileString{
		{name: "SQL tautology", raw: jsonString(`' OR 1=1 --`), asPassword: true, asName: true},
		{name: "SQL drop table", raw: jsonString(`"; DROP TABLE users; --`), asPassword: true, asName: true},
		{name: "SQL union select", raw: jsonString(`x' UNION SELECT password_hash FROM users --`), asPassword: true, asName: true},
		{name: "SQL stacked query", raw: jsonString(`Robert'); DELETE FROM users WHERE ('1'='1`), asPassword: true, asName: true},
		{name: "SQL comment after an existing email", raw: jsonString(`astro.user@example.com'--`), asEmail: `astro.user@example.com'--`, asPassword: true, asName: true},
		{name: "SQL quoted local part", raw: jsonString(`"' OR 1=1 --"@example.com`), asPassword: true, asName: true},
		{name: "NoSQL operator as text", raw: jsonString(`{"$gt": ""}`), asPassword: true, asName: true},
		{name: "LDAP filter", raw: jsonString(`*)(uid=*))(|(uid=*`), asPassword: true, asName: true},
		{name: "NUL in the middle", raw: jsonString("Strong\x00Password1"), asPassword: true},
		{name: "only NUL bytes", raw: jsonString("\x00\x00\x00")},
		{name: "terminal escapes", raw: jsonString("\x07\x08\x1b[31mred"), asPassword: true},
		{name: "forged log line", raw: jsonString("Astro\nmsg=forged level=ERROR"), asPassword: true},
		{name: "CRLF header injection in an email", raw: jsonString("victim@example.com\r\nBcc: attacker@evil.example"), asPassword: true},
		{name: "existing email with trailing CRLF", raw: jsonString("ASTRO.USER@Example.com\r\n"), asEmail: activeEmail, asPassword: true, asName: true, account: activeEmail},
		{name: "pending email wrapped in CRLF", raw: jsonString("\r\nPENDING.user@example.com\r\n"), asEmail: pendingEmail, asPassword: true, asName: true, account: pendingEmail},
		{name: "Cyrillic homoglyph of an existing email", raw: jsonString("\u0430stro.user@example.com"), asEmail: "\u0430stro.user@example.com", asPassword: true, asName: true},
		{name: "Kelvin sign folding to ASCII", raw: jsonString("\u212Aelvin@Example.com"), asEmail: "kelvin@example.com", asPassword: true, asName: true},
		{name: "zero-width space in an existing email", raw: jsonString("astro.user\u200b@example.com"), asPassword: true, asName: true},
		{name: "fullwidth at sign", raw: jsonString("astro.user\uff20example.com"), asPassword: true, asName: true},
		{name: "right-to-left override", raw: jsonString("\u202emoc.elpmaxe@resu"), asPassword: true},
		{name: "display name and brackets", raw: jsonString("Astro <astro.user@example.com>"), asPassword: true, asName: true},
		{name: "script tag", raw: jsonString(`<script>alert(1)</script>`), asPassword: true, asName: true},
		{name: "escaped lone surrogate", raw: `"\ud800"`, asName: true},
		{name: "raw invalid UTF-8", raw: "\"\xff\xfe\xfd\"", asName: true},
		{name: "raw invalid UTF-8 in an email", raw: "\"astro\xff@example.com\"", asEmail: "astro\ufffd@example.com", asPassword: true, asName: true},
		{name: "Unicode whitespace only", raw: jsonString(" \t\r\n\u00a0\u3000"), blank: true},
		{name: "emoji", raw: jsonString("\U0001F984\U0001F984\U0001F984\U0001F984"), asName: true},
		{name: "format verbs", raw: jsonString("%s%s%s%n%x%v"), asPassword: true, asName: true},
		{name: "path traversal", raw: jsonString("../../../../etc/passwd"), asPassword: true, asName: true},
		{name: "JSON inside a string", raw: jsonString(`{"email":"astro.user@example.com"}`), asPassword: true, asName: true},
		{name: "255-byte email", raw: jsonString(strings.Repeat("a", 64) + "@" + strings.Repeat("b", 186) + ".com"), tooLong: true},
		{name: "6 KB string", raw: jsonString(sixKB), tooLong: true},
		{name: "6 KB email", raw: jsonString(sixKB + "@example.com"), tooLong: true},
		{name: "6 KB of two-byte characters", raw: jsonString(strings.Repeat("\u00e9", 3<<10)), tooLong: true},
	}
}

// stringCases put every hostile string in every field of every route.
// forgotAnswer is the answer of /password/forgot to an unknown address.
func stringCases(api *testAPI, wrongCode, forgotAnswer string) []hostileCase {
	var cases []hostileCase
	n := 0
	for _, s := range hostileStrings() {
		for _, route := range jsonRoutes {
			for _, field := range route.fields {
				n++
				label := fmt.Sprintf("str-%03d", n)
				tc := hostileCase{
					name:   fmt.Sprintf("%s %s as %s", route.name(), field, s.name),
					method: route.method, target: route.path, bearer: route.bearer,
					body: withField(route, field, s.raw, label, wrongCode),
				}
				expectString(&tc, api, route.path, field, s, label, forgotAnswer)
				cases = append(cases, tc)
			}
		}
	}
	return cases
}

// expectString sets what the route answers to s in field.
func expectString(tc *hostileCase, api *testAPI, route, field string, s hostileString, label, forgotAnswer string) {
	invalid := func() { tc.status, tc.code, tc.field = 400, "validation_failed", field }
	created := func(addr string) {
		tc.status, tc.creates = 201, addr
		tc.check = func(t *testing.T, rec *httptest.ResponseRecorder) {
			t.Helper()
			if strings.Contains(rec.Body.String(), "<script") {
				t.Errorf("user document carries raw markup: %s", rec.Body)
			}
		}
	}
	switch {
	case s.blank:
		invalid()
	case field == "email" && s.tooLong:
		// Refused before it reaches a limit or a query, on every route.
		invalid()
	case route == "/signup" && field == "email":
		switch {
		case s.account != "":
			tc.status, tc.code = 400, "email_taken"
		case s.asEmail != "":
			created(s.asEmail)
		default:
			invalid()
		}
	case route == "/signup" && field == "password":
		if !s.asPassword {
			invalid()
			return
		}
		created(fillerEmail(label))
	case route == "/signup":
		if !s.asName {
			invalid()
			return
		}
		created(fillerEmail(label))
	case route == "/verify" && field == "email" && s.account == activeEmail:
		tc.status, tc.code = 400, "already_active"
	case route == "/verify" && field == "email" && s.asEmail != "":
		// The pending account, or the one the signup case with this value
		// created: a wrong attempt against its code, the only one before
		// the resend case issues a fresh code.
		tc.status, tc.code = 400, "invalid_code"
	case route == "/verify":
		tc.status, tc.code = 404, "user_not_found"
	case route == "/login":
		tc.status, tc.code = 401, "invalid_credentials"
	case route == "/refresh" || route == "/logout":
		tc.status, tc.code = 401, "invalid_token"
	case route == "/resend-activation" && s.account == activeEmail:
		tc.status, tc.code = 400, "already_active"
	case route == "/resend-activation" && s.asEmail != "":
		tc.status = 200
		tc.check = func(t *testing.T, rec *httptest.ResponseRecorder) {
			t.Helper()
			// The new code goes to the normalized address, never to
			// what the client typed.
			api.deliverMail(t)
			api.code(t, s.asEmail)
			api.mailer.mu.Lock()
			defer api.mailer.mu.Unlock()
			for _, m := range api.mailer.sent {
				if to := string(m.To); strings.ContainsAny(to, "\r\n") || to != strings.ToLower(to) {
					t.Errorf("mail sent to %q", to)
				}
			}
		}
	case route == "/resend-activation":
		tc.status, tc.code = 404, "user_not_found"
	case route == "/password/forgot":
		// Whatever the address, and whether or not it has an account.
		tc.status = 202
		tc.check = func(t *testing.T, rec *httptest.ResponseRecorder) {
			t.Helper()
			if rec.Body.String() != forgotAnswer {
				t.Errorf("answer %s differs from the one for an unknown address, %s", rec.Body, forgotAnswer)
			}
		}
	case route == "/password/reset" && field == "new_password" && !s.asPassword:
		// The new password is judged first, for every address alike.
		invalid()
	case route == "/password/reset":
		// No reset code is right: the unknown filler addresses have none,
		// and the real accounts' are not the filler code.
		tc.status, tc.code = 400, "invalid_reset_code"
	case route == "/me/password" || route == "/me":
		// The current password is wrong, or is the hostile string, which is
		// no account's password.
		tc.status, tc.code, tc.check = 401, "invalid_credentials", wantNoChallenge
	default:
		panic("no expectation for " + route + " " + field)
	}
}

// pendingCodeCases try hostile codes against the pending account. They must
// stay under the limit of five wrong attempts for the final verify to work.
func pendingCodeCases() []hostileCase {
	codes := []struct{ name, raw string }{
		{"SQL tautology", jsonString(`' OR '1'='1`)},
		{"6 KB", jsonString(strings.Repeat("1", 6<<10))},
		{"NUL bytes", jsonString("\x00\x00\x00\x00\x00\x00")},
	}
	var cases []hostileCase
	for _, c := range codes {
		cases = append(cases, problemCase("/verify pending account with code as "+c.name, "POST", "/verify",
			jsonObject("email", jsonString(pendingEmail), "activation_code", c.raw), 400, "invalid_code"))
	}
	cases = append(cases,
		problemCase("/verify pending account with code as a number", "POST", "/verify",
			jsonObject("email", jsonString(pendingEmail), "activation_code", "123456"), 400, "validation_failed"),
		problemCase("/verify active account with a hostile code", "POST", "/verify",
			jsonObject("email", jsonString(activeEmail), "activation_code", jsonString(`' OR 1=1 --`)), 400, "already_active"),
	)
	return cases
}

// activeLoginCases try hostile passwords on the active account. They would
// stay under the failures that the default login slow-down lets pass free.
func activeLoginCases() []hostileCase {
	passwords := []struct{ name, raw string }{
		{"SQL tautology", jsonString(`' OR '1'='1`)},
		{"6 KB", jsonString(strings.Repeat("p", 6<<10))},
		{"the password with a NUL appended", jsonString(password + "\x00")},
	}
	var cases []hostileCase
	for _, p := range passwords {
		cases = append(cases, problemCase("/login active account with password as "+p.name, "POST", "/login",
			jsonObject("email", jsonString(activeEmail), "password", p.raw), 401, "invalid_credentials"))
	}
	return cases
}

// recoveryCases send what the table's string fields do not cover to the
// password routes: hostile codes against the active account's pending reset
// code, and end_current_session of every JSON type but a boolean. None of
// them gives a right password or code, so none changes the account.
func recoveryCases() []hostileCase {
	reset := func(code, pw string) []byte {
		return jsonObject("email", jsonString(activeEmail), "code", code, "new_password", pw)
	}
	cases := []hostileCase{
		problemCase("/password/reset active account with code as SQL tautology", "POST", "/password/reset",
			reset(jsonString(`' OR '1'='1`), jsonString(password)), 400, "invalid_reset_code"),
		problemCase("/password/reset active account with code as 6 KB", "POST", "/password/reset",
			reset(jsonString(strings.Repeat("1", 6<<10)), jsonString(password)), 400, "invalid_reset_code"),
		{name: "/password/reset active account with code as a number", method: "POST", target: "/password/reset",
			body: reset("123456", jsonString(password)), status: 400, code: "validation_failed", field: "code",
			check: wantFieldMessage("code", "must be a string")},
		{name: "/password/reset active account with a short new password", method: "POST", target: "/password/reset",
			body: reset(jsonString("000000"), jsonString("short")), status: 400, code: "validation_failed", field: "new_password",
			check: wantFieldMessage("new_password", "must be at least 8 characters")},
	}
	change := jsonRoute{method: "POST", path: "/me/password", bearer: true}
	for _, v := range []struct{ name, raw string }{
		{"a string", `"true"`}, {"a number", `1`}, {"an array", `[true]`}, {"an object", `{"$ne": false}`},
	} {
		tc := change.problemCase("end_current_session as "+v.name, change.path, jsonObject(
			"current_password", jsonString("WrongPassword1!"), "new_password", jsonString(password), "end_current_session", v.raw,
		), 400, "validation_failed")
		tc.field, tc.check = "end_current_session", wantFieldMessage("end_current_session", "must be a bool")
		cases = append(cases, tc)
	}
	nullEnd := change.problemCase("end_current_session as null", change.path, jsonObject(
		"current_password", jsonString("WrongPassword1!"), "new_password", jsonString(password), "end_current_session", "null",
	), 401, "invalid_credentials")
	nullEnd.check = wantNoChallenge
	cases = append(cases, nullEnd)
	deleteMe := jsonRoute{method: "DELETE", path: "/me", bearer: true}
	for _, p := range []struct{ name, raw string }{
		{"the password with a NUL appended", jsonString(password + "\x00")},
		{"the password in upper case", jsonString(strings.ToUpper(password))},
		{"the password with a trailing space", jsonString(password + " ")},
	} {
		tc := deleteMe.problemCase("password as "+p.name, deleteMe.path, jsonObject("password", p.raw), 401, "invalid_credentials")
		tc.check = wantNoChallenge
		cases = append(cases, tc)
	}
	return cases
}

// contentTypeCases send a valid-looking body under other media types.
func contentTypeCases() []hostileCase {
	types := []struct {
		name, value string
		status      int
		code        string
	}{
		{"text/plain", "text/plain", 415, "unsupported_media_type"},
		{"multipart/form-data", "multipart/form-data; boundary=xyz", 415, "unsupported_media_type"},
		{"application/xml", "application/xml", 415, "unsupported_media_type"},
		{"form encoded", "application/x-www-form-urlencoded", 415, "unsupported_media_type"},
		{"bare subtype", "json", 415, "unsupported_media_type"},
		{"broken parameters", "application/json;;;", 415, "unsupported_media_type"},
		{"header injection in Content-Type", "application/json\r\nX-Injected: 1", 415, "unsupported_media_type"},
		// Accepted media types: the empty body then fails validation.
		{"upper-case JSON with charset", "APPLICATION/JSON; charset=UTF-8", 400, "validation_failed"},
		{"vendor +json type", "application/vnd.evil+json", 400, "validation_failed"},
		{"no Content-Type", "", 400, "validation_failed"},
	}
	var cases []hostileCase
	for _, route := range jsonRoutes {
		for _, ct := range types {
			header := http.Header{"Content-Type": nil}
			if ct.value != "" {
				header["Content-Type"] = []string{ct.value}
			}
			tc := route.problemCase("sent as "+ct.name, route.path, []byte(`{}`), ct.status, ct.code)
			tc.header = header
			cases = append(cases, tc)
		}
		multipart := "--xyz\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nastro.user@example.com\r\n--xyz--\r\n"
		tc := route.problemCase("multipart form body", route.path, []byte(multipart), 415, "unsupported_media_type")
		tc.header = http.Header{"Content-Type": {"multipart/form-data; boundary=xyz"}}
		cases = append(cases, tc)
		tc = route.problemCase("XML body", route.path, []byte(`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>`), 415, "unsupported_media_type")
		tc.header = http.Header{"Content-Type": {"application/xml"}}
		cases = append(cases, tc)
	}
	return cases
}

// queryCases put the fields in the query string, which the JSON routes ignore.
func queryCases() []hostileCase {
	var cases []hostileCase
	q := "?email=astro.user%40example.com&password=StrongPassword123%21&refresh_token=x&activation_code=123456&first_name=A&last_name=B" +
		"&code=123456&new_password=StrongPassword123%21&current_password=StrongPassword123%21"
	for _, route := range jsonRoutes {
		cases = append(cases,
			route.problemCase("fields in the query string", route.path+q, []byte(`{}`), 400, "validation_failed"),
			route.problemCase("100 KB query string", route.path+"?q="+strings.Repeat("a", 100<<10), []byte(`{}`), 400, "validation_failed"),
			route.problemCase("NoSQL operator in the query", route.path+"?email[$ne]=x&password[$gt]=", []byte(`{}`), 400, "validation_failed"),
		)
	}
	return cases
}

// authorizationCases send broken and forged credentials to GET /me.
func authorizationCases(t *testing.T, access, refresh string) []hostileCase {
	t.Helper()
	parts := strings.Split(access, ".")
	if len(parts) != 3 {
		t.Fatalf("access token has %d parts", len(parts))
	}
	var header map[string]any
	raw, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err == nil {
		err = json.Unmarshal(raw, &header)
	}
	if err != nil {
		t.Fatalf("access token header: %v", err)
	}
	kid, _ := header["kid"].(string)
	encodeHeader := func(h map[string]any) string {
		data, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(data)
	}
	withHeader := func(key string, value any) string {
		h := map[string]any{}
		for k, v := range header {
			h[k] = v
		}
		h[key] = value
		return encodeHeader(h) + "." + parts[1] + "." + parts[2]
	}
	algNone := encodeHeader(map[string]any{"alg": "none", "typ": "at+jwt", "kid": kid}) + "." + parts[1] + "."
	hs256Input := encodeHeader(map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": kid}) + "." + parts[1]
	mac := hmac.New(sha256.New, []byte(kid))
	mac.Write([]byte(hs256Input))
	hs256 := hs256Input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))

	// A token signed by another key but naming the service's key.
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var claims jwt.MapClaims
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatalf("access token claims: %v", err)
	}
	forged := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	forged.Header["kid"], forged.Header["typ"] = kid, "at+jwt"
	otherSigned, err := forged.SignedString(otherKey)
	if err != nil {
		t.Fatal(err)
	}
	elevated := jwt.MapClaims{}
	for k, v := range claims {
		elevated[k] = v
	}
	elevated["sub"] = "00000000-0000-7000-8000-000000000000"
	elevatedPayload, _ := json.Marshal(elevated)
	swapped := parts[0] + "." + base64.RawURLEncoding.EncodeToString(elevatedPayload) + "." + parts[2]

	bad := []struct{ name, value string }{
		{"no scheme", access},
		{"Bearer alone", "Bearer"},
		{"Bearer and a space", "Bearer "},
		{"Bearer and spaces", "Bearer      "},
		{"tab after Bearer", "Bearer\t" + access},
		{"token then garbage", "Bearer " + access + " garbage"},
		{"Basic scheme", "Basic " + base64.StdEncoding.EncodeToString([]byte("astro.user@example.com:"+password))},
		{"Token scheme", "Token " + access},
		{"Bearer glued to token", "Bearer" + access},
		{"60 KB token", "Bearer " + strings.Repeat("A", 60<<10)},
		{"60 KB of dots", "Bearer " + strings.Repeat(".", 60<<10)},
		{"alg none", "Bearer " + algNone},
		{"alg none with the real signature", "Bearer " + algNone + parts[2]},
		{"HS256 keyed with the kid", "Bearer " + hs256},
		{"bogus kid", "Bearer " + withHeader("kid", "bogus")},
		{"path traversal kid", "Bearer " + withHeader("kid", "../../../../etc/passwd")},
		{"SQL injection kid", "Bearer " + withHeader("kid", "' OR 1=1 --")},
		{"numeric kid", "Bearer " + withHeader("kid", 42)},
		{"jku header", "Bearer " + withHeader("jku", "https://evil.example/jwks.json")},
		{"refresh typ", "Bearer " + withHeader("typ", "refresh+jwt")},
		{"signed by another key", "Bearer " + otherSigned},
		{"claims of another user", "Bearer " + swapped},
		{"refresh token", "Bearer " + refresh},
		{"truncated by one character", "Bearer " + access[:len(access)-1]},
		{"truncated to half", "Bearer " + access[:len(access)/2]},
		{"signature removed", "Bearer " + parts[0] + "." + parts[1] + "."},
		{"header and payload only", "Bearer " + parts[0] + "." + parts[1]},
		{"header only", "Bearer " + parts[0]},
		{"extra segment", "Bearer " + access + ".e30"},
		{"padded segments", "Bearer " + parts[0] + "==." + parts[1] + "." + parts[2]},
		{"three dots", "Bearer a.b.c.d"},
		{"only dots", "Bearer ..."},
		{"NUL byte", "Bearer " + access + "\x00"},
		{"line feed inside the signature", "Bearer " + access[:len(access)-10] + "\n" + access[len(access)-10:]},
		{"CRLF injection", "Bearer x\r\nX-Injected: 1"},
		{"SQL injection", "Bearer ' OR 1=1 --"},
	}
	var cases []hostileCase
	// Base64 decoders skip line breaks: the token itself must refuse them.
	// These come first, while the refresh token's session is certainly live.
	for name, lineBreak := range map[string]string{"CR": "\r", "LF": "\n", "CRLF": "\r\n"} {
		cut := len(refresh) - 10
		cases = append(cases, problemCase("/refresh token with "+name+" inside the signature", "POST", "/refresh",
			jsonObject("refresh_token", jsonString(refresh[:cut]+lineBreak+refresh[cut:])), 401, "invalid_token"))
	}
	for _, route := range protectedRoutes {
		for _, b := range bad {
			tc := problemCase(route.method+" "+route.path+" Authorization "+b.name, route.method, route.path, nil, 401, "invalid_token")
			tc.header = http.Header{"Authorization": {b.value}}
			tc.check = wantChallenge
			cases = append(cases, tc)
		}
		cases = append(cases,
			hostileCase{name: route.method + " " + route.path + " token in the query string", method: route.method,
				target: route.path + "?access_token=" + access, status: 401, code: "invalid_token", check: wantChallenge},
			hostileCase{name: route.method + " " + route.path + " token in a cookie", method: route.method, target: route.path,
				header: http.Header{"Cookie": {"access_token=" + access}}, status: 401, code: "invalid_token", check: wantChallenge},
			hostileCase{name: route.method + " " + route.path + " junk Authorization before a valid one", method: route.method, target: route.path,
				header: http.Header{"Authorization": {"Bearer junk", "Bearer " + access}}, status: 401, code: "invalid_token", check: wantChallenge},
		)
	}
	cases = append(cases,
		// Tolerated spellings of a valid credential (RFC 7235 schemes are
		// case-insensitive); the answer is the account, as documented.
		hostileCase{name: "/me lower-case scheme is accepted", method: "GET", target: "/me",
			header: http.Header{"Authorization": {"bearer " + access}}, status: 200},
		hostileCase{name: "/me several spaces after the scheme are accepted", method: "GET", target: "/me",
			header: http.Header{"Authorization": {"Bearer    " + access}}, status: 200},
	)
	return cases
}

// protectedRoutes need an access token.
var protectedRoutes = []struct{ method, path string }{
	{"GET", "/me"}, {"POST", "/logout-all"}, {"GET", "/sessions"}, {"DELETE", "/sessions/some-session"},
	{"POST", "/me/password"}, {"DELETE", "/me"},
	{"POST", "/me/mfa/totp"}, {"POST", "/me/mfa/totp/confirm"}, {"POST", "/me/mfa/recovery-codes"}, {"DELETE", "/me/mfa/totp"},
}

// sessionCases end sessions by hostile ids, and log in from hostile clients.
func sessionCases(api *testAPI, access string) []hostileCase {
	bearer := http.Header{"Authorization": {"Bearer " + access}}
	ids := []struct {
		name, id string
		status   int
		code     string
	}{
		{"SQL tautology", "%27%20OR%201%3D1%20--", 404, "session_not_found"},
		{"SQL wildcard", "%25", 404, "session_not_found"},
		{"glob", "*", 404, "session_not_found"},
		{"dot-dot", "..", 404, "session_not_found"},
		{"NUL", "%00", 404, "session_not_found"},
		{"Unicode", "%D0%B0", 404, "session_not_found"},
		{"100 KB", strings.Repeat("a", 100<<10), 404, "session_not_found"},
		// Decoded, the traversal has several segments: no route matches.
		{"encoded traversal", "..%2F..%2Fetc%2Fpasswd", 404, "not_found"},
	}
	var cases []hostileCase
	for _, id := range ids {
		cases = append(cases, hostileCase{name: "DELETE /sessions/ id as " + id.name, method: "DELETE", target: "/sessions/" + id.id,
			header: bearer, status: id.status, code: id.code})
	}
	cases = append(cases,
		hostileCase{name: "DELETE /sessions/ without an id", method: "DELETE", target: "/sessions/", header: bearer, status: 404, code: "not_found"},
		hostileCase{name: "DELETE /sessions/ with two segments", method: "DELETE", target: "/sessions/a/b", header: bearer, status: 404, code: "not_found"},
	)

	agents := []struct{ name, value string }{
		{"60 KB", strings.Repeat("A", 60<<10)},
		{"three-byte characters across the cut", strings.Repeat("\u20ac", 100)},
		{"invalid UTF-8", "Mozilla/5.0 \xff\xfe\xfd"},
		{"CRLF", "Mozilla/5.0\r\nX-Injected: 1"},
		{"NUL", "Mozilla\x00/5.0"},
		{"SQL injection", "'); DROP TABLE sessions; --"},
		{"script", "<script>alert(1)</script>"},
	}
	for _, a := range agents {
		cases = append(cases, hostileCase{
			name: "login from user agent " + a.name, method: "POST", target: "/login",
			body:   jsonObject("email", jsonString(activeEmail), "password", jsonString(password)),
			header: http.Header{"User-Agent": {a.value}, "X-Forwarded-For": {"203.0.113.9"}},
			status: 200,
			check: func(t *testing.T, rec *httptest.ResponseRecorder) {
				t.Helper()
				var tokens struct {
					AccessToken string `json:"access_token"`
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &tokens); err != nil {
					t.Fatal(err)
				}
				res := api.do(t, "GET", "/sessions", nil, "Authorization", "Bearer "+tokens.AccessToken)
				wantStatus(t, res, http.StatusOK)
				var list struct {
					Sessions []struct {
						Current   bool   `json:"current"`
						UserAgent string `json:"user_agent"`
						IP        string `json:"ip"`
					} `json:"sessions"`
				}
				if err := json.Unmarshal(res.Body.Bytes(), &list); err != nil {
					t.Fatal(err)
				}
				for _, s := range list.Sessions {
					if !s.Current {
						continue
					}
					// Kept as printable text, cut to 256 bytes: as sent if it
					// was such text, with U+FFFD for what was not.
					printable := utf8.ValidString(a.value) && !strings.ContainsFunc(a.value, unicode.IsControl)
					if len(s.UserAgent) > 256 || !utf8.ValidString(s.UserAgent) || strings.ContainsFunc(s.UserAgent, unicode.IsControl) ||
						(printable && !strings.HasPrefix(a.value, s.UserAgent)) {
						t.Errorf("user agent kept as %q", s.UserAgent)
					}
					if s.IP == "203.0.113.9" {
						t.Error("the session trusts X-Forwarded-For")
					}
					return
				}
				t.Errorf("no current session in %s", res.Body)
			},
		})
	}
	return cases
}

func wantChallenge(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if got := rec.Header().Get("WWW-Authenticate"); got != `Bearer error="invalid_token"` {
		t.Errorf("WWW-Authenticate = %q", got)
	}
}

// wantNoChallenge: a wrong password with a good token is no token problem.
func wantNoChallenge(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if got, ok := rec.Header()["Www-Authenticate"]; ok {
		t.Errorf("WWW-Authenticate = %q, want none", got)
	}
}

// servedRoutes are the routes and their methods, in the order of the Allow
// header.
var servedRoutes = []struct {
	methods []string
	path    string
}{
	{[]string{"POST"}, "/signup"}, {[]string{"POST"}, "/verify"}, {[]string{"POST"}, "/login"}, {[]string{"POST"}, "/refresh"},
	{[]string{"POST"}, "/resend-activation"}, {[]string{"POST"}, "/logout"}, {[]string{"POST"}, "/logout-all"},
	{[]string{"GET"}, "/sessions"}, {[]string{"DELETE"}, "/sessions/some-session"},
	{[]string{"GET", "DELETE"}, "/me"}, {[]string{"POST"}, "/me/password"},
	{[]string{"POST"}, "/login/mfa"}, {[]string{"POST", "DELETE"}, "/me/mfa/totp"},
	{[]string{"POST"}, "/me/mfa/totp/confirm"}, {[]string{"POST"}, "/me/mfa/recovery-codes"},
	{[]string{"POST"}, "/password/forgot"}, {[]string{"POST"}, "/password/reset"},
	{[]string{"GET"}, "/activate"}, {[]string{"GET"}, "/reset-password"},
	{[]string{"GET"}, "/healthz"}, {[]string{"GET"}, "/readyz"}, {[]string{"GET"}, "/.well-known/jwks.json"},
	{[]string{"GET"}, "/openapi.json"}, {[]string{"GET"}, "/openapi.yaml"}, {[]string{"GET"}, "/docs"}, {[]string{"GET"}, "/docs/swagger-ui.css"},
}

// methodCases call every route with methods it does not serve.
func methodCases() []hostileCase {
	var cases []hostileCase
	for _, r := range servedRoutes {
		methods := []string{"PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND", "get"}
		if slices.Contains(r.methods, "GET") {
			methods = append(methods, "POST", "HEAD")
		} else {
			methods = append(methods, "GET", "HEAD")
		}
		for _, m := range methods {
			if slices.Contains(r.methods, m) {
				continue
			}
			var body []byte
			if m != "GET" && m != "HEAD" && m != "OPTIONS" {
				body = []byte(`{}`)
			}
			tc := problemCase(m+" "+r.path, m, r.path, body, 405, "method_not_allowed")
			allowed := strings.Join(r.methods, ", ")
			tc.check = func(t *testing.T, rec *httptest.ResponseRecorder) {
				t.Helper()
				if got := rec.Header().Get("Allow"); got != allowed {
					t.Errorf("Allow = %q, want %q", got, allowed)
				}
			}
			cases = append(cases, tc)
		}
	}
	return cases
}

// pathCases ask for paths the service does not serve, including traversal
// out of the docs assets.
func pathCases() []hostileCase {
	notFound := []struct{ name, method, target string }{
		{"traversal out of docs", "GET", "/docs/../../etc/passwd"},
		{"encoded traversal out of docs", "GET", "/docs/..%2F..%2Fetc%2Fpasswd"},
		{"double-encoded traversal", "GET", "/docs/%252e%252e%252fetc%252fpasswd"},
		{"dot-dot asset", "GET", "/docs/%2e%2e"},
		{"backslash traversal", "GET", "/docs/..%5C..%5Cwindows%5Cwin.ini"},
		{"NUL-terminated asset", "GET", "/docs/swagger-ui.css%00.js"},
		{"NUL asset", "GET", "/docs/%00"},
		{"embedded file outside the list", "GET", "/docs/index.html"},
		{"Go source", "GET", "/docs/docs.go"},
		{"OpenAPI source as an asset", "GET", "/docs/openapi.yaml"},
		{"asset with a trailing slash", "GET", "/docs/swagger-ui.css/"},
		{"double slash before an asset", "GET", "/docs//swagger-ui.css"},
		{"docs with a trailing slash", "GET", "/docs/"},
		{"upper-case route", "POST", "/SIGNUP"},
		{"dot segment before a route", "POST", "/./signup"},
		{"double slash route", "POST", "//signup"},
		{"encoded slash in a route", "POST", "/sign%2Fup"},
		{"NUL after a route", "POST", "/signup%00"},
		{"trailing slash", "POST", "/login/"},
		{"well-known traversal", "GET", "/.well-known/../openapi.yaml"},
		{"env file", "GET", "/.env"},
		{"git config", "GET", "/.git/config"},
		{"100 KB path", "GET", "/" + strings.Repeat("a", 100<<10)},
		{"deep path", "GET", strings.Repeat("/a", 10_000)},
		{"SQL injection path", "GET", "/users/1%27%20OR%201=1--"},
	}
	var cases []hostileCase
	for _, p := range notFound {
		var body []byte
		if p.method == "POST" {
			body = []byte(`{}`)
		}
		cases = append(cases, problemCase("path "+p.name, p.method, p.target, body, 404, "not_found"))
	}
	return cases
}

// headerCases try to smuggle headers and junk through the request id and
// other headers; the routes answer normally.
func headerCases() []hostileCase {
	wantGeneratedID := func(t *testing.T, rec *httptest.ResponseRecorder) {
		t.Helper()
		if id := rec.Header().Get("X-Request-ID"); !regexp.MustCompile(`^[0-9a-f]{24}$`).MatchString(id) {
			t.Errorf("X-Request-ID = %q, want a generated id", id)
		}
	}
	ids := []struct{ name, value string }{
		{"CRLF", "abc\r\nSet-Cookie: session=stolen"},
		{"65 characters", strings.Repeat("a", 65)},
		{"60 KB", strings.Repeat("a", 60<<10)},
		{"Unicode", "\u0430bc"},
		{"spaces", "a b c"},
		{"log injection", `x" level=ERROR msg="forged`},
		{"NUL", "abc\x00def"},
	}
	var cases []hostileCase
	for _, id := range ids {
		cases = append(cases,
			hostileCase{name: "request id " + id.name + " on healthz", method: "GET", target: "/healthz",
				header: http.Header{"X-Request-Id": {id.value}}, status: 200, check: wantGeneratedID},
			hostileCase{name: "request id " + id.name + " on a problem", method: "POST", target: "/login", body: []byte(`{}`),
				header: http.Header{"X-Request-Id": {id.value}}, status: 400, code: "validation_failed", check: wantGeneratedID},
		)
	}
	cases = append(cases,
		hostileCase{name: "plausible request id is echoed", method: "GET", target: "/healthz",
			header: http.Header{"X-Request-Id": {"trace-1.2_3"}}, status: 200,
			check: func(t *testing.T, rec *httptest.ResponseRecorder) {
				t.Helper()
				if got := rec.Header().Get("X-Request-ID"); got != "trace-1.2_3" {
					t.Errorf("X-Request-ID = %q", got)
				}
			}},
		hostileCase{name: "spoofed forwarding headers", method: "GET", target: "/healthz",
			header: http.Header{"X-Forwarded-For": {"127.0.0.1, ' OR 1=1 --"}, "X-Real-Ip": {"::1"}, "Forwarded": {"for=evil"}}, status: 200},
		hostileCase{name: "method override header", method: "POST", target: "/login", body: []byte(`{}`),
			header: http.Header{"X-Http-Method-Override": {"DELETE"}}, status: 400, code: "validation_failed"},
		hostileCase{name: "60 KB header on a problem", method: "POST", target: "/login", body: []byte(`{}`),
			header: http.Header{"X-Junk": {strings.Repeat("j", 60<<10)}}, status: 400, code: "validation_failed"},
		hostileCase{name: "JSON body on a GET route", method: "GET", target: "/healthz", body: []byte(`{"status":"down"}`), status: 200},
		hostileCase{name: "body over the limit on a GET route", method: "GET", target: "/healthz", body: bytes.Repeat([]byte("a"), httpapi.MaxBodyBytes+1),
			status: 413, code: "body_too_large"},
	)
	// GET routes that legitimately answer 200 whatever the query string holds.
	junk := "?q=%27%20OR%201%3D1%20--&x[$gt]=&%00=%0d%0aX-Injected:%201&email=%3Cscript%3E"
	for _, path := range []string{"/healthz", "/readyz", "/.well-known/jwks.json", "/openapi.json", "/docs"} {
		cases = append(cases, hostileCase{name: "junk query on " + path + " is ignored", method: "GET", target: path + junk, status: 200})
	}
	return cases
}

// pageCases: the pages that emailed links lead to answer 200 to any query
// and must escape it.
func pageCases() []hostileCase {
	noMarkup := func(t *testing.T, rec *httptest.ResponseRecorder) {
		t.Helper()
		body := rec.Body.String()
		for _, raw := range []string{"<script>alert", "<img"} {
			if strings.Contains(body, raw) {
				t.Errorf("page reflects %q unescaped", raw)
			}
		}
		if got := rec.Header().Get("Cache-Control"); got != "no-store" {
			t.Errorf("Cache-Control = %q", got)
		}
	}
	queries := []struct{ name, query string }{
		{"script in email", "email=%3Cscript%3Ealert(1)%3C/script%3E"},
		{"attribute breakout in code", "code=%22%3E%3Cimg%20src=x%20onerror=alert(1)%3E"},
		{"javascript URL", "email=javascript:alert(1)"},
		{"SQL injection", "email=%27%20OR%201%3D1%20--&code=%27%3B%20DROP%20TABLE%20users%3B%20--"},
		{"NUL and CRLF", "email=%00%0d%0aX-Injected:%201"},
		{"invalid UTF-8", "email=%ff%fe&code=%c0%af"},
		{"repeated parameters", "email=a&email=b&code=1&code=2"},
		{"NoSQL operator", "email[$ne]=x&code[$gt]="},
		{"100 KB email", "email=" + strings.Repeat("a", 100<<10)},
	}
	var cases []hostileCase
	for _, page := range []struct{ name, path string }{{"activate page", "/activate"}, {"reset page", "/reset-password"}} {
		for _, q := range queries {
			cases = append(cases, hostileCase{name: page.name + " with " + q.name, method: "GET", target: page.path + "?" + q.query,
				status: 200, check: noMarkup})
		}
	}
	return cases
}

// massAssignmentCases send fields that clients must not control.
func massAssignmentCases(t *testing.T, api *testAPI) []hostileCase {
	t.Helper()
	const addr = "mass.assignment@example.com"
	const chosenID = "00000000-0000-7000-8000-000000000000"
	body := jsonObject(
		"email", jsonString(addr), "password", jsonString(password), "first_name", jsonString("Mass"), "last_name", jsonString("Assign"),
		"id", jsonString(chosenID), "is_active", "true", "active", "true", "created_at", jsonString("1970-01-01T00:00:00Z"),
		"password_hash", jsonString("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"),
		"__proto__", `{"admin":true}`, "role", jsonString("admin"),
	)
	return []hostileCase{
		{name: "signup with fields clients do not control", method: "POST", target: "/signup", body: body,
			status: 201, creates: addr,
			check: func(t *testing.T, rec *httptest.ResponseRecorder) {
				t.Helper()
				var u map[string]any
				if err := json.Unmarshal(rec.Body.Bytes(), &u); err != nil {
					t.Fatal(err)
				}
				createdAt, _ := u["created_at"].(string)
				if u["is_active"] != false || u["id"] == chosenID || strings.HasPrefix(createdAt, "1970") {
					t.Errorf("the client chose server-side fields: %s", rec.Body)
				}
				// The account is inactive and its password is the one sent,
				// not the planted hash.
				wantProblem(t, api.do(t, "POST", "/login", map[string]string{"email": addr, "password": password}),
					http.StatusForbidden, "account_not_active")
			}},
		{name: "signup with the field names in another case", method: "POST", target: "/signup",
			body: jsonObject("EMAIL", jsonString("case.keys@example.com"), "Password", jsonString(password),
				"FIRST_NAME", jsonString("Case"), "Last_Name", jsonString("Keys")),
			status: 400, code: "validation_failed", field: "email"},
		{name: "signup with an exact email key and a case variant naming an existing account", method: "POST", target: "/signup",
			body: jsonObject("email", jsonString("exact.key@example.com"), "password", jsonString(password),
				"first_name", jsonString("Exact"), "last_name", jsonString("Key"), "Email", jsonString(activeEmail)),
			status: 201, creates: "exact.key@example.com"},
		{name: "signup with duplicate email keys, the last naming an existing account", method: "POST", target: "/signup",
			body: jsonObject("email", jsonString("fresh.duplicate@example.com"), "password", jsonString(password),
				"first_name", jsonString("Dup"), "last_name", jsonString("Keys"), "email", jsonString(activeEmail)),
			status: 400, code: "email_taken"},
	}
}

// TestHostileContentLength sends bodies whose framing lies, over a real
// socket, since only a real server reads bodies by their declared length.
func TestHostileContentLength(t *testing.T) {
	api := newTestAPI(t, hostileConfig)
	srv := httptest.NewServer(api.handler)
	defer srv.Close()

	const login = `{"email":"astro.user@example.com","password":"StrongPassword123!"}`
	tests := []struct {
		name       string
		path       string
		headers    string // header lines, each ending in CRLF
		body       string
		closeWrite bool // end the body early by closing our side
		status     int
		// code is the problem the service answers with; empty when
		// net/http refuses the request before the service sees it.
		code string
	}{
		{"declared longer than sent", "/login", "Content-Length: 200\r\n", login, true, 400, "malformed_body"},
		{"declared shorter than sent", "/login", "Content-Length: 20\r\n", login, false, 400, "malformed_body"},
		{"declared zero with a body", "/login", "Content-Length: 0\r\n", login, false, 400, "malformed_body"},
		{"declared over the limit", "/signup", "Content-Length: 2000000\r\n", login, false, 413, "body_too_large"},
		{"chunked and truncated", "/login", "Transfer-Encoding: chunked\r\n", "40\r\n" + login[:30], true, 400, "malformed_body"},
		{"chunked with a bad chunk size", "/login", "Transfer-Encoding: chunked\r\n", "zz\r\n" + login + "\r\n0\r\n\r\n", false, 400, "malformed_body"},
		{"negative length", "/login", "Content-Length: -1\r\n", login, false, 400, ""},
		{"conflicting lengths", "/login", "Content-Length: 10\r\nContent-Length: 20\r\n", login, false, 400, ""},
		{"length and chunked together", "/login", "Content-Length: 10\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n", false, 400, ""},
		{"non-numeric length", "/login", "Content-Length: 1e3\r\n", login, false, 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			// A safety net against a hung exchange, not a timing assertion.
			_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
			raw := "POST " + tt.path + " HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n" + tt.headers + "\r\n" + tt.body
			if _, err := io.WriteString(conn, raw); err != nil {
				t.Fatal(err)
			}
			if tt.closeWrite {
				if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
					t.Fatal(err)
				}
			}
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("read response: %v", err)
			}
			defer res.Body.Close()
			body, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatalf("read body: %v", err)
			}
			rec := httptest.NewRecorder()
			for k, v := range res.Header {
				rec.Header()[k] = v
			}
			rec.WriteHeader(res.StatusCode)
			rec.Write(body)

			if tt.code == "" {
				// net/http answered; the service never ran.
				if rec.Code != tt.status {
					t.Errorf("status = %d, want %d: %s", rec.Code, tt.status, body)
				}
				return
			}
			req := httptest.NewRequest("POST", tt.path, strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			checkContract(t, req, []byte(tt.body), rec)
			checkHostileAnswer(t, hostileCase{target: tt.path, body: []byte(tt.body), status: tt.status, code: tt.code}, rec)
		})
	}
	wantStatus(t, api.do(t, "GET", "/healthz", nil), http.StatusOK)
}
