package httpapi

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var (
	inlineScript = regexp.MustCompile(`(?s)<script>(.*?)</script>`)
	inlineStyle  = regexp.MustCompile(`(?s)<style>(.*?)</style>`)
)

// TestFormPages serves the pages that emailed links lead to. Each must fill
// in the query's values escaped, allow exactly its own inline script and
// style by hash (a hash that drifts from the served text breaks the page
// without any error on the server), and call no use case on GET.
func TestFormPages(t *testing.T) {
	tests := []struct {
		name     string
		path     string
		wantForm []string // markup the page must contain
	}{
		{"activation", "/activate", []string{`fetch("verify"`, `autocomplete="one-time-code"`}},
		{"password reset", "/reset-password", []string{
			`fetch("password/reset"`, `autocomplete="one-time-code"`,
			`type="password" autocomplete="new-password"`, `autocomplete="username"`,
		}},
	}
	queries := []struct {
		name, email, code string
		want              []string // escaped forms the page must show
	}{
		{"plain values", "astro.user@example.com", "123456", []string{`value="astro.user@example.com"`, `value="123456"`}},
		{"markup in both", `"><script>alert(1)</script>`, `" autofocus onfocus="alert(1)`, []string{
			`value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"`, `value="&#34; autofocus onfocus=&#34;alert(1)"`,
		}},
	}
	auth := &fuzzAuth{}
	router := NewRouter(Config{
		Auth: auth, Ready: fuzzPinger{}, Keys: staticKeys(`{"keys":[]}`),
		Logger: slog.New(slog.DiscardHandler), Random: repeatReader('r'),
	})
	for _, tt := range tests {
		for _, q := range queries {
			t.Run(tt.name+" with "+q.name, func(t *testing.T) {
				target := tt.path + "?" + url.Values{"email": {q.email}, "code": {q.code}}.Encode()
				rec := httptest.NewRecorder()
				auth.take()
				router.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
				if got := auth.take(); got != nil {
					t.Errorf("opening the page called the service with %v", got)
				}
				if rec.Code != http.StatusOK {
					t.Fatalf("status = %d, want 200: %s", rec.Code, rec.Body)
				}
				wantHeaders := map[string]string{
					"Content-Type":    "text/html; charset=utf-8",
					"X-Frame-Options": "DENY",
					"Cache-Control":   "no-store",
					"Referrer-Policy": "no-referrer",
				}
				for key, want := range wantHeaders {
					if got := rec.Header().Get(key); got != want {
						t.Errorf("%s = %q, want %q", key, got, want)
					}
				}
				page := rec.Body.String()
				for _, want := range append(tt.wantForm, q.want...) {
					if !strings.Contains(page, want) {
						t.Errorf("page lacks %s:\n%s", want, page)
					}
				}
				if strings.Contains(page, "<script>alert") || strings.Contains(page, `" autofocus`) {
					t.Errorf("page reflects the query unescaped:\n%s", page)
				}
				checkInlineHashes(t, page, rec.Header().Get("Content-Security-Policy"))
			})
		}
	}
}

// checkInlineHashes fails unless policy forbids everything by default and
// allows the page's one inline script and one inline style by their hashes.
func checkInlineHashes(t *testing.T, page, policy string) {
	t.Helper()
	directives := map[string]string{}
	for _, d := range strings.Split(policy, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[name] = value
	}
	if directives["default-src"] != "'none'" || directives["frame-ancestors"] != "'none'" {
		t.Errorf("Content-Security-Policy = %q, want default-src and frame-ancestors 'none'", policy)
	}
	for _, inline := range []struct {
		directive string
		pattern   *regexp.Regexp
	}{{"script-src", inlineScript}, {"style-src", inlineStyle}} {
		blocks := inline.pattern.FindAllStringSubmatch(page, -1)
		if len(blocks) != 1 {
			t.Errorf("page has %d inline %s blocks, want 1", len(blocks), inline.directive)
			continue
		}
		if got, want := directives[inline.directive], cspHash(blocks[0][1]); got != want {
			t.Errorf("%s = %q, want only the hash of the served block, %s", inline.directive, got, want)
		}
	}
}
