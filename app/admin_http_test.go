package app

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"authapi/domain"
	"authapi/ports"
)

// The admin API through the real router on the real store: what an operator
// with a key can do to accounts, what the audit log then tells, and that
// nobody without a key gets anything but the one 401.

// adminKeyName names the admin key of the tests; the audit log names its
// actions' actor admin:ops.
const adminKeyName = "ops"

var adminActor = domain.AdminActor(adminKeyName)

// createAdminKey makes an admin key as `authapi admin-keys create NAME`
// does, and returns the key.
func (api *testAPI) createAdminKey(t *testing.T, name string) string {
	t.Helper()
	key, err := api.operators.CreateAdminKey(t.Context(), ports.Operator{Actor: domain.ActorCLI}, name)
	if err != nil {
		t.Fatalf("create admin key %q: %v", name, err)
	}
	return key
}

// adminHandler is the listener that serves the admin API: its own when
// AUTH_ADMIN_ADDR is set, the public one otherwise.
func (api *testAPI) adminHandler() http.Handler {
	if api.admin != nil {
		return api.admin
	}
	return api.handler
}

// asAdmin sends a request to the admin API with key as its bearer token.
func (api *testAPI) asAdmin(t *testing.T, key, method, path string, body any, header ...string) response {
	t.Helper()
	return api.send(t, api.adminHandler(), "", method, path, body, append([]string{"Authorization", "Bearer " + key}, header...)...)
}

// clientOf is a client address of addr's own, so that per-client limits
// do not add up across the accounts of a test.
func clientOf(addr string) string {
	sum := sha256.Sum256([]byte(addr))
	return fmt.Sprintf("198.18.%d.%d:40000", sum[0], sum[1])
}

// pendingAccount signs addr up and returns the account's id. A millisecond
// passes after it, as between the signups of two people: an account's id
// orders it by the millisecond of its creation, and randomly among the
// accounts of one millisecond.
func (api *testAPI) pendingAccount(t *testing.T, addr string) string {
	t.Helper()
	body := map[string]string{"email": addr, "password": password, "first_name": "Test", "last_name": "User"}
	res := api.doFrom(t, clientOf(addr), "POST", "/signup", body)
	wantStatus(t, res, http.StatusCreated)
	id, _ := res.body["id"].(string)
	if id == "" {
		t.Fatalf("signup returned no id: %s", res.Body)
	}
	api.clock.Advance(time.Millisecond)
	return id
}

// newAccount signs addr up, activates it and returns its id.
func (api *testAPI) newAccount(t *testing.T, addr string) string {
	t.Helper()
	id := api.pendingAccount(t, addr)
	code := api.code(t, string(domain.NormalizeEmail(addr)))
	res := api.doFrom(t, clientOf(addr), "POST", "/verify", map[string]string{"email": addr, "activation_code": code})
	wantStatus(t, res, http.StatusOK)
	return id
}

// auditEvents reads the audit log through GET /admin/audit with query,
// following the cursor to the end.
func (api *testAPI) auditEvents(t *testing.T, key, query string) []map[string]any {
	t.Helper()
	var events []map[string]any
	values, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		res := api.asAdmin(t, key, "GET", "/admin/audit?"+values.Encode(), nil)
		wantStatus(t, res, http.StatusOK)
		for _, e := range res.body["events"].([]any) {
			events = append(events, e.(map[string]any))
		}
		next, _ := res.body["next_cursor"].(string)
		if next == "" {
			return events
		}
		values.Set("cursor", next)
	}
	t.Fatal("the audit log's cursor never ends")
	return nil
}

// eventTypes are the types of events, in their order.
func eventTypes(events []map[string]any) []string {
	types := make([]string, len(events))
	for i, e := range events {
		types[i], _ = e["event"].(string)
	}
	return types
}

// adminRoute is an admin route as a client calls it, for an account.
type adminRoute struct {
	method, path string
	body         any
}

func adminRoutes(userID string) []adminRoute {
	return []adminRoute{
		{"GET", "/admin/users", nil},
		{"GET", "/admin/users/" + userID, nil},
		{"PATCH", "/admin/users/" + userID, map[string]any{"disabled": true}},
		{"DELETE", "/admin/users/" + userID, nil},
		{"POST", "/admin/users/" + userID + "/unlock", nil},
		{"DELETE", "/admin/users/" + userID + "/sessions", nil},
		{"GET", "/admin/audit", nil},
	}
}

// TestAdminRoutesAreAllTested fails when the router serves an admin route
// that adminRoutes, and so the tests of refusals, do not know.
func TestAdminRoutesAreAllTested(t *testing.T) {
	api := newTestAPI(t)
	tested := map[string]bool{}
	for _, r := range adminRoutes(":id") {
		tested[r.method+" "+r.path] = true
	}
	served := 0
	for _, r := range api.handler.(*gin.Engine).Routes() {
		if !strings.HasPrefix(r.Path, "/admin") {
			continue
		}
		served++
		if !tested[r.Method+" "+r.Path] {
			t.Errorf("%s %s is served but not in adminRoutes", r.Method, r.Path)
		}
	}
	if served != len(tested) {
		t.Errorf("%d admin routes are served, adminRoutes lists %d", served, len(tested))
	}
}

// wantAdminRefusal fails unless res is the admin API's one refusal.
func wantAdminRefusal(t *testing.T, res response) {
	t.Helper()
	wantProblem(t, res, http.StatusUnauthorized, "invalid_admin_key")
	if got := res.Header().Get("WWW-Authenticate"); got != `Bearer realm="authapi-admin"` {
		t.Errorf("WWW-Authenticate = %q", got)
	}
}

// TestAdminRoutesWithoutAnyKey: before an operator has made a key, every
// admin route answers 401 to everything, and nothing changes.
func TestAdminRoutesWithoutAnyKey(t *testing.T) {
	api := newTestAPI(t)
	id := api.newAccount(t, email)
	access, refresh := api.login(t)
	auditBefore := queryStrings(t, api, "SELECT type FROM audit_events ORDER BY id")
	credentials := map[string][]string{
		"no Authorization":          nil,
		"an admin-looking key":      {"Authorization", "Bearer " + domain.AdminKeyPrefix + strings.Repeat("A", 43)},
		"an empty admin key":        {"Authorization", "Bearer " + domain.AdminKeyPrefix},
		"the user's access token":   {"Authorization", "Bearer " + access},
		"the user's refresh token":  {"Authorization", "Bearer " + refresh},
		"Basic credentials":         {"Authorization", "Basic YWRtaW46YWRtaW4="},
		"an empty bearer":           {"Authorization", "Bearer "},
		"the hash of an empty key":  {"Authorization", fmt.Sprintf("Bearer %x", sha256.Sum256(nil))},
		"two Authorization headers": {"Authorization", "Bearer x, Bearer y"},
	}
	var want string
	for _, route := range adminRoutes(id) {
		for name, cred := range credentials {
			t.Run(route.method+" "+route.path+" with "+name, func(t *testing.T) {
				res := api.do(t, route.method, route.path, route.body, append(slices.Clone(cred), "X-Request-ID", "same")...)
				wantAdminRefusal(t, res)
				if want == "" {
					want = res.Body.String()
				}
				if res.Body.String() != want {
					t.Errorf("refusals differ:\n%s\n%s", res.Body, want)
				}
			})
		}
	}
	// Nothing changed: the account is as it was, its session lives, and
	// the audit log holds no event of the refused requests.
	res := api.do(t, "GET", "/me", nil, "Authorization", "Bearer "+access)
	wantStatus(t, res, http.StatusOK)
	wantStatus(t, api.do(t, "POST", "/refresh", map[string]string{"refresh_token": refresh}), http.StatusOK)
	api.login(t)
	auditAfter := queryStrings(t, api, "SELECT type FROM audit_events ORDER BY id")
	if want := append(auditBefore, string(domain.EventLogin)); !slices.Equal(auditAfter, want) {
		t.Errorf("audit log = %v, want %v: the refused requests left events", auditAfter, want)
	}
}

// TestAdminKeyRefusalsAreAlike: a missing, wrong, revoked or malformed key
// and a user's token all get the same 401, word for word; the key itself
// works, and is no user token.
func TestAdminKeyRefusalsAreAlike(t *testing.T) {
	api := newTestAPI(t)
	id := api.newAccount(t, email)
	access, refresh := api.login(t)
	key := api.createAdminKey(t, adminKeyName)
	revoked := api.createAdminKey(t, "old")
	if err := api.operators.RevokeAdminKey(t.Context(), ports.Operator{Actor: domain.ActorCLI}, "old"); err != nil {
		t.Fatal(err)
	}
	secret := strings.TrimPrefix(key, domain.AdminKeyPrefix)
	refusals := []struct {
		name   string
		header []string
	}{
		{"no Authorization", nil},
		{"a wrong key", []string{"Authorization", "Bearer " + domain.AdminKeyPrefix + strings.Repeat("x", len(secret))}},
		{"the key with one character changed", []string{"Authorization", "Bearer " + key[:len(key)-1] + otherChar(key[len(key)-1])}},
		{"a revoked key", []string{"Authorization", "Bearer " + revoked}},
		{"the key without its prefix", []string{"Authorization", "Bearer " + secret}},
		{"the key twice", []string{"Authorization", "Bearer " + key + key}},
		{"the key as Basic credentials", []string{"Authorization", "Basic " + key}},
		{"the key with no scheme", []string{"Authorization", key}},
		{"the user's access token", []string{"Authorization", "Bearer " + access}},
		{"the user's refresh token", []string{"Authorization", "Bearer " + refresh}},
	}
	for _, route := range adminRoutes(id) {
		var want string
		for _, r := range refusals {
			t.Run(route.method+" "+route.path+" with "+r.name, func(t *testing.T) {
				res := api.do(t, route.method, route.path, route.body, append(slices.Clone(r.header), "X-Request-ID", "same")...)
				wantAdminRefusal(t, res)
				if want == "" {
					want = res.Body.String()
				}
				if res.Body.String() != want {
					t.Errorf("refusals differ:\n%s\n%s", res.Body, want)
				}
			})
		}
	}
	// The scheme is case-insensitive (RFC 9110), as for users' tokens.
	wantStatus(t, api.do(t, "GET", "/admin/users", nil, "Authorization", "bearer "+key), http.StatusOK)
	res := api.asAdmin(t, key, "GET", "/admin/users/"+id, nil)
	wantStatus(t, res, http.StatusOK)
	if res.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("an account's details may be cached: Cache-Control %q", res.Header().Get("Cache-Control"))
	}

	// An admin key is never a user's token.
	for _, route := range []adminRoute{{"GET", "/me", nil}, {"GET", "/sessions", nil}, {"GET", "/me/activity", nil}, {"POST", "/logout-all", nil}} {
		wantProblem(t, api.asAdmin(t, key, route.method, route.path, route.body), http.StatusUnauthorized, "invalid_token")
	}
	wantProblem(t, api.do(t, "POST", "/refresh", map[string]string{"refresh_token": key}), http.StatusUnauthorized, "invalid_token")
	// Nor does its refusal show the key anywhere.
	if strings.Contains(api.logs.String(), secret) || strings.Contains(api.logs.String(), strings.TrimPrefix(revoked, domain.AdminKeyPrefix)) {
		t.Error("an admin key appears in the logs")
	}
}

// otherChar is a base64url character other than c.
func otherChar(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

// TestAdminListUsers filters accounts by email prefix, whatever its case,
// and by state, and names each account's state.
func TestAdminListUsers(t *testing.T) {
	api := newTestAPI(t)
	key := api.createAdminKey(t, adminKeyName)
	ann := api.newAccount(t, "ann@example.com")
	anna := api.newAccount(t, "Anna@Example.org")
	bob := api.pendingAccount(t, "bob@example.com")
	carol := api.newAccount(t, "carol@example.com")
	wantStatus(t, api.asAdmin(t, key, "PATCH", "/admin/users/"+carol, map[string]any{"disabled": true}), http.StatusOK)
	dave := api.newAccount(t, "dave@example.com")
	api.guessPasswords(t, "dave@example.com", 10, 0)

	states := map[string]string{ann: "active", anna: "active", bob: "inactive", carol: "disabled", dave: "locked"}
	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{ann, anna, bob, carol, dave}},
		{"email=ann", []string{ann, anna}},
		{"email=ANN", []string{ann, anna}},
		{"email=Anna%40EXAMPLE", []string{anna}},
		{"email=%20ann%20", []string{ann, anna}},
		{"email=carol%40example.com", []string{carol}},
		{"email=zed", nil},
		{"email=%25", nil},
		{"email=_", nil},
		{"state=active", []string{ann, anna, dave}}, // a locked account is also active
		{"state=inactive", []string{bob}},
		{"state=disabled", []string{carol}},
		{"state=locked", []string{dave}},
		{"email=a&state=active", []string{ann, anna}},
		{"email=b&state=active", nil},
		{"limit=200", []string{ann, anna, bob, carol, dave}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			res := api.asAdmin(t, key, "GET", "/admin/users?"+tt.query, nil)
			wantStatus(t, res, http.StatusOK)
			var got []string
			for _, u := range res.body["users"].([]any) {
				u := u.(map[string]any)
				id, _ := u["id"].(string)
				got = append(got, id)
				if u["state"] != states[id] {
					t.Errorf("%s is listed as %v, want %s", u["email"], u["state"], states[id])
				}
				if _, ok := u["live_sessions"]; ok {
					t.Errorf("a list names live sessions: %v", u)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("listed %v, want %v", got, tt.want)
			}
			if res.body["next_cursor"] != nil {
				t.Errorf("next_cursor = %v on the only page", res.body["next_cursor"])
			}
		})
	}
}

// TestAdminListUsersPagesWhileUsersSignUp pages through the accounts while
// others sign up: every account is listed once, in the order of signing up,
// those that came meanwhile at the end.
func TestAdminListUsersPagesWhileUsersSignUp(t *testing.T) {
	api := newTestAPI(t)
	key := api.createAdminKey(t, adminKeyName)
	var want []string
	for i := range 5 {
		want = append(want, api.pendingAccount(t, fmt.Sprintf("early%d@example.com", i)))
	}
	var got []string
	cursor := ""
	for page := 0; ; page++ {
		if page > 20 {
			t.Fatal("the listing never ends")
		}
		res := api.asAdmin(t, key, "GET", "/admin/users?limit=2&cursor="+url.QueryEscape(cursor), nil)
		wantStatus(t, res, http.StatusOK)
		users := res.body["users"].([]any)
		if len(users) > 2 {
			t.Fatalf("a page of limit 2 holds %d accounts", len(users))
		}
		for _, u := range users {
			got = append(got, u.(map[string]any)["id"].(string))
		}
		if page < 2 {
			// One account signs up while the operator reads each of the
			// first pages.
			want = append(want, api.pendingAccount(t, fmt.Sprintf("late%d@example.com", page)))
		}
		next, _ := res.body["next_cursor"].(string)
		if next == "" {
			break
		}
		if len(users) != 2 {
			t.Errorf("a page before the last holds %d accounts, want 2", len(users))
		}
		cursor = next
	}
	if !slices.Equal(got, want) {
		t.Errorf("listed\n%v\nwant every account once, in signup order\n%v", got, want)
	}
}

// TestAdminShowUser reads one account by id or email: its state, lock,
// times and live sessions.
func TestAdminShowUser(t *testing.T) {
	api := newTestAPI(t)
	key := api.createAdminKey(t, adminKeyName)
	created := api.clock.Now()
	id := api.newAccount(t, email)

	res := api.asAdmin(t, key, "GET", "/admin/users/"+id, nil)
	wantStatus(t, res, http.StatusOK)
	want := map[string]any{
		"id": id, "email": email, "first_name": "Test", "last_name": "User", "state": "active",
		"email_verified": true, "disabled": false, "mfa_enabled": false, "locked_until": nil,
		"last_login_at": nil, "live_sessions": float64(0),
	}
	for field, v := range want {
		if res.body[field] != v {
			t.Errorf("%s = %v, want %v", field, res.body[field], v)
		}
	}
	wantTime(t, res.body["created_at"], created)

	api.clock.Advance(time.Hour)
	loggedIn := api.clock.Now()
	_, refresh := api.loginAs(t, email, password)
	api.loginAs(t, email, password)
	for _, who := range []string{id, email, "ASTRO.User@Example.COM", url.PathEscape(" " + email)} {
		res := api.asAdmin(t, key, "GET", "/admin/users/"+who, nil)
		wantStatus(t, res, http.StatusOK)
		if res.body["id"] != id || res.body["live_sessions"] != float64(2) {
			t.Errorf("GET /admin/users/%s = %s, want the account with 2 live sessions", who, res.Body)
		}
		wantTime(t, res.body["last_login_at"], loggedIn)
		wantTime(t, res.body["created_at"], created)
	}
	wantStatus(t, api.do(t, "POST", "/logout", map[string]string{"refresh_token": refresh}), http.StatusOK)
	if res := api.asAdmin(t, key, "GET", "/admin/users/"+id, nil); res.body["live_sessions"] != float64(1) {
		t.Errorf("after a logout live_sessions = %v, want 1", res.body["live_sessions"])
	}

	for _, missing := range []string{"0194694c-5dc0-7c3d-9a4f-2e5b6c7d8e9f", "nobody@example.com", "x"} {
		wantProblem(t, api.asAdmin(t, key, "GET", "/admin/users/"+missing, nil), http.StatusNotFound, "user_not_found")
	}
}

// wantTime fails unless v is a timestamp of the instant want, to the
// millisecond the API keeps.
func wantTime(t *testing.T, v any, want time.Time) {
	t.Helper()
	s, _ := v.(string)
	got, err := time.Parse(time.RFC3339, s)
	if err != nil || !got.Equal(want.Truncate(time.Millisecond)) {
		t.Errorf("time = %v, want %s", v, want.Truncate(time.Millisecond).Format(time.RFC3339Nano))
	}
}

// TestAdminPatchUser applies each kind of change and reads back the account
// and the events it left, each with the key's name as actor.
func TestAdminPatchUser(t *testing.T) {
	api := newTestAPI(t)
	key := api.createAdminKey(t, adminKeyName)
	tests := []struct {
		name    string
		pending bool // the account is not yet activated
		before  map[string]any
		change  map[string]any
		want    map[string]any
		events  []string // newest first
	}{
		{
			name:   "rename",
			change: map[string]any{"first_name": " Ada ", "last_name": "Lovelace"},
			want:   map[string]any{"first_name": "Ada", "last_name": "Lovelace", "state": "active"},
			events: []string{"names_changed"},
		},
		{
			name:   "rename the first name only",
			change: map[string]any{"first_name": "Ada"},
			want:   map[string]any{"first_name": "Ada", "last_name": "User"},
			events: []string{"names_changed"},
		},
		{
			name:   "a name as it is",
			change: map[string]any{"last_name": "User"},
			want:   map[string]any{"first_name": "Test", "last_name": "User"},
		},
		{
			name:    "verify a pending account",
			pending: true,
			change:  map[string]any{"email_verified": true},
			want:    map[string]any{"email_verified": true, "state": "active"},
			events:  []string{"email_verified"},
		},
		{
			name:   "verify an active account",
			change: map[string]any{"email_verified": true},
			want:   map[string]any{"email_verified": true, "state": "active"},
		},
		{
			name:   "disable",
			change: map[string]any{"disabled": true},
			want:   map[string]any{"disabled": true, "state": "disabled", "live_sessions": float64(0)},
			events: []string{"account_disabled"},
		},
		{
			name:   "enable",
			before: map[string]any{"disabled": true},
			change: map[string]any{"disabled": false},
			want:   map[string]any{"disabled": false, "state": "active"},
			events: []string{"account_enabled"},
		},
		{
			name:   "enable an enabled account",
			change: map[string]any{"disabled": false},
			want:   map[string]any{"disabled": false, "state": "active"},
		},
		{
			name:    "disable, verify and rename at once",
			pending: true,
			change:  map[string]any{"disabled": true, "email_verified": true, "first_name": "Ada"},
			want:    map[string]any{"disabled": true, "email_verified": true, "first_name": "Ada", "state": "disabled"},
			events:  []string{"account_disabled", "email_verified", "names_changed"},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := fmt.Sprintf("patch%d@example.com", i)
			var id string
			if tt.pending {
				id = api.pendingAccount(t, addr)
			} else {
				id = api.newAccount(t, addr)
			}
			if tt.before != nil {
				wantStatus(t, api.asAdmin(t, key, "PATCH", "/admin/users/"+id, tt.before), http.StatusOK)
			}
			before := api.auditEvents(t, key, "user_id="+id)

			res := api.asAdmin(t, key, "PATCH", "/admin/users/"+id, tt.change, "User-Agent", "ops-console/1.0")
			wantStatus(t, res, http.StatusOK)
			for field, v := range tt.want {
				if res.body[field] != v {
					t.Errorf("%s = %v, want %v", field, res.body[field], v)
				}
			}
			if read := api.asAdmin(t, key, "GET", "/admin/users/"+id, nil); read.Body.String() != res.Body.String() {
				t.Errorf("the PATCH answered\n%s\nbut the account reads\n%s", res.Body, read.Body)
			}

			events := api.auditEvents(t, key, "user_id="+id)
			added := events[:len(events)-len(before)]
			if got := eventTypes(added); !slices.Equal(got, tt.events) && !(len(got) == 0 && len(tt.events) == 0) {
				t.Fatalf("events = %v, want %v", got, tt.events)
			}
			for _, e := range added {
				if e["actor"] != adminActor || e["user_id"] != id || e["ip"] != "192.0.2.1" || e["user_agent"] != "ops-console/1.0" {
					t.Errorf("event %v: want the key's actor, the account and the operator's client", e)
				}
			}
		})
	}
}

// TestAdminDisable: a disabled account's sessions end at once and its
// refresh tokens fail; the right password is told the account is disabled,
// a wrong one hears what any wrong password hears; enabling restores the
// login, not the sessions.
func TestAdminDisable(t *testing.T) {
	api := newTestAPI(t)
	key := api.createAdminKey(t, adminKeyName)
	id := api.newAccount(t, email)
	_, first := api.login(t)
	_, second := api.login(t)

	res := api.asAdmin(t, key, "PATCH", "/admin/users/"+id, map[string]any{"disabled": true})
	wantStatus(t, res, http.StatusOK)
	if res.body["state"] != "disabled" || res.body["live_sessions"] != float64(0) {
		t.Errorf("after disabling: %s", res.Body)
	}
	for _, refresh := range []string{first, second} {
		wantProblem(t, api.do(t, "POST", "/refresh", map[string]string{"refresh_token": refresh}), http.StatusUnauthorized, "invalid_token")
	}

	wantProblem(t, api.do(t, "POST", "/login", map[string]string{"email": email, "password": password}), http.StatusForbidden, "account_disabled")
	wrong := api.do(t, "POST", "/login", map[string]string{"email": email, "password": "WrongPassword1!"}, "X-Request-ID", "same")
	unknown := api.do(t, "POST", "/login", map[string]string{"email": "nobody@example.com", "password": "WrongPassword1!"}, "X-Request-ID", "same")
	wantProblem(t, wrong, http.StatusUnauthorized, "invalid_credentials")
	if wrong.Body.String() != unknown.Body.String() {
		t.Errorf("a wrong password of a disabled account is answered\n%s\nand of an unknown email\n%s", wrong.Body, unknown.Body)
	}

	res = api.asAdmin(t, key, "PATCH", "/admin/users/"+id, map[string]any{"disabled": false})
	wantStatus(t, res, http.StatusOK)
	if res.body["state"] != "active" || res.body["live_sessions"] != float64(0) {
		t.Errorf("after enabling: %s", res.Body)
	}
	for _, refresh := range []string{first, second} {
		wantProblem(t, api.do(t, "POST", "/refresh", map[string]string{"refresh_token": refresh}), http.StatusUnauthorized, "invalid_token")
	}
	access, _ := api.login(t)

	// The owner sees what happened, and that an operator did it; the
	// operator sees who.
	res = api.do(t, "GET", "/me/activity", nil, "Authorization", "Bearer "+access)
	wantStatus(t, res, http.StatusOK)
	var owner []string
	for _, e := range res.body["events"].([]any) {
		e := e.(map[string]any)
		owner = append(owner, fmt.Sprintf("%v %v %v", e["event"], e["reason"], e["by_operator"]))
	}
	wantOwner := []string{"login <nil> false", "account_enabled <nil> true", "login_failed wrong_password false",
		"login_failed disabled false", "account_disabled <nil> true", "login <nil> false", "login <nil> false",
		"activation <nil> false", "signup <nil> false"}
	if !slices.Equal(owner, wantOwner) {
		t.Errorf("/me/activity =\n%q\nwant\n%q", owner, wantOwner)
	}
	var operator []string
	for _, e := range api.auditEvents(t, key, "user_id="+id+"&event=account_disabled,account_enabled,login_failed") {
		operator = append(operator, fmt.Sprintf("%v %v %v", e["event"], e["reason"], e["actor"]))
	}
	wantOperator := []string{"account_enabled <nil> " + adminActor, "login_failed wrong_password <nil>",
		"login_failed disabled <nil>", "account_disabled <nil> " + adminActor}
	if !slices.Equal(operator, wantOperator) {
		t.Errorf("audit log =\n%q\nwant\n%q", operator, wantOperator)
	}
}

// TestAdminUnlock lifts both the account's lock and the slow-down of the
// client that guessed, at once.
func TestAdminUnlock(t *testing.T) {
	api := newTestAPI(t)
	key := api.createAdminKey(t, adminKeyName)
	id := api.newAccount(t, email)
	const guesser = "203.0.113.99:40000"
	login := func(remote, pw string) response {
		return api.doFrom(t, remote, "POST", "/login", map[string]string{"email": email, "password": pw})
	}
	// Five free failures, then one that slows the guesser down...
	for range 6 {
		wantProblem(t, login(guesser, "WrongPassword1!"), http.StatusUnauthorized, "invalid_credentials")
	}
	wantProblem(t, login(guesser, password), http.StatusTooManyRequests, "too_many_requests")
	// ...and the tenth in all locks the account.
	api.guessPasswords(t, email, 4, 0)
	wantProblem(t, login("198.51.100.1:40000", password), http.StatusForbidden, "account_locked")

	res := api.asAdmin(t, key, "GET", "/admin/users/"+id, nil)
	if res.body["state"] != "locked" || res.body["locked_until"] == nil {
		t.Fatalf("the locked account reads %s", res.Body)
	}
	res = api.asAdmin(t, key, "POST", "/admin/users/"+id+"/unlock", nil)
	wantStatus(t, res, http.StatusOK)
	res = api.asAdmin(t, key, "GET", "/admin/users/"+id, nil)
	if res.body["state"] != "active" || res.body["locked_until"] != nil {
		t.Errorf("the unlocked account reads %s", res.Body)
	}
	wantStatus(t, login(guesser, password), http.StatusOK)
	wantStatus(t, login("198.51.100.1:40000", password), http.StatusOK)

	// Unlocking an account that is not locked is harmless, and recorded
	// like any action.
	wantStatus(t, api.asAdmin(t, key, "POST", "/admin/users/"+email+"/unlock", nil), http.StatusOK)
	unlocks := api.auditEvents(t, key, "user_id="+id+"&event=unlock")
	if len(unlocks) != 2 || unlocks[0]["actor"] != adminActor || unlocks[1]["actor"] != adminActor {
		t.Errorf("unlock events = %v, want two by %s", unlocks, adminActor)
	}
	wantProblem(t, api.asAdmin(t, key, "POST", "/admin/users/nobody@example.com/unlock", nil), http.StatusNotFound, "user_not_found")
}

// TestAdminRevokeSessions ends every session at once; the owner logs in
// again as usual.
func TestAdminRevokeSessions(t *testing.T) {
	api := newTestAPI(t)
	key := api.createAdminKey(t, adminKeyName)
	id := api.newAccount(t, email)
	other := api.newAccount(t, "other@example.com")
	_, first := api.login(t)
	_, second := api.login(t)
	_, others := api.loginAs(t, "other@example.com", password)

	res := api.asAdmin(t, key, "DELETE", "/admin/users/"+id+"/sessions", nil)
	wantStatus(t, res, http.StatusOK)
	if res.body["message"] != "2 session(s) ended" {
		t.Errorf("message = %v", res.body["message"])
	}
	for _, refresh := range []string{first, second} {
		wantProblem(t, api.do(t, "POST", "/refresh", map[string]string{"refresh_token": refresh}), http.StatusUnauthorized, "invalid_token")
	}
	wantStatus(t, api.do(t, "POST", "/refresh", map[string]string{"refresh_token": others}), http.StatusOK)
	if res := api.asAdmin(t, key, "GET", "/admin/users/"+id, nil); res.body["live_sessions"] != float64(0) {
		t.Errorf("live_sessions = %v after revoking them", res.body["live_sessions"])
	}
	if res := api.asAdmin(t, key, "GET", "/admin/users/"+other, nil); res.body["live_sessions"] != float64(1) {
		t.Errorf("another account's live_sessions = %v, want 1", res.body["live_sessions"])
	}
	_, refresh := api.login(t)
	wantStatus(t, api.do(t, "POST", "/refresh", map[string]string{"refresh_token": refresh}), http.StatusOK)

	res = api.asAdmin(t, key, "DELETE", "/admin/users/"+id+"/sessions", nil)
	if res.body["message"] != "1 session(s) ended" {
		t.Errorf("message = %v", res.body["message"])
	}
	if got := eventTypes(api.auditEvents(t, key, "user_id="+id+"&event=sessions_revoked")); len(got) != 2 {
		t.Errorf("sessions_revoked events = %v, want 2", got)
	}
	wantProblem(t, api.asAdmin(t, key, "DELETE", "/admin/users/nobody@example.com/sessions", nil), http.StatusNotFound, "user_not_found")
}

// TestAdminDeleteUser deletes the account and its sessions; its email can
// sign up again, and the log keeps what happened.
func TestAdminDeleteUser(t *testing.T) {
	api := newTestAPI(t)
	key := api.createAdminKey(t, adminKeyName)
	id := api.newAccount(t, email)
	_, refresh := api.login(t)

	res := api.asAdmin(t, key, "DELETE", "/admin/users/"+id, nil)
	wantStatus(t, res, http.StatusOK)
	wantProblem(t, api.asAdmin(t, key, "GET", "/admin/users/"+id, nil), http.StatusNotFound, "user_not_found")
	wantProblem(t, api.asAdmin(t, key, "DELETE", "/admin/users/"+id, nil), http.StatusNotFound, "user_not_found")
	wantProblem(t, api.do(t, "POST", "/refresh", map[string]string{"refresh_token": refresh}), http.StatusUnauthorized, "invalid_token")
	wantProblem(t, api.do(t, "POST", "/login", map[string]string{"email": email, "password": password}), http.StatusUnauthorized, "invalid_credentials")

	deleted := api.auditEvents(t, key, "user_id="+id+"&event=account_deleted")
	if len(deleted) != 1 || deleted[0]["actor"] != adminActor || deleted[0]["email"] != email {
		t.Errorf("account_deleted events = %v", deleted)
	}
	if again := api.newAccount(t, email); again == id {
		t.Error("the new account has the deleted one's id")
	}
}

// TestAdminAuditFilters reads the log by account, event type and time, a
// page at a time.
func TestAdminAuditFilters(t *testing.T) {
	api := newTestAPI(t)
	key := api.createAdminKey(t, adminKeyName)
	start := api.clock.Now()
	id := api.newAccount(t, email)
	api.login(t)
	api.clock.Advance(time.Hour)
	middle := api.clock.Now()
	wantProblem(t, api.do(t, "POST", "/login", map[string]string{"email": email, "password": "WrongPassword1!"}), http.StatusUnauthorized, "invalid_credentials")
	wantStatus(t, api.asAdmin(t, key, "PATCH", "/admin/users/"+id, map[string]any{"disabled": true}), http.StatusOK)
	other := api.newAccount(t, "other@example.com")
	api.clock.Advance(time.Hour)
	end := api.clock.Now()

	all := api.auditEvents(t, key, "")
	if got, want := eventTypes(all), []string{"activation", "signup", "account_disabled", "login_failed", "login", "activation", "signup", "admin_key_created"}; !slices.Equal(got, want) {
		t.Fatalf("the whole log = %v, want %v", got, want)
	}
	if all[len(all)-1]["actor"] != domain.ActorCLI || all[len(all)-1]["reason"] != adminKeyName || all[len(all)-1]["user_id"] != nil {
		t.Errorf("the key's creation = %v", all[len(all)-1])
	}
	rfc := func(at time.Time) string { return url.QueryEscape(at.Format(time.RFC3339Nano)) }
	tests := []struct {
		query string
		want  []string
	}{
		{"user_id=" + id, []string{"account_disabled", "login_failed", "login", "activation", "signup"}},
		{"user_id=" + other, []string{"activation", "signup"}},
		{"user_id=0194694c-5dc0-7c3d-9a4f-2e5b6c7d8e9f", nil},
		{"event=login", []string{"login"}},
		{"event=login,login_failed", []string{"login_failed", "login"}},
		{"event=login&event=signup", []string{"signup", "login", "signup"}},
		{"event=%20login%20,,", []string{"login"}},
		{"user_id=" + id + "&event=signup,activation", []string{"activation", "signup"}},
		{"since=" + rfc(middle), []string{"activation", "signup", "account_disabled", "login_failed"}},
		{"until=" + rfc(middle), []string{"login", "activation", "signup", "admin_key_created"}},
		{"since=" + rfc(start) + "&until=" + rfc(middle), []string{"login", "activation", "signup", "admin_key_created"}},
		{"since=" + rfc(end), nil},
		{"since=" + url.QueryEscape(middle.In(time.FixedZone("", 5*3600)).Format(time.RFC3339Nano)), []string{"activation", "signup", "account_disabled", "login_failed"}},
		{"user_id=" + id + "&since=" + rfc(middle) + "&event=login_failed", []string{"login_failed"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			if got := eventTypes(api.auditEvents(t, key, tt.query)); !slices.Equal(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Errorf("events = %v, want %v", got, tt.want)
			}
		})
	}

	// Page by page, with and without filters, the pages add up to the
	// whole, newest first, and nothing is listed twice.
	for _, query := range []string{"", "user_id=" + id, "event=login,signup,activation"} {
		whole := api.auditEvents(t, key, query+"&limit=200")
		for _, limit := range []int{1, 2, 3} {
			paged := api.auditEvents(t, key, fmt.Sprintf("%s&limit=%d", query, limit))
			if fmt.Sprint(paged) != fmt.Sprint(whole) {
				t.Errorf("%s in pages of %d =\n%v\nwant\n%v", query, limit, paged, whole)
			}
		}
		for i := 1; i < len(whole); i++ {
			if whole[i]["id"].(float64) >= whole[i-1]["id"].(float64) {
				t.Errorf("%s: event ids %v then %v, want newest first", query, whole[i-1]["id"], whole[i]["id"])
			}
		}
	}
	// An event written between two pages is newer than the first page: it
	// appears in no later page, and the pages still miss nothing older.
	res := api.asAdmin(t, key, "GET", "/admin/audit?limit=3", nil)
	firstPage := res.body["events"].([]any)
	next, _ := res.body["next_cursor"].(string)
	api.loginAs(t, "other@example.com", password)
	rest := api.auditEvents(t, key, "limit=3&cursor="+url.QueryEscape(next))
	if len(firstPage)+len(rest) != len(all) || fmt.Sprint(rest) != fmt.Sprint(all[3:]) {
		t.Errorf("after an event between pages, the later pages are %v, want %v", eventTypes(rest), eventTypes(all[3:]))
	}
}

// TestAdminAPIOnItsOwnListener: with AUTH_ADMIN_ADDR set, the admin routes
// are served on their listener and nowhere else, and the public routes
// not on it.
func TestAdminAPIOnItsOwnListener(t *testing.T) {
	api := newTestAPI(t, func(c *Config) { c.AdminAddr = "127.0.0.1:0" })
	if api.admin == nil {
		t.Fatal("AUTH_ADMIN_ADDR is set, but the admin API has no handler of its own")
	}
	key := api.createAdminKey(t, adminKeyName)
	id := api.newAccount(t, email)
	for _, route := range adminRoutes(id) {
		wantProblem(t, api.do(t, route.method, route.path, route.body, "Authorization", "Bearer "+key), http.StatusNotFound, "not_found")
	}
	res := api.asAdmin(t, key, "GET", "/admin/users", nil)
	wantStatus(t, res, http.StatusOK)
	if users := res.body["users"].([]any); len(users) != 1 {
		t.Errorf("users = %s", res.Body)
	}
	wantAdminRefusal(t, api.send(t, api.admin, "", "GET", "/admin/users", nil))
	for _, public := range []adminRoute{
		{"POST", "/signup", map[string]string{"email": "x@example.com", "password": password, "first_name": "X", "last_name": "Y"}},
		{"POST", "/login", map[string]string{"email": email, "password": password}},
		{"GET", "/me", nil}, {"GET", "/.well-known/jwks.json", nil}, {"GET", "/docs", nil},
	} {
		wantProblem(t, api.send(t, api.admin, "", public.method, public.path, public.body), http.StatusNotFound, "not_found")
	}
	wantStatus(t, api.send(t, api.admin, "", "GET", "/healthz", nil), http.StatusOK)
	wantStatus(t, api.send(t, api.admin, "", "GET", "/readyz", nil), http.StatusOK)
}

// TestAdminTurnsTwoStepLoginOff: an owner who lost both the authenticator
// and the recovery codes gets the password alone back, is told by email,
// and sees an operator did it.
func TestAdminTurnsTwoStepLoginOff(t *testing.T) {
	api := newTestAPI(t)
	key := api.createAdminKey(t, adminKeyName)
	id := api.newAccount(t, email)
	_, err := api.storage.accounts.UpdateUser(t.Context(), ports.UserID(id), func(u *domain.User) (ports.Effects, error) {
		u.MFA = domain.MFA{TOTPSecret: []byte("sealed secret"), TOTPEnabledAt: u.CreatedAt}
		return ports.Effects{}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantProblem(t, api.do(t, "POST", "/login", map[string]string{"email": email, "password": password}), http.StatusForbidden, "mfa_required")
	if res := api.asAdmin(t, key, "GET", "/admin/users/"+id, nil); res.body["mfa_enabled"] != true {
		t.Errorf("mfa_enabled = %v, want true", res.body["mfa_enabled"])
	}

	res := api.asAdmin(t, key, "PATCH", "/admin/users/"+id, map[string]any{"mfa_enabled": false})
	wantStatus(t, res, http.StatusOK)
	if res.body["mfa_enabled"] != false {
		t.Errorf("mfa_enabled = %v after turning it off", res.body["mfa_enabled"])
	}
	access, _ := api.login(t)
	api.deliverMail(t)
	mails := api.mailer.mailsTo(email)
	if last := mails[len(mails)-1]; !strings.Contains(last.Subject, "wo-step") {
		t.Errorf("the last email to the owner is %q, want the notice that two-step login is off", last.Subject)
	}

	res = api.do(t, "GET", "/me/activity", nil, "Authorization", "Bearer "+access)
	wantStatus(t, res, http.StatusOK)
	if e := res.body["events"].([]any)[1].(map[string]any); e["event"] != "mfa_disabled" || e["by_operator"] != true {
		t.Errorf("the owner's activity before the login = %v, want mfa_disabled by an operator", e)
	}
	events := api.auditEvents(t, key, "user_id="+id+"&event=mfa_disabled")
	if len(events) != 1 || events[0]["actor"] != adminActor {
		t.Errorf("mfa_disabled events = %v", events)
	}
	// Turning it off again changes nothing and tells nobody.
	wantStatus(t, api.asAdmin(t, key, "PATCH", "/admin/users/"+id, map[string]any{"mfa_enabled": false}), http.StatusOK)
	if n := len(api.auditEvents(t, key, "user_id="+id+"&event=mfa_disabled")); n != 1 {
		t.Errorf("%d mfa_disabled events after turning it off twice, want 1", n)
	}
}
