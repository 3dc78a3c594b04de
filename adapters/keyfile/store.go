package keyfile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"authapi/ports"
)

var _ ports.KeyStore = (*Store)(nil)

// Store is the ports.KeyStore of a key file. Updates take an exclusive lock
// on a lock file beside it, so that rotations by two processes on one
// machine take turns rather than lose a key.
type Store struct {
	path string
}

// NewStore returns the key store of the file at path.
func NewStore(path string) *Store { return &Store{path: path} }

// SigningKeys reads the key file; a missing file is an empty set.
func (s *Store) SigningKeys(context.Context) ([]ports.SigningKey, error) {
	keys, err := ReadSigningKeys(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return keys, err
}

// UpdateSigningKeys reads the file under the lock, applies update and
// writes the result atomically, creating the file if it was missing.
func (s *Store) UpdateSigningKeys(ctx context.Context, update func([]ports.SigningKey) ([]ports.SigningKey, error)) error {
	unlock, err := lockFile(s.path + ".lock")
	if err != nil {
		return fmt.Errorf("lock the signing key file: %w", err)
	}
	defer unlock()
	current, err := s.SigningKeys(ctx)
	if err != nil {
		return err
	}
	next, err := update(current)
	if err != nil {
		return err
	}
	if len(current) == 0 {
		if len(next) == 0 {
			return nil
		}
		if err := checkSigningKeys(next); err != nil {
			return err
		}
		data, err := encodeSigningKeys(next)
		if err != nil {
			return err
		}
		return createFile(s.path, data)
	}
	if _, err := os.Stat(s.path); err != nil {
		return err
	}
	return WriteSigningKeys(s.path, next)
}
