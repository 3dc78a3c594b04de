// Package memstore is an in-memory ports.UserStore for tests and examples.
// It obeys the same contract as the SQLite store (see porttest), so tests
// written against it mean the same thing against the real database.
package memstore

import (
	"context"
	"errors"
	"sync"

	"authapi/domain"
	"authapi/ports"
)

var _ ports.UserStore = (*Store)(nil)

var errIdentityChanged = errors.New("memstore: update user: the update changed the account's id or email")

// Store keeps accounts in maps guarded by one mutex.
type Store struct {
	mu      sync.Mutex
	byID    map[string]domain.User
	idByKey map[domain.Email]string
}

// New returns an empty store.
func New() *Store {
	return &Store{byID: map[string]domain.User{}, idByKey: map[domain.Email]string{}}
}

// CreateUser stores u, or returns domain.ErrEmailTaken.
func (s *Store) CreateUser(_ context.Context, u domain.User) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, taken := s.idByKey[u.Email]; taken {
		return domain.ErrEmailTaken
	}
	s.byID[u.ID] = clone(u)
	s.idByKey[u.Email] = u.ID
	return nil
}

// UserByEmail returns the account with email, or domain.ErrUserNotFound.
func (s *Store) UserByEmail(_ context.Context, email domain.Email) (domain.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.idByKey[email]
	if !ok {
		return domain.User{}, domain.ErrUserNotFound
	}
	return clone(s.byID[id]), nil
}

// UserByID returns the account with id, or domain.ErrUserNotFound.
func (s *Store) UserByID(_ context.Context, id string) (domain.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.byID[id]
	if !ok {
		return domain.User{}, domain.ErrUserNotFound
	}
	return clone(u), nil
}

// UpdateUser applies update to the account with email while holding the lock,
// which serializes updates as the database's write transaction does.
func (s *Store) UpdateUser(_ context.Context, email domain.Email, update func(*domain.User) error) (domain.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.idByKey[email]
	if !ok {
		return domain.User{}, domain.ErrUserNotFound
	}
	u := clone(s.byID[id])
	if err := update(&u); err != nil {
		return domain.User{}, err
	}
	if u.ID != id || u.Email != email {
		// The SQLite store refuses this too: accounts are found by email and
		// saved by id, so changing either would lose track of the account.
		return domain.User{}, errIdentityChanged
	}
	s.byID[id] = clone(u)
	return clone(u), nil
}

// clone copies the one reference field, so callers cannot change stored state
// behind the store's back.
func clone(u domain.User) domain.User {
	if u.Activation.CodeHash != nil {
		u.Activation.CodeHash = append([]byte(nil), u.Activation.CodeHash...)
	}
	return u
}
