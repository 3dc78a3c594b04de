package app

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestCORSAnswersOnlyTheListedOrigins: a browser front end on a listed
// origin gets its preflight answered and the CORS headers on its requests;
// any other origin gets none, and without origins CORS is off.
func TestCORSAnswersOnlyTheListedOrigins(t *testing.T) {
	const app = "https://app.example.com"
	api := newTestAPI(t, func(c *Config) { c.CORSOrigins = []string{app, "http://localhost:5173"} })
	preflight := func(api *testAPI, origin string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodOptions, "/login", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		// As the Fetch standard has browsers send it: lower case, sorted.
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
		rec := httptest.NewRecorder()
		api.handler.ServeHTTP(rec, req)
		return rec
	}
	rec := preflight(api, app)
	h := rec.Header()
	if rec.Code >= 300 || h.Get("Access-Control-Allow-Origin") != app || !strings.Contains(strings.ToLower(h.Get("Access-Control-Allow-Headers")), "authorization") ||
		!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") {
		t.Errorf("preflight from %s = %d %v, want it allowed for POST with Authorization", app, rec.Code, h)
	}
	if h.Get("Access-Control-Allow-Credentials") != "" {
		t.Error("credentials are allowed: the API uses bearer tokens, never cookies")
	}
	for _, origin := range []string{"https://evil.example.com", "https://app.example.com.evil.example", "null", "http://app.example.com"} {
		if rec := preflight(api, origin); rec.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight from %s allowed: %v", origin, rec.Header())
		}
	}

	api.activeUser(t)
	access, _ := api.login(t)
	res := api.do(t, "GET", "/me", nil, "Authorization", "Bearer "+access, "Origin", app)
	wantStatus(t, res, http.StatusOK)
	if res.Header().Get("Access-Control-Allow-Origin") != app || !strings.Contains(res.Header().Get("Vary"), "Origin") {
		t.Errorf("GET /me from %s: headers %v, want Allow-Origin and Vary: Origin", app, res.Header())
	}
	if exposed := strings.ToLower(res.Header().Get("Access-Control-Expose-Headers")); !strings.Contains(exposed, "retry-after") || !strings.Contains(exposed, "x-request-id") {
		t.Errorf("exposed headers %q, want Retry-After and X-Request-ID readable by the front end", exposed)
	}
	res = api.do(t, "GET", "/me", nil, "Authorization", "Bearer "+access, "Origin", "https://evil.example.com")
	if res.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("GET /me from an unlisted origin carries CORS headers: %v", res.Header())
	}

	off := newTestAPI(t)
	if rec := preflight(off, app); rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("CORS answered with no origins configured: %v", rec.Header())
	}
}

func TestCORSOriginsSetting(t *testing.T) {
	for raw, want := range map[string]string{
		"https://app.example.com":                           "https://app.example.com",
		" HTTPS://App.Example.com/ , http://localhost:3000": "https://app.example.com,http://localhost:3000",
		"": "",
	} {
		cfg, _, err := parseConfig(nil, envOf(map[string]string{"AUTH_CORS_ORIGINS": raw}), nil)
		if err != nil {
			t.Errorf("AUTH_CORS_ORIGINS=%q: %v", raw, err)
			continue
		}
		if got := strings.Join(cfg.CORSOrigins, ","); got != want {
			t.Errorf("AUTH_CORS_ORIGINS=%q gives %q, want %q", raw, got, want)
		}
	}
	for _, bad := range []string{"*", "https://*.example.com", "app.example.com", "https://app.example.com/path", "ftp://x.example.com", "https://user@app.example.com"} {
		if _, _, err := parseConfig(nil, envOf(map[string]string{"AUTH_CORS_ORIGINS": bad}), nil); err == nil || !strings.Contains(err.Error(), "AUTH_CORS_ORIGINS") {
			t.Errorf("AUTH_CORS_ORIGINS=%q accepted (%v)", bad, err)
		}
	}
}
