package token_test

import (
	"crypto/elliptic"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"authapi/adapters/token"
	"authapi/domain"
	"authapi/ports"
)

// assertVerify checks that Verify accepts tok at at, or refuses it with
// wantReason.
func assertVerify(t *testing.T, tokens *token.Tokens, tok string, kind domain.TokenKind, at time.Time, wantReason string) {
	t.Helper()
	_, err := tokens.Verify(tok, kind, at)
	if wantReason == "" {
		if err != nil {
			t.Errorf("Verify(%v): %v, want the token accepted", kind, err)
		}
		return
	}
	if !errors.Is(err, domain.ErrInvalidToken) || !strings.Contains(err.Error(), wantReason) {
		t.Errorf("Verify(%v) = %v, want domain.ErrInvalidToken with reason %q", kind, err, wantReason)
	}
}

func sortedKids(t *testing.T, keys ...ports.SigningKey) []string {
	t.Helper()
	kids := make([]string, len(keys))
	for i, k := range keys {
		kids[i] = kidOf(t, k)
	}
	slices.Sort(kids)
	return kids
}

// SetKeys replaces the key set of a running service: a key it removes no
// longer verifies, even for a token verified (and so cached) before, and a
// key it adds verifies and is published.
func TestSetKeys(t *testing.T) {
	a := ports.SigningKey{Private: newKey(t, elliptic.P256()), Created: now}
	b := ports.SigningKey{Private: newKey(t, elliptic.P256()), Created: now.Add(time.Minute)}
	tokens := newTokensWith(t, token.Config{Keys: []ports.SigningKey{a}})
	at := now.Add(2 * time.Minute)
	accessA, _ := issue(t, tokens, domain.AccessToken, at)
	refreshA, _ := issue(t, tokens, domain.RefreshToken, at)
	assertVerify(t, tokens, accessA, domain.AccessToken, at, "") // now in the cache

	// The steps run in order, each on the set the previous one left.
	steps := []struct {
		name       string
		keys       []ports.SigningKey
		wantErr    string
		wantSigner ports.SigningKey
		wantJWKS   []ports.SigningKey
		wantA      string // Verify's reason for a's tokens; empty: accepted
	}{
		{"b replaces a", []ports.SigningKey{b}, "", b, []ports.SigningKey{b}, "unknown signing key"},
		{"a comes back", []ports.SigningKey{a, b}, "", b, []ports.SigningKey{a, b}, ""},
		{"a set refused", []ports.SigningKey{{Created: now}}, "key 1", b, []ports.SigningKey{a, b}, ""},
		{"an empty set refused", nil, "no signing key", b, []ports.SigningKey{a, b}, ""},
		{"a alone again", []ports.SigningKey{a}, "", a, []ports.SigningKey{a}, ""},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			err := tokens.SetKeys(st.keys)
			if st.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), st.wantErr) {
					t.Errorf("SetKeys = %v, want an error mentioning %q", err, st.wantErr)
				}
			} else if err != nil {
				t.Fatalf("SetKeys: %v", err)
			}
			if got, want := tokens.KeyID(at), kidOf(t, st.wantSigner); got != want {
				t.Errorf("KeyID = %s, want %s", got, want)
			}
			if got, want := jwksKids(t, tokens), sortedKids(t, st.wantJWKS...); !slices.Equal(got, want) {
				t.Errorf("JWKS kids = %v, want %v", got, want)
			}
			assertVerify(t, tokens, accessA, domain.AccessToken, at, st.wantA)
			assertVerify(t, tokens, refreshA, domain.RefreshToken, at, st.wantA)

			fresh, _ := issue(t, tokens, domain.AccessToken, at)
			if got, want := segment(t, fresh, 0)["kid"], kidOf(t, st.wantSigner); got != want {
				t.Errorf("new token kid = %v, want %s", got, want)
			}
			assertVerify(t, tokens, fresh, domain.AccessToken, at, "")
		})
	}
}

// A next key is published and verifies at once, but signs only from its
// ActiveFrom; from then on the key before it retires like any older key.
func TestNextKey(t *testing.T) {
	current := ports.SigningKey{Private: newKey(t, elliptic.P256()), Created: now}
	activates := now.Add(time.Hour)
	next := ports.SigningKey{Private: newKey(t, elliptic.P256()), Created: now, ActiveFrom: activates}
	retires := activates.Add(keyLifetime)

	tokens := newTokensWith(t, token.Config{Keys: []ports.SigningKey{current}})
	before, _ := issue(t, tokens, domain.AccessToken, now)
	if err := tokens.SetKeys([]ports.SigningKey{current, next}); err != nil {
		t.Fatalf("SetKeys: %v", err)
	}
	if got, want := jwksKids(t, tokens), sortedKids(t, current, next); !slices.Equal(got, want) {
		t.Errorf("JWKS kids = %v, want %v: a next key is published at once", got, want)
	}

	tests := []struct {
		name       string
		at         time.Time
		wantSigner ports.SigningKey
	}{
		{"before its time", now, current},
		{"its last second as next key", activates.Add(-time.Second), current},
		{"at its time", activates, next},
		{"later", activates.Add(24 * time.Hour), next},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := kidOf(t, tt.wantSigner)
			if got := tokens.KeyID(tt.at); got != want {
				t.Errorf("KeyID = %s, want %s", got, want)
			}
			for _, kind := range []domain.TokenKind{domain.AccessToken, domain.RefreshToken} {
				tok, _ := issue(t, tokens, kind, tt.at)
				if got := segment(t, tok, 0)["kid"]; got != want {
					t.Errorf("%v token kid = %v, want %s", kind, got, want)
				}
				assertVerify(t, tokens, tok, kind, tt.at, "")
			}
		})
	}

	// A token of the next key, such as an instance that already signs with
	// it issues, verifies before the key signs here.
	nextOnly := newTokensWith(t, token.Config{Keys: []ports.SigningKey{next}})
	fromNext, _ := issue(t, nextOnly, domain.AccessToken, now)
	assertVerify(t, tokens, fromNext, domain.AccessToken, now, "")

	// The key before it verifies for a key lifetime after the next key's
	// time, not after its creation.
	long := forge(t, jwt.SigningMethodES256, current.Private, map[string]any{"kid": kidOf(t, current), "typ": "at+jwt"},
		with(goodClaims(), "exp", retires.Add(time.Hour).Unix()))
	assertVerify(t, tokens, before, domain.AccessToken, now.Add(time.Minute), "")
	assertVerify(t, tokens, long, domain.AccessToken, retires.Add(-time.Second), "")
	assertVerify(t, tokens, long, domain.AccessToken, retires, "retired signing key")
}

// Issue, Verify and JWKS run while SetKeys swaps the set; run with -race.
func TestSetKeysWhileInUse(t *testing.T) {
	a := ports.SigningKey{Private: newKey(t, elliptic.P256()), Created: now}
	b := ports.SigningKey{Private: newKey(t, elliptic.P256()), Created: now}
	tokens := newTokensWith(t, token.Config{Keys: []ports.SigningKey{a, b}})
	sets := [][]ports.SigningKey{{a, b}, {a}, {b}}

	stop := make(chan struct{})
	var swapper sync.WaitGroup
	swapper.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := tokens.SetKeys(sets[i%len(sets)]); err != nil {
				t.Errorf("SetKeys: %v", err)
				return
			}
		}
	})
	var users sync.WaitGroup
	for range 4 {
		users.Go(func() {
			for range 200 {
				tok, _, err := tokens.Issue(ports.TokenSpec{Kind: domain.AccessToken, UserID: "u", SessionID: "s"}, now)
				if err != nil {
					t.Errorf("Issue: %v", err)
					return
				}
				// The set may have changed since: unknown is a right answer.
				if _, err := tokens.Verify(tok, domain.AccessToken, now); err != nil && !strings.Contains(err.Error(), "unknown signing key") {
					t.Errorf("Verify: %v", err)
				}
				if len(tokens.JWKS()) == 0 {
					t.Error("empty JWKS")
				}
			}
		})
	}
	users.Wait()
	close(stop)
	swapper.Wait()
}
