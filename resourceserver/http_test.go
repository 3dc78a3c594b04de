package resourceserver

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

func TestRequireAcceptsValidAccessTokens(t *testing.T) {
	key := newTestKey(t, "key-1")
	issuer := newFakeIssuer(t, key)
	h, seen := protect(newTestVerifier(t, testConfig(issuer, nil)))
	exp := time.Unix(validClaims()["exp"].(int64), 0).UTC()

	tests := []struct {
		name   string
		auth   string
		claims Claims
	}{
		{
			name:   "authapi's claims",
			auth:   "Bearer " + key.sign(t, validClaims(), nil),
			claims: Claims{Subject: "user-1", SessionID: "session-1", ExpiresAt: exp},
		},
		{
			name:   "amr claim of later versions",
			auth:   "Bearer " + key.sign(t, with(validClaims(), jwt.MapClaims{"amr": []string{"pwd", "otp"}}), nil),
			claims: Claims{Subject: "user-1", SessionID: "session-1", ExpiresAt: exp, AMR: []string{"pwd", "otp"}},
		},
		{
			name:   "scheme in lower case",
			auth:   "bearer " + key.sign(t, validClaims(), nil),
			claims: Claims{Subject: "user-1", SessionID: "session-1", ExpiresAt: exp},
		},
		{
			name:   "audience among several",
			auth:   "Bearer " + key.sign(t, with(validClaims(), jwt.MapClaims{"aud": []string{"https://other.example.test", testAudience}}), nil),
			claims: Claims{Subject: "user-1", SessionID: "session-1", ExpiresAt: exp},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			*seen = handled{}
			rec := call(h, tt.auth)
			if rec.Code != http.StatusNoContent {
				t.Fatalf("status %d, want %d; body %s", rec.Code, http.StatusNoContent, rec.Body)
			}
			want := handled{calls: 1, claims: tt.claims, ok: true}
			if !reflect.DeepEqual(*seen, want) {
				t.Errorf("handler saw %+v, want %+v", *seen, want)
			}
		})
	}
}

func TestRequireRefusesInvalidTokens(t *testing.T) {
	key := newTestKey(t, "key-1")
	other := newTestKey(t, "key-1") // same kid, different key: a forger's
	unpublished := newTestKey(t, "key-unpublished")
	encryption := newTestKey(t, "key-enc")
	encryption.use = jwkset.UseEnc
	issuer := newFakeIssuer(t, key, encryption)
	h, seen := protect(newTestVerifier(t, testConfig(issuer, nil)))

	valid := key.sign(t, validClaims(), nil)
	sigStart, sigEnd := part(valid, 2)
	payloadStart, payloadEnd := part(valid, 1)
	pub, err := key.priv.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		auth string
	}{
		{"no Authorization header", ""},
		{"other scheme", "Basic dXNlcjpwYXNz"},
		{"scheme only", "Bearer"},
		{"empty token", "Bearer  "},
		{"two tokens", "Bearer " + valid + " " + valid},
		{"not a JWT", "Bearer not-a-token"},
		{"garbled JWT", "Bearer a.b.c"},
		{"too long", "Bearer " + key.sign(t, with(validClaims(), jwt.MapClaims{"pad": strings.Repeat("x", MaxTokenBytes)}), nil)},
		{"character outside base64url", "Bearer " + valid[:sigStart] + "+" + valid[sigStart+1:]},
		{"tampered signature", "Bearer " + flip(valid, (sigStart+sigEnd)/2)},
		{"tampered payload", "Bearer " + flip(valid, (payloadStart+payloadEnd)/2)},
		{"claims swapped", "Bearer " + valid[:payloadStart] +
			strings.Split(key.sign(t, with(validClaims(), jwt.MapClaims{"sub": "admin"}), nil), ".")[1] + valid[payloadEnd:]},
		{"signed by another key under the known kid", "Bearer " + other.sign(t, validClaims(), nil)},
		{"signed by a key published for encryption", "Bearer " + encryption.sign(t, validClaims(), nil)},
		{"signed by a key not in the JWKS", "Bearer " + unpublished.sign(t, validClaims(), nil)},
		{"refresh token type", "Bearer " + key.sign(t, validClaims(), func(h map[string]any) { h["typ"] = "refresh+jwt" })},
		{"no type", "Bearer " + key.sign(t, validClaims(), func(h map[string]any) { delete(h, "typ") })},
		{"plain JWT type", "Bearer " + key.sign(t, validClaims(), func(h map[string]any) { h["typ"] = "JWT" })},
		{"no kid", "Bearer " + key.sign(t, validClaims(), func(h map[string]any) { delete(h, "kid") })},
		{"critical header", "Bearer " + key.sign(t, validClaims(), func(h map[string]any) { h["crit"] = []string{"exp"} })},
		{"HS256 MACed with the public key", "Bearer " + hs256(t, pub, "at+jwt", key.kid, validClaims())},
		{"HS256 refresh token", "Bearer " + hs256(t, pub, "refresh+jwt", key.kid, validClaims())},
		{"alg none", "Bearer " + unsigned(t, key.kid, validClaims())},
		{"ES384 header", "Bearer " + es384Header(t, key, validClaims())},
		{"wrong issuer", "Bearer " + key.sign(t, with(validClaims(), jwt.MapClaims{"iss": "https://evil.example.test"}), nil)},
		{"no issuer", "Bearer " + key.sign(t, with(validClaims(), jwt.MapClaims{"iss": nil}), nil)},
		{"wrong audience", "Bearer " + key.sign(t, with(validClaims(), jwt.MapClaims{"aud": []string{testIssuer}}), nil)},
		{"no audience", "Bearer " + key.sign(t, with(validClaims(), jwt.MapClaims{"aud": nil}), nil)},
		{"expired", "Bearer " + key.sign(t, with(validClaims(), jwt.MapClaims{"exp": testNow.Add(-time.Second).Unix()}), nil)},
		{"expires now", "Bearer " + key.sign(t, with(validClaims(), jwt.MapClaims{"exp": testNow.Unix()}), nil)},
		{"no expiry", "Bearer " + key.sign(t, with(validClaims(), jwt.MapClaims{"exp": nil}), nil)},
		{"not valid yet", "Bearer " + key.sign(t, with(validClaims(), jwt.MapClaims{"nbf": testNow.Add(time.Minute).Unix()}), nil)},
		{"issued in the future", "Bearer " + key.sign(t, with(validClaims(), jwt.MapClaims{"iat": testNow.Add(time.Minute).Unix()}), nil)},
		{"no subject", "Bearer " + key.sign(t, with(validClaims(), jwt.MapClaims{"sub": nil}), nil)},
		{"empty subject", "Bearer " + key.sign(t, with(validClaims(), jwt.MapClaims{"sub": ""}), nil)},
		{"amr not a list of strings", "Bearer " + key.sign(t, with(validClaims(), jwt.MapClaims{"amr": "pwd"}), nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			*seen = handled{}
			rec := call(h, tt.auth)
			assertInvalidToken(t, rec.Result())
			if seen.calls != 0 {
				t.Errorf("the protected handler ran %d times, want 0", seen.calls)
			}
		})
	}
}

// TestRequireRefusalsAreNotBlanket guards the table above: had the verifier
// refused everything, each case would pass for the wrong reason.
func TestRequireRefusalsAreNotBlanket(t *testing.T) {
	key := newTestKey(t, "key-1")
	issuer := newFakeIssuer(t, key)
	h, _ := protect(newTestVerifier(t, testConfig(issuer, nil)))
	if rec := call(h, "Bearer "+key.sign(t, validClaims(), nil)); rec.Code != http.StatusNoContent {
		t.Fatalf("valid token: status %d, want %d", rec.Code, http.StatusNoContent)
	}
	// The edge of the lifetime: one second before "exp" still passes.
	almost := key.sign(t, with(validClaims(), jwt.MapClaims{"exp": testNow.Add(time.Second).Unix()}), nil)
	if rec := call(h, "Bearer "+almost); rec.Code != http.StatusNoContent {
		t.Fatalf("token expiring in 1s: status %d, want %d", rec.Code, http.StatusNoContent)
	}
}

func TestLeewayToleratesSkew(t *testing.T) {
	key := newTestKey(t, "key-1")
	issuer := newFakeIssuer(t, key)
	expired := key.sign(t, with(validClaims(), jwt.MapClaims{"exp": testNow.Add(-20 * time.Second).Unix()}), nil)

	for _, tt := range []struct {
		leeway time.Duration
		want   int
	}{
		{0, http.StatusUnauthorized},
		{30 * time.Second, http.StatusNoContent},
	} {
		v := newTestVerifier(t, testConfig(issuer, func(c *Config) { c.Leeway = tt.leeway }))
		h, _ := protect(v)
		if got := call(h, "Bearer "+expired).Code; got != tt.want {
			t.Errorf("leeway %v, token expired 20s ago: status %d, want %d", tt.leeway, got, tt.want)
		}
	}
}

func TestClaimsFromWithoutRequire(t *testing.T) {
	req, err := http.NewRequest(http.MethodGet, "/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if claims, ok := ClaimsFrom(req.Context()); ok || !reflect.DeepEqual(claims, Claims{}) {
		t.Errorf("ClaimsFrom = %+v, %v; want zero, false", claims, ok)
	}
}

// assertInvalidToken checks the whole 401 answer.
func assertInvalidToken(t *testing.T, res *http.Response) {
	t.Helper()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d, want %d", res.StatusCode, http.StatusUnauthorized)
	}
	if got, want := res.Header.Get("WWW-Authenticate"), `Bearer error="invalid_token"`; got != want {
		t.Errorf("WWW-Authenticate %q, want %q", got, want)
	}
	if got := res.Header.Get("Content-Type"); got != ProblemContentType {
		t.Errorf("Content-Type %q, want %q", got, ProblemContentType)
	}
	var got Problem
	if err := json.NewDecoder(res.Body).Decode(&got); err != nil {
		t.Fatalf("decode body: %v", err)
	}
	want := Problem{
		Type:   "/problems/invalid_token",
		Title:  "Invalid token",
		Status: http.StatusUnauthorized,
		Detail: got.Detail, // one of two fixed texts, checked below
		Code:   "invalid_token",
	}
	if got != want {
		t.Errorf("body %+v, want %+v", got, want)
	}
	if got.Detail != detailNoToken && got.Detail != detailInvalidToken {
		t.Errorf("detail %q is neither fixed text", got.Detail)
	}
}

// hs256 returns a token MACed with HS256 under secret: with the public key
// as the secret, the classic key-confusion forgery.
func hs256(t *testing.T, secret []byte, typ, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	tok.Header["typ"] = typ
	tok.Header["kid"] = kid
	s, err := tok.SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// unsigned returns a token with "alg": "none" and no signature.
func unsigned(t *testing.T, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodNone, claims)
	tok.Header["typ"] = "at+jwt"
	tok.Header["kid"] = kid
	s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// es384Header returns a token whose header says ES384 over a P-256 key; only
// ES256 is accepted.
func es384Header(t *testing.T, k testKey, claims jwt.MapClaims) string {
	t.Helper()
	method := &jwt.SigningMethodECDSA{Name: "ES384", Hash: jwt.SigningMethodES256.Hash, KeySize: 32, CurveBits: 256}
	tok := jwt.NewWithClaims(method, claims)
	tok.Header["typ"] = "at+jwt"
	tok.Header["kid"] = k.kid
	s, err := tok.SignedString(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
