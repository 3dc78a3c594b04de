package auth

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"authapi/domain"
	"authapi/ports"
)

// fakePolicy records what it was asked and refuses one chosen password.
type fakePolicy struct {
	mu     sync.Mutex
	reject string // refused password; empty accepts all
	// rejectBuiltFrom refuses passwords that contain one of the user's
	// inputs, as zxcvbn does.
	rejectBuiltFrom bool
	calls           []policyCall
}

type policyCall struct {
	password   string
	userInputs []string
}

func (p *fakePolicy) Check(password string, userInputs []string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, policyCall{password: password, userInputs: slices.Clone(userInputs)})
	if p.reject != "" && password == p.reject {
		var v domain.Validation
		v.Add("password", "is too easy to guess")
		return v.Err()
	}
	for _, input := range userInputs {
		if p.rejectBuiltFrom && input != "" && strings.Contains(strings.ToLower(password), strings.ToLower(input)) {
			var v domain.Validation
			v.Add("password", "is built from your email or name")
			return v.Err()
		}
	}
	return nil
}

func (p *fakePolicy) recorded() []policyCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.calls)
}

func TestSignupRefusesWhatThePasswordPolicyRefuses(t *testing.T) {
	f := newFixture(t)
	f.passwords.reject = astro.Password

	_, err := f.svc.Signup(context.Background(), astro, laptop)

	var derr *domain.Error
	if !errors.As(err, &derr) || derr.Code != domain.CodeValidationFailed ||
		len(derr.Fields) != 1 || derr.Fields[0].Field != "password" {
		t.Fatalf("err = %v, want a validation error on the password", err)
	}
	if _, err := f.users.UserByEmail(context.Background(), "astro.user@example.com"); !errors.Is(err, domain.ErrUserNotFound) {
		t.Errorf("refused signup stored an account: %v", err)
	}
	if n := len(f.queued(t)); n != 0 || f.mail.wakeups != 0 {
		t.Errorf("refused signup queued %d emails with %d wake-ups", n, f.mail.wakeups)
	}
	if f.hasher.hashes != 0 {
		t.Errorf("refused signup did %d hashes", f.hasher.hashes)
	}
	calls := f.passwords.recorded()
	if len(calls) != 1 {
		t.Fatalf("policy consulted %d times, want once", len(calls))
	}
	if got := calls[0].password; got != astro.Password {
		t.Errorf("policy judged %q, want the signup's password", got)
	}
	for _, want := range []string{"astro.user@example.com", "astro.user", "Astro", "User"} {
		if !slices.Contains(calls[0].userInputs, want) {
			t.Errorf("user inputs %q lack %q", calls[0].userInputs, want)
		}
	}
}

func TestSignupConsultsThePolicyOnlyForValidRegistrations(t *testing.T) {
	tests := []struct {
		name      string
		req       ports.SignupRequest
		wantCalls int
	}{
		{"valid", astro, 1},
		{"password too short", ports.SignupRequest{Email: astro.Email, Password: "short", FirstName: "Astro", LastName: "User"}, 0},
		{"invalid email", ports.SignupRequest{Email: "astro", Password: astro.Password, FirstName: "Astro", LastName: "User"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			_, _ = f.svc.Signup(context.Background(), tt.req, laptop)
			if got := len(f.passwords.recorded()); got != tt.wantCalls {
				t.Errorf("policy consulted %d times, want %d", got, tt.wantCalls)
			}
		})
	}
}

// storeHash sets the stored password hash of astro's account.
func (f *fixture) storeHash(t *testing.T, hash string) {
	t.Helper()
	f.update(t, func(u *domain.User) { u.PasswordHash = hash })
}

func (f *fixture) storedHash(t *testing.T) string {
	t.Helper()
	u, err := f.users.UserByEmail(context.Background(), "astro.user@example.com")
	if err != nil {
		t.Fatal(err)
	}
	return u.PasswordHash
}

func TestLoginRehashesUnderCurrentParameters(t *testing.T) {
	const (
		current = "fake$" + "StrongPassword123!"
		old     = oldParamsPrefix + "StrongPassword123!"
	)
	tests := []struct {
		name       string
		active     bool
		stored     string
		password   string
		wantErr    error
		wantStored string
		wantHashes int // hashes done by the login
	}{
		{"old parameters are replaced", true, old, astro.Password, nil, current, 1},
		{"current parameters are kept", true, current, astro.Password, nil, current, 0},
		{"wrong password changes nothing", true, old, "WrongPassword1!", domain.ErrInvalidCredentials, old, 0},
		{"inactive account changes nothing", false, old, astro.Password, domain.ErrAccountNotActive, old, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if tt.active {
				f.activeUser(t)
			} else {
				f.signup(t)
			}
			f.storeHash(t, tt.stored)
			hashesBefore := f.hasher.hashes

			_, err := f.svc.Login(context.Background(), astro.Email, tt.password, laptop)

			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("login: err = %v, want %v", err, tt.wantErr)
			}
			if got := f.storedHash(t); got != tt.wantStored {
				t.Errorf("stored hash = %q, want %q", got, tt.wantStored)
			}
			if got := f.hasher.hashes - hashesBefore; got != tt.wantHashes {
				t.Errorf("login did %d hashes, want %d", got, tt.wantHashes)
			}
		})
	}
}

func TestLoginAfterRehashStillWorks(t *testing.T) {
	f := newFixture(t)
	f.activeUser(t)
	f.storeHash(t, oldParamsPrefix+astro.Password)
	for i := range 2 {
		if _, err := f.svc.Login(context.Background(), astro.Email, astro.Password, laptop); err != nil {
			t.Fatalf("login %d: %v", i+1, err)
		}
	}
	if got, want := f.storedHash(t), "fake$"+astro.Password; got != want {
		t.Errorf("stored hash = %q, want %q", got, want)
	}
}

// interferingStore wraps a store to disturb UpdateUser.
type interferingStore struct {
	ports.UserStore
	fail   error  // when set, UpdateUser fails with it
	before string // when set, the stored hash becomes this just before the update runs
}

func (s *interferingStore) UpdateUser(ctx context.Context, key ports.UserKey, update func(*domain.User) (ports.Effects, error)) (domain.User, error) {
	if s.fail != nil {
		return domain.User{}, s.fail
	}
	if s.before != "" {
		if _, err := s.UserStore.UpdateUser(ctx, key, func(u *domain.User) (ports.Effects, error) {
			u.PasswordHash = s.before
			return ports.Effects{}, nil
		}); err != nil {
			return domain.User{}, err
		}
	}
	return s.UserStore.UpdateUser(ctx, key, update)
}

func TestLoginSurvivesARehashThatCannotBeSaved(t *testing.T) {
	tests := []struct {
		name       string
		store      *interferingStore
		wantStored string
		wantLog    string // in the log; empty for no warning
	}{
		{"store fails", &interferingStore{fail: errors.New("disk full")},
			oldParamsPrefix + astro.Password, "could not store a password hash"},
		{"hash changed since it was verified", &interferingStore{before: "fake$NewPassword456!"},
			"fake$NewPassword456!", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.activeUser(t)
			f.storeHash(t, oldParamsPrefix+astro.Password)
			tt.store.UserStore = f.users
			f.svc.users = tt.store

			if _, err := f.svc.Login(context.Background(), astro.Email, astro.Password, laptop); err != nil {
				t.Fatalf("login failed because of the rehash: %v", err)
			}

			if got := f.storedHash(t); got != tt.wantStored {
				t.Errorf("stored hash = %q, want %q", got, tt.wantStored)
			}
			logs := f.log.String()
			if tt.wantLog != "" && !strings.Contains(logs, tt.wantLog) {
				t.Errorf("log lacks %q: %s", tt.wantLog, logs)
			}
			if tt.wantLog == "" && strings.Contains(logs, "level=WARN") {
				t.Errorf("log warns: %s", logs)
			}
			if strings.Contains(logs, astro.Password) {
				t.Errorf("log leaks the password: %s", logs)
			}
		})
	}
}
