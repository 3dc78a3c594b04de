package httpapi

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

func TestRecoverPanicsAnswersWithAProblem(t *testing.T) {
	var logs bytes.Buffer
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(withRequestID(strings.NewReader(strings.Repeat("x", 64)), slog.New(slog.NewTextHandler(&logs, nil))), recoverPanics())
	r.GET("/boom", func(c *gin.Context) { panic("secret internal state") })

	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest("GET", "/boom", nil))

	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", rec.Code)
	}
	var p Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Code != "internal" || p.Status != 500 {
		t.Fatalf("body = %s (%v)", rec.Body, err)
	}
	if strings.Contains(rec.Body.String(), "secret internal state") || strings.Contains(rec.Body.String(), "goroutine") {
		t.Errorf("response leaks the panic: %s", rec.Body)
	}
	if !strings.Contains(logs.String(), "secret internal state") {
		t.Errorf("panic not logged: %s", logs.String())
	}
}

func TestBearerToken(t *testing.T) {
	tests := []struct {
		header string
		want   string
		ok     bool
	}{
		{"Bearer abc.def.ghi", "abc.def.ghi", true},
		{"bearer abc", "abc", true},
		{"BEARER abc", "abc", true},
		{"Bearer  abc", "abc", true},
		{"", "", false},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"Basic abc", "", false},
		{"Bearer abc def", "", false},
		{"Bearerabc", "", false},
	}
	for _, tt := range tests {
		got, ok := bearerToken(tt.header)
		if got != tt.want || ok != tt.ok {
			t.Errorf("bearerToken(%q) = %q, %v; want %q, %v", tt.header, got, ok, tt.want, tt.ok)
		}
	}
}

func TestRequestIDIsEchoedOrMade(t *testing.T) {
	tests := []struct {
		name, incoming string
		keep           bool
	}{
		{"plausible id kept", "abc-123_X.y", true},
		{"missing id made", "", false},
		{"id with spaces replaced", "a b", false},
		{"overlong id replaced", strings.Repeat("a", 65), false},
		{"header injection replaced", "a\r\nSet-Cookie: x", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := gin.New()
			r.Use(withRequestID(bytes.NewReader(bytes.Repeat([]byte{0xab}, 12)), slog.New(slog.DiscardHandler)))
			r.GET("/", func(c *gin.Context) { c.String(200, requestID(c)) })
			req := httptest.NewRequest("GET", "/", nil)
			req.Header.Set(requestIDHeader, tt.incoming)
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, req)
			want := strings.Repeat("ab", 12)
			if tt.keep {
				want = tt.incoming
			}
			if got := rec.Header().Get(requestIDHeader); got != want || rec.Body.String() != want {
				t.Errorf("request id = %q (body %q), want %q", got, rec.Body, want)
			}
		})
	}
}
