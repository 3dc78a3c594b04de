package resourceserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// testNow is the fixed clock of the tests: token lifetimes are checked
// against it, never against the wall clock.
var testNow = time.Date(2031, time.March, 14, 15, 9, 26, 0, time.UTC)

const (
	testIssuer   = "https://auth.example.test"
	testAudience = "https://api.example.test"
)

// testKey is a signing key of the fake authapi.
type testKey struct {
	kid  string
	priv *ecdsa.PrivateKey
	use  jwkset.USE // as published; "sig" unless a test says otherwise
}

func newTestKey(t *testing.T, kid string) testKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{kid: kid, priv: priv, use: jwkset.UseSig}
}

// jwk is the key's public JWK as authapi publishes it.
func (k testKey) jwk(t *testing.T) jwkset.JWKMarshal {
	t.Helper()
	j, err := jwkset.NewJWKFromKey(&k.priv.PublicKey, jwkset.JWKOptions{
		Metadata: jwkset.JWKMetadataOptions{KID: k.kid, USE: k.use, ALG: jwkset.AlgES256},
	})
	if err != nil {
		t.Fatal(err)
	}
	return j.Marshal()
}

// sign returns an ES256 access token with claims, signed by k, after edit
// has had a chance to change the header.
func (k testKey) sign(t *testing.T, claims jwt.MapClaims, edit func(header map[string]any)) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["typ"] = "at+jwt"
	tok.Header["kid"] = k.kid
	if edit != nil {
		edit(tok.Header)
	}
	s, err := tok.SignedString(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// validClaims are the claims of an access token that authapi would issue at
// testNow for testAudience.
func validClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss": testIssuer,
		"aud": []string{testAudience},
		"sub": "user-1",
		"sid": "session-1",
		"iat": testNow.Add(-time.Minute).Unix(),
		"exp": testNow.Add(14 * time.Minute).Unix(),
		"jti": "token-1",
	}
}

// with returns a copy of c with the given claims set, and those set to nil
// removed.
func with(c jwt.MapClaims, changes jwt.MapClaims) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, v := range c {
		out[k] = v
	}
	for k, v := range changes {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	return out
}

// fakeIssuer serves a JWKS that the test changes as it goes, as authapi's
// changes when its key rotates, and counts the fetches.
type fakeIssuer struct {
	server  *httptest.Server
	fetches atomic.Int64

	mu   sync.Mutex
	keys []jwkset.JWKMarshal
}

func newFakeIssuer(t *testing.T, keys ...testKey) *fakeIssuer {
	t.Helper()
	f := &fakeIssuer{}
	f.publish(t, keys...)
	f.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != JWKSPath {
			http.NotFound(w, r)
			return
		}
		f.fetches.Add(1)
		f.mu.Lock()
		body, err := json.Marshal(jwkset.JWKSMarshal{Keys: f.keys})
		f.mu.Unlock()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(f.server.Close)
	return f
}

// publish replaces the published keys.
func (f *fakeIssuer) publish(t *testing.T, keys ...testKey) {
	t.Helper()
	set := make([]jwkset.JWKMarshal, 0, len(keys))
	for _, k := range keys {
		set = append(set, k.jwk(t))
	}
	f.mu.Lock()
	f.keys = set
	f.mu.Unlock()
}

func (f *fakeIssuer) jwksURL() string { return f.server.URL + JWKSPath }

func (f *fakeIssuer) fetchCount() int { return int(f.fetches.Load()) }

// testConfig is a Config for f at testNow; change sets what a test needs.
func testConfig(f *fakeIssuer, change func(*Config)) Config {
	cfg := Config{
		Issuer:             testIssuer,
		Audience:           testAudience,
		JWKSURL:            f.jwksURL(),
		RefreshInterval:    time.Hour,
		MinRefetchInterval: time.Minute,
		FetchTimeout:       2 * time.Second,
		Now:                func() time.Time { return testNow },
	}
	if change != nil {
		change(&cfg)
	}
	return cfg
}

func newTestVerifier(t *testing.T, cfg Config) *Verifier {
	t.Helper()
	v, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v
}

// handled is what the protected handler of a test saw.
type handled struct {
	calls  int
	claims Claims
	ok     bool
}

// protect puts a recording handler behind v.Require.
func protect(v *Verifier) (http.Handler, *handled) {
	var h handled
	return v.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.calls++
		h.claims, h.ok = ClaimsFrom(r.Context())
		w.WriteHeader(http.StatusNoContent)
	})), &h
}

// call sends GET /api/thing through h with the Authorization header auth
// (none if empty).
func call(h http.Handler, auth string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/api/thing", nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// flip changes the character at index i of s to another base64url
// character, so the result still decodes, to something else.
func flip(s string, i int) string {
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

// part returns the start and end index of the n-th dot-separated part of a
// compact JWS.
func part(token string, n int) (start, end int) {
	parts := strings.Split(token, ".")
	for i := range n {
		start += len(parts[i]) + 1
	}
	return start, start + len(parts[n])
}
