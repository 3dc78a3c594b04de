package auth

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"authapi/domain"
	"authapi/ports"
)

// events returns the audit log, oldest first, for reading a story in order.
func (f *fixture) events(t *testing.T, q ports.AuditQuery) []domain.AuditEvent {
	t.Helper()
	q.Limit = 1000
	events, err := f.users.AuditEvents(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(events)
	return events
}

func typesOf(events []domain.AuditEvent) []domain.EventType {
	var types []domain.EventType
	for _, e := range events {
		types = append(types, e.Type)
	}
	return types
}

// TestAnAccountsStoryIsRecorded follows an account through its life and
// reads the audit log: each change left one event, about the account, from
// the client that made it, and no event carries a secret.
func TestAnAccountsStoryIsRecorded(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.svc.cfg.ForgotPasswordMinDuration = 0
	code := f.signup(t)
	if err := f.svc.Verify(ctx, astro.Email, domain.CodeProof(code), laptop); err != nil {
		t.Fatal(err)
	}
	pair := f.login(t)
	id := f.userID(t)
	claims := domain.Claims{UserID: id, SessionID: f.sessionOf(t, pair)}
	if err := f.svc.ChangePassword(ctx, claims, astro.Password, "Another-Long-Password-42", false, "", laptop); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Logout(ctx, pair.Refresh.Token, laptop); err != nil {
		t.Fatal(err)
	}
	second := f.loginWith(t, "Another-Long-Password-42")
	if _, err := f.svc.LogoutAll(ctx, id, laptop); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.ForgotPassword(ctx, astro.Email, laptop); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DeleteAccount(ctx, domain.Claims{UserID: id}, "Another-Long-Password-42", "", laptop); err != nil {
		t.Fatal(err)
	}
	_ = second

	events := f.events(t, ports.AuditQuery{UserID: id})
	want := []domain.EventType{
		domain.EventSignup, domain.EventActivation, domain.EventLogin, domain.EventPasswordChanged,
		domain.EventLogout, domain.EventLogin, domain.EventLogoutAll, domain.EventPasswordResetRequested,
		domain.EventAccountDeleted,
	}
	if got := typesOf(events); !slices.Equal(got, want) {
		t.Fatalf("the account's events = %v, want %v", got, want)
	}
	for _, e := range events {
		if e.UserID != id || e.IP != laptop.IP || e.UserAgent != laptop.UserAgent || e.Actor != "" || e.At.IsZero() {
			t.Errorf("event %+v: want the account, the laptop's address and agent, no actor, a time", e)
		}
		for _, secret := range []string{astro.Password, "Another-Long-Password-42", code, pair.Refresh.Token, pair.Access.Token} {
			if e.Email == secret || e.Reason == secret || e.UserAgent == secret {
				t.Errorf("event %s carries a secret", e.Type)
			}
		}
	}
}

// sessionOf returns the session id of a token pair, as the fake tokens
// carry it.
func (f *fixture) sessionOf(t *testing.T, pair ports.TokenPair) string {
	t.Helper()
	claims, err := f.tokens.Verify(pair.Access.Token, domain.AccessToken, f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return claims.SessionID
}

// TestFailedLoginsAreRecordedWithTheirReason: every failed login leaves an
// event saying why, with the email as typed and the account when there is
// one.
func TestFailedLoginsAreRecordedWithTheirReason(t *testing.T) {
	tests := []struct {
		name     string
		prepare  func(t *testing.T, f *fixture)
		email    string
		password string
		wantErr  error
		reason   string
		account  bool
	}{
		{"unknown email", nil, " Nobody@Example.com ", astro.Password, domain.ErrInvalidCredentials, domain.ReasonUnknownEmail, false},
		{"wrong password", func(t *testing.T, f *fixture) { f.activeUser(t) }, astro.Email, "wrong password!", domain.ErrInvalidCredentials, domain.ReasonWrongPassword, true},
		{"not active", func(t *testing.T, f *fixture) { f.signup(t) }, astro.Email, astro.Password, domain.ErrAccountNotActive, domain.ReasonNotActive, true},
		{"disabled", func(t *testing.T, f *fixture) {
			f.activeUser(t)
			f.update(t, func(u *domain.User) { u.Disable(f.clock.Now()) })
		}, astro.Email, astro.Password, domain.ErrAccountDisabled, domain.ReasonDisabled, true},
		{"locked", func(t *testing.T, f *fixture) {
			f.activeUser(t)
			for i := range f.svc.cfg.Limits.Login.LockAfter {
				client := domain.Client{IP: "198.51.100.1", Source: "198.51.100." + string(rune('a'+i))}
				f.svc.Login(context.Background(), astro.Email, "wrong password!", client)
			}
		}, astro.Email, astro.Password, domain.ErrAccountLocked, domain.ReasonLocked, false},
		{"limited", func(t *testing.T, f *fixture) {
			f.svc.cfg.Limits.LoginPerSource = ports.Limit{Name: "login", Rates: []ports.Rate{{Events: 1, Per: time.Hour, Burst: 1}}}
			f.activeUser(t)
			f.svc.Login(context.Background(), astro.Email, "wrong password!", laptop)
		}, astro.Email, astro.Password, domain.ErrTooManyRequests, domain.ReasonLimited, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if tt.prepare != nil {
				tt.prepare(t, f)
			}
			before := len(f.events(t, ports.AuditQuery{Types: []domain.EventType{domain.EventLoginFailed}}))
			_, err := f.svc.Login(context.Background(), tt.email, tt.password, laptop)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Login = %v, want %v", err, tt.wantErr)
			}
			failures := f.events(t, ports.AuditQuery{Types: []domain.EventType{domain.EventLoginFailed}})
			if len(failures) != before+1 {
				t.Fatalf("%d failed-login events after the attempt, want %d", len(failures), before+1)
			}
			e := failures[len(failures)-1]
			if e.Reason != tt.reason || e.Email != strings.TrimSpace(tt.email) || e.IP != laptop.IP {
				t.Errorf("event = %+v, want reason %s, the email as typed (trimmed), the client", e, tt.reason)
			}
			if hasAccount := e.UserID != ""; tt.account && !hasAccount {
				t.Errorf("event without the account: %+v", e)
			}
		})
	}
}

// TestALockoutIsRecorded: the failure that locks an account leaves a
// lockout event beside it, and the owner's unlock link another.
func TestALockoutIsRecorded(t *testing.T) {
	f := newFixture(t)
	f.activeUser(t)
	for i := range f.svc.cfg.Limits.Login.LockAfter {
		client := domain.Client{IP: "198.51.100.1", Source: "198.51.100." + string(rune('a'+i))}
		f.svc.Login(context.Background(), astro.Email, "wrong password!", client)
	}
	if got := f.events(t, ports.AuditQuery{Types: []domain.EventType{domain.EventLockout}}); len(got) != 1 || got[0].UserID != f.userID(t) {
		t.Errorf("lockout events = %+v, want one for the account", got)
	}
}

// TestRefreshTokenReuseIsRecorded: with rotation, presenting a replaced
// refresh token ends the session and leaves an event saying so.
func TestRefreshTokenReuseIsRecorded(t *testing.T) {
	f := newFixture(t)
	f.svc.cfg.RotateRefreshTokens = true
	f.svc.cfg.ReuseInterval = 0
	f.activeUser(t)
	pair := f.login(t)
	if _, err := f.svc.Refresh(context.Background(), pair.Refresh.Token, laptop); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Minute)
	if _, err := f.svc.Refresh(context.Background(), pair.Refresh.Token, laptop); !errors.Is(err, domain.ErrInvalidToken) {
		t.Fatalf("reuse = %v, want invalid_token", err)
	}
	if got := f.events(t, ports.AuditQuery{Types: []domain.EventType{domain.EventRefreshReuse}}); len(got) != 1 {
		t.Errorf("reuse events = %+v, want one", got)
	}
}

// TestActivityIsTheCallersOwn: a user sees the account's own events, newest
// first, and nobody else's.
func TestActivityIsTheCallersOwn(t *testing.T) {
	f := newFixture(t)
	f.activeUser(t)
	f.login(t)
	other := astro
	other.Email = "other@example.com"
	if _, err := f.svc.Signup(context.Background(), other, laptop); err != nil {
		t.Fatal(err)
	}
	events, err := f.svc.Activity(context.Background(), f.userID(t))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := typesOf(events), []domain.EventType{domain.EventLogin, domain.EventActivation, domain.EventSignup}; !slices.Equal(got, want) {
		t.Errorf("activity = %v, want %v", got, want)
	}
}

// TestDisabledAccountsLoseTheirTokens: a disabled account's refresh token
// fails, and only the right password learns that it is disabled.
func TestDisabledAccountsLoseTheirTokens(t *testing.T) {
	f := newFixture(t)
	f.activeUser(t)
	pair := f.login(t)
	f.update(t, func(u *domain.User) { u.Disable(f.clock.Now()) })
	if _, err := f.svc.Refresh(context.Background(), pair.Refresh.Token, laptop); !errors.Is(err, domain.ErrInvalidToken) {
		t.Errorf("refresh of a disabled account = %v, want invalid_token", err)
	}
	if _, err := f.svc.Login(context.Background(), astro.Email, "wrong password!", laptop); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Errorf("wrong password on a disabled account = %v, want invalid_credentials", err)
	}
	if _, err := f.svc.Login(context.Background(), astro.Email, astro.Password, laptop); !errors.Is(err, domain.ErrAccountDisabled) {
		t.Errorf("right password on a disabled account = %v, want account_disabled", err)
	}
}
