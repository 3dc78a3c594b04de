package token_test

import (
	"crypto/elliptic"
	"errors"
	"reflect"
	"testing"
	"time"

	"authapi/domain"
)

// A remembered verification must not outlive the token, nor let a token be
// used as the other kind.
func TestVerifiedTokensStayBoundByTheirClaims(t *testing.T) {
	tokens := newTokens(t, newKey(t, elliptic.P256()))
	access, claims := issue(t, tokens, domain.AccessToken, now)
	for i := 0; i < 2; i++ { // the second call is answered from the cache
		got, err := tokens.Verify(access, domain.AccessToken, now.Add(time.Minute))
		if err != nil || !reflect.DeepEqual(got, claims) {
			t.Fatalf("Verify #%d = %+v, %v; want %+v", i+1, got, err, claims)
		}
	}
	tests := []struct {
		name string
		kind domain.TokenKind
		at   time.Time
	}{
		{"as a refresh token", domain.RefreshToken, now.Add(time.Minute)},
		{"at its expiry", domain.AccessToken, claims.ExpiresAt},
		{"after its expiry", domain.AccessToken, claims.ExpiresAt.Add(time.Hour)},
		{"before it was issued", domain.AccessToken, now.Add(-time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tokens.Verify(access, tt.kind, tt.at); !errors.Is(err, domain.ErrInvalidToken) {
				t.Errorf("Verify = %v, want ErrInvalidToken", err)
			}
		})
	}
}
