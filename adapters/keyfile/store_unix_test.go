//go:build unix

package keyfile_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"authapi/adapters/keyfile"
	"authapi/ports"
)

// readTogether is a key store whose SigningKeys returns only once every
// start has read, so that all of them find the set empty and race to create
// the first key, rather than most finding the key already made.
type readTogether struct {
	ports.KeyStore
	reads *sync.WaitGroup
}

func (s readTogether) SigningKeys(ctx context.Context) ([]ports.SigningKey, error) {
	keys, err := s.KeyStore.SigningKeys(ctx)
	s.reads.Done()
	s.reads.Wait()
	return keys, err
}

// Processes that start together must end up with one key, created once:
// each reads an empty set, but their updates take turns on the lock file,
// so only the first finds the set still empty. Each start has a store of
// its own, as each process would. Where there are no advisory locks (not
// Unix), updates do not take turns and this is not promised.
func TestStoreConcurrentFirstStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "signing.pem")
	const n = 8
	keys := make([][]ports.SigningKey, n)
	created := make([]bool, n)
	errs := make([]error, n)
	var reads, wg sync.WaitGroup
	reads.Add(n)
	for i := range n {
		store := readTogether{keyfile.NewStore(path), &reads}
		wg.Go(func() { keys[i], created[i], errs[i] = firstStart(t.Context(), store, now) })
	}
	wg.Wait()

	creators := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("start %d: %v", i, errs[i])
		}
		if created[i] {
			creators++
		}
		if len(keys[i]) != 1 {
			t.Fatalf("start %d got %d keys, want 1", i, len(keys[i]))
		}
		assertSameKeys(t, keys[i], keys[0])
	}
	if creators != 1 {
		t.Errorf("%d starts reported creating the key, want exactly 1", creators)
	}
	assertSameKeys(t, assertKeyFile(t, path), keys[0])
}
