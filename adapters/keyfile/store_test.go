package keyfile

import (
	"crypto/rand"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"authapi/ports"
)

// TestStoreUpdatesTakeTurns: updates of one key file by many goroutines at
// once each see the set the one before left, so none is lost.
func TestStoreUpdatesTakeTurns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "signing.pem")
	store := NewStore(path)
	if keys, err := store.SigningKeys(t.Context()); err != nil || len(keys) != 0 {
		t.Fatalf("a missing file = %v, %v; want an empty set", keys, err)
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const updates = 8
	var wg sync.WaitGroup
	errs := make([]error, updates)
	for i := range updates {
		wg.Go(func() {
			errs[i] = store.UpdateSigningKeys(t.Context(), func(keys []ports.SigningKey) ([]ports.SigningKey, error) {
				created := start
				if len(keys) > 0 {
					created = keys[len(keys)-1].Created.Add(time.Hour)
				}
				k, err := GenerateSigningKey(rand.Reader, created, created)
				return append(keys, k), err
			})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	keys, err := store.SigningKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != updates {
		t.Errorf("%d keys after %d updates that each added one: updates were lost", len(keys), updates)
	}
	refused := errors.New("refused")
	if err := store.UpdateSigningKeys(t.Context(), func([]ports.SigningKey) ([]ports.SigningKey, error) { return nil, refused }); !errors.Is(err, refused) {
		t.Errorf("UpdateSigningKeys = %v, want the update's error", err)
	}
	if after, _ := store.SigningKeys(t.Context()); len(after) != updates {
		t.Errorf("a refused update changed the set: %d keys", len(after))
	}
}
