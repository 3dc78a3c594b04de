package app

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// Hostile input for every admin route, sent with a valid admin key so that
// it reaches the parsers and the use cases: ids, cursors, limits, filters
// and bodies that no operator's tool would send. Each gets the exact 4xx
// the document promises, in the one problem shape, and afterwards the
// fixture's accounts are as they were (hostileFixture.checkAfter).

// adminHostileFixture is a hostile fixture with an admin key and the id of
// its active account.
type adminHostileFixture struct {
	*hostileFixture
	key, activeID string
}

func newAdminHostileFixture(t *testing.T) *adminHostileFixture {
	t.Helper()
	f := &adminHostileFixture{hostileFixture: newHostileFixture(t)}
	f.key = f.api.createAdminKey(t, adminKeyName)
	res := f.api.asAdmin(t, f.key, "GET", "/admin/users?email="+url.QueryEscape(activeEmail), nil)
	wantStatus(t, res, http.StatusOK)
	users, _ := res.body["users"].([]any)
	if len(users) != 1 {
		t.Fatalf("the active account is not listed alone: %s", res.Body)
	}
	f.activeID, _ = users[0].(map[string]any)["id"].(string)
	return f
}

// run sends the cases with the admin key, unless a case sets its own
// Authorization.
func (f *adminHostileFixture) run(t *testing.T, cases []hostileCase) {
	t.Helper()
	for i := range cases {
		h := cases[i].header.Clone()
		if h == nil {
			h = http.Header{}
		}
		if _, ok := h["Authorization"]; !ok {
			h.Set("Authorization", "Bearer "+f.key)
		}
		cases[i].header = h
	}
	f.hostileFixture.run(t, cases)
}

// cursorOf encodes raw as the service encodes its cursors, so that a case
// can forge one that decodes to anything.
func cursorOf(raw string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// hostileIDs are account ids and emails that name no account, as a path
// segment.
var hostileIDs = []struct{ name, segment string }{
	{"an unknown id", "0194694c-5dc0-7c3d-9a4f-2e5b6c7d8e9f"},
	{"a short id", "x"},
	{"a NUL", "%00"},
	{"a NUL after a valid-looking id", "0194694c-5dc0-7c3d-9a4f-2e5b6c7d8e9f%00"},
	{"CRLF", "%0D%0AX-Injected:%201"},
	{"invalid UTF-8", "%FF%FE"},
	{"SQL injection", "1%27%20OR%201=1--"},
	{"a LIKE wildcard", "%25"},
	{"an unknown email", "nobody@example.com"},
	{"an email with wildcards", "%25@example.com"},
	{"an email of NULs", "%00@%00"},
	{"a blank email", "%20@"},
	{"a 300-byte email", strings.Repeat("a", 290) + "@example.com"},
	{"an email of invalid UTF-8", "astro%FF@example.com"},
	{"a 10 KB id", strings.Repeat("a", 10<<10)},
	{"encoded dot-dot", "%2E%2E"},
}

// TestHostileAdminIDs names no account, in every way, on every route that
// takes one: 404 user_not_found, and nothing changes.
func TestHostileAdminIDs(t *testing.T) {
	t.Parallel()
	f := newAdminHostileFixture(t)
	var cases []hostileCase
	for _, id := range hostileIDs {
		for _, r := range []struct {
			method, suffix string
			body           []byte
		}{
			{"GET", "", nil},
			{"PATCH", "", []byte(`{"disabled":true}`)},
			{"DELETE", "", nil},
			{"POST", "/unlock", nil},
			{"DELETE", "/sessions", nil},
		} {
			cases = append(cases, problemCase(fmt.Sprintf("%s %s%s for %s", r.method, "/admin/users/{id}", r.suffix, id.name),
				r.method, "/admin/users/"+id.segment+r.suffix, r.body, 404, "user_not_found"))
		}
	}
	f.run(t, cases)
}

// TestHostileAdminQueries sends the listings' parameters wrong in every way.
func TestHostileAdminQueries(t *testing.T) {
	t.Parallel()
	f := newAdminHostileFixture(t)
	bad := func(field string) (int, string, string) { return 400, "validation_failed", field }
	type query struct {
		name, query string
		status      int
		code, field string
	}
	// Parameters both listings take.
	shared := []query{
		{"no parameters", "", 200, "", ""},
		{"the largest limit", "limit=200", 200, "", ""},
		{"a limit with a plus sign", "limit=%2B5", 200, "", ""},
		{"an empty cursor", "cursor=", 200, "", ""},
		{"unknown parameters", "foo=bar&admin=true", 200, "", ""},
	}
	for _, q := range []struct{ name, query, field string }{
		{"limit 0", "limit=0", "limit"},
		{"an empty limit", "limit=", "limit"},
		{"a negative limit", "limit=-1", "limit"},
		{"a limit over the largest", "limit=201", "limit"},
		{"a huge limit", "limit=99999999999999999999", "limit"},
		{"a limit that is no number", "limit=ten", "limit"},
		{"a fractional limit", "limit=1.5", "limit"},
		{"a hexadecimal limit", "limit=0x10", "limit"},
		{"a limit in exponent form", "limit=1e2", "limit"},
		{"a limit with spaces", "limit=%205", "limit"},
		{"a NUL limit", "limit=%00", "limit"},
		{"a cursor that is not base64", "cursor=not%20a%20cursor!", "cursor"},
		{"a padded cursor", "cursor=" + url.QueryEscape(base64.URLEncoding.EncodeToString([]byte("u1:x"))), "cursor"},
		{"a cursor with a NUL", "cursor=%00", "cursor"},
		{"a cursor of a NUL", "cursor=" + cursorOf("\x00"), "cursor"},
		{"a 10 KB cursor", "cursor=" + strings.Repeat("A", 10<<10), "cursor"},
		{"a cursor of 300 bytes", "cursor=" + cursorOf("u1:"+strings.Repeat("a", 297)), "cursor"},
		{"a cursor of another version", "cursor=" + cursorOf("u2:0194694c-5dc0-7c3d-9a4f-2e5b6c7d8e9f"), "cursor"},
	} {
		status, code, field := bad(q.field)
		shared = append(shared, query{q.name, q.query, status, code, field})
	}

	users := []query{
		{"a state", "state=active", 200, "", ""},
		{"an email prefix", "email=astro", 200, "", ""},
		{"a blank email prefix", "email=%20%20", 200, "", ""},
		{"an email prefix of LIKE wildcards", "email=%25_%25", 200, "", ""},
		{"an email prefix of a backslash", "email=%5C", 200, "", ""},
		{"an email prefix ending in an escaped wildcard", "email=a%5C%25", 200, "", ""},
		{"an email prefix of quotes", "email=%22%27%60", 200, "", ""},
		{"an email prefix with SQL", "email=%27%20OR%201=1--", 200, "", ""},
		{"an email prefix with a NUL", "email=astro%00", 200, "", ""},
		{"a 254-byte email prefix", "email=" + strings.Repeat("a", 254), 200, "", ""},
	}
	for _, q := range []struct{ name, query, field string }{
		{"an unknown state", "state=frozen", "state"},
		{"a state in upper case", "state=ACTIVE", "state"},
		{"two states in one", "state=active,locked", "state"},
		{"a NUL state", "state=%00", "state"},
		{"a 10 KB state", "state=" + strings.Repeat("a", 10<<10), "state"},
		{"a 255-byte email prefix", "email=" + strings.Repeat("a", 255), "email"},
		{"an email prefix of invalid UTF-8", "email=%FF%FE", "email"},
		{"the audit log's cursor", "cursor=" + cursorOf("a1:5"), "cursor"},
		{"a cursor of the version alone", "cursor=" + cursorOf("u1:"), "cursor"},
		{"a cursor with a NUL in its position", "cursor=" + cursorOf("u1:0194694c\x005dc0"), "cursor"},
		{"a cursor with a control character", "cursor=" + cursorOf("u1:\x1b[31m"), "cursor"},
		{"a cursor with a newline", "cursor=" + cursorOf("u1:a\nb"), "cursor"},
		{"a cursor of invalid UTF-8", "cursor=" + cursorOf("u1:\xff\xfe"), "cursor"},
		{"a cursor with a space", "cursor=" + cursorOf("u1:a b"), "cursor"},
		{"a cursor with a right-to-left override", "cursor=" + cursorOf("u1:\u202eabc"), "cursor"},
	} {
		status, code, field := bad(q.field)
		users = append(users, query{q.name, q.query, status, code, field})
	}

	audit := []query{
		{"a user", "user_id=" + f.activeID, 200, "", ""},
		{"an unknown user", "user_id=nobody", 200, "", ""},
		{"a user with a NUL", "user_id=%00", 200, "", ""},
		{"a user of invalid UTF-8", "user_id=%FF", 200, "", ""},
		{"a 10 KB user", "user_id=" + strings.Repeat("a", 10<<10), 200, "", ""},
		{"event types separated by commas", "event=login,signup", 200, "", ""},
		{"repeated event types", "event=login&event=signup", 200, "", ""},
		{"empty event types", "event=&event=,,", 200, "", ""},
		{"the earliest time", "since=0000-01-01T00:00:00Z", 200, "", ""},
		{"the latest time", "until=9999-12-31T23:59:59.999999999Z", 200, "", ""},
		{"a time with an offset", "since=2026-01-02T03:04:05%2B05:30", 200, "", ""},
		{"a valid cursor of a far event", "cursor=" + cursorOf("a1:9223372036854775807"), 200, "", ""},
	}
	for _, q := range []struct{ name, query, field string }{
		{"an unknown event type", "event=hacked", "event"},
		{"an event type in upper case", "event=LOGIN", "event"},
		{"a NUL event type", "event=%00", "event"},
		{"a known and an unknown event type", "event=login,nope", "event"},
		{"a date without a time", "since=2026-01-02", "since"},
		{"a time in words", "since=yesterday", "since"},
		{"a unix time", "until=1767225600", "until"},
		{"the 30th of February", "since=2026-02-30T00:00:00Z", "since"},
		{"an offset out of range", "since=2026-01-02T03:04:05%2B25:00", "since"},
		{"a NUL time", "until=%00", "until"},
		{"a 10 KB time", "since=" + strings.Repeat("9", 10<<10), "since"},
		{"until before since", "since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", "until"},
		{"until at since", "since=2026-01-02T00:00:00Z&until=2026-01-02T00:00:00Z", "until"},
		{"the users' cursor", "cursor=" + cursorOf("u1:0194694c-5dc0-7c3d-9a4f-2e5b6c7d8e9f"), "cursor"},
		{"a cursor of event 0", "cursor=" + cursorOf("a1:0"), "cursor"},
		{"a cursor of a negative event", "cursor=" + cursorOf("a1:-5"), "cursor"},
		{"a cursor that is no number", "cursor=" + cursorOf("a1:abc"), "cursor"},
		{"a cursor beyond int64", "cursor=" + cursorOf("a1:9223372036854775808"), "cursor"},
		{"a cursor with a NUL after its number", "cursor=" + cursorOf("a1:5\x00"), "cursor"},
	} {
		status, code, field := bad(q.field)
		audit = append(audit, query{q.name, q.query, status, code, field})
	}

	var cases []hostileCase
	for _, listing := range []struct {
		path    string
		queries []query
	}{
		{"/admin/users", append(shared, users...)},
		{"/admin/audit", append(shared, audit...)},
	} {
		for _, q := range listing.queries {
			tc := problemCase(listing.path+" with "+q.name, "GET", listing.path+"?"+q.query, nil, q.status, q.code)
			tc.field = q.field
			cases = append(cases, tc)
		}
	}
	f.run(t, cases)
}

// TestHostileAdminPatch sends PATCH /admin/users/{id} for the active account
// bodies that must all be refused, with nothing applied.
func TestHostileAdminPatch(t *testing.T) {
	t.Parallel()
	f := newAdminHostileFixture(t)
	target := "/admin/users/" + f.activeID
	invalid := func(name, body, field string) hostileCase {
		tc := problemCase("PATCH with "+name, "PATCH", target, []byte(body), 400, "validation_failed")
		tc.field = field
		return tc
	}
	long := strings.Repeat("n", 101)
	cases := []hostileCase{
		problemCase("PATCH with no body", "PATCH", target, []byte{}, 400, "malformed_body"),
		problemCase("PATCH with an array", "PATCH", target, []byte(`[{"disabled":true}]`), 400, "malformed_body"),
		problemCase("PATCH with two objects", "PATCH", target, []byte(`{"first_name":"A"}{"disabled":true}`), 400, "malformed_body"),
		problemCase("PATCH with broken JSON", "PATCH", target, []byte(`{"disabled":`), 400, "malformed_body"),
		problemCase("PATCH with a string", "PATCH", target, []byte(`"disable"`), 400, "malformed_body"),
		problemCase("PATCH over the body limit", "PATCH", target, jsonObject("first_name", jsonString(strings.Repeat("a", 9<<10))), 413, "body_too_large"),
		// Nothing to change.
		invalid("an empty object", `{}`, "body"),
		invalid("null", `null`, "body"),
		// A member is a change: null is no value to change it to, and
		// the document allows none.
		invalid("every field null", `{"disabled":null,"email_verified":null,"first_name":null,"last_name":null,"mfa_enabled":null}`, "disabled"),
		invalid("a change and a null", `{"disabled":true,"first_name":null}`, "first_name"),
		invalid("a null among spaces", "{\"disabled\":true, \"last_name\" :\t null\n}", "last_name"),
		// Unknown members: a change misspelt or not known to this version
		// is refused, not silently left undone.
		invalid("an unknown member alone", `{"role":"admin"}`, "role"),
		invalid("an unknown member beside a change", `{"disabled":true,"is_admin":true}`, "is_admin"),
		invalid("a member in another case", `{"Disabled":true}`, "Disabled"),
		invalid("a misspelt member", `{"disabeld":true}`, "disabeld"),
		invalid("a prototype member", `{"__proto__":{"disabled":true}}`, "__proto__"),
		// Wrong types and values.
		invalid("disabled as a string", `{"disabled":"true"}`, "disabled"),
		invalid("disabled as a number", `{"disabled":1}`, "disabled"),
		invalid("disabled as an object", `{"disabled":{"$ne":false}}`, "disabled"),
		invalid("email_verified false", `{"email_verified":false}`, "email_verified"),
		invalid("email_verified as a string", `{"email_verified":"yes"}`, "email_verified"),
		invalid("mfa_enabled true", `{"mfa_enabled":true}`, "mfa_enabled"),
		invalid("mfa_enabled as a number", `{"mfa_enabled":0}`, "mfa_enabled"),
		invalid("an empty first name", `{"first_name":""}`, "first_name"),
		invalid("a blank last name", `{"last_name":" \t "}`, "last_name"),
		invalid("a first name as a number", `{"first_name":42}`, "first_name"),
		invalid("a last name as an array", `{"last_name":["Lovelace"]}`, "last_name"),
		invalid("a 101-character first name", `{"first_name":"`+long+`"}`, "first_name"),
		invalid("a 6 KB last name", `{"last_name":"`+strings.Repeat("é", 3<<10)+`"}`, "last_name"),
		invalid("a first name with a NUL", `{"first_name":"Ada\u0000"}`, "first_name"),
		invalid("a last name with a newline", `{"last_name":"Love\nlace"}`, "last_name"),
		invalid("a first name with a right-to-left override", `{"first_name":"\u202eadA"}`, "first_name"),
		// One bad field spoils the whole change.
		invalid("a good change and a bad name", `{"disabled":true,"first_name":""}`, "first_name"),
		invalid("a good name and a bad flag", `{"first_name":"Ada","disabled":"no"}`, "disabled"),
	}
	for _, ct := range []struct{ name, value string }{
		{"text/plain", "text/plain"}, {"a form", "application/x-www-form-urlencoded"}, {"XML", "application/xml"},
	} {
		tc := problemCase("PATCH sent as "+ct.name, "PATCH", target, []byte(`{"disabled":true}`), 415, "unsupported_media_type")
		tc.header = http.Header{"Content-Type": {ct.value}}
		cases = append(cases, tc)
	}
	unchanged := func(t *testing.T, _ *httptest.ResponseRecorder) {
		t.Helper()
		res := f.api.asAdmin(t, f.key, "GET", target, nil)
		if res.body["disabled"] != false || res.body["first_name"] != "Astro" || res.body["last_name"] != "User" {
			t.Errorf("a refused change changed the account: %s", res.Body)
		}
	}
	for i := range cases {
		cases[i].check = unchanged
	}
	f.run(t, cases)
	events := f.api.auditEvents(t, f.key, "user_id="+f.activeID+"&event=account_disabled,names_changed,email_verified,mfa_disabled")
	if len(events) != 0 {
		t.Errorf("refused changes left events: %v", events)
	}
}

// TestHostileAdminMethods calls the admin routes with methods and paths they
// do not serve.
func TestHostileAdminMethods(t *testing.T) {
	t.Parallel()
	f := newAdminHostileFixture(t)
	id := "/admin/users/" + f.activeID
	var cases []hostileCase
	for _, r := range []struct {
		methods []string
		path    string
	}{
		{[]string{"GET"}, "/admin/users"},
		{[]string{"GET", "DELETE", "PATCH"}, id},
		{[]string{"POST"}, id + "/unlock"},
		{[]string{"DELETE"}, id + "/sessions"},
		{[]string{"GET"}, "/admin/audit"},
	} {
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
			if strings.Contains(strings.Join(r.methods, " "), m) {
				continue
			}
			var body []byte
			if m != "GET" {
				body = []byte(`{}`)
			}
			tc := problemCase(m+" "+strings.Replace(r.path, f.activeID, "{id}", 1), m, r.path, body, 405, "method_not_allowed")
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
	for _, p := range []struct{ name, method, target string }{
		{"the listing with a trailing slash", "GET", "/admin/users/"},
		{"the admin root", "GET", "/admin"},
		{"the admin root with a slash", "GET", "/admin/"},
		{"the admin keys", "GET", "/admin/keys"},
		{"an account's unknown part", "GET", id + "/password"},
		{"unlock with a trailing slash", "POST", id + "/unlock/"},
		{"traversal from an account", "GET", id + "/../../me"},
		{"encoded slash in an id", "GET", "/admin/users/a%2Fb"},
		{"upper-case admin", "GET", "/ADMIN/users"},
	} {
		cases = append(cases, problemCase("path "+p.name, p.method, p.target, nil, 404, "not_found"))
	}
	f.run(t, cases)
}
