package porttest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authapi/ports"
)

// NewKeyStore returns an empty key store of its own for each call.
type NewKeyStore func(t *testing.T) ports.KeyStore

// TestKeyStore runs the ports.KeyStore contract against the stores
// newKeyStore returns: the set round-trips whole and in order, updates are
// atomic, and concurrent updates take turns.
func TestKeyStore(t *testing.T, newKeyStore NewKeyStore) {
	t.Run("fixtures set every field", func(t *testing.T) {
		assertEveryFieldSet(t, "signing key", testSigningKey(t, baseTime(), time.Hour))
	})
	t.Run("a new store is empty", func(t *testing.T) { testKeysEmpty(t, newKeyStore) })
	t.Run("keys round-trip in order", func(t *testing.T) { testKeysRoundTrip(t, newKeyStore) })
	t.Run("a refused update changes nothing", func(t *testing.T) { testKeysRefused(t, newKeyStore) })
	t.Run("concurrent updates take turns", func(t *testing.T) { testKeysTakeTurns(t, newKeyStore) })
}

// testSigningKey makes a key created at created that signs after delay.
// Key times are whole seconds, the precision every store must keep.
func testSigningKey(t *testing.T, created time.Time, delay time.Duration) ports.SigningKey {
	t.Helper()
	private, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	created = created.Truncate(time.Second)
	return ports.SigningKey{Private: private, Created: created, ActiveFrom: created.Add(delay)}
}

// sameKeys compares key sets: the private keys by value, a zero ActiveFrom
// as the Created it stands for.
func sameKeys(t *testing.T, what string, got, want []ports.SigningKey) {
	t.Helper()
	norm := func(keys []ports.SigningKey) []ports.SigningKey {
		out := make([]ports.SigningKey, len(keys))
		for i, k := range keys {
			if k.ActiveFrom.IsZero() {
				k.ActiveFrom = k.Created
			}
			out[i] = k
		}
		return out
	}
	opt := cmp.Comparer(func(a, b *ecdsa.PrivateKey) bool { return a.Equal(b) })
	if d := cmp.Diff(norm(want), norm(got), opt); d != "" {
		t.Errorf("%s differs (-want +got):\n%s", what, d)
	}
}

func keysOf(t *testing.T, s ports.KeyStore) []ports.SigningKey {
	t.Helper()
	keys, err := s.SigningKeys(t.Context())
	if err != nil {
		t.Fatalf("SigningKeys: %v", err)
	}
	return keys
}

func testKeysEmpty(t *testing.T, newKeyStore NewKeyStore) {
	s := newKeyStore(t)
	if keys := keysOf(t, s); len(keys) != 0 {
		t.Errorf("a new store holds %d keys", len(keys))
	}
	// An update that leaves an empty set empty is allowed and saves nothing.
	if err := s.UpdateSigningKeys(t.Context(), func(keys []ports.SigningKey) ([]ports.SigningKey, error) { return keys, nil }); err != nil {
		t.Fatalf("UpdateSigningKeys: %v", err)
	}
	if keys := keysOf(t, s); len(keys) != 0 {
		t.Errorf("an empty update left %d keys", len(keys))
	}
}

func testKeysRoundTrip(t *testing.T, newKeyStore NewKeyStore) {
	s := newKeyStore(t)
	first := testSigningKey(t, baseTime(), 0)
	second := testSigningKey(t, baseTime().Add(24*time.Hour), 6*time.Minute)
	if err := s.UpdateSigningKeys(t.Context(), func(keys []ports.SigningKey) ([]ports.SigningKey, error) {
		if len(keys) != 0 {
			t.Errorf("the first update saw %d keys", len(keys))
		}
		return []ports.SigningKey{first}, nil
	}); err != nil {
		t.Fatalf("UpdateSigningKeys: %v", err)
	}
	sameKeys(t, "keys after the first update", keysOf(t, s), []ports.SigningKey{first})

	var seen []ports.SigningKey
	if err := s.UpdateSigningKeys(t.Context(), func(keys []ports.SigningKey) ([]ports.SigningKey, error) {
		seen = keys
		return append(keys, second), nil
	}); err != nil {
		t.Fatalf("UpdateSigningKeys: %v", err)
	}
	sameKeys(t, "the set an update is given", seen, []ports.SigningKey{first})
	sameKeys(t, "keys after the second update", keysOf(t, s), []ports.SigningKey{first, second})

	// Dropping the oldest key, as a rotation drops a retired one.
	if err := s.UpdateSigningKeys(t.Context(), func(keys []ports.SigningKey) ([]ports.SigningKey, error) {
		return keys[1:], nil
	}); err != nil {
		t.Fatalf("UpdateSigningKeys: %v", err)
	}
	sameKeys(t, "keys after dropping the oldest", keysOf(t, s), []ports.SigningKey{second})
}

func testKeysRefused(t *testing.T, newKeyStore NewKeyStore) {
	s := newKeyStore(t)
	key := testSigningKey(t, baseTime(), time.Minute)
	if err := s.UpdateSigningKeys(t.Context(), func([]ports.SigningKey) ([]ports.SigningKey, error) {
		return []ports.SigningKey{key}, nil
	}); err != nil {
		t.Fatal(err)
	}
	refused := errors.New("refused")
	err := s.UpdateSigningKeys(t.Context(), func(keys []ports.SigningKey) ([]ports.SigningKey, error) {
		return append(keys, testSigningKey(t, baseTime(), 0)), refused
	})
	if !errors.Is(err, refused) {
		t.Errorf("UpdateSigningKeys = %v, want the update's error", err)
	}
	sameKeys(t, "keys after a refused update", keysOf(t, s), []ports.SigningKey{key})
}

// testKeysTakeTurns updates one set from many goroutines at once, as
// replicas rotating together do: each update sees the set the one before
// left, so none is lost.
func testKeysTakeTurns(t *testing.T, newKeyStore NewKeyStore) {
	s := newKeyStore(t)
	const updates = 6
	var wg sync.WaitGroup
	errs := make([]error, updates)
	for i := range updates {
		wg.Go(func() {
			errs[i] = s.UpdateSigningKeys(t.Context(), func(keys []ports.SigningKey) ([]ports.SigningKey, error) {
				created := baseTime()
				if len(keys) > 0 {
					created = keys[len(keys)-1].Created.Add(time.Hour)
				}
				return append(keys, testSigningKey(t, created, 0)), nil
			})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if keys := keysOf(t, s); len(keys) != updates {
		t.Errorf("%d keys after %d updates that each added one: updates were lost", len(keys), updates)
	}
}
