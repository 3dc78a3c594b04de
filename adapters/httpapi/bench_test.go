package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"authapi/domain"
	"authapi/ports"
)

// benchAuth answers the routes under benchmark at once and alike, so that
// the benchmarks measure the adapter alone: routing, middleware, decoding,
// encoding and the access log. Methods they do not call panic (the embedded
// interface is nil).
type benchAuth struct {
	ports.AuthService
	user domain.User
}

func (a *benchAuth) Signup(_ context.Context, req ports.SignupRequest, _ domain.Client) (domain.User, error) {
	u := a.user
	u.Email = domain.NormalizeEmail(req.Email)
	return u, nil
}

func (*benchAuth) Login(context.Context, string, string, domain.Client) (ports.TokenPair, error) {
	return ports.TokenPair{
		Access:  ports.IssuedToken{Token: benchJWT, ExpiresIn: 15 * time.Minute},
		Refresh: ports.IssuedToken{Token: benchJWT, ExpiresIn: 720 * time.Hour},
	}, nil
}

func (*benchAuth) Refresh(context.Context, string, domain.Client) (ports.TokenPair, error) {
	return ports.TokenPair{Access: ports.IssuedToken{Token: benchJWT, ExpiresIn: 15 * time.Minute}}, nil
}

func (a *benchAuth) Authenticate(context.Context, string) (domain.Claims, error) {
	return domain.Claims{Kind: domain.AccessToken, UserID: a.user.ID, SessionID: "0194694c-5dc0-7c3d-9a4f-2e5b6c7d8ea0"}, nil
}

func (a *benchAuth) CurrentUser(context.Context, string) (domain.User, error) { return a.user, nil }

type benchPinger struct{}

func (benchPinger) Ping(context.Context) (ports.DatabaseStatus, error) {
	return ports.DatabaseStatus{Engine: "sqlite", MaxConnections: 1}, nil
}

// benchJWT has the length of the service's ES256 tokens, so that encoding
// and header parsing cost what they do in production.
const benchJWT = "eyJhbGciOiJFUzI1NiIsImtpZCI6IkZ3TjFzR2JfcmJ1X3Y4b0pTVXlXeE5tOUYzUXBKZ0Zyd3RvQ2hjRkhhVjQiLCJ0eXAiOiJhdCtqd3QifQ" +
	".eyJpc3MiOiJodHRwOi8vbG9jYWxob3N0OjgwODAiLCJzdWIiOiIwMTk0Njk0Yy01ZGMwLTdjM2QtOWE0Zi0yZTViNmM3ZDhlOWYiLCJhdWQiOlsiaHR0cDovL2xvY2FsaG9zdDo4MDgwIl0sImV4cCI6MTg5MzQ1NjAwMCwiaWF0IjoxODkzNDU1MTAwLCJqdGkiOiJhYmNkZWZnaGlqa2xtbm9wcXJzdHV2In0" +
	".MEUCIQDk3pWq2bWb3zQ0b3l8m4n5o6p7q8r9s0t1u2v3w4x5y6z7AiBk3pWq2bWb3zQ0b3l8m4n5o6p7q8r9s0t1u2v3w4x5y6z7"

// benchRouter is the production router around benchAuth. The access log is
// formatted as in production and thrown away, so its cost is counted.
func benchRouter(b *testing.B) http.Handler {
	b.Helper()
	created := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	auth := &benchAuth{user: domain.User{
		ID: "0194694c-5dc0-7c3d-9a4f-2e5b6c7d8e9f", Email: "astro.user@example.com",
		FirstName: "Astro", LastName: "User", Active: true, CreatedAt: created, UpdatedAt: created, ActivatedAt: created,
	}}
	return NewRouter(Config{
		Auth: auth, Ready: benchPinger{}, Keys: staticKeys(`{"keys":[]}`),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Random: rand.Reader,
	})
}

// benchRoute sends one request per iteration through the router and fails
// unless it is answered want.
func benchRoute(b *testing.B, method, path, body string, bearer bool, want int) {
	router := benchRouter(b)
	payload := []byte(body)
	b.ReportAllocs()
	for b.Loop() {
		var r io.Reader
		if body != "" {
			r = bytes.NewReader(payload)
		}
		req := httptest.NewRequest(method, path, r)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if bearer {
			req.Header.Set("Authorization", "Bearer "+benchJWT)
		}
		rec := httptest.NewRecorder()
		router.ServeHTTP(rec, req)
		if rec.Code != want {
			b.Fatalf("%s %s answered %d, want %d: %s", method, path, rec.Code, want, rec.Body)
		}
	}
}

func BenchmarkMe(b *testing.B) {
	benchRoute(b, http.MethodGet, "/me", "", true, http.StatusOK)
}

func BenchmarkLogin(b *testing.B) {
	benchRoute(b, http.MethodPost, "/login", `{"email":"astro.user@example.com","password":"Vivid-Harbor-Lantern-7319"}`, false, http.StatusOK)
}

func BenchmarkRefresh(b *testing.B) {
	benchRoute(b, http.MethodPost, "/refresh", `{"refresh_token":"`+benchJWT+`"}`, false, http.StatusOK)
}

func BenchmarkSignup(b *testing.B) {
	benchRoute(b, http.MethodPost, "/signup",
		`{"email":"astro.user@example.com","password":"Vivid-Harbor-Lantern-7319","first_name":"Astro","last_name":"User"}`,
		false, http.StatusCreated)
}

func BenchmarkHealthz(b *testing.B) {
	benchRoute(b, http.MethodGet, "/healthz", "", false, http.StatusOK)
}
