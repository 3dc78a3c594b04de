package porttest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"authapi/domain"
	"authapi/ports"
)

// TestSessionStore runs the ports.SessionStore contract against the stores
// newStore returns.
func TestSessionStore(t *testing.T, newStore NewStore) {
	t.Run("fixtures set every field", func(t *testing.T) { assertEveryFieldSet(t, "session", fullSession("s1", "u1", baseTime())) })
	t.Run("create then read back", func(t *testing.T) { testSessionRoundTrip(t, newStore) })
	t.Run("a session read with its account", func(t *testing.T) { testSessionWithUser(t, newStore) })
	t.Run("concurrent reads each get their own", func(t *testing.T) { testConcurrentReads(t, newStore) })
	t.Run("unknown session", func(t *testing.T) { testSessionUnknown(t, newStore) })
	t.Run("update error saves nothing", func(t *testing.T) { testSessionUpdateError(t, newStore) })
	t.Run("live sessions of a user", func(t *testing.T) { testLiveSessions(t, newStore) })
	t.Run("revoke all but one", func(t *testing.T) { testRevokeSessions(t, newStore) })
	t.Run("deleting the user deletes its sessions", func(t *testing.T) { testSessionsDeletedWithUser(t, newStore) })
	t.Run("an account change ends sessions with it", func(t *testing.T) { testEndSessionsEffect(t, newStore) })
	t.Run("a new session is the account's last login", func(t *testing.T) { testLastLogin(t, newStore) })
	t.Run("session changes save their events", func(t *testing.T) { testSessionEvents(t, newStore) })
}

func newTestSession(id, userID string, created time.Time) domain.Session {
	return domain.NewSession(id, userID, "jti-"+id, domain.Client{IP: "192.0.2.7", UserAgent: "curl/8.5"}, created, 720*time.Hour)
}

// fullSession is a session in which every field is set: rotated, used and
// revoked.
func fullSession(id, userID string, created time.Time) domain.Session {
	s := domain.NewSession(id, userID, "jti-"+id, domain.Client{IP: "2001:db8::7", Source: "2001:db8::/64", UserAgent: "Mozilla/5.0 (X11) Ünïcode"}, created, 720*time.Hour)
	s.Rotate("jti-"+id+"-2", created.Add(time.Minute))
	s.LastUsedAt = created.Add(2 * time.Minute)
	s.Revoke(created.Add(3 * time.Minute))
	s.AMR = []string{domain.AMRPassword, domain.AMROTP}
	s.SecondFactorAt = created.Add(4 * time.Minute)
	return s
}

// storeWithUsers returns a store holding n accounts, whose ids it returns.
func storeWithUsers(t *testing.T, newStore NewStore, n int) (Store, []string) {
	t.Helper()
	s := newStore(t)
	var ids []string
	for i := 1; i <= n; i++ {
		u := newTestUser(t, i, fmt.Sprintf("user%d@example.com", i))
		if err := s.CreateUser(t.Context(), u, ports.Effects{}); err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
		ids = append(ids, u.ID)
	}
	return s, ids
}

func testSessionRoundTrip(t *testing.T, newStore NewStore) {
	s, users := storeWithUsers(t, newStore, 1)
	full := fullSession("full", users[0], baseTime())
	if err := s.CreateSession(t.Context(), full); err != nil {
		t.Fatalf("CreateSession(full): %v", err)
	}
	read, err := s.Session(t.Context(), "full")
	if err != nil {
		t.Fatalf("Session: %v", err)
	}
	assertEqual(t, "a session with every field set", read, full)

	want := newTestSession("s1", users[0], baseTime())
	if err := s.CreateSession(t.Context(), want); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	later := baseTime().Add(time.Minute)
	got, err := s.UpdateSession(t.Context(), "s1", func(sess *domain.Session) ([]domain.AuditEvent, error) {
		assertEqual(t, "the session UpdateSession loaded", *sess, want)
		sess.Rotate("jti-2", later)
		sess.LastUsedAt = later
		return nil, nil
	})
	if err != nil {
		t.Fatalf("UpdateSession: %v", err)
	}
	want.Rotate("jti-2", later)
	want.LastUsedAt = later
	live, err := s.SessionsOfUser(t.Context(), users[0], later)
	if err != nil || len(live) != 1 {
		t.Fatalf("SessionsOfUser = %v, %v; want the one live session", live, err)
	}
	read, err = s.Session(t.Context(), "s1")
	if err != nil {
		t.Fatalf("Session: %v", err)
	}
	for what, sess := range map[string]domain.Session{"UpdateSession result": got, "SessionsOfUser": live[0], "Session": read} {
		assertEqual(t, what, sess, want)
	}
	// Revoking saves the revocation.
	revokedAt := later.Add(time.Minute)
	if _, err := s.UpdateSession(t.Context(), "s1", func(sess *domain.Session) ([]domain.AuditEvent, error) { sess.Revoke(revokedAt); return nil, nil }); err != nil {
		t.Fatalf("UpdateSession: %v", err)
	}
	want.Revoke(revokedAt)
	read, err = s.Session(t.Context(), "s1")
	if err != nil {
		t.Fatalf("Session: %v", err)
	}
	assertEqual(t, "the revoked session", read, want)
}

// testSessionWithUser checks that SessionWithUser reads the session and its
// account whole, as Session and UserByID read them, and as they are now.
func testSessionWithUser(t *testing.T, newStore NewStore) {
	ctx := t.Context()
	s := newStore(t)
	// fullUser is inactive: the other account is active, so that a store
	// that forgets Active is caught too.
	owner, other := fullUser(t, 1, "owner@example.com"), withUpdate(t, newTestUser(t, 2, "other@example.com"), activate)
	for _, u := range []domain.User{owner, other} {
		if err := s.CreateUser(ctx, u, ports.Effects{}); err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
	}
	full := fullSession("full", owner.ID, baseTime())
	for _, sess := range []domain.Session{full, newTestSession("other", other.ID, baseTime())} {
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
	}
	check := func(what string, wantSession domain.Session) {
		t.Helper()
		wantUser, err := s.UserByID(ctx, wantSession.UserID)
		if err != nil {
			t.Fatalf("UserByID: %v", err)
		}
		sess, user, err := s.SessionWithUser(ctx, wantSession.ID)
		if err != nil {
			t.Fatalf("SessionWithUser: %v", err)
		}
		assertEqual(t, what+": the session", sess, wantSession)
		assertEqual(t, what+": the account", user, wantUser)
	}
	check("a session and an account with every field set", full)

	// Changes of either show at once.
	later := baseTime().Add(time.Hour)
	if _, err := s.UpdateSession(ctx, "full", func(sess *domain.Session) ([]domain.AuditEvent, error) {
		sess.Revoke(later)
		return nil, nil
	}); err != nil {
		t.Fatalf("UpdateSession: %v", err)
	}
	full.Revoke(later)
	if _, err := s.UpdateUser(ctx, ports.UserID(owner.ID), NoEffects(func(u *domain.User) error {
		u.FirstName = "Renamed"
		return nil
	})); err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	check("after a change of both", full)
	check("another account's session", newTestSession("other", other.ID, baseTime()))

	if err := s.DeleteUser(ctx, owner.ID, ports.Effects{}); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	if _, _, err := s.SessionWithUser(ctx, "full"); !errors.Is(err, domain.ErrSessionNotFound) {
		t.Errorf("SessionWithUser of a deleted account's session = %v, want ErrSessionNotFound", err)
	}
}

func testSessionUnknown(t *testing.T, newStore NewStore) {
	s := newStore(t)
	_, err := s.UpdateSession(t.Context(), "nope", func(*domain.Session) ([]domain.AuditEvent, error) { return nil, nil })
	if !errors.Is(err, domain.ErrSessionNotFound) {
		t.Errorf("UpdateSession = %v, want ErrSessionNotFound", err)
	}
	if _, err := s.Session(t.Context(), "nope"); !errors.Is(err, domain.ErrSessionNotFound) {
		t.Errorf("Session = %v, want ErrSessionNotFound", err)
	}
	if _, _, err := s.SessionWithUser(t.Context(), "nope"); !errors.Is(err, domain.ErrSessionNotFound) {
		t.Errorf("SessionWithUser = %v, want ErrSessionNotFound", err)
	}
	for _, odd := range oddKeys {
		if _, err := s.Session(t.Context(), odd.key); !errors.Is(err, domain.ErrSessionNotFound) {
			t.Errorf("Session(id %s) = %v, want ErrSessionNotFound", odd.name, err)
		}
		if _, _, err := s.SessionWithUser(t.Context(), odd.key); !errors.Is(err, domain.ErrSessionNotFound) {
			t.Errorf("SessionWithUser(id %s) = %v, want ErrSessionNotFound", odd.name, err)
		}
		_, err := s.UpdateSession(t.Context(), odd.key, func(*domain.Session) ([]domain.AuditEvent, error) { return nil, nil })
		if !errors.Is(err, domain.ErrSessionNotFound) {
			t.Errorf("UpdateSession(id %s) = %v, want ErrSessionNotFound", odd.name, err)
		}
		if got, err := s.SessionsOfUser(t.Context(), odd.key, baseTime()); err != nil || len(got) != 0 {
			t.Errorf("SessionsOfUser(user %s) = %v, %v; want none", odd.name, got, err)
		}
		if n, err := s.RevokeSessions(t.Context(), odd.key, baseTime(), odd.key); err != nil || n != 0 {
			t.Errorf("RevokeSessions(user %s) = %d, %v; want none", odd.name, n, err)
		}
	}
}

func testSessionUpdateError(t *testing.T, newStore NewStore) {
	s, users := storeWithUsers(t, newStore, 1)
	if err := s.CreateSession(t.Context(), newTestSession("s1", users[0], baseTime())); err != nil {
		t.Fatal(err)
	}
	refused := errors.New("refused")
	_, err := s.UpdateSession(t.Context(), "s1", func(sess *domain.Session) ([]domain.AuditEvent, error) {
		sess.Revoke(baseTime())
		return []domain.AuditEvent{testEvent(domain.EventLogout, users[0], baseTime())}, refused
	})
	if !errors.Is(err, refused) {
		t.Fatalf("UpdateSession = %v, want the update's error", err)
	}
	if live, _ := s.SessionsOfUser(t.Context(), users[0], baseTime()); len(live) != 1 {
		t.Error("a failed update was saved")
	}
	if events := auditOf(t, s, ports.AuditQuery{}); len(events) != 0 {
		t.Errorf("a failed update saved its events: %+v", events)
	}
}

func testLiveSessions(t *testing.T, newStore NewStore) {
	s, users := storeWithUsers(t, newStore, 2)
	t0 := baseTime()
	for _, sess := range []domain.Session{
		newTestSession("old", users[0], t0),
		newTestSession("new", users[0], t0.Add(time.Hour)),
		newTestSession("revoked", users[0], t0.Add(2*time.Hour)),
		newTestSession("expired", users[0], t0.Add(-721*time.Hour)),
		newTestSession("other-user", users[1], t0),
	} {
		if err := s.CreateSession(t.Context(), sess); err != nil {
			t.Fatalf("CreateSession(%s): %v", sess.ID, err)
		}
	}
	if _, err := s.UpdateSession(t.Context(), "revoked", func(sess *domain.Session) ([]domain.AuditEvent, error) {
		sess.Revoke(t0.Add(2 * time.Hour))
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	live, err := s.SessionsOfUser(t.Context(), users[0], t0.Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := []domain.Session{newTestSession("new", users[0], t0.Add(time.Hour)), newTestSession("old", users[0], t0)}
	assertEqual(t, "live sessions, newest first", live, want)
}

func testRevokeSessions(t *testing.T, newStore NewStore) {
	s, users := storeWithUsers(t, newStore, 2)
	t0 := baseTime()
	for _, sess := range []domain.Session{
		newTestSession("a", users[0], t0), newTestSession("b", users[0], t0), newTestSession("keep", users[0], t0),
		newTestSession("other-user", users[1], t0),
	} {
		if err := s.CreateSession(t.Context(), sess); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.RevokeSessions(t.Context(), users[0], t0.Add(time.Minute), "keep")
	if err != nil || n != 2 {
		t.Fatalf("RevokeSessions = %d, %v; want 2", n, err)
	}
	if live, _ := s.SessionsOfUser(t.Context(), users[0], t0.Add(time.Minute)); len(live) != 1 || live[0].ID != "keep" {
		t.Errorf("live after revoke = %+v", live)
	}
	if live, _ := s.SessionsOfUser(t.Context(), users[1], t0.Add(time.Minute)); len(live) != 1 {
		t.Error("another user's session was revoked")
	}
	if n, _ := s.RevokeSessions(t.Context(), users[0], t0.Add(time.Minute), ""); n != 1 {
		t.Errorf("revoking all = %d, want the 1 left", n)
	}
}

func testSessionsDeletedWithUser(t *testing.T, newStore NewStore) {
	s, users := storeWithUsers(t, newStore, 1)
	if err := s.CreateSession(t.Context(), newTestSession("s1", users[0], baseTime())); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(t.Context(), users[0], ports.Effects{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateSession(t.Context(), "s1", func(*domain.Session) ([]domain.AuditEvent, error) { return nil, nil }); !errors.Is(err, domain.ErrSessionNotFound) {
		t.Errorf("session of a deleted user = %v, want ErrSessionNotFound", err)
	}
}

func testEndSessionsEffect(t *testing.T, newStore NewStore) {
	s, users := storeWithUsers(t, newStore, 2)
	t0 := baseTime()
	for _, sess := range []domain.Session{
		newTestSession("a", users[0], t0), newTestSession("keep", users[0], t0), newTestSession("other-user", users[1], t0),
	} {
		if err := s.CreateSession(t.Context(), sess); err != nil {
			t.Fatal(err)
		}
	}
	end := t0.Add(time.Minute)
	refused := errors.New("refused")
	_, err := s.UpdateUser(t.Context(), ports.UserID(users[0]), func(*domain.User) (ports.Effects, error) {
		return ports.Effects{EndSessions: &ports.EndSessions{At: end}}, refused
	})
	if !errors.Is(err, refused) {
		t.Fatalf("UpdateUser = %v, want the update's error", err)
	}
	if live, _ := s.SessionsOfUser(t.Context(), users[0], end); len(live) != 2 {
		t.Fatalf("a refused update ended sessions: %d live, want 2", len(live))
	}
	_, err = s.UpdateUser(t.Context(), ports.UserID(users[0]), func(*domain.User) (ports.Effects, error) {
		return ports.Effects{EndSessions: &ports.EndSessions{At: end, Except: "keep"}}, nil
	})
	if err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	ended, err := s.Session(t.Context(), "a")
	if err != nil {
		t.Fatal(err)
	}
	want := newTestSession("a", users[0], t0)
	want.Revoke(end)
	assertEqual(t, "the ended session", ended, want)
	for user, ids := range map[string][]string{users[0]: {"keep"}, users[1]: {"other-user"}} {
		live, err := s.SessionsOfUser(t.Context(), user, end)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, sess := range live {
			got = append(got, sess.ID)
		}
		assertEqual(t, "live sessions of "+user, got, ids)
	}
}

// testConcurrentReads reads many accounts and sessions at once, as requests
// under load do, and wants for each exactly what a read on its own returns:
// a store may share reads between concurrent callers (the PostgreSQL one
// does), but never give one caller another's row or a field less.
func testConcurrentReads(t *testing.T, newStore NewStore) {
	ctx := t.Context()
	s := newStore(t)
	const accounts, readsEach = 8, 4
	type pair struct {
		session domain.Session
		user    domain.User
	}
	var want []pair
	for i := 1; i <= accounts; i++ {
		email, sessionID := fmt.Sprintf("reader%d@example.com", i), fmt.Sprintf("session-%d", i)
		u := newTestUser(t, i, email)
		sess := newTestSession(sessionID, u.ID, baseTime())
		if i%2 == 0 { // half with every field set
			u = fullUser(t, i, email)
			sess = fullSession(sessionID, u.ID, baseTime())
		}
		if err := s.CreateUser(ctx, u, ports.Effects{}); err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
		user, err := s.UserByID(ctx, u.ID)
		if err != nil {
			t.Fatalf("UserByID: %v", err)
		}
		stored, _, err := s.SessionWithUser(ctx, sess.ID)
		if err != nil {
			t.Fatalf("SessionWithUser: %v", err)
		}
		want = append(want, pair{stored, user})
	}

	var wg sync.WaitGroup
	errs := make(chan error, 3*accounts*readsEach)
	for range readsEach {
		for _, w := range want {
			wg.Go(func() {
				user, err := s.UserByID(ctx, w.user.ID)
				if err != nil || diff(w.user, user) != "" {
					errs <- fmt.Errorf("UserByID(%s) = %+v, %v; want %+v", w.user.ID, user, err, w.user)
				}
			})
			wg.Go(func() {
				sess, user, err := s.SessionWithUser(ctx, w.session.ID)
				if err != nil || diff(w.session, sess) != "" || diff(w.user, user) != "" {
					errs <- fmt.Errorf("SessionWithUser(%s) = %+v, %+v, %v; want %+v, %+v", w.session.ID, sess, user, err, w.session, w.user)
				}
			})
		}
		wg.Go(func() {
			if _, err := s.UserByID(ctx, "no-such-user"); !errors.Is(err, domain.ErrUserNotFound) {
				errs <- fmt.Errorf("UserByID of an unknown id: err = %v, want ErrUserNotFound", err)
			}
			if _, _, err := s.SessionWithUser(ctx, "no-such-session"); !errors.Is(err, domain.ErrSessionNotFound) {
				errs <- fmt.Errorf("SessionWithUser of an unknown id: err = %v, want ErrSessionNotFound", err)
			}
		})
	}
	wg.Wait()
	close(errs)
	// One wrong read says what is broken; hundreds would only slow the
	// suites that run against deliberately broken stores.
	if err, ok := <-errs; ok {
		t.Errorf("%v (and %d more wrong reads)", err, len(errs))
	}
}
