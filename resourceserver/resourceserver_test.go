package resourceserver

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestNewRefusesBadConfig(t *testing.T) {
	issuer := newFakeIssuer(t, newTestKey(t, "key-1"))
	down := newFakeIssuer(t)
	down.server.Close()

	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"no issuer", testConfig(issuer, func(c *Config) { c.Issuer = "" }), "Issuer is required"},
		{"negative floor", testConfig(issuer, func(c *Config) { c.MinRefetchInterval = -time.Second }), "must not be negative"},
		{"negative leeway", testConfig(issuer, func(c *Config) { c.Leeway = -time.Second }), "must not be negative"},
		{"JWKS unreachable", testConfig(down, nil), "fetch the JWKS"},
		{"JWKS URL answers 404", testConfig(issuer, func(c *Config) { c.JWKSURL = issuer.server.URL + "/nothing" }), "fetch the JWKS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := New(t.Context(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New = %v, %v; want an error containing %q", v, err, tt.wantErr)
			}
		})
	}
}

// TestDefaultJWKSURL checks that the keys are looked for where authapi
// publishes them when only the issuer is given.
func TestDefaultJWKSURL(t *testing.T) {
	key := newTestKey(t, "key-1")
	issuer := newFakeIssuer(t, key)
	cfg := testConfig(issuer, func(c *Config) {
		c.Issuer = issuer.server.URL + "/" // a trailing slash is forgiven
		c.Audience = ""                    // defaults to the issuer, as in authapi
		c.JWKSURL = ""
	})
	v := newTestVerifier(t, cfg)
	if got := issuer.fetchCount(); got != 1 {
		t.Fatalf("JWKS fetched %d times at start, want 1", got)
	}
	claims := with(validClaims(), jwt.MapClaims{"iss": cfg.Issuer, "aud": []string{cfg.Issuer}})
	if _, err := v.Verify(t.Context(), key.sign(t, claims, nil)); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func TestVerifyErrorsMatchErrInvalidToken(t *testing.T) {
	key := newTestKey(t, "key-1")
	v := newTestVerifier(t, testConfig(newFakeIssuer(t, key), nil))
	for name, token := range map[string]string{
		"empty":       "",
		"garbled":     "a.b.c",
		"wrong type":  key.sign(t, validClaims(), func(h map[string]any) { h["typ"] = "refresh+jwt" }),
		"no subject":  key.sign(t, with(validClaims(), jwt.MapClaims{"sub": nil}), nil),
		"unknown kid": newTestKey(t, "key-2").sign(t, validClaims(), nil),
	} {
		if _, err := v.Verify(t.Context(), token); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: Verify error %v, want one matching ErrInvalidToken", name, err)
		}
	}
}

// TestVerifyReadsOneSpellingOnly: base64 decoding skips line breaks, and
// lenient decoding ignores the unused low bits of the last character, so
// without the character check and strict decoding one token would have many
// accepted spellings.
func TestVerifyReadsOneSpellingOnly(t *testing.T) {
	key := newTestKey(t, "key-1")
	v := newTestVerifier(t, testConfig(newFakeIssuer(t, key), nil))
	token := key.sign(t, validClaims(), nil)
	if _, err := v.Verify(t.Context(), token); err != nil {
		t.Fatalf("Verify(token): %v", err)
	}
	start, _ := part(token, 2)
	for _, bad := range []string{"\n", "\r", " ", "="} {
		respelled := token[:start+4] + bad + token[start+4:]
		if _, err := v.Verify(t.Context(), respelled); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("token with %q in its signature: Verify error %v, want ErrInvalidToken", bad, err)
		}
	}
	// A 64-byte signature takes 86 characters, the last carrying 2 bits of
	// it and 4 unused ones: flipping the lowest changes no signature byte.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, token[len(token)-1])
	respelled := token[:len(token)-1] + string(alphabet[last^1])
	if _, err := v.Verify(t.Context(), respelled); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("token with unused signature bits set: Verify error %v, want ErrInvalidToken", err)
	}
}

// TestKeyRotationRefetchesOnce is authapi rotating its key: the new key is
// published and signs from then on. The first token naming it makes the
// verifier refetch the JWKS once; later ones are served from the cache, and
// another unknown kid within the floor causes no fetch.
func TestKeyRotationRefetchesOnce(t *testing.T) {
	oldKey, newKey := newTestKey(t, "key-old"), newTestKey(t, "key-new")
	issuer := newFakeIssuer(t, oldKey)
	h, _ := protect(newTestVerifier(t, testConfig(issuer, nil)))
	assertFetches(t, issuer, 1, "at start")

	issuer.publish(t, oldKey, newKey)
	for i := range 3 {
		if rec := call(h, "Bearer "+newKey.sign(t, validClaims(), nil)); rec.Code != http.StatusNoContent {
			t.Fatalf("token %d by the new key: status %d, want %d", i, rec.Code, http.StatusNoContent)
		}
		assertFetches(t, issuer, 2, fmt.Sprintf("after token %d by the new key", i))
	}
	if rec := call(h, "Bearer "+oldKey.sign(t, validClaims(), nil)); rec.Code != http.StatusNoContent {
		t.Fatalf("token by the old key: status %d, want %d", rec.Code, http.StatusNoContent)
	}
	stranger := newTestKey(t, "key-stranger")
	if rec := call(h, "Bearer "+stranger.sign(t, validClaims(), nil)); rec.Code != http.StatusUnauthorized {
		t.Fatalf("token by an unknown key: status %d, want %d", rec.Code, http.StatusUnauthorized)
	}
	assertFetches(t, issuer, 2, "after an unknown kid within the floor")
}

// TestUnknownKeyIDWaitsForTheFloor: a token naming a key that is not
// published yet refetches once and fails; once the key is published, tokens
// naming it keep failing without a fetch until the floor has passed, and the
// first one after it refetches and passes.
func TestUnknownKeyIDWaitsForTheFloor(t *testing.T) {
	const floor = time.Second
	oldKey, newKey := newTestKey(t, "key-old"), newTestKey(t, "key-new")
	issuer := newFakeIssuer(t, oldKey)
	h, _ := protect(newTestVerifier(t, testConfig(issuer, func(c *Config) {
		c.MinRefetchInterval = floor
		// Shorter than the floor, so a request within it is refused at
		// once rather than waiting for the next refetch.
		c.FetchTimeout = floor / 4
	})))
	token := "Bearer " + newKey.sign(t, validClaims(), nil)

	start := time.Now()
	if rec := call(h, token); rec.Code != http.StatusUnauthorized {
		t.Fatalf("token by an unpublished key: status %d, want %d", rec.Code, http.StatusUnauthorized)
	}
	assertFetches(t, issuer, 2, "after the first unknown kid")

	issuer.publish(t, oldKey, newKey)
	if rec := call(h, token); rec.Code != http.StatusUnauthorized {
		t.Fatalf("within the floor: status %d, want %d", rec.Code, http.StatusUnauthorized)
	}
	if time.Since(start) < floor/4 {
		// Only meaningful while the floor has not passed; a machine slow
		// enough to get here later would see a legitimate refetch.
		assertFetches(t, issuer, 2, "within the floor")
	}

	time.Sleep(floor - time.Since(start) + 50*time.Millisecond)
	if rec := call(h, token); rec.Code != http.StatusNoContent {
		t.Fatalf("after the floor: status %d, want %d", rec.Code, http.StatusNoContent)
	}
	assertFetches(t, issuer, 3, "after the floor")
}

// TestUnknownKeyIDFloodFetchesOnce: many concurrent tokens, each naming a
// different made-up key, cause one refetch, not one each.
func TestUnknownKeyIDFloodFetchesOnce(t *testing.T) {
	issuer := newFakeIssuer(t, newTestKey(t, "key-1"))
	h, _ := protect(newTestVerifier(t, testConfig(issuer, nil)))
	forger := newTestKey(t, "")

	const requests = 200
	tokens := make([]string, requests)
	for i := range tokens {
		tokens[i] = "Bearer " + forger.sign(t, validClaims(), func(h map[string]any) { h["kid"] = fmt.Sprintf("forged-%d", i) })
	}
	codes := make([]int, requests)
	var wg sync.WaitGroup
	for i, token := range tokens {
		wg.Go(func() { codes[i] = call(h, token).Code })
	}
	wg.Wait()

	for i, code := range codes {
		if code != http.StatusUnauthorized {
			t.Errorf("request %d: status %d, want %d", i, code, http.StatusUnauthorized)
		}
	}
	assertFetches(t, issuer, 2, fmt.Sprintf("after %d unknown kids", requests))
}

// TestUnknownKeyIDFloodOverTime: a steady stream of made-up key ids refetches
// at most once per floor, and does refetch again after it.
func TestUnknownKeyIDFloodOverTime(t *testing.T) {
	const (
		floor    = 100 * time.Millisecond
		duration = 5 * floor
		workers  = 8
	)
	issuer := newFakeIssuer(t, newTestKey(t, "key-1"))
	h, _ := protect(newTestVerifier(t, testConfig(issuer, func(c *Config) {
		c.MinRefetchInterval = floor
		c.FetchTimeout = time.Second
	})))
	forger := newTestKey(t, "")

	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := 0; time.Since(start) < duration; i++ {
				kid := fmt.Sprintf("forged-%d-%d", w, i)
				token := forger.sign(t, validClaims(), func(h map[string]any) { h["kid"] = kid })
				if code := call(h, "Bearer "+token).Code; code != http.StatusUnauthorized {
					t.Errorf("forged kid %s: status %d, want %d", kid, code, http.StatusUnauthorized)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)

	refetches := issuer.fetchCount() - 1 // the first fetch is New's
	maxRefetches := 1 + int(elapsed/floor)
	if refetches > maxRefetches {
		t.Errorf("%d refetches in %v, want at most %d (one per %v)", refetches, elapsed, maxRefetches, floor)
	}
	if refetches < 2 {
		t.Errorf("%d refetches in %v, want at least 2: the floor must not stop refetching for good", refetches, elapsed)
	}
}

// TestWrongTypeCausesNoFetch: the header is checked before the key is looked
// up, so refresh tokens and other kinds cannot trigger refetches.
func TestWrongTypeCausesNoFetch(t *testing.T) {
	issuer := newFakeIssuer(t, newTestKey(t, "key-1"))
	h, _ := protect(newTestVerifier(t, testConfig(issuer, nil)))
	forger := newTestKey(t, "forged")
	pub, err := forger.priv.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	for name, token := range map[string]string{
		"refresh type":     forger.sign(t, validClaims(), func(h map[string]any) { h["typ"] = "refresh+jwt" }),
		"HS256":            hs256(t, pub, "at+jwt", "forged", validClaims()),
		"HS256 refresh":    hs256(t, pub, "refresh+jwt", "forged", validClaims()),
		"critical header":  forger.sign(t, validClaims(), func(h map[string]any) { h["crit"] = []string{"b64"} }),
		"alg none":         unsigned(t, "forged", validClaims()),
		"no type":          forger.sign(t, validClaims(), func(h map[string]any) { delete(h, "typ") }),
		"type of a JWT":    forger.sign(t, validClaims(), func(h map[string]any) { h["typ"] = "JWT" }),
		"kid not a string": forger.sign(t, validClaims(), func(h map[string]any) { h["kid"] = 7 }),
	} {
		if rec := call(h, "Bearer "+token); rec.Code != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want %d", name, rec.Code, http.StatusUnauthorized)
		}
	}
	assertFetches(t, issuer, 1, "after tokens of the wrong kind")
}

// TestPeriodicRefreshDropsRetiredKeys: once authapi stops publishing a key,
// the background refresh drops it, and its tokens stop passing.
func TestPeriodicRefreshDropsRetiredKeys(t *testing.T) {
	oldKey, newKey := newTestKey(t, "key-old"), newTestKey(t, "key-new")
	issuer := newFakeIssuer(t, oldKey, newKey)
	h, _ := protect(newTestVerifier(t, testConfig(issuer, func(c *Config) {
		c.RefreshInterval = 20 * time.Millisecond
	})))
	token := "Bearer " + oldKey.sign(t, validClaims(), nil)
	if rec := call(h, token); rec.Code != http.StatusNoContent {
		t.Fatalf("before retirement: status %d, want %d", rec.Code, http.StatusNoContent)
	}

	issuer.publish(t, newKey)
	deadline := time.Now().Add(5 * time.Second)
	for call(h, token).Code != http.StatusUnauthorized {
		if time.Now().After(deadline) {
			t.Fatalf("a retired key still verifies after 5s of refreshes every 20ms (%d fetches)", issuer.fetchCount())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCloseStopsTheBackgroundRefresh(t *testing.T) {
	issuer := newFakeIssuer(t, newTestKey(t, "key-1"))
	v := newTestVerifier(t, testConfig(issuer, func(c *Config) {
		c.RefreshInterval = 10 * time.Millisecond
	}))
	deadline := time.Now().Add(5 * time.Second)
	for issuer.fetchCount() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("no background refresh within 5s (%d fetches)", issuer.fetchCount())
		}
		time.Sleep(5 * time.Millisecond)
	}
	v.Close()
	time.Sleep(20 * time.Millisecond) // a refresh under way when Close ran
	before := issuer.fetchCount()
	time.Sleep(100 * time.Millisecond)
	if after := issuer.fetchCount(); after != before {
		t.Errorf("%d fetches after Close, want none", after-before)
	}
}

func assertFetches(t *testing.T, issuer *fakeIssuer, want int, when string) {
	t.Helper()
	if got := issuer.fetchCount(); got != want {
		t.Fatalf("%s: JWKS fetched %d times in all, want %d", when, got, want)
	}
}
