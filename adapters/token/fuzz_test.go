package token_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"authapi/adapters/token"
	"authapi/domain"
	"authapi/ports"
)

// The fuzz target signs with a fixed key, so that the committed corpus can
// hold tokens this key really signed but that must still be refused (expired,
// wrong issuer, wrong type...). Its scalar is the bytes 1..32.
var (
	fuzzIssuedAt = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	fuzzVerifyAt = fuzzIssuedAt.Add(time.Minute)
)

const fuzzIssuer = "https://auth.example.test"

func fuzzKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	scalar := make([]byte, 32)
	for i := range scalar {
		scalar[i] = byte(i + 1)
	}
	key, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), scalar)
	if err != nil {
		tb.Fatalf("parse raw key: %v", err)
	}
	return key
}

// fuzzSign signs claims under header fields with method and key, bypassing
// the adapter; a nil header value deletes the field.
func fuzzSign(tb testing.TB, method jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	tb.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(key)
	if err != nil {
		tb.Fatalf("sign: %v", err)
	}
	return s
}

// FuzzVerify presents arbitrary strings as tokens of each kind. Only the
// tokens issued in the setup verify, and only as their own kind; everything
// else is refused with an error matching domain.ErrInvalidToken whose text
// names the failed check without quoting the token.
//
// ECDSA signatures are randomized and every fuzzing process runs the setup,
// so an issued token is known by its signed part (header and claims, made
// deterministic with a fixed id and time): the fuzzer cannot sign or MAC, so
// a token that verifies must carry the signed part of an issued one, and a
// signature in canonical encoding.
func FuzzVerify(f *testing.F) {
	key := fuzzKey(f)
	tokens, err := token.New(token.Config{
		Keys: []ports.SigningKey{{Private: key}}, Issuer: fuzzIssuer, AccessTTL: 15 * time.Minute, RefreshTTL: 720 * time.Hour, Random: rand.Reader,
	})
	if err != nil {
		f.Fatal(err)
	}
	issued := map[string]domain.Claims{} // by signed part
	for _, kind := range []domain.TokenKind{domain.AccessToken, domain.RefreshToken} {
		spec := ports.TokenSpec{Kind: kind, UserID: "user-1", SessionID: "session-1", ID: "id-" + kind.String()}
		s, claims, err := tokens.Issue(spec, fuzzIssuedAt)
		if err != nil {
			f.Fatal(err)
		}
		parts := strings.Split(s, ".")
		issued[parts[0]+"."+parts[1]] = claims
		f.Add(s)
		// Base64 decoders skip line breaks; a token must not.
		f.Add(s[:len(s)-10] + "\r" + s[len(s)-10:])
		f.Add(s[:len(s)-10] + "\n" + s[len(s)-10:])
		f.Add(parts[0] + "." + parts[1] + ".")
		f.Add(s[:len(s)-1])
		f.Add(s + "=")
	}

	claims := jwt.MapClaims{
		"iss": fuzzIssuer, "sub": "user-1", "sid": "session-1", "jti": "id-1",
		"iat": fuzzIssuedAt.Unix(), "exp": fuzzIssuedAt.Add(15 * time.Minute).Unix(),
	}
	with := func(k string, v any) jwt.MapClaims {
		out := jwt.MapClaims{}
		for name, value := range claims {
			out[name] = value
		}
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
		return out
	}
	access := map[string]any{"typ": "at+jwt", "kid": tokens.KeyID(fuzzIssuedAt)}
	refresh := map[string]any{"typ": "refresh+jwt", "kid": tokens.KeyID(fuzzIssuedAt)}
	header := func(k string, v any) map[string]any {
		out := map[string]any{"typ": "at+jwt", "kid": tokens.KeyID(fuzzIssuedAt)}
		out[k] = v
		return out
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		f.Fatal(err)
	}
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		fuzzSign(f, jwt.SigningMethodES256, key, access, with("exp", fuzzIssuedAt.Unix())),
		fuzzSign(f, jwt.SigningMethodES256, key, access, with("iss", "https://evil.example")),
		fuzzSign(f, jwt.SigningMethodES256, key, access, with("sid", nil)),
		fuzzSign(f, jwt.SigningMethodES256, key, access, with("sub", "")),
		fuzzSign(f, jwt.SigningMethodES256, key, access, with("iat", fuzzVerifyAt.Add(time.Hour).Unix())),
		fuzzSign(f, jwt.SigningMethodES256, key, access, with("nbf", fuzzVerifyAt.Add(time.Hour).Unix())),
		fuzzSign(f, jwt.SigningMethodES256, key, header("typ", nil), claims),
		fuzzSign(f, jwt.SigningMethodES256, key, header("kid", "bogus"), claims),
		fuzzSign(f, jwt.SigningMethodES256, key, header("crit", []string{"exp"}), claims),
		fuzzSign(f, jwt.SigningMethodES256, other, access, claims),
		fuzzSign(f, jwt.SigningMethodHS256, pub, header("alg", "HS256"), claims),
		fuzzSign(f, jwt.SigningMethodHS256, pub, refresh, claims),
		fuzzSign(f, jwt.SigningMethodES256, key, refresh, claims),
		fuzzSign(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, access, claims),
		"", ".", "..", "...", "a.b.c", "e30.e30.", "e30.e30.e30",
		strings.Repeat("A", token.MaxTokenBytes+1),
		"Bearer " + base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256"}`)),
	} {
		f.Add(s)
	}

	f.Fuzz(func(t *testing.T, s string) {
		for _, kind := range []domain.TokenKind{domain.AccessToken, domain.RefreshToken, 0, 3} {
			got, err := tokens.Verify(s, kind, fuzzVerifyAt)
			if err == nil {
				signed, signature, _ := cutLast(s, ".")
				want, ok := issued[signed]
				if !ok || want.Kind != kind || !canonicalSignature(signature, kind) {
					t.Fatalf("Verify(%q, %v) accepted a token that was not issued as that kind: %+v", s, kind, got)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("claims = %+v, want %+v", got, want)
				}
				continue
			}
			if !errors.Is(err, domain.ErrInvalidToken) {
				t.Errorf("error %v does not match domain.ErrInvalidToken", err)
			}
			if !reflect.DeepEqual(got, domain.Claims{}) {
				t.Errorf("refused token yields claims %+v", got)
			}
			reason, ok := strings.CutPrefix(err.Error(), domain.ErrInvalidToken.Error()+": ")
			if !ok || len(reason) > 40 || strings.ContainsFunc(reason, func(r rune) bool { return r != ' ' && (r < 'a' || r > 'z') }) {
				t.Errorf("error %q is not a fixed description of the failed check", err)
			}
		}
	})
}

// cutLast splits s around the last sep.
func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

// canonicalSignature reports whether sig is the one unpadded base64url
// encoding of a signature of kind: 64 bytes of ES256 for an access token,
// 32 bytes of HS256 for a refresh token.
func canonicalSignature(sig string, kind domain.TokenKind) bool {
	size := 64
	if kind == domain.RefreshToken {
		size = 32
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(sig)
	return err == nil && len(raw) == size && base64.RawURLEncoding.EncodeToString(raw) == sig
}
