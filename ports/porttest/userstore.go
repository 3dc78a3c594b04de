package porttest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"authapi/domain"
	"authapi/ports"
)

// TestUserStore runs the ports.UserStore contract against the stores that
// newStore returns. Every subtest calls newStore once and expects an empty
// store of its own.
func TestUserStore(t *testing.T, newStore NewStore) {
	// The full fixture is inactive: an active account has no activation code
	// pending, which stores may enforce. The "active" case covers Active.
	t.Run("fixtures set every field", func(t *testing.T) {
		assertEveryFieldSet(t, "account", fullUser(t, 1, "full@example.com"), "Active")
	})
	t.Run("CreateUser then read back", func(t *testing.T) { testCreateAndRead(t, newStore) })
	t.Run("unknown account", func(t *testing.T) { testUnknown(t, newStore) })
	t.Run("duplicate email", func(t *testing.T) { testDuplicateEmail(t, newStore) })
	t.Run("UpdateUser saves changes", func(t *testing.T) { testUpdateSaves(t, newStore) })
	t.Run("UpdateUser by id and by email", func(t *testing.T) { testUpdateKeys(t, newStore) })
	t.Run("UpdateUser error saves nothing", func(t *testing.T) { testUpdateError(t, newStore) })
	t.Run("UpdateUser unknown account", func(t *testing.T) { testUpdateUnknown(t, newStore) })
	t.Run("UpdateUser refuses identity changes", func(t *testing.T) { testUpdateIdentity(t, newStore) })
	t.Run("DeleteUser", func(t *testing.T) { testDeleteUser(t, newStore) })
	t.Run("users are copies", func(t *testing.T) { testCopies(t, newStore) })
	t.Run("concurrent updates lose nothing", func(t *testing.T) { testConcurrentUpdates(t, newStore) })
	t.Run("concurrent creates of one email", func(t *testing.T) { testConcurrentCreates(t, newStore) })
}

func testCreateAndRead(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		user domain.User
	}{
		{name: "pending activation", user: newTestUser(t, 1, "pending@example.com")},
		{name: "wrong code attempted", user: withUpdate(t, newTestUser(t, 2, "attempted@example.com"), wrongCode)},
		{name: "active", user: withUpdate(t, newTestUser(t, 3, "active@example.com"), activate)},
		{name: "no code pending", user: withUpdate(t, newTestUser(t, 4, "nocode@example.com"),
			func(u *domain.User) error { u.Activation = domain.OneTimeCode{}; return nil })},
		{name: "unicode names", user: withUpdate(t, newTestUser(t, 5, "zoë@example.com"),
			func(u *domain.User) error { u.FirstName, u.LastName = "Zoë", "Ångström-李"; return nil })},
		{name: "every field set", user: fullUser(t, 6, "full@example.com")},
	}
	store := newStore(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := clone(tt.user)
			if err := store.CreateUser(t.Context(), tt.user, ports.Effects{}); err != nil {
				t.Fatalf("CreateUser: %v", err)
			}
			got, err := store.UserByEmail(t.Context(), want.Email)
			if err != nil {
				t.Fatalf("UserByEmail: %v", err)
			}
			assertEqual(t, "UserByEmail", got, want)
			got, err = store.UserByID(t.Context(), want.ID)
			if err != nil {
				t.Fatalf("UserByID: %v", err)
			}
			assertEqual(t, "UserByID", got, want)
		})
	}
}

// oddKeys are strings that a request can carry but no stored key holds.
var oddKeys = []struct{ name, key string }{
	{"with a NUL byte", "known@example.com\x00"},
	{"of NUL bytes only", "\x00\x00"},
	{"not UTF-8", "known\xff@example.com"},
}

func testUnknown(t *testing.T, newStore NewStore) {
	store := newStore(t)
	known := newTestUser(t, 1, "known@example.com")
	if err := store.CreateUser(t.Context(), known, ports.Effects{}); err != nil {
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
	// Keys that no account can have, as a request may name them: an
	// engine that cannot store such a string must still answer "no such
	// account" rather than fail.
	for _, odd := range oddKeys {
		tests = append(tests,
			struct {
				name   string
				lookup func() (domain.User, error)
			}{"email " + odd.name, func() (domain.User, error) { return store.UserByEmail(t.Context(), domain.Email(odd.key)) }},
			struct {
				name   string
				lookup func() (domain.User, error)
			}{"id " + odd.name, func() (domain.User, error) { return store.UserByID(t.Context(), odd.key) }},
			struct {
				name   string
				lookup func() (domain.User, error)
			}{"update by email " + odd.name, func() (domain.User, error) {
				return store.UpdateUser(t.Context(), ports.UserEmail(domain.Email(odd.key)), NoEffects(activate))
			}},
			struct {
				name   string
				lookup func() (domain.User, error)
			}{"delete " + odd.name, func() (domain.User, error) {
				return domain.User{}, store.DeleteUser(t.Context(), odd.key, ports.Effects{})
			}},
		)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.lookup()
			if !errors.Is(err, domain.ErrUserNotFound) {
				t.Fatalf("got error %v, want %v", err, domain.ErrUserNotFound)
			}
			assertEqual(t, "the user returned with the error", got, domain.User{})
		})
	}
}

func testDuplicateEmail(t *testing.T, newStore NewStore) {
	store := newStore(t)
	first := newTestUser(t, 1, "twice@example.com")
	if err := store.CreateUser(t.Context(), clone(first), ports.Effects{}); err != nil {
		t.Fatalf("CreateUser(first): %v", err)
	}
	second := newTestUser(t, 2, "twice@example.com")
	second.FirstName, second.PasswordHash = "Mallory", "$argon2id$other"

	err := store.CreateUser(t.Context(), second, ports.Effects{})
	if !errors.Is(err, domain.ErrEmailTaken) {
		t.Fatalf("CreateUser(second) = %v, want %v", err, domain.ErrEmailTaken)
	}
	got, err := store.UserByEmail(t.Context(), first.Email)
	if err != nil {
		t.Fatalf("UserByEmail: %v", err)
	}
	assertEqual(t, "first account", got, first)
	if _, err := store.UserByID(t.Context(), second.ID); !errors.Is(err, domain.ErrUserNotFound) {
		t.Errorf("UserByID(second) = %v, want %v", err, domain.ErrUserNotFound)
	}
}

// updates are the changes of an account that the suite saves: one per kind
// of change the service makes, and one that sets every field.
func updates() []struct {
	name   string
	update func(*domain.User) error
} {
	at := baseTime().Add(5 * time.Minute)
	return []struct {
		name   string
		update func(*domain.User) error
	}{
		{name: "activate", update: activate},
		{name: "wrong code counts an attempt", update: wrongCode},
		{name: "reissue code", update: func(u *domain.User) error {
			return u.IssueActivationCode(testKey, domain.CodeSecrets{Code: "771204", Link: "second-link"}, at, codeTTL)
		}},
		{name: "change names and password hash", update: func(u *domain.User) error {
			u.FirstName, u.LastName, u.PasswordHash = "Grace", "Hopper", "$argon2id$new"
			u.UpdatedAt = baseTime().Add(time.Hour)
			return nil
		}},
		{name: "set every field", update: func(u *domain.User) error {
			*u = withIdentity(fullUser(nil, 99, "ignored@example.com"), *u)
			return nil
		}},
		{name: "clear every code", update: func(u *domain.User) error {
			*u = withIdentity(fullUser(nil, 99, "ignored@example.com"), *u)
			u.Activation, u.PasswordReset, u.Unlock, u.WrongCodes = domain.OneTimeCode{}, domain.OneTimeCode{}, domain.PendingLink{}, domain.WrongCodes{}
			return nil
		}},
	}
}

// withIdentity is u with the id and email of owner.
func withIdentity(u, owner domain.User) domain.User {
	u.ID, u.Email = owner.ID, owner.Email
	return u
}

func testUpdateSaves(t *testing.T, newStore NewStore) {
	for i, tt := range updates() {
		t.Run(tt.name, func(t *testing.T) {
			store := newStore(t)
			orig := newTestUser(t, i+1, "update@example.com")
			if err := store.CreateUser(t.Context(), clone(orig), ports.Effects{}); err != nil {
				t.Fatalf("CreateUser: %v", err)
			}
			want := withUpdate(t, orig, tt.update)

			got, err := store.UpdateUser(t.Context(), ports.UserEmail(orig.Email), NoEffects(tt.update))
			if err != nil {
				t.Fatalf("UpdateUser: %v", err)
			}
			assertEqual(t, "UpdateUser result", got, want)
			stored, err := store.UserByEmail(t.Context(), orig.Email)
			if err != nil {
				t.Fatalf("UserByEmail: %v", err)
			}
			assertEqual(t, "UserByEmail", stored, want)
			stored, err = store.UserByID(t.Context(), orig.ID)
			if err != nil {
				t.Fatalf("UserByID: %v", err)
			}
			assertEqual(t, "UserByID", stored, want)
		})
	}
}

func testUpdateKeys(t *testing.T, newStore NewStore) {
	store := newStore(t)
	a, b := newTestUser(t, 1, "a@example.com"), newTestUser(t, 2, "b@example.com")
	for _, u := range []domain.User{a, b} {
		if err := store.CreateUser(t.Context(), clone(u), ports.Effects{}); err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
	}
	for name, key := range map[string]ports.UserKey{"id": ports.UserID(b.ID), "email": ports.UserEmail(b.Email)} {
		var loaded domain.User
		_, err := store.UpdateUser(t.Context(), key, func(u *domain.User) (ports.Effects, error) {
			loaded = clone(*u)
			return ports.Effects{}, nil
		})
		if err != nil {
			t.Fatalf("UpdateUser by %s: %v", name, err)
		}
		assertEqual(t, "the account UpdateUser by "+name+" loaded", loaded, b)
	}
}

func testUpdateError(t *testing.T, newStore NewStore) {
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
				err := u.Activate(testKey, domain.CodeProof("000000"), baseTime().Add(time.Minute))
				return fmt.Errorf("verify: %w", err)
			},
			wantErr: domain.ErrInvalidCode,
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newStore(t)
			orig := newTestUser(t, i+1, "refuse@example.com")
			if err := store.CreateUser(t.Context(), clone(orig), ports.Effects{}); err != nil {
				t.Fatalf("CreateUser: %v", err)
			}
			got, err := store.UpdateUser(t.Context(), ports.UserEmail(orig.Email), func(u *domain.User) (ports.Effects, error) {
				return ports.Effects{Mail: []ports.OutgoingMail{testMail("lost", "", baseTime())}}, tt.update(u)
			})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("UpdateUser error = %v, want %v", err, tt.wantErr)
			}
			assertEqual(t, "the user returned with the error", got, domain.User{})
			stored, err := store.UserByEmail(t.Context(), orig.Email)
			if err != nil {
				t.Fatalf("UserByEmail: %v", err)
			}
			assertEqual(t, "stored after failed update", stored, orig)
			if got := dueIDs(t, store, baseTime().Add(time.Hour)); len(got) != 0 {
				t.Errorf("mail of a failed update was queued: %v", got)
			}
		})
	}
}

func testUpdateUnknown(t *testing.T, newStore NewStore) {
	store := newStore(t)
	known := newTestUser(t, 1, "someone@example.com")
	if err := store.CreateUser(t.Context(), known, ports.Effects{}); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	for name, key := range map[string]ports.UserKey{
		"email": ports.UserEmail("nobody@example.com"),
		"id":    ports.UserID(newTestUser(t, 2, "nobody@example.com").ID),
	} {
		t.Run(name, func(t *testing.T) {
			called := false
			_, err := store.UpdateUser(t.Context(), key, NoEffects(func(*domain.User) error {
				called = true
				return nil
			}))
			if !errors.Is(err, domain.ErrUserNotFound) {
				t.Errorf("UpdateUser error = %v, want %v", err, domain.ErrUserNotFound)
			}
			if called {
				t.Error("UpdateUser called update for an account that does not exist")
			}
		})
	}
}

func testUpdateIdentity(t *testing.T, newStore NewStore) {
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
			if err := store.CreateUser(t.Context(), clone(original), ports.Effects{}); err != nil {
				t.Fatalf("CreateUser: %v", err)
			}
			_, err := store.UpdateUser(t.Context(), ports.UserEmail(original.Email), NoEffects(func(u *domain.User) error {
				tt.change(u)
				return nil
			}))
			if err == nil {
				t.Fatal("UpdateUser saved a change of identity")
			}
			got, err := store.UserByEmail(t.Context(), original.Email)
			if err != nil {
				t.Fatalf("UserByEmail: %v", err)
			}
			assertEqual(t, "after the refused update", got, original)
			if _, err := store.UserByEmail(t.Context(), "renamed@example.com"); !errors.Is(err, domain.ErrUserNotFound) {
				t.Errorf("renamed account findable: %v", err)
			}
		})
	}
}

func testCopies(t *testing.T, newStore NewStore) {
	// Each case obtains a user that must share nothing with the store's
	// state, scribbles over every slice it holds, and expects the stored
	// account unchanged.
	tests := []struct {
		name   string
		obtain func(t *testing.T, s Store, u domain.User) domain.User
	}{
		{name: "user passed to CreateUser", obtain: func(t *testing.T, s Store, u domain.User) domain.User {
			return u
		}},
		{name: "UserByEmail result", obtain: func(t *testing.T, s Store, u domain.User) domain.User {
			got, err := s.UserByEmail(t.Context(), u.Email)
			if err != nil {
				t.Fatalf("UserByEmail: %v", err)
			}
			return got
		}},
		{name: "UserByID result", obtain: func(t *testing.T, s Store, u domain.User) domain.User {
			got, err := s.UserByID(t.Context(), u.ID)
			if err != nil {
				t.Fatalf("UserByID: %v", err)
			}
			return got
		}},
		{name: "UpdateUser result", obtain: func(t *testing.T, s Store, u domain.User) domain.User {
			got, err := s.UpdateUser(t.Context(), ports.UserID(u.ID), NoEffects(func(*domain.User) error { return nil }))
			if err != nil {
				t.Fatalf("UpdateUser: %v", err)
			}
			return got
		}},
		{name: "user given to update", obtain: func(t *testing.T, s Store, u domain.User) domain.User {
			var kept *domain.User
			if _, err := s.UpdateUser(t.Context(), ports.UserID(u.ID), NoEffects(func(p *domain.User) error { kept = p; return nil })); err != nil {
				t.Fatalf("UpdateUser: %v", err)
			}
			return *kept
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newStore(t)
			orig := fullUser(t, i+1, "copy@example.com")
			want := clone(orig)
			if err := store.CreateUser(t.Context(), orig, ports.Effects{}); err != nil {
				t.Fatalf("CreateUser: %v", err)
			}
			obtained := tt.obtain(t, store, orig)
			if scribble(&obtained) == 0 {
				t.Fatal("the obtained user holds no slice to change")
			}
			got, err := store.UserByID(t.Context(), want.ID)
			if err != nil {
				t.Fatalf("UserByID: %v", err)
			}
			assertEqual(t, "stored after a change to a copy", got, want)
		})
	}
}

func testConcurrentUpdates(t *testing.T, newStore NewStore) {
	const workers = 20
	store := newStore(t)
	u := newTestUser(t, 1, "busy@example.com")
	if err := store.CreateUser(t.Context(), u, ports.Effects{}); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			_, errs[i] = store.UpdateUser(t.Context(), ports.UserEmail(u.Email), NoEffects(func(u *domain.User) error {
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

func testConcurrentCreates(t *testing.T, newStore NewStore) {
	const workers = 16
	store := newStore(t)
	users := make([]domain.User, workers)
	for i := range users {
		users[i] = newTestUser(t, i+1, "race@example.com")
	}
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() { errs[i] = store.CreateUser(t.Context(), clone(users[i]), ports.Effects{}) })
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
	assertEqual(t, "stored account", got, users[winner])
	for i, u := range users {
		if i == winner {
			continue
		}
		if _, err := store.UserByID(t.Context(), u.ID); !errors.Is(err, domain.ErrUserNotFound) {
			t.Errorf("UserByID(loser #%d) = %v, want %v", i, err, domain.ErrUserNotFound)
		}
	}
}

func testDeleteUser(t *testing.T, newStore NewStore) {
	store := newStore(t)
	u := newTestUser(t, 1, "gone@example.com")
	if err := store.CreateUser(t.Context(), u, ports.Effects{}); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if err := store.DeleteUser(t.Context(), u.ID, ports.Effects{}); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	if _, err := store.UserByID(t.Context(), u.ID); !errors.Is(err, domain.ErrUserNotFound) {
		t.Errorf("deleted account still readable by id: %v", err)
	}
	if _, err := store.UserByEmail(t.Context(), u.Email); !errors.Is(err, domain.ErrUserNotFound) {
		t.Errorf("deleted account still readable by email: %v", err)
	}
	if err := store.DeleteUser(t.Context(), u.ID, ports.Effects{}); !errors.Is(err, domain.ErrUserNotFound) {
		t.Errorf("second DeleteUser = %v, want ErrUserNotFound", err)
	}
	if err := store.CreateUser(t.Context(), newTestUser(t, 2, "gone@example.com"), ports.Effects{}); err != nil {
		t.Errorf("the email cannot sign up again: %v", err)
	}
}

// newTestUser returns a new, inactive account whose id is determined by n, so
// distinct n give distinct ids and a run is repeatable.
func newTestUser(t *testing.T, n int, email string) domain.User {
	if t != nil {
		t.Helper()
	}
	reg, err := domain.NewRegistration(email, testPassword, "Ada", "Lovelace")
	if err != nil {
		panic(fmt.Sprintf("NewRegistration(%q): %v", email, err))
	}
	id, err := domain.NewID(baseTime(), bytes.NewReader(bytes.Repeat([]byte{byte(n)}, 10)))
	if err != nil {
		panic(err)
	}
	return domain.NewUser(id, reg, testHash, testKey, testSecrets, baseTime(), codeTTL)
}

// fullUser returns an account in which every field but Active is set: an
// activation code and link pending with attempts made, a reset code and
// link, an unlock link, wrong codes counted, an activation time, a time it
// was disabled, a last login, and a second factor with a pending one. No
// history of the service leads there; a store must keep it all the same.
func fullUser(t *testing.T, n int, email string) domain.User {
	u := newTestUser(t, n, email)
	at := baseTime()
	u.ActivatedAt = at.Add(time.Minute)
	u.Activation = domain.OneTimeCode{CodeHash: []byte("activation-code-hash"), LinkHash: []byte("activation-link-hash"),
		ExpiresAt: at.Add(codeTTL), Attempts: 2}
	u.PasswordReset = domain.OneTimeCode{CodeHash: []byte("reset-code-hash"), LinkHash: []byte("reset-link-hash"),
		ExpiresAt: at.Add(2 * codeTTL), Attempts: 3}
	u.Unlock = domain.PendingLink{Hash: []byte("unlock-link-hash"), ExpiresAt: at.Add(24 * time.Hour)}
	u.WrongCodes = domain.WrongCodes{N: 7, At: at.Add(2 * time.Minute)}
	u.UpdatedAt = at.Add(3 * time.Minute)
	u.DisabledAt = at.Add(4 * time.Minute)
	u.LastLoginAt = at.Add(5 * time.Minute)
	u.MFA = domain.MFA{
		TOTPSecret:        []byte("sealed-totp-secret"),
		TOTPEnabledAt:     at.Add(6 * time.Minute),
		PendingTOTPSecret: []byte("sealed-pending-secret"),
		PendingTOTPAt:     at.Add(7 * time.Minute),
		LastTOTPStep:      56_789_012,
		RecoveryCodes:     [][]byte{bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)},
	}
	return u
}

// withUpdate returns a copy of u changed by update, which must succeed.
func withUpdate(t *testing.T, u domain.User, update func(*domain.User) error) domain.User {
	t.Helper()
	c := clone(u)
	if err := update(&c); err != nil {
		t.Fatalf("preparing test user: %v", err)
	}
	return c
}

// activate activates an account with the test code a minute after creation.
func activate(u *domain.User) error {
	return u.Activate(testKey, domain.CodeProof(string(testSecrets.Code)), baseTime().Add(time.Minute))
}

// wrongCode makes a wrong activation attempt and keeps its effect, as the
// service does so that attempts count.
func wrongCode(u *domain.User) error {
	if err := u.Activate(testKey, domain.CodeProof("000000"), baseTime().Add(2*time.Minute)); !errors.Is(err, domain.ErrInvalidCode) {
		return fmt.Errorf("wrong code: got %v, want %v", err, domain.ErrInvalidCode)
	}
	return nil
}

// NoEffects adapts an update that brings no effects to UpdateUser's
// signature.
func NoEffects(update func(*domain.User) error) func(*domain.User) (ports.Effects, error) {
	return func(u *domain.User) (ports.Effects, error) { return ports.Effects{}, update(u) }
}
