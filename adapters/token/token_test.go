package token_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"authapi/adapters/token"
	"authapi/domain"
	"authapi/ports"
)

const (
	issuer     = "https://auth.example.test"
	accessTTL  = 15 * time.Minute
	refreshTTL = 30 * 24 * time.Hour
)

var now = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func newKey(t *testing.T, curve elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	return key
}

// oneKey is the key set of a service that has never rotated its key.
func oneKey(key *ecdsa.PrivateKey) []ports.SigningKey {
	return []ports.SigningKey{{Private: key}}
}

func kidOf(t *testing.T, k ports.SigningKey) string {
	t.Helper()
	kid, err := token.Thumbprint(&k.Private.PublicKey)
	if err != nil {
		t.Fatalf("Thumbprint: %v", err)
	}
	return kid
}

func newTokens(t *testing.T, key *ecdsa.PrivateKey) *token.Tokens {
	t.Helper()
	tokens, err := token.New(token.Config{
		Keys:       oneKey(key),
		Issuer:     issuer,
		AccessTTL:  accessTTL,
		RefreshTTL: refreshTTL,
		Random:     rand.Reader,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return tokens
}

func issue(t *testing.T, tokens *token.Tokens, kind domain.TokenKind, at time.Time) (string, domain.Claims) {
	t.Helper()
	tok, claims, err := tokens.Issue(ports.TokenSpec{Kind: kind, UserID: "user-123", SessionID: "session-9"}, at)
	if err != nil {
		t.Fatalf("Issue(%v): %v", kind, err)
	}
	return tok, claims
}

// forge signs arbitrary header fields and claims, bypassing the adapter, to
// build the tokens an attacker or a buggy issuer could present. A nil header
// value deletes that field.
func forge(t *testing.T, method jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
			continue
		}
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("forge token: %v", err)
	}
	return s
}

func goodClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss": issuer,
		"aud": issuer,
		"sub": "user-123",
		"jti": "id-1",
		"sid": "session-9",
		"iat": now.Unix(),
		"exp": now.Add(accessTTL).Unix(),
	}
}

func with(c jwt.MapClaims, key string, value any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, v := range c {
		out[k] = v
	}
	if value == nil {
		delete(out, key)
	} else {
		out[key] = value
	}
	return out
}

func segment(t *testing.T, tok string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments, want 3", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatalf("decode segment %d: %v", i, err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("unmarshal segment %d: %v", i, err)
	}
	return m
}

func assertClaims(t *testing.T, got, want domain.Claims) {
	t.Helper()
	if got.Kind != want.Kind || got.UserID != want.UserID || got.ID != want.ID ||
		!got.IssuedAt.Equal(want.IssuedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) {
		t.Errorf("claims = %+v, want %+v", got, want)
	}
}

func TestIssueVerifyRoundTrip(t *testing.T) {
	tokens := newTokens(t, newKey(t, elliptic.P256()))
	tests := []struct {
		name    string
		kind    domain.TokenKind
		at      time.Time
		ttl     time.Duration
		wantAlg string
		wantTyp string
	}{
		{"access", domain.AccessToken, now, accessTTL, "ES256", "at+jwt"},
		{"refresh", domain.RefreshToken, now, refreshTTL, "HS256", "refresh+jwt"},
		{"sub-second issue time is truncated", domain.AccessToken, now.Add(700 * time.Millisecond), accessTTL, "ES256", "at+jwt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, issued := issue(t, tokens, tt.kind, tt.at)
			want := domain.Claims{
				Kind:      tt.kind,
				UserID:    "user-123",
				SessionID: "session-9",
				ID:        issued.ID,
				IssuedAt:  now,
				ExpiresAt: now.Add(tt.ttl),
			}
			assertClaims(t, issued, want)
			if raw, err := base64.RawURLEncoding.DecodeString(issued.ID); err != nil || len(raw) != 16 {
				t.Errorf("jti %q: want 16 base64url bytes (err %v)", issued.ID, err)
			}

			got, err := tokens.Verify(tok, tt.kind, tt.at)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			assertClaims(t, got, want)

			header := segment(t, tok, 0)
			if header["alg"] != tt.wantAlg || header["typ"] != tt.wantTyp || header["kid"] != tokens.KeyID(now) {
				t.Errorf("header = %v, want alg %s, typ %s, kid %s", header, tt.wantAlg, tt.wantTyp, tokens.KeyID(now))
			}
			payload := segment(t, tok, 1)
			if payload["iss"] != issuer || payload["sub"] != "user-123" || payload["jti"] != issued.ID || payload["sid"] != "session-9" {
				t.Errorf("payload = %v", payload)
			}
			if aud, ok := payload["aud"].([]any); !ok || len(aud) != 1 || aud[0] != issuer {
				t.Errorf("aud = %v, want [%q] (the issuer, by default)", payload["aud"], issuer)
			}
		})
	}
}

func TestIssueWithGivenID(t *testing.T) {
	tokens := newTokens(t, newKey(t, elliptic.P256()))
	tok, claims, err := tokens.Issue(ports.TokenSpec{Kind: domain.RefreshToken, UserID: "u", SessionID: "s", ID: "current-jti"}, now)
	if err != nil || claims.ID != "current-jti" {
		t.Fatalf("Issue = %+v, %v", claims, err)
	}
	got, err := tokens.Verify(tok, domain.RefreshToken, now)
	if err != nil || got.ID != "current-jti" || got.SessionID != "s" {
		t.Errorf("Verify = %+v, %v", got, err)
	}
}

func TestIssueUsesFreshIDs(t *testing.T) {
	tokens := newTokens(t, newKey(t, elliptic.P256()))
	_, first := issue(t, tokens, domain.AccessToken, now)
	_, second := issue(t, tokens, domain.AccessToken, now)
	if first.ID == second.ID {
		t.Errorf("two tokens share jti %q", first.ID)
	}
}

func TestVerifyLifetimeBoundaries(t *testing.T) {
	tokens := newTokens(t, newKey(t, elliptic.P256()))
	tok, claims := issue(t, tokens, domain.AccessToken, now)
	tests := []struct {
		name   string
		at     time.Time
		wantOK bool
	}{
		{"at issue time", claims.IssuedAt, true},
		{"last instant before expiry", claims.ExpiresAt.Add(-time.Nanosecond), true},
		{"at expiry", claims.ExpiresAt, false},
		{"long after expiry", claims.ExpiresAt.Add(24 * time.Hour), false},
		{"before issue time", claims.IssuedAt.Add(-time.Second), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tokens.Verify(tok, domain.AccessToken, tt.at)
			if gotOK := err == nil; gotOK != tt.wantOK {
				t.Fatalf("Verify at %v: err = %v, want ok = %v", tt.at, err, tt.wantOK)
			}
			if err != nil && !errors.Is(err, domain.ErrInvalidToken) {
				t.Errorf("err = %v, want domain.ErrInvalidToken", err)
			}
		})
	}
}

// macKeyOf derives key's refresh-token MAC key the way the adapter is
// documented to: HKDF-SHA256 of the private scalar, no salt, the v1 info.
// TestRefreshMACKeyDerivation pins the adapter to the same derivation.
func macKeyOf(t *testing.T, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	secret, err := key.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	mac, err := hkdf.Key(sha256.New, secret, nil, "authapi refresh token HS256 key v1", 32)
	if err != nil {
		t.Fatal(err)
	}
	return mac
}

// TestRefreshMACKeyDerivation checks, with a known answer computed by an
// independent HKDF implementation, that refresh tokens are MACed under
// HKDF-SHA256(private scalar, info "authapi refresh token HS256 key v1").
// The derivation must never change silently: every refresh token in use
// would stop working.
func TestRefreshMACKeyDerivation(t *testing.T) {
	// The P-256 private key of RFC 6979, appendix A.2.5.
	scalar, _ := hex.DecodeString("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721")
	key, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), scalar)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := hex.DecodeString("3c6b5acf469349db56f5e8651dd84f76c0c8043824e55c8953d9a9754728043e")
	if got := macKeyOf(t, key); !bytes.Equal(got, want) {
		t.Fatalf("test helper derives %x, want %x", got, want)
	}

	tokens := newTokens(t, key)
	header := map[string]any{"kid": tokens.KeyID(now), "typ": "refresh+jwt"}
	forged := forge(t, jwt.SigningMethodHS256, want, header, goodClaims())
	if _, err := tokens.Verify(forged, domain.RefreshToken, now); err != nil {
		t.Fatalf("a refresh token MACed with the known-answer key is refused: %v", err)
	}
	issued, _ := issue(t, tokens, domain.RefreshToken, now)
	if _, err := jwt.Parse(issued, func(*jwt.Token) (any, error) { return want, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(func() time.Time { return now })); err != nil {
		t.Errorf("an issued refresh token does not check out under the known-answer key: %v", err)
	}
}

func TestVerifyRejects(t *testing.T) {
	key := newKey(t, elliptic.P256())
	tokens := newTokens(t, key)
	kid := tokens.KeyID(now)
	access, _ := issue(t, tokens, domain.AccessToken, now)
	refresh, _ := issue(t, tokens, domain.RefreshToken, now)
	otherTokens := newTokens(t, newKey(t, elliptic.P256()))
	fromOtherKey, _ := issue(t, otherTokens, domain.AccessToken, now)

	publicDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatalf("marshal public key: %v", err)
	}
	publicPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: publicDER})

	accessHeader := map[string]any{"kid": kid, "typ": "at+jwt"}
	withHeader := func(k string, v any) map[string]any {
		h := map[string]any{"kid": kid, "typ": "at+jwt"}
		h[k] = v
		return h
	}
	parts := strings.Split(access, ".")
	replacePayload := func(field string, value any) string {
		payload := segment(t, access, 1)
		payload[field] = value
		raw, err := json.Marshal(payload)
		if err != nil {
			t.Fatalf("marshal payload: %v", err)
		}
		return parts[0] + "." + base64.RawURLEncoding.EncodeToString(raw) + "." + parts[2]
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatalf("decode signature: %v", err)
	}
	shortSignature := base64.RawURLEncoding.EncodeToString(sig[:len(sig)-1])
	refreshParts := strings.Split(refresh, ".")
	accessHeaderSegment := base64.RawURLEncoding.EncodeToString(
		[]byte(`{"alg":"ES256","kid":"` + kid + `","typ":"at+jwt"}`))
	refreshHeader := map[string]any{"kid": kid, "typ": "refresh+jwt"}
	otherMAC := macKeyOf(t, newKey(t, elliptic.P256()))

	tests := []struct {
		name       string
		token      string
		kind       domain.TokenKind
		wantReason string
	}{
		{"access token used as refresh token", access, domain.RefreshToken, "invalid signature or algorithm"},
		{"refresh token used as access token", refresh, domain.AccessToken, "invalid signature or algorithm"},
		{"refresh token signed with ES256", forge(t, jwt.SigningMethodES256, key, refreshHeader, goodClaims()),
			domain.RefreshToken, "invalid signature or algorithm"},
		{"refresh token MACed with the public key", forge(t, jwt.SigningMethodHS256, publicDER, refreshHeader, goodClaims()),
			domain.RefreshToken, "invalid signature"},
		{"refresh token MACed under another key's derived key", forge(t, jwt.SigningMethodHS256, otherMAC, refreshHeader, goodClaims()),
			domain.RefreshToken, "invalid signature"},
		{"access token MACed with our refresh key", forge(t, jwt.SigningMethodHS256, macKeyOf(t, key), accessHeader, goodClaims()),
			domain.AccessToken, "invalid signature or algorithm"},
		{"refresh-keyed MAC typed as an access token", forge(t, jwt.SigningMethodHS256, macKeyOf(t, key), accessHeader, goodClaims()),
			domain.RefreshToken, "wrong token type"},
		{"refresh token relabelled as access token", accessHeaderSegment + "." + refreshParts[1] + "." + refreshParts[2],
			domain.AccessToken, "invalid signature"},
		{"signed by another key under our kid",
			forge(t, jwt.SigningMethodES256, newKey(t, elliptic.P256()), accessHeader, goodClaims()),
			domain.AccessToken, "invalid signature"},
		{"unknown kid", fromOtherKey, domain.AccessToken, "unknown signing key"},
		{"missing kid", forge(t, jwt.SigningMethodES256, key, withHeader("kid", nil), goodClaims()),
			domain.AccessToken, "missing key id"},
		{"kid not a string", forge(t, jwt.SigningMethodES256, key, withHeader("kid", 7), goodClaims()),
			domain.AccessToken, "missing key id"},
		{"generic JWT typ", forge(t, jwt.SigningMethodES256, key, withHeader("typ", "JWT"), goodClaims()),
			domain.AccessToken, "wrong token type"},
		{"missing typ", forge(t, jwt.SigningMethodES256, key, withHeader("typ", nil), goodClaims()),
			domain.AccessToken, "wrong token type"},
		{"critical header", forge(t, jwt.SigningMethodES256, key, withHeader("crit", []string{"exp"}), goodClaims()),
			domain.AccessToken, "unsupported critical header"},
		{"alg none", forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, accessHeader, goodClaims()),
			domain.AccessToken, "invalid signature or algorithm"},
		{"HS256 keyed with the public key PEM", forge(t, jwt.SigningMethodHS256, publicPEM, accessHeader, goodClaims()),
			domain.AccessToken, "invalid signature or algorithm"},
		{"HS256 keyed with the public key DER", forge(t, jwt.SigningMethodHS256, publicDER, accessHeader, goodClaims()),
			domain.AccessToken, "invalid signature or algorithm"},
		{"ES384", forge(t, jwt.SigningMethodES384, newKey(t, elliptic.P384()), accessHeader, goodClaims()),
			domain.AccessToken, "invalid signature or algorithm"},
		{"tampered subject", replacePayload("sub", "admin"), domain.AccessToken, "invalid signature"},
		{"tampered expiry", replacePayload("exp", now.Add(365*24*time.Hour).Unix()), domain.AccessToken, "invalid signature"},
		{"short signature", parts[0] + "." + parts[1] + "." + shortSignature, domain.AccessToken, "invalid signature"},
		{"signature cut mid-character", access[:len(access)-1], domain.AccessToken, "malformed token"},
		{"padded signature", access + "=", domain.AccessToken, "malformed token"},
		{"wrong issuer", forge(t, jwt.SigningMethodES256, key, accessHeader, with(goodClaims(), "iss", "https://evil.example")),
			domain.AccessToken, "wrong issuer"},
		{"missing issuer", forge(t, jwt.SigningMethodES256, key, accessHeader, with(goodClaims(), "iss", nil)),
			domain.AccessToken, "missing required claim"},
		{"wrong audience", forge(t, jwt.SigningMethodES256, key, accessHeader, with(goodClaims(), "aud", "https://other.example")),
			domain.AccessToken, "wrong audience"},
		{"audience list without ours", forge(t, jwt.SigningMethodES256, key, accessHeader,
			with(goodClaims(), "aud", []string{"https://other.example", issuer + "/"})),
			domain.AccessToken, "wrong audience"},
		{"missing audience", forge(t, jwt.SigningMethodES256, key, accessHeader, with(goodClaims(), "aud", nil)),
			domain.AccessToken, "missing required claim"},
		{"empty audience", forge(t, jwt.SigningMethodES256, key, accessHeader, with(goodClaims(), "aud", "")),
			domain.AccessToken, "missing required claim"},
		{"missing subject", forge(t, jwt.SigningMethodES256, key, accessHeader, with(goodClaims(), "sub", nil)),
			domain.AccessToken, "missing subject"},
		{"empty subject", forge(t, jwt.SigningMethodES256, key, accessHeader, with(goodClaims(), "sub", "")),
			domain.AccessToken, "missing subject"},
		{"missing jti", forge(t, jwt.SigningMethodES256, key, accessHeader, with(goodClaims(), "jti", nil)),
			domain.AccessToken, "missing token id"},
		{"missing sid", forge(t, jwt.SigningMethodES256, key, accessHeader, with(goodClaims(), "sid", nil)),
			domain.AccessToken, "missing session id"},
		{"missing exp", forge(t, jwt.SigningMethodES256, key, accessHeader, with(goodClaims(), "exp", nil)),
			domain.AccessToken, "missing required claim"},
		{"missing iat", forge(t, jwt.SigningMethodES256, key, accessHeader, with(goodClaims(), "iat", nil)),
			domain.AccessToken, "missing issue time"},
		{"exp not a number", forge(t, jwt.SigningMethodES256, key, accessHeader, with(goodClaims(), "exp", "tomorrow")),
			domain.AccessToken, "malformed token"},
		{"not yet valid", forge(t, jwt.SigningMethodES256, key, accessHeader, with(goodClaims(), "nbf", now.Add(time.Minute).Unix())),
			domain.AccessToken, "not valid yet"},
		{"empty string", "", domain.AccessToken, "empty token"},
		{"garbage", "not a token", domain.AccessToken, "malformed token"},
		{"three garbage segments", "a.b.c", domain.AccessToken, "malformed token"},
		{"two segments", parts[0] + "." + parts[1], domain.AccessToken, "malformed token"},
		{"four segments", access + ".x", domain.AccessToken, "malformed token"},
		{"only dots", "..", domain.AccessToken, "malformed token"},
		{"oversized", parts[0] + "." + strings.Repeat("A", token.MaxTokenBytes) + "." + parts[2], domain.AccessToken, "token too long"},
		{"unknown kind", access, domain.TokenKind(99), "unknown token kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tokens.Verify(tt.token, tt.kind, now)
			if err == nil {
				t.Fatalf("Verify accepted the token: claims %+v", got)
			}
			if !errors.Is(err, domain.ErrInvalidToken) {
				t.Errorf("err = %v, want it to match domain.ErrInvalidToken", err)
			}
			if domain.ErrorCode(err) != domain.CodeInvalidToken {
				t.Errorf("ErrorCode(err) = %q, want %q", domain.ErrorCode(err), domain.CodeInvalidToken)
			}
			if !strings.Contains(err.Error(), tt.wantReason) {
				t.Errorf("err = %q, want reason %q", err, tt.wantReason)
			}
			if tt.token != "" && strings.Contains(err.Error(), tt.token) {
				t.Errorf("err %q contains the token", err)
			}
			if !reflect.DeepEqual(got, domain.Claims{}) {
				t.Errorf("claims = %+v, want zero value on rejection", got)
			}
		})
	}
}

func TestIssueErrors(t *testing.T) {
	tokens := newTokens(t, newKey(t, elliptic.P256()))
	failing, err := token.New(token.Config{
		Keys: oneKey(newKey(t, elliptic.P256())), Issuer: issuer, AccessTTL: accessTTL, RefreshTTL: refreshTTL,
		Random: errReader{},
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	tests := []struct {
		name   string
		tokens *token.Tokens
		spec   ports.TokenSpec
	}{
		{"unknown kind", tokens, ports.TokenSpec{Kind: domain.TokenKind(0), UserID: "user-123", SessionID: "s"}},
		{"empty user id", tokens, ports.TokenSpec{Kind: domain.AccessToken, SessionID: "s"}},
		{"empty session id", tokens, ports.TokenSpec{Kind: domain.AccessToken, UserID: "user-123"}},
		{"random source fails", failing, ports.TokenSpec{Kind: domain.AccessToken, UserID: "user-123", SessionID: "s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, _, err := tt.tokens.Issue(tt.spec, now)
			if err == nil {
				t.Fatalf("Issue returned token %q, want an error", tok)
			}
		})
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("entropy exhausted") }

func TestNewRejectsBadConfig(t *testing.T) {
	key := newKey(t, elliptic.P256())
	good := token.Config{
		Keys: oneKey(key), Issuer: issuer, AccessTTL: accessTTL, RefreshTTL: refreshTTL, Random: rand.Reader,
	}
	tests := []struct {
		name   string
		mutate func(*token.Config)
	}{
		{"no key", func(c *token.Config) { c.Keys = nil }},
		{"nil key", func(c *token.Config) { c.Keys = []ports.SigningKey{{Created: now}} }},
		{"P-384 key", func(c *token.Config) { c.Keys = oneKey(newKey(t, elliptic.P384())) }},
		{"undated newer key", func(c *token.Config) {
			c.Keys = []ports.SigningKey{{Private: key}, {Private: newKey(t, elliptic.P256())}}
		}},
		{"same key twice", func(c *token.Config) {
			c.Keys = []ports.SigningKey{{Private: key, Created: now}, {Private: key, Created: now}}
		}},
		{"nil key among others", func(c *token.Config) {
			c.Keys = []ports.SigningKey{{Private: key}, {Created: now}}
		}},
		{"activation going backwards", func(c *token.Config) {
			c.Keys = []ports.SigningKey{
				{Private: key, Created: now, ActiveFrom: now.Add(2 * time.Hour)},
				{Private: newKey(t, elliptic.P256()), Created: now.Add(time.Hour)},
			}
		}},
		{"no issuer", func(c *token.Config) { c.Issuer = "" }},
		{"no random source", func(c *token.Config) { c.Random = nil }},
		{"zero access TTL", func(c *token.Config) { c.AccessTTL = 0 }},
		{"negative refresh TTL", func(c *token.Config) { c.RefreshTTL = -time.Hour }},
		{"fractional TTL", func(c *token.Config) { c.AccessTTL = 1500 * time.Millisecond }},
	}
	if _, err := token.New(good); err != nil {
		t.Fatalf("New(good config): %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.mutate(&cfg)
			if _, err := token.New(cfg); err == nil {
				t.Error("New succeeded, want an error")
			}
		})
	}
}

// fixedKey is the P-256 key whose scalar is the bytes 1..32. Its expected
// thumbprint and coordinates were computed with an independent
// implementation (Python's cryptography package and hashlib).
func fixedKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	scalar := make([]byte, 32)
	for i := range scalar {
		scalar[i] = byte(i + 1)
	}
	key, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), scalar)
	if err != nil {
		t.Fatalf("parse raw key: %v", err)
	}
	return key
}

const (
	fixedKeyX   = "UVw9brnjlrkE0_7Kf1T9zQzB6Ze_N13KUVrQpsO0A18"
	fixedKeyY   = "RTa-OlDzGPv5pUdZAqIhUCvvDVfgjFOyzApW8X2fk1Q"
	fixedKeyKID = "6UoWwDCkLjV0J-pQG8c0THxbVhBcpR0AZDift1Yl5DM"
)

func TestThumbprintKnownAnswer(t *testing.T) {
	key := fixedKey(t)
	got, err := token.Thumbprint(&key.PublicKey)
	if err != nil {
		t.Fatalf("Thumbprint: %v", err)
	}
	if got != fixedKeyKID {
		t.Errorf("Thumbprint = %q, want %q", got, fixedKeyKID)
	}
	if kid := newTokens(t, key).KeyID(now); kid != fixedKeyKID {
		t.Errorf("KeyID = %q, want %q", kid, fixedKeyKID)
	}
}

func TestJWKS(t *testing.T) {
	key := fixedKey(t)
	tokens := newTokens(t, key)

	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(tokens.JWKS(), &set); err != nil {
		t.Fatalf("JWKS is not JSON: %v\n%s", err, tokens.JWKS())
	}
	if len(set.Keys) != 1 {
		t.Fatalf("JWKS has %d keys, want 1", len(set.Keys))
	}
	got := set.Keys[0]
	want := map[string]string{
		"kty": "EC", "crv": "P-256", "x": fixedKeyX, "y": fixedKeyY,
		"kid": fixedKeyKID, "use": "sig", "alg": "ES256",
	}
	if len(got) != len(want) {
		t.Errorf("JWK has members %v, want exactly %v (no private part)", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("JWK %s = %q, want %q", k, got[k], v)
		}
	}

	// The published coordinates alone must verify a token the service issued.
	x, errX := base64.RawURLEncoding.DecodeString(got["x"])
	y, errY := base64.RawURLEncoding.DecodeString(got["y"])
	if errX != nil || errY != nil {
		t.Fatalf("decode coordinates: %v, %v", errX, errY)
	}
	point := append(append([]byte{4}, x...), y...)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	if err != nil {
		t.Fatalf("rebuild public key: %v", err)
	}
	tok, _ := issue(t, tokens, domain.AccessToken, now)
	parsed, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return pub, nil },
		jwt.WithValidMethods([]string{"ES256"}), jwt.WithTimeFunc(func() time.Time { return now }))
	if err != nil || !parsed.Valid {
		t.Fatalf("token does not verify with the JWKS key: %v", err)
	}
	if parsed.Header["kid"] != got["kid"] {
		t.Errorf("token kid = %v, JWKS kid = %v", parsed.Header["kid"], got["kid"])
	}
}

func newTokensWith(t *testing.T, cfg token.Config) *token.Tokens {
	t.Helper()
	cfg.Issuer, cfg.AccessTTL, cfg.RefreshTTL, cfg.Random = issuer, accessTTL, refreshTTL, rand.Reader
	tokens, err := token.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return tokens
}

func jwksKids(t *testing.T, tokens *token.Tokens) []string {
	t.Helper()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(tokens.JWKS(), &set); err != nil {
		t.Fatalf("JWKS is not JSON: %v", err)
	}
	kids := make([]string, len(set.Keys))
	for i, k := range set.Keys {
		kids[i] = k.Kid
	}
	return kids
}

// After a rotation and a restart the new key signs, tokens signed with the
// old key keep working until they could have expired, and the JWKS
// publishes both keys.
func TestRotatedKeys(t *testing.T) {
	old := ports.SigningKey{Private: newKey(t, elliptic.P256())} // undated, as in a file from before rotation
	rotatedAt := now
	current := ports.SigningKey{Private: newKey(t, elliptic.P256()), Created: rotatedAt}
	oldKid, currentKid := kidOf(t, old), kidOf(t, current)
	retires := rotatedAt.Add(max(accessTTL, refreshTTL))

	// The worst case: the service signed with the old key right up to its
	// restart, some time after the rotation.
	beforeRestart := newTokensWith(t, token.Config{Keys: []ports.SigningKey{old}})
	oldRefresh, _ := issue(t, beforeRestart, domain.RefreshToken, rotatedAt.Add(time.Minute))
	oldAccess, _ := issue(t, beforeRestart, domain.AccessToken, rotatedAt.Add(time.Minute))

	tokens := newTokensWith(t, token.Config{Keys: []ports.SigningKey{old, current}})
	if got := tokens.KeyID(now); got != currentKid {
		t.Errorf("KeyID = %q, want the newest key's %q", got, currentKid)
	}
	fresh, _ := issue(t, tokens, domain.AccessToken, rotatedAt.Add(time.Hour))
	if got := segment(t, fresh, 0)["kid"]; got != currentKid {
		t.Errorf("new token kid = %v, want %q", got, currentKid)
	}
	gotKids, wantKids := jwksKids(t, tokens), []string{oldKid, currentKid}
	slices.Sort(wantKids)
	if !slices.Equal(gotKids, wantKids) {
		t.Errorf("JWKS kids = %v, want %v", gotKids, wantKids)
	}

	// Tokens that claim to outlive the old key: only its retirement stops them.
	longLived := with(goodClaims(), "exp", retires.Add(24*time.Hour).Unix())
	oldForever := forge(t, jwt.SigningMethodES256, old.Private, map[string]any{"kid": oldKid, "typ": "at+jwt"}, longLived)
	currentForever := forge(t, jwt.SigningMethodES256, current.Private, map[string]any{"kid": currentKid, "typ": "at+jwt"}, longLived)
	// Once pruned from the file, the old key is unknown.
	pruned := newTokensWith(t, token.Config{Keys: []ports.SigningKey{current}})

	tests := []struct {
		name       string
		tokens     *token.Tokens
		token      string
		kind       domain.TokenKind
		at         time.Time
		wantReason string // empty: accepted
	}{
		{"old access token after restart", tokens, oldAccess, domain.AccessToken, rotatedAt.Add(2 * time.Minute), ""},
		{"old refresh token after restart", tokens, oldRefresh, domain.RefreshToken, rotatedAt.Add(29 * 24 * time.Hour), ""},
		{"new token", tokens, fresh, domain.AccessToken, rotatedAt.Add(time.Hour), ""},
		{"old key, last second before retirement", tokens, oldForever, domain.AccessToken, retires.Add(-time.Second), ""},
		{"old key at retirement", tokens, oldForever, domain.AccessToken, retires, "retired signing key"},
		{"old key after retirement", tokens, oldForever, domain.AccessToken, retires.Add(time.Hour), "retired signing key"},
		{"signing key does not retire", tokens, currentForever, domain.AccessToken, retires.Add(time.Hour), ""},
		{"old key pruned from the file", pruned, oldForever, domain.AccessToken, rotatedAt.Add(time.Hour), "unknown signing key"},
		{"new key unknown to a service not restarted", beforeRestart, fresh, domain.AccessToken, rotatedAt.Add(time.Hour), "unknown signing key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.tokens.Verify(tt.token, tt.kind, tt.at)
			if tt.wantReason == "" {
				if err != nil {
					t.Fatalf("Verify: %v, want the token accepted", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Verify accepted the token, want %q", tt.wantReason)
			}
			if !errors.Is(err, domain.ErrInvalidToken) || !strings.Contains(err.Error(), tt.wantReason) {
				t.Errorf("err = %v, want domain.ErrInvalidToken with reason %q", err, tt.wantReason)
			}
		})
	}
}

func TestAudience(t *testing.T) {
	key := newKey(t, elliptic.P256())
	const api = "https://api.example.test"
	forAPI := newTokensWith(t, token.Config{Keys: oneKey(key), Audience: api})
	byDefault := newTokensWith(t, token.Config{Keys: oneKey(key)})
	kid := forAPI.KeyID(now)
	apiToken, _ := issue(t, forAPI, domain.AccessToken, now)
	defaultToken, _ := issue(t, byDefault, domain.AccessToken, now)
	header := map[string]any{"kid": kid, "typ": "at+jwt"}

	if aud, ok := segment(t, apiToken, 1)["aud"].([]any); !ok || len(aud) != 1 || aud[0] != api {
		t.Errorf("aud = %v, want [%q]", segment(t, apiToken, 1)["aud"], api)
	}
	tests := []struct {
		name   string
		tokens *token.Tokens
		token  string
		wantOK bool
	}{
		{"configured audience", forAPI, apiToken, true},
		{"token for the default audience", forAPI, defaultToken, false},
		{"token for the configured audience at the default", byDefault, apiToken, false},
		{"default audience", byDefault, defaultToken, true},
		{"ours among several audiences", forAPI,
			forge(t, jwt.SigningMethodES256, key, header, with(goodClaims(), "aud", []string{"https://other.example", api})), true},
		{"audience as a single string", forAPI, forge(t, jwt.SigningMethodES256, key, header, with(goodClaims(), "aud", api)), true},
		{"audience differing in case", forAPI,
			forge(t, jwt.SigningMethodES256, key, header, with(goodClaims(), "aud", strings.ToUpper(api))), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.tokens.Verify(tt.token, domain.AccessToken, now)
			if gotOK := err == nil; gotOK != tt.wantOK {
				t.Fatalf("Verify: err = %v, want ok = %v", err, tt.wantOK)
			}
			if err != nil && !strings.Contains(err.Error(), "wrong audience") {
				t.Errorf("err = %v, want reason %q", err, "wrong audience")
			}
		})
	}
}

// TestMFATokensAndAMR: the token of a login's second step stands for
// nothing else, needs no session, and lives five minutes; the methods of a
// login ride in access and refresh tokens' "amr".
func TestMFATokensAndAMR(t *testing.T) {
	tokens := newTokens(t, newKey(t, elliptic.P256()))
	mfa, claims, err := tokens.Issue(ports.TokenSpec{Kind: domain.MFAToken, UserID: "user-123", ID: "challenge-1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if claims.ID != "challenge-1" || !claims.ExpiresAt.Equal(claims.IssuedAt.Add(5*time.Minute)) {
		t.Errorf("mfa claims = %+v, want the challenge's id and five minutes", claims)
	}
	if segment(t, mfa, 0)["typ"] != "mfa+jwt" {
		t.Errorf("typ = %v", segment(t, mfa, 0)["typ"])
	}
	if got, err := tokens.Verify(mfa, domain.MFAToken, now.Add(4*time.Minute)); err != nil || got.ID != "challenge-1" {
		t.Errorf("Verify(mfa) = %+v, %v", got, err)
	}
	for _, kind := range []domain.TokenKind{domain.AccessToken, domain.RefreshToken} {
		if _, err := tokens.Verify(mfa, kind, now); !errors.Is(err, domain.ErrInvalidToken) {
			t.Errorf("an mfa token passed as %v: %v", kind, err)
		}
	}
	if _, err := tokens.Verify(mfa, domain.MFAToken, now.Add(5*time.Minute+time.Second)); !errors.Is(err, domain.ErrInvalidToken) {
		t.Errorf("an mfa token after five minutes: %v", err)
	}
	refresh, _ := issue(t, tokens, domain.RefreshToken, now)
	if _, err := tokens.Verify(refresh, domain.MFAToken, now); !errors.Is(err, domain.ErrInvalidToken) {
		t.Errorf("a refresh token passed as an mfa token: %v", err)
	}

	amr := []string{domain.AMRPassword, domain.AMROTP}
	access, _, err := tokens.Issue(ports.TokenSpec{Kind: domain.AccessToken, UserID: "user-123", SessionID: "s", AMR: amr}, now)
	if err != nil {
		t.Fatal(err)
	}
	if got := segment(t, access, 1)["amr"]; fmt.Sprint(got) != "[pwd otp]" {
		t.Errorf("amr claim = %v, want [pwd otp]", got)
	}
	got, err := tokens.Verify(access, domain.AccessToken, now)
	if err != nil || !reflect.DeepEqual(got.AMR, amr) {
		t.Errorf("Verify = %+v, %v; want amr %v", got, err, amr)
	}
}
