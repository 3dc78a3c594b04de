package token_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
	"time"

	"authapi/adapters/token"
	"authapi/domain"
	"authapi/ports"
)

// benchTokens returns Tokens with a fresh P-256 key and the service's
// default lifetimes.
func benchTokens(b *testing.B) *token.Tokens {
	b.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatalf("generate key: %v", err)
	}
	tokens, err := token.New(token.Config{
		Keys: oneKey(key), Issuer: issuer, AccessTTL: accessTTL, RefreshTTL: refreshTTL, Random: rand.Reader,
	})
	if err != nil {
		b.Fatalf("New: %v", err)
	}
	return tokens
}

// benchSpec is a token of a login: a user id and a session id of the
// lengths the service uses (UUIDs).
func benchSpec(kind domain.TokenKind) ports.TokenSpec {
	return ports.TokenSpec{
		Kind:      kind,
		UserID:    "0194694c-5dc0-7c3d-9a4f-2e5b6c7d8e9f",
		SessionID: "0194694c-5dc0-7c3d-9a4f-2e5b6c7d8ea0",
	}
}

// BenchmarkIssue signs one access token, as every login and refresh does.
func BenchmarkIssue(b *testing.B) {
	tokens := benchTokens(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := tokens.Issue(benchSpec(domain.AccessToken), now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify checks one access token, as every request to a protected
// route does; BenchmarkVerifyRefresh does the same for a refresh token.
func BenchmarkVerify(b *testing.B) {
	benchmarkVerify(b, domain.AccessToken)
}

func BenchmarkVerifyRefresh(b *testing.B) {
	benchmarkVerify(b, domain.RefreshToken)
}

func benchmarkVerify(b *testing.B, kind domain.TokenKind) {
	tokens := benchTokens(b)
	tok, _, err := tokens.Issue(benchSpec(kind), now)
	if err != nil {
		b.Fatal(err)
	}
	at := now.Add(time.Minute)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tokens.Verify(tok, kind, at); err != nil {
			b.Fatal(err)
		}
	}
}
