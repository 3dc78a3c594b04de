package auth

import (
	"context"
	"errors"
	"testing"
	"time"

	"authapi/domain"
	"authapi/ports"
)

func (f *fixture) login(t *testing.T) ports.TokenPair {
	t.Helper()
	return f.loginWith(t, astro.Password)
}

func (f *fixture) loginWith(t *testing.T, password string) ports.TokenPair {
	t.Helper()
	pair, err := f.svc.Login(context.Background(), astro.Email, password, laptop)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	return pair
}

func (f *fixture) userID(t *testing.T) string {
	t.Helper()
	u, err := f.users.UserByEmail(context.Background(), "astro.user@example.com")
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

func TestLoginStartsASession(t *testing.T) {
	f := newFixture(t)
	f.activeUser(t)
	pair := f.login(t)
	access, _ := f.tokens.Verify(pair.Access.Token, domain.AccessToken, start)
	refresh, _ := f.tokens.Verify(pair.Refresh.Token, domain.RefreshToken, start)
	if access.SessionID == "" || access.SessionID != refresh.SessionID {
		t.Fatalf("tokens carry sessions %q and %q, want one and the same", access.SessionID, refresh.SessionID)
	}
	sessions, err := f.svc.Sessions(context.Background(), f.userID(t))
	if err != nil || len(sessions) != 1 {
		t.Fatalf("Sessions = %+v, %v", sessions, err)
	}
	s := sessions[0]
	if s.ID != access.SessionID || s.IP != laptop.IP || s.UserAgent != laptop.UserAgent ||
		!s.ExpiresAt.Equal(start.Add(720*time.Hour)) || s.RefreshTokenID != refresh.ID {
		t.Errorf("session = %+v", s)
	}
}

func TestEndedSessionsCannotRefresh(t *testing.T) {
	tests := []struct {
		name string
		end  func(t *testing.T, f *fixture, pair ports.TokenPair)
	}{
		{"logout", func(t *testing.T, f *fixture, pair ports.TokenPair) {
			if err := f.svc.Logout(context.Background(), pair.Refresh.Token, laptop); err != nil {
				t.Fatal(err)
			}
		}},
		{"logout everywhere", func(t *testing.T, f *fixture, pair ports.TokenPair) {
			if n, err := f.svc.LogoutAll(context.Background(), f.userID(t), laptop); err != nil || n != 2 {
				t.Fatalf("LogoutAll = %d, %v; want 2 sessions ended", n, err)
			}
		}},
		{"session ended by id", func(t *testing.T, f *fixture, pair ports.TokenPair) {
			claims, _ := f.tokens.Verify(pair.Refresh.Token, domain.RefreshToken, f.clock.Now())
			if err := f.svc.EndSession(context.Background(), f.userID(t), claims.SessionID, laptop); err != nil {
				t.Fatal(err)
			}
		}},
		{"session expired", func(t *testing.T, f *fixture, pair ports.TokenPair) {
			f.tokens.refreshTTL = 10000 * time.Hour // the token outlives its session
			f.clock.Advance(721 * time.Hour)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.activeUser(t)
			pair := f.login(t)
			other := f.login(t)
			tt.end(t, f, pair)
			if _, err := f.svc.Refresh(context.Background(), pair.Refresh.Token, laptop); !errors.Is(err, domain.ErrInvalidToken) {
				t.Errorf("refresh after the session ended = %v, want ErrInvalidToken", err)
			}
			_, err := f.svc.Refresh(context.Background(), other.Refresh.Token, laptop)
			if ended := tt.name == "logout everywhere" || tt.name == "session expired"; ended != errors.Is(err, domain.ErrInvalidToken) {
				t.Errorf("the other session's refresh = %v", err)
			}
		})
	}
}

func TestEndSessionOfAnotherUserIsNotFound(t *testing.T) {
	f := newFixture(t)
	f.activeUser(t)
	pair := f.login(t)
	claims, _ := f.tokens.Verify(pair.Refresh.Token, domain.RefreshToken, start)
	if err := f.svc.EndSession(context.Background(), "someone-else", claims.SessionID, laptop); !errors.Is(err, domain.ErrSessionNotFound) {
		t.Errorf("EndSession by another user = %v, want ErrSessionNotFound", err)
	}
	if _, err := f.svc.Refresh(context.Background(), pair.Refresh.Token, laptop); err != nil {
		t.Errorf("the session ended anyway: %v", err)
	}
	if err := f.svc.Logout(context.Background(), pair.Access.Token, laptop); !errors.Is(err, domain.ErrInvalidToken) {
		t.Errorf("logout with an access token = %v, want ErrInvalidToken", err)
	}
}

func TestRefreshRotation(t *testing.T) {
	f := newFixture(t)
	f.svc.cfg.RotateRefreshTokens = true
	f.activeUser(t)
	first := f.login(t)

	second, err := f.svc.Refresh(context.Background(), first.Refresh.Token, laptop)
	if err != nil {
		t.Fatal(err)
	}
	if second.Refresh.Token == "" || second.Refresh.Token == first.Refresh.Token {
		t.Fatalf("rotation returned refresh token %q", second.Refresh.Token)
	}

	// Two tabs: the replaced token, presented within the grace interval,
	// yields the session's current refresh token instead of an alarm.
	f.clock.Advance(5 * time.Second)
	raced, err := f.svc.Refresh(context.Background(), first.Refresh.Token, laptop)
	if err != nil {
		t.Fatalf("refresh within the grace interval: %v", err)
	}
	racedClaims, _ := f.tokens.Verify(raced.Refresh.Token, domain.RefreshToken, f.clock.Now())
	currentClaims, _ := f.tokens.Verify(second.Refresh.Token, domain.RefreshToken, f.clock.Now())
	if racedClaims.ID != currentClaims.ID {
		t.Errorf("grace refresh got token id %q, want the current %q", racedClaims.ID, currentClaims.ID)
	}

	// After the grace interval the replaced token is a stolen one: the
	// whole session ends, the legitimate holder's current token included.
	f.clock.Advance(6 * time.Second)
	if _, err := f.svc.Refresh(context.Background(), first.Refresh.Token, laptop); !errors.Is(err, domain.ErrInvalidToken) {
		t.Fatalf("reuse after the grace interval = %v, want ErrInvalidToken", err)
	}
	if _, err := f.svc.Refresh(context.Background(), second.Refresh.Token, laptop); !errors.Is(err, domain.ErrInvalidToken) {
		t.Errorf("session survived reuse detection: %v", err)
	}
	if sessions, _ := f.svc.Sessions(context.Background(), f.userID(t)); len(sessions) != 0 {
		t.Errorf("live sessions after reuse = %d", len(sessions))
	}
}

func TestRefreshRejectsATokenForAnotherUsersSession(t *testing.T) {
	f := newFixture(t)
	f.activeUser(t)
	pair := f.login(t)
	claims, err := f.tokens.Verify(pair.Refresh.Token, domain.RefreshToken, start)
	if err != nil {
		t.Fatal(err)
	}
	// A token naming astro's session, with its token id, but another user,
	// who exists, is active and can refresh tokens of her own.
	other := ports.SignupRequest{Email: "zoe@example.com", Password: "AnotherPassword1!", FirstName: "Zoë", LastName: "Z"}
	zoe, err := f.svc.Signup(context.Background(), other, laptop)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Verify(context.Background(), other.Email, domain.CodeProof(f.lastCode(t)), laptop); err != nil {
		t.Fatal(err)
	}
	own, err := f.svc.Login(context.Background(), other.Email, other.Password, laptop)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Refresh(context.Background(), own.Refresh.Token, laptop); err != nil {
		t.Fatalf("zoe's own refresh = %v", err)
	}
	forged, _, err := f.tokens.Issue(ports.TokenSpec{Kind: domain.RefreshToken, UserID: zoe.ID, SessionID: claims.SessionID, ID: claims.ID}, start)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Refresh(context.Background(), forged, laptop); !errors.Is(err, domain.ErrInvalidToken) {
		t.Errorf("refresh = %v, want ErrInvalidToken", err)
	}
}

func TestRefreshRecordsLastUseAtMostOnceAMinute(t *testing.T) {
	f := newFixture(t)
	f.activeUser(t)
	pair := f.login(t)
	claims, _ := f.tokens.Verify(pair.Refresh.Token, domain.RefreshToken, start)
	lastUsed := func() time.Time {
		sess, err := f.users.Session(context.Background(), claims.SessionID)
		if err != nil {
			t.Fatal(err)
		}
		return sess.LastUsedAt
	}
	for _, step := range []struct {
		advance time.Duration
		want    time.Time
	}{
		{30 * time.Second, start},                       // too soon to record
		{31 * time.Second, start.Add(61 * time.Second)}, // a minute has passed
		{10 * time.Second, start.Add(61 * time.Second)},
	} {
		f.clock.Advance(step.advance)
		if _, err := f.svc.Refresh(context.Background(), pair.Refresh.Token, laptop); err != nil {
			t.Fatal(err)
		}
		if got := lastUsed(); !got.Equal(step.want) {
			t.Errorf("at %v: last used %v, want %v", f.clock.Now().Sub(start), got.Sub(start), step.want.Sub(start))
		}
	}
}
