package app

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// activity reads GET /me/activity with access and returns its events,
// newest first.
func (api *testAPI) activity(t *testing.T, access string) []map[string]any {
	t.Helper()
	res := api.do(t, "GET", "/me/activity", nil, "Authorization", "Bearer "+access)
	wantStatus(t, res, http.StatusOK)
	if res.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("the activity may be cached: Cache-Control %q", res.Header().Get("Cache-Control"))
	}
	for _, hidden := range []string{"Typed.Email", "admin:ops", `"actor"`, `"email"`, `"user_id"`} {
		if strings.Contains(res.Body.String(), hidden) {
			t.Errorf("the activity shows %s: %s", hidden, res.Body)
		}
	}
	var events []map[string]any
	for _, e := range res.body["events"].([]any) {
		events = append(events, e.(map[string]any))
	}
	return events
}

// TestActivityIsTheCallersOwn: GET /me/activity shows the caller's own
// events, with the address and user agent of each and whether an operator
// acted, but not what stays in the operators' log (the email as typed, the
// key's name), nor another account's events, nor those of a deleted
// account that had the same email; it holds the 50 newest.
func TestActivityIsTheCallersOwn(t *testing.T) {
	api := newTestAPI(t, noLimits)
	key := api.createAdminKey(t, adminKeyName)
	id := api.newAccount(t, email)
	api.newAccount(t, "other@example.com")
	access, _ := api.login(t)
	res := api.doFrom(t, "203.0.113.7:40000", "POST", "/login", map[string]string{"email": " Typed.Email@Example.com ", "password": "Wrong-Password-1"}, "User-Agent", "curl/8.5.0")
	wantProblem(t, res, http.StatusUnauthorized, "invalid_credentials")
	res = api.doFrom(t, "203.0.113.7:40000", "POST", "/login", map[string]string{"email": " ASTRO.User@Example.com ", "password": "Wrong-Password-1"}, "User-Agent", "curl/8.5.0")
	wantProblem(t, res, http.StatusUnauthorized, "invalid_credentials")
	wantStatus(t, api.asAdmin(t, key, "PATCH", "/admin/users/"+id, map[string]any{"first_name": "Ada"}), http.StatusOK)
	otherAccess, _ := api.loginAs(t, "other@example.com", password)

	events := api.activity(t, access)
	var got []string
	for _, e := range events {
		got = append(got, strings.Join([]string{e["event"].(string), strings.TrimSpace(e["ip"].(string) + " " + e["user_agent"].(string))}, " | "))
	}
	want := []string{"names_changed | 192.0.2.1", "login_failed | 203.0.113.7 curl/8.5.0", "login | 192.0.2.1",
		"activation | " + strings.Split(clientOf(email), ":")[0], "signup | " + strings.Split(clientOf(email), ":")[0]}
	if !slices.Equal(got, want) {
		t.Errorf("activity =\n%q\nwant\n%q", got, want)
	}
	if events[0]["by_operator"] != true || events[1]["by_operator"] != false || events[1]["reason"] != "wrong_password" {
		t.Errorf("activity = %v", events[:2])
	}
	if others := api.activity(t, otherAccess); len(others) != 3 {
		t.Errorf("the other account's activity = %v, want its signup, activation and login", others)
	}

	// The newest 50, newest first.
	for range 60 {
		api.login(t)
	}
	events = api.activity(t, access)
	if len(events) != 50 {
		t.Errorf("the activity holds %d events, want the newest 50", len(events))
	}
	for _, e := range events {
		if e["event"] != "login" {
			t.Errorf("an older event %v among the newest 50 logins", e)
		}
	}

	// A new account of a deleted one's email starts afresh.
	wantStatus(t, api.asAdmin(t, key, "DELETE", "/admin/users/"+id, nil), http.StatusOK)
	api.newAccount(t, email)
	fresh, _ := api.login(t)
	if got := api.activity(t, fresh); len(got) != 3 {
		t.Errorf("the new account's activity = %v, want its own signup, activation and login", got)
	}
	wantProblem(t, api.do(t, "GET", "/me/activity", nil), http.StatusUnauthorized, "invalid_token")
}
