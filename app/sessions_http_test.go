package app

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestSessionsOverHTTP(t *testing.T) {
	api := newTestAPI(t)
	api.activeUser(t)
	access, refresh := api.login(t)
	_, otherRefresh := api.login(t)
	bearer := []string{"Authorization", "Bearer " + access, "User-Agent", "test-agent/1.0"}

	res := api.do(t, "GET", "/sessions", nil, bearer...)
	wantStatus(t, res, http.StatusOK)
	sessions, _ := res.body["sessions"].([]any)
	if len(sessions) != 2 {
		t.Fatalf("sessions = %s", res.Body)
	}
	var current, other string
	for _, s := range sessions {
		s := s.(map[string]any)
		if s["current"] == true {
			current = s["id"].(string)
		} else {
			other = s["id"].(string)
		}
	}
	if current == "" || other == "" {
		t.Fatalf("no current session marked: %s", res.Body)
	}

	wantStatus(t, api.do(t, "DELETE", "/sessions/"+other, nil, bearer...), http.StatusOK)
	wantProblem(t, api.do(t, "DELETE", "/sessions/"+other, nil, bearer...), http.StatusNotFound, "session_not_found")
	wantProblem(t, api.do(t, "POST", "/refresh", map[string]string{"refresh_token": otherRefresh}), http.StatusUnauthorized, "invalid_token")

	wantStatus(t, api.do(t, "POST", "/logout", map[string]string{"refresh_token": refresh}), http.StatusOK)
	wantProblem(t, api.do(t, "POST", "/refresh", map[string]string{"refresh_token": refresh}), http.StatusUnauthorized, "invalid_token")
	wantProblem(t, api.do(t, "POST", "/logout", map[string]string{"refresh_token": "garbage"}), http.StatusUnauthorized, "invalid_token")

	_, refresh = api.login(t)
	access2, _ := api.login(t)
	res = api.do(t, "POST", "/logout-all", nil, "Authorization", "Bearer "+access2)
	wantStatus(t, res, http.StatusOK)
	wantProblem(t, api.do(t, "POST", "/refresh", map[string]string{"refresh_token": refresh}), http.StatusUnauthorized, "invalid_token")
	wantProblem(t, api.do(t, "POST", "/logout-all", nil), http.StatusUnauthorized, "invalid_token")
}

func TestRefreshRotationOverHTTP(t *testing.T) {
	api := newTestAPI(t, func(c *Config) { c.RefreshRotation, c.RefreshReuseInterval = true, 10*time.Second })
	api.activeUser(t)
	_, first := api.login(t)

	res := api.do(t, "POST", "/refresh", map[string]string{"refresh_token": first})
	wantStatus(t, res, http.StatusOK)
	second, _ := res.body["refresh_token"].(string)
	if second == "" || second == first {
		t.Fatalf("rotation returned %s", res.Body)
	}
	api.clock.Advance(time.Minute) // past the reuse interval
	wantProblem(t, api.do(t, "POST", "/refresh", map[string]string{"refresh_token": first}), http.StatusUnauthorized, "invalid_token")
	// Reuse ended the session: the thief and the owner are both out.
	wantProblem(t, api.do(t, "POST", "/refresh", map[string]string{"refresh_token": second}), http.StatusUnauthorized, "invalid_token")
	if !containsAll(api.logs.String(), "refresh token reused; session revoked") {
		t.Error("reuse not logged")
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
