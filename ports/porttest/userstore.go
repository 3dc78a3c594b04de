// Package porttest holds contract tests for the driven ports: suites that every
// implementation must pass, so that adapters are interchangeable.
package porttest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"authapi/domain"
	"authapi/ports"
)

// Fixed inputs of the suite.
const (
	codeTTL      = 15 * time.Minute
	testCode     = domain.SecretCode("482913")
	testPassword = "correct horse battery staple"
	testHash     = "$argon2id$v=19$m=65536,t=3,p=2$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA"
)

// baseTime is when test accounts are created: UTC and a whole number of
// milliseconds, the precision every store must keep.
func baseTime() time.Time {
	return time.Date(2025, time.March, 14, 15, 9, 26, 535_000_000, time.UTC)
}

// TestUserStore runs the ports.UserStore contract against the stores that
// newStore returns. Every subtest calls newStore once and expects an empty
// store of its own.
func TestUserStore(t *testing.T, newStore func(t *testing.T) ports.UserStore) {
	t.Run("CreateUser then read back", func(t *testing.T) { testCreateAndRead(t, newStore) })
	t.Run("unknown account", func(t *testing.T) { testUnknown(t, newStore) })
	t.Run("duplicate email", func(t *testing.T) { testDuplicateEmail(t, newStore) })
	t.Run("UpdateUser saves changes", func(t *testing.T) { testUpdateSaves(t, newStore) })
	t.Run("UpdateUser error saves nothing", func(t *testing.T) { testUpdateError(t, newStore) })
	t.Run("UpdateUser unknown email", func(t *testing.T) { testUpdateUnknown(t, newStore) })
	t.Run("UpdateUser refuses identity changes", func(t *testing.T) { testUpdateIdentity(t, newStore) })
	t.Run("DeleteUser", func(t *testing.T) { testDeleteUser(t, newStore) })
	t.Run("users are copies", func(t *testing.T) { testCopies(t, newStore) })
	t.Run("concurrent updates lose nothing", func(t *testing.T) { testConcurrentUpdates(t, newStore) })
	t.Run("concurrent creates of one email", func(t *testing.T) { testConcurrentCreates(t, newStore) })
}

func testCreateAndRead(t *testing.T, newStore func(t *testing.T) ports.UserStore) {
	tests := []struct {
		name string
		user domain.User
	}{
		{name: "pending activation", user: newTestUser(t, 1, "pending@example.com")},
		{name: "wrong code attempted", user: withUpdate(t, newTestUser(t, 2, "attempted@example.com"), wrongCode)},
		{name: "active", user: withUpdate(t, newTestUser(t, 3, "active@example.com"), activate)},
		{name: "no code pending", user: withUpdate(t, newTestUser(t, 4, "nocode@example.com"),
			func(u *domain.User) error { u.Activation = domain.OneTimeCode{}; return nil })},
		{name: "password reset pending", user: withUpdate(t, withUpdate(t, newTestUser(t, 6, "reset@example.com"), activate),
			func(u *domain.User) error {
				if err := u.IssuePasswordResetCode("123456", baseTime(), codeTTL); err != nil {
					return err
				}
				_ = u.ResetPassword("654321", "unused", baseTime()) // one wrong attempt
				return nil
			})},
		{name: "unicode names", user: withUpdate(t, newTestUser(t, 5, "zoë@example.com"),
			func(u *domain.User) error { u.FirstName, u.LastName = "Zoë", "Ångström-李"; return nil })},
	}
	store := newStore(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := store.CreateUser(t.Context(), tt.user); err != nil {
				t.Fatalf("CreateUser: %v", err)
			}
			got, err := store.UserByEmail(t.Context(), tt.user.Email)
			if err != nil {
				t.Fatalf("UserByEmail: %v", err)
			}
			assertUser(t, "UserByEmail", got, tt.user)
			got, err = store.UserByID(t.Context(), tt.user.ID)
			if err != nil {
				t.Fatalf("UserByID: %v", err)
			}
			assertUser(t, "UserByID", got, tt.user)
		})
	}
}

func testUnknown(t *testing.T, newStore func(t *testing.T) ports.UserStore) {
	store := newStore(t)
	known := newTestUser(t, 1, "known@example.com")
	if err := store.CreateUser(t.Context(), known); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	tests := []struct {
		name   string
		lookup func() (domain.User, error)
	}{
		{name: "email", lookup: func() (domain.User, error) {
			return store.UserByEmail(t.Context(), "unknown@example.com")
		}},
		{name: "empty email", lookup: func() (domain.User, error) { return store.UserByEmail(t.Context(), "") }},
		{name: "id", lookup: func() (domain.User, error) {
			return store.UserByID(t.Context(), newTestUser(t, 2, "other@example.com").ID)
		}},
		{name: "empty id", lookup: func() (domain.User, error) { return store.UserByID(t.Context(), "") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.lookup()
			if !errors.Is(err, domain.ErrUserNotFound) {
				t.Fatalf("got error %v, want %v", err, domain.ErrUserNotFound)
			}
			if got.ID != "" {
				t.Errorf("got user %q with the error, want the zero User", got.ID)
			}
		})
	}
}

func testDuplicateEmail(t *testing.T, newStore func(t *testing.T) ports.UserStore) {
	store := newStore(t)
	first := newTestUser(t, 1, "twice@example.com")
	if err := store.CreateUser(t.Context(), first); err != nil {
		t.Fatalf("CreateUser(first): %v", err)
	}
	second := newTestUser(t, 2, "twice@example.com")
	second.FirstName, second.PasswordHash = "Mallory", "$argon2id$other"

	err := store.CreateUser(t.Context(), second)
	if !errors.Is(err, domain.ErrEmailTaken) {
		t.Fatalf("CreateUser(second) = %v, want %v", err, domain.ErrEmailTaken)
	}
	got, err := store.UserByEmail(t.Context(), first.Email)
	if err != nil {
		t.Fatalf("UserByEmail: %v", err)
	}
	assertUser(t, "first account", got, first)
	if _, err := store.UserByID(t.Context(), second.ID); !errors.Is(err, domain.ErrUserNotFound) {
		t.Errorf("UserByID(second) = %v, want %v", err, domain.ErrUserNotFound)
	}
}

func testUpdateSaves(t *testing.T, newStore func(t *testing.T) ports.UserStore) {
	tests := []struct {
		name   string
		update func(*domain.User) error
	}{
		{name: "activate", update: activate},
		{name: "wrong code counts an attempt", update: wrongCode},
		{name: "reissue code", update: func(u *domain.User) error {
			return u.IssueActivationCode("771204", baseTime().Add(5*time.Minute), codeTTL)
		}},
		{name: "change names and password hash", update: func(u *domain.User) error {
			u.FirstName, u.LastName, u.PasswordHash = "Grace", "Hopper", "$argon2id$new"
			u.UpdatedAt = baseTime().Add(time.Hour)
			return nil
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newStore(t)
			orig := newTestUser(t, i+1, "update@example.com")
			if err := store.CreateUser(t.Context(), orig); err != nil {
				t.Fatalf("CreateUser: %v", err)
			}
			want := withUpdate(t, orig, tt.update)

			got, err := store.UpdateUser(t.Context(), orig.Email, NoMail(tt.update))
			if err != nil {
				t.Fatalf("UpdateUser: %v", err)
			}
			assertUser(t, "UpdateUser result", got, want)
			stored, err := store.UserByEmail(t.Context(), orig.Email)
			if err != nil {
				t.Fatalf("UserByEmail: %v", err)
			}
			assertUser(t, "UserByEmail", stored, want)
			stored, err = store.UserByID(t.Context(), orig.ID)
			if err != nil {
				t.Fatalf("UserByID: %v", err)
			}
			assertUser(t, "UserByID", stored, want)
		})
	}
}

func testUpdateError(t *testing.T, newStore func(t *testing.T) ports.UserStore) {
	errRefused := errors.New("refused by the caller")
	tests := []struct {
		name    string
		update  func(*domain.User) error
		wantErr error
	}{
		{
			name: "plain error after changes",
			update: func(u *domain.User) error {
				u.FirstName, u.Activation.Attempts = "Mallory", 4
				return errRefused
			},
			wantErr: errRefused,
		},
		{
			name: "wrapped domain error",
			update: func(u *domain.User) error {
				err := u.Activate("000000", baseTime().Add(time.Minute))
				return fmt.Errorf("verify: %w", err)
			},
			wantErr: domain.ErrInvalidCode,
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newStore(t)
			orig := newTestUser(t, i+1, "refuse@example.com")
			if err := store.CreateUser(t.Context(), orig); err != nil {
				t.Fatalf("CreateUser: %v", err)
			}
			got, err := store.UpdateUser(t.Context(), orig.Email, NoMail(tt.update))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("UpdateUser error = %v, want %v", err, tt.wantErr)
			}
			if got.ID != "" {
				t.Errorf("UpdateUser returned user %q with the error, want the zero User", got.ID)
			}
			stored, err := store.UserByEmail(t.Context(), orig.Email)
			if err != nil {
				t.Fatalf("UserByEmail: %v", err)
			}
			assertUser(t, "stored after failed update", stored, orig)
		})
	}
}

func testUpdateUnknown(t *testing.T, newStore func(t *testing.T) ports.UserStore) {
	store := newStore(t)
	if err := store.CreateUser(t.Context(), newTestUser(t, 1, "someone@example.com")); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	called := false
	_, err := store.UpdateUser(t.Context(), "nobody@example.com", NoMail(func(*domain.User) error {
		called = true
		return nil
	}))
	if !errors.Is(err, domain.ErrUserNotFound) {
		t.Errorf("UpdateUser error = %v, want %v", err, domain.ErrUserNotFound)
	}
	if called {
		t.Error("UpdateUser called update for an account that does not exist")
	}
}

func testUpdateIdentity(t *testing.T, newStore func(t *testing.T) ports.UserStore) {
	tests := []struct {
		name   string
		change func(u *domain.User)
	}{
		{"email", func(u *domain.User) { u.Email = "renamed@example.com" }},
		{"id", func(u *domain.User) { u.ID = "another-id" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newStore(t)
			original := newTestUser(t, 1, "someone@example.com")
			if err := store.CreateUser(t.Context(), original); err != nil {
				t.Fatalf("CreateUser: %v", err)
			}
			_, err := store.UpdateUser(t.Context(), original.Email, NoMail(func(u *domain.User) error {
				tt.change(u)
				return nil
			}))
			if err == nil {
				t.Fatal("UpdateUser saved a change of identity")
			}
			got, err := store.UserByEmail(t.Context(), original.Email)
			if err != nil || got.ID != original.ID {
				t.Errorf("after refused update: %+v, %v", got, err)
			}
			if _, err := store.UserByEmail(t.Context(), "renamed@example.com"); !errors.Is(err, domain.ErrUserNotFound) {
				t.Errorf("renamed account findable: %v", err)
			}
		})
	}
}

func testCopies(t *testing.T, newStore func(t *testing.T) ports.UserStore) {
	// Each case obtains a user that shares nothing with the store's state,
	// scribbles over its code hash, and expects the stored account unchanged.
	tests := []struct {
		name   string
		obtain func(t *testing.T, s ports.UserStore, u domain.User) domain.User
	}{
		{name: "user passed to CreateUser", obtain: func(t *testing.T, _ ports.UserStore, u domain.User) domain.User {
			return u
		}},
		{name: "UserByEmail result", obtain: func(t *testing.T, s ports.UserStore, u domain.User) domain.User {
			got, err := s.UserByEmail(t.Context(), u.Email)
			if err != nil {
				t.Fatalf("UserByEmail: %v", err)
			}
			return got
		}},
		{name: "UserByID result", obtain: func(t *testing.T, s ports.UserStore, u domain.User) domain.User {
			got, err := s.UserByID(t.Context(), u.ID)
			if err != nil {
				t.Fatalf("UserByID: %v", err)
			}
			return got
		}},
		{name: "UpdateUser result", obtain: func(t *testing.T, s ports.UserStore, u domain.User) domain.User {
			got, err := s.UpdateUser(t.Context(), u.Email, NoMail(func(*domain.User) error { return nil }))
			if err != nil {
				t.Fatalf("UpdateUser: %v", err)
			}
			return got
		}},
		{name: "user given to update", obtain: func(t *testing.T, s ports.UserStore, u domain.User) domain.User {
			var kept *domain.User
			if _, err := s.UpdateUser(t.Context(), u.Email, NoMail(func(p *domain.User) error { kept = p; return nil })); err != nil {
				t.Fatalf("UpdateUser: %v", err)
			}
			return *kept
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newStore(t)
			orig := newTestUser(t, i+1, "copy@example.com")
			want := cloneUser(orig)
			if err := store.CreateUser(t.Context(), orig); err != nil {
				t.Fatalf("CreateUser: %v", err)
			}
			obtained := tt.obtain(t, store, orig)
			if len(obtained.Activation.CodeHash) == 0 {
				t.Fatal("obtained user has no code hash to change")
			}
			for j := range obtained.Activation.CodeHash {
				obtained.Activation.CodeHash[j] ^= 0xff
			}
			got, err := store.UserByID(t.Context(), orig.ID)
			if err != nil {
				t.Fatalf("UserByID: %v", err)
			}
			assertUser(t, "stored after change to a copy", got, want)
		})
	}
}

func testConcurrentUpdates(t *testing.T, newStore func(t *testing.T) ports.UserStore) {
	const workers = 20
	store := newStore(t)
	u := newTestUser(t, 1, "busy@example.com")
	if err := store.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			_, errs[i] = store.UpdateUser(t.Context(), u.Email, NoMail(func(u *domain.User) error {
				u.Activation.Attempts++
				return nil
			}))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("UpdateUser #%d: %v", i, err)
		}
	}
	got, err := store.UserByEmail(t.Context(), u.Email)
	if err != nil {
		t.Fatalf("UserByEmail: %v", err)
	}
	if got, want := got.Activation.Attempts, workers; got != want {
		t.Errorf("Attempts = %d, want %d", got, want)
	}
}

func testConcurrentCreates(t *testing.T, newStore func(t *testing.T) ports.UserStore) {
	const workers = 16
	store := newStore(t)
	users := make([]domain.User, workers)
	for i := range users {
		users[i] = newTestUser(t, i+1, "race@example.com")
	}
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() { errs[i] = store.CreateUser(t.Context(), users[i]) })
	}
	wg.Wait()

	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("CreateUser #%d and #%d both succeeded", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, domain.ErrEmailTaken):
			t.Errorf("CreateUser #%d = %v, want nil or %v", i, err, domain.ErrEmailTaken)
		}
	}
	if winner < 0 {
		t.Fatal("no CreateUser succeeded")
	}
	got, err := store.UserByEmail(t.Context(), "race@example.com")
	if err != nil {
		t.Fatalf("UserByEmail: %v", err)
	}
	assertUser(t, "stored account", got, users[winner])
	for i, u := range users {
		if i == winner {
			continue
		}
		if _, err := store.UserByID(t.Context(), u.ID); !errors.Is(err, domain.ErrUserNotFound) {
			t.Errorf("UserByID(loser #%d) = %v, want %v", i, err, domain.ErrUserNotFound)
		}
	}
}

// newTestUser returns a new, inactive account whose id is determined by n, so
// distinct n give distinct ids and a run is repeatable.
func newTestUser(t *testing.T, n int, email string) domain.User {
	t.Helper()
	reg, err := domain.NewRegistration(email, testPassword, "Ada", "Lovelace")
	if err != nil {
		t.Fatalf("NewRegistration(%q): %v", email, err)
	}
	id, err := domain.NewID(baseTime(), bytes.NewReader(bytes.Repeat([]byte{byte(n)}, 10)))
	if err != nil {
		t.Fatalf("NewID: %v", err)
	}
	return domain.NewUser(id, reg, testHash, testCode, baseTime(), codeTTL)
}

// withUpdate returns a copy of u changed by update, which must succeed.
func withUpdate(t *testing.T, u domain.User, update func(*domain.User) error) domain.User {
	t.Helper()
	c := cloneUser(u)
	if err := update(&c); err != nil {
		t.Fatalf("preparing test user: %v", err)
	}
	return c
}

// activate activates an account with the test code a minute after creation.
func activate(u *domain.User) error {
	return u.Activate(string(testCode), baseTime().Add(time.Minute))
}

// wrongCode makes a wrong activation attempt and keeps its effect, as the
// service does so that attempts count.
func wrongCode(u *domain.User) error {
	if err := u.Activate("000000", baseTime().Add(2*time.Minute)); !errors.Is(err, domain.ErrInvalidCode) {
		return fmt.Errorf("wrong code: got %v, want %v", err, domain.ErrInvalidCode)
	}
	return nil
}

func cloneUser(u domain.User) domain.User {
	u.Activation.CodeHash = slices.Clone(u.Activation.CodeHash)
	return u
}

// assertUser reports every field in which got differs from want. Times are
// compared as instants, so the location a store returns does not matter.
func assertUser(t *testing.T, what string, got, want domain.User) {
	t.Helper()
	type field struct {
		name      string
		got, want any
		equal     bool
	}
	fields := []field{
		{"ID", got.ID, want.ID, got.ID == want.ID},
		{"Email", got.Email, want.Email, got.Email == want.Email},
		{"FirstName", got.FirstName, want.FirstName, got.FirstName == want.FirstName},
		{"LastName", got.LastName, want.LastName, got.LastName == want.LastName},
		{"PasswordHash", got.PasswordHash, want.PasswordHash, got.PasswordHash == want.PasswordHash},
		{"Active", got.Active, want.Active, got.Active == want.Active},
		{"Activation.CodeHash", fmt.Sprintf("%x", got.Activation.CodeHash), fmt.Sprintf("%x", want.Activation.CodeHash),
			bytes.Equal(got.Activation.CodeHash, want.Activation.CodeHash)},
		{"Activation.ExpiresAt", got.Activation.ExpiresAt, want.Activation.ExpiresAt,
			got.Activation.ExpiresAt.Equal(want.Activation.ExpiresAt)},
		{"Activation.Attempts", got.Activation.Attempts, want.Activation.Attempts,
			got.Activation.Attempts == want.Activation.Attempts},
		{"CreatedAt", got.CreatedAt, want.CreatedAt, got.CreatedAt.Equal(want.CreatedAt)},
		{"UpdatedAt", got.UpdatedAt, want.UpdatedAt, got.UpdatedAt.Equal(want.UpdatedAt)},
		{"ActivatedAt", got.ActivatedAt, want.ActivatedAt, got.ActivatedAt.Equal(want.ActivatedAt)},
	}
	for _, f := range fields {
		if !f.equal {
			t.Errorf("%s: %s = %v, want %v", what, f.name, f.got, f.want)
		}
	}
}

// NoMail adapts an update that queues no mail to UpdateUser's signature.
func NoMail(update func(*domain.User) error) func(*domain.User) ([]ports.OutgoingMail, error) {
	return func(u *domain.User) ([]ports.OutgoingMail, error) { return nil, update(u) }
}

func testDeleteUser(t *testing.T, newStore func(t *testing.T) ports.UserStore) {
	store := newStore(t)
	u := newTestUser(t, 1, "gone@example.com")
	if err := store.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if err := store.DeleteUser(t.Context(), u.ID); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	if _, err := store.UserByID(t.Context(), u.ID); !errors.Is(err, domain.ErrUserNotFound) {
		t.Errorf("deleted account still readable by id: %v", err)
	}
	if _, err := store.UserByEmail(t.Context(), u.Email); !errors.Is(err, domain.ErrUserNotFound) {
		t.Errorf("deleted account still readable by email: %v", err)
	}
	if err := store.DeleteUser(t.Context(), u.ID); !errors.Is(err, domain.ErrUserNotFound) {
		t.Errorf("second DeleteUser = %v, want ErrUserNotFound", err)
	}
	if err := store.CreateUser(t.Context(), newTestUser(t, 2, "gone@example.com")); err != nil {
		t.Errorf("the email cannot sign up again: %v", err)
	}
}
