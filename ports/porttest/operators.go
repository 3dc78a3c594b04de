package porttest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"authapi/domain"
	"authapi/ports"
)

// TestOperators runs the contract of what operators use: listing accounts,
// the audit log and the admin keys.
func TestOperators(t *testing.T, newStore NewStore) {
	t.Run("fixtures set every field", func(t *testing.T) {
		assertEveryFieldSet(t, "audit event", fullEvent(1, "u1", baseTime()), "ID")
		assertEveryFieldSet(t, "admin key", revokedKey("k", baseTime()))
	})
	t.Run("accounts list in creation order, page by page", func(t *testing.T) { testListUsersPages(t, newStore) })
	t.Run("accounts filter by email prefix and state", func(t *testing.T) { testListUsersFilters(t, newStore) })
	t.Run("an account change saves its events", func(t *testing.T) { testEffectEvents(t, newStore) })
	t.Run("the audit log reads back, filtered and by page", func(t *testing.T) { testAuditEvents(t, newStore) })
	t.Run("the audit log is pruned by age", func(t *testing.T) { testPruneAudit(t, newStore) })
	t.Run("admin keys", func(t *testing.T) { testAdminKeys(t, newStore) })
}

// testEvent is an event of typ about userID at at.
func testEvent(typ domain.EventType, userID string, at time.Time) domain.AuditEvent {
	return domain.AuditEvent{At: at, Type: typ, UserID: userID, IP: "192.0.2.7", UserAgent: "curl/8.5"}
}

// fullEvent is an event in which every field is set, but the ID the store
// assigns.
func fullEvent(n int, userID string, at time.Time) domain.AuditEvent {
	return domain.AuditEvent{
		At: at, Type: domain.EventLoginFailed, UserID: userID, Email: fmt.Sprintf("Typed%d@Example.com", n),
		Reason: domain.ReasonWrongPassword, Actor: domain.AdminActor("ops"), IP: "2001:db8::7", UserAgent: "Mozilla/5.0 Ünïcode",
	}
}

func revokedKey(name string, at time.Time) domain.AdminKey {
	hash := make([]byte, 32)
	copy(hash, name)
	return domain.AdminKey{Name: name, Hash: hash, CreatedAt: at, RevokedAt: at.Add(time.Hour)}
}

// auditOf reads the events q selects, with a page large enough for any
// test.
func auditOf(t *testing.T, s Store, q ports.AuditQuery) []domain.AuditEvent {
	t.Helper()
	if q.Limit == 0 {
		q.Limit = 1000
	}
	events, err := s.AuditEvents(t.Context(), q)
	if err != nil {
		t.Fatalf("AuditEvents: %v", err)
	}
	return events
}

// withoutIDs blanks the IDs the store assigned, for comparing with what was
// recorded; it checks that they are set and descending, as listed.
func withoutIDs(t *testing.T, events []domain.AuditEvent) []domain.AuditEvent {
	t.Helper()
	out := clone(events)
	for i := range out {
		if events[i].ID <= 0 || (i > 0 && events[i].ID >= events[i-1].ID) {
			t.Fatalf("event IDs %v: want positive and descending", idsOf(events))
		}
		out[i].ID = 0
	}
	return out
}

func idsOf(events []domain.AuditEvent) []int64 {
	ids := make([]int64, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	return ids
}

func listIDs(t *testing.T, s Store, q ports.UserQuery) []string {
	t.Helper()
	if q.Limit == 0 {
		q.Limit = 100
	}
	if q.Now.IsZero() {
		q.Now = baseTime()
	}
	page, err := s.ListUsers(t.Context(), q)
	if err != nil {
		t.Fatalf("ListUsers(%+v): %v", q, err)
	}
	var ids []string
	for _, a := range page {
		ids = append(ids, a.ID)
	}
	return ids
}

func testListUsersPages(t *testing.T, newStore NewStore) {
	s := newStore(t)
	var created []string
	for i := 1; i <= 5; i++ {
		u := newTestUser(t, i, fmt.Sprintf("user%d@example.com", i))
		if err := s.CreateUser(t.Context(), u, ports.Effects{}); err != nil {
			t.Fatal(err)
		}
		created = append(created, u.ID)
	}
	slices.Sort(created)
	if got := listIDs(t, s, ports.UserQuery{}); !slices.Equal(got, created) {
		t.Fatalf("ListUsers = %v, want every account in id order %v", got, created)
	}
	first := listIDs(t, s, ports.UserQuery{Limit: 2})
	if !slices.Equal(first, created[:2]) {
		t.Fatalf("first page = %v, want %v", first, created[:2])
	}
	// An account that signs up between two pages comes at the end: the
	// listing neither skips nor repeats one.
	late := newTestUser(t, 200, "late@example.com")
	if err := s.CreateUser(t.Context(), late, ports.Effects{}); err != nil {
		t.Fatal(err)
	}
	var rest []string
	after := first[len(first)-1]
	for {
		page := listIDs(t, s, ports.UserQuery{After: after, Limit: 2})
		if len(page) == 0 {
			break
		}
		rest = append(rest, page...)
		after = page[len(page)-1]
	}
	if want := append(slices.Clone(created[2:]), late.ID); !slices.Equal(rest, want) {
		t.Errorf("the pages after the first = %v, want %v", rest, want)
	}
	// A page holds whole accounts.
	page, err := s.ListUsers(t.Context(), ports.UserQuery{Limit: 1, Now: baseTime(), EmailPrefix: "late@"})
	if err != nil || len(page) != 1 {
		t.Fatalf("ListUsers(late@) = %v, %v", page, err)
	}
	assertEqual(t, "the listed account", page[0], ports.AccountSummary{User: late})
}

func testListUsersFilters(t *testing.T, newStore NewStore) {
	s := newStore(t)
	now := baseTime()
	create := func(n int, email string, change func(*domain.User)) string {
		u := newTestUser(t, n, email)
		if change != nil {
			change(&u)
		}
		if err := s.CreateUser(t.Context(), u, ports.Effects{}); err != nil {
			t.Fatal(err)
		}
		return u.ID
	}
	activate := func(u *domain.User) { u.MarkVerified(now) }
	inactive := create(1, "ann@example.com", nil)
	active := create(2, "anna@example.org", activate)
	disabled := create(3, "bob@example.com", func(u *domain.User) { activate(u); u.Disable(now) })
	lockedActive := create(4, "a_b%c@example.com", activate)
	for i := range policy.LockAfter {
		admit(t, s, "a_b%c@example.com", fmt.Sprint("203.0.113.", i%policy.FreeFailures), now)
	}
	sorted := func(ids ...string) []string { slices.Sort(ids); return ids }
	tests := []struct {
		name string
		q    ports.UserQuery
		want []string
	}{
		{"prefix", ports.UserQuery{EmailPrefix: "ann"}, sorted(inactive, active)},
		{"longer prefix", ports.UserQuery{EmailPrefix: "anna@"}, sorted(active)},
		{"prefix that is a whole email", ports.UserQuery{EmailPrefix: "bob@example.com"}, sorted(disabled)},
		{"no match", ports.UserQuery{EmailPrefix: "zed"}, nil},
		// LIKE's wildcards are plain characters in a prefix.
		{"prefix with wildcards", ports.UserQuery{EmailPrefix: "a_b%"}, sorted(lockedActive)},
		{"wildcards match nothing else", ports.UserQuery{EmailPrefix: "a%"}, nil},
		{"active", ports.UserQuery{State: ports.StateActive}, sorted(active, lockedActive)},
		{"inactive", ports.UserQuery{State: ports.StateInactive}, sorted(inactive)},
		{"disabled", ports.UserQuery{State: ports.StateDisabled}, sorted(disabled)},
		{"locked", ports.UserQuery{State: ports.StateLocked}, sorted(lockedActive)},
		{"locked, after the lock ran out", ports.UserQuery{State: ports.StateLocked, Now: now.Add(24 * time.Hour)}, nil},
		{"prefix and state", ports.UserQuery{EmailPrefix: "ann", State: ports.StateActive}, sorted(active)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := listIDs(t, s, tt.q); !slices.Equal(got, tt.want) {
				t.Errorf("ListUsers(%+v) = %v, want %v", tt.q, got, tt.want)
			}
		})
	}
	page, err := s.ListUsers(t.Context(), ports.UserQuery{EmailPrefix: "a_b", Limit: 10, Now: now})
	if err != nil || len(page) != 1 {
		t.Fatalf("ListUsers = %v, %v", page, err)
	}
	if want := now.Add(policy.FirstLock); !page[0].LockedUntil.Equal(want) {
		t.Errorf("LockedUntil = %v, want %v", page[0].LockedUntil, want)
	}
}

func testEffectEvents(t *testing.T, newStore NewStore) {
	s := newStore(t)
	u := newTestUser(t, 1, "a@example.com")
	signup := fullEvent(1, u.ID, baseTime())
	if err := s.CreateUser(t.Context(), u, ports.Effects{Events: []domain.AuditEvent{signup}}); err != nil {
		t.Fatal(err)
	}
	refused := errors.New("refused")
	_, err := s.UpdateUser(t.Context(), ports.UserID(u.ID), func(*domain.User) (ports.Effects, error) {
		return ports.Effects{Events: []domain.AuditEvent{testEvent(domain.EventActivation, u.ID, baseTime())}}, refused
	})
	if !errors.Is(err, refused) {
		t.Fatal(err)
	}
	if err := s.CreateUser(t.Context(), newTestUser(t, 2, "a@example.com"), ports.Effects{Events: []domain.AuditEvent{testEvent(domain.EventSignup, "dup", baseTime())}}); !errors.Is(err, domain.ErrEmailTaken) {
		t.Fatal(err)
	}
	deleted := testEvent(domain.EventAccountDeleted, u.ID, baseTime().Add(time.Minute))
	if err := s.DeleteUser(t.Context(), u.ID, ports.Effects{Events: []domain.AuditEvent{deleted}}); err != nil {
		t.Fatal(err)
	}
	assertEqual(t, "the events saved", withoutIDs(t, auditOf(t, s, ports.AuditQuery{})), []domain.AuditEvent{deleted, signup})
}

func testAuditEvents(t *testing.T, newStore NewStore) {
	s := newStore(t)
	t0 := baseTime()
	var recorded []domain.AuditEvent
	for i := range 6 {
		user := []string{"u1", "u2", ""}[i%3]
		e := fullEvent(i, user, t0.Add(time.Duration(i)*time.Minute))
		if i%2 == 1 {
			e.Type = domain.EventLogin
		}
		recorded = append(recorded, e)
	}
	if err := s.Record(t.Context(), recorded[:4]...); err != nil {
		t.Fatalf("Record: %v", err)
	}
	if err := s.Record(t.Context(), recorded[4:]...); err != nil {
		t.Fatalf("Record: %v", err)
	}
	if err := s.Record(t.Context()); err != nil {
		t.Fatalf("Record of nothing: %v", err)
	}
	newest := func(idx ...int) []domain.AuditEvent {
		var out []domain.AuditEvent
		for i := len(idx) - 1; i >= 0; i-- {
			out = append(out, recorded[idx[i]])
		}
		return out
	}
	all := auditOf(t, s, ports.AuditQuery{})
	assertEqual(t, "every event, newest first", withoutIDs(t, all), newest(0, 1, 2, 3, 4, 5))
	tests := []struct {
		name string
		q    ports.AuditQuery
		want []domain.AuditEvent
	}{
		{"of one account", ports.AuditQuery{UserID: "u1"}, newest(0, 3)},
		{"of one type", ports.AuditQuery{Types: []domain.EventType{domain.EventLogin}}, newest(1, 3, 5)},
		{"of two types", ports.AuditQuery{Types: []domain.EventType{domain.EventLogin, domain.EventLoginFailed}}, newest(0, 1, 2, 3, 4, 5)},
		{"of a type none has", ports.AuditQuery{Types: []domain.EventType{domain.EventLockout}}, nil},
		{"since", ports.AuditQuery{Since: t0.Add(4 * time.Minute)}, newest(4, 5)},
		{"until", ports.AuditQuery{Until: t0.Add(2 * time.Minute)}, newest(0, 1)},
		{"account, type and time", ports.AuditQuery{UserID: "u2", Types: []domain.EventType{domain.EventLogin}, Since: t0.Add(time.Minute)}, newest(1)},
		{"account, type and a later time", ports.AuditQuery{UserID: "u2", Types: []domain.EventType{domain.EventLogin}, Since: t0.Add(2 * time.Minute)}, nil},
		{"unknown account", ports.AuditQuery{UserID: "nobody"}, nil},
		{"odd account", ports.AuditQuery{UserID: "u1\x00"}, nil},
		{"a page", ports.AuditQuery{Limit: 2}, newest(4, 5)},
		{"the page after", ports.AuditQuery{Before: all[1].ID, Limit: 2}, newest(2, 3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := auditOf(t, s, tt.q)
			if len(got) == 0 && len(tt.want) == 0 {
				return
			}
			assertEqual(t, "the events", withoutIDs(t, got), tt.want)
		})
	}
}

func testPruneAudit(t *testing.T, newStore NewStore) {
	s := newStore(t)
	t0 := baseTime()
	old, recent := testEvent(domain.EventLogin, "u1", t0), testEvent(domain.EventLogout, "u1", t0.Add(time.Hour))
	if err := s.Record(t.Context(), old, recent); err != nil {
		t.Fatal(err)
	}
	n, err := s.PruneAudit(t.Context(), t0.Add(time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("PruneAudit = %d, %v; want 1", n, err)
	}
	assertEqual(t, "the events left", withoutIDs(t, auditOf(t, s, ports.AuditQuery{})), []domain.AuditEvent{recent})
}

func testAdminKeys(t *testing.T, newStore NewStore) {
	s := newStore(t)
	t0 := baseTime()
	ops, _, err := domain.NewAdminKey("ops", bytesReader(1), t0)
	if err != nil {
		t.Fatal(err)
	}
	bot, _, err := domain.NewAdminKey("deploy-bot", bytesReader(2), t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []domain.AdminKey{ops, bot} {
		if err := s.CreateAdminKey(t.Context(), k, testEvent(domain.EventAdminKeyCreated, "", k.CreatedAt).By(domain.ActorCLI)); err != nil {
			t.Fatalf("CreateAdminKey(%s): %v", k.Name, err)
		}
	}
	keys, err := s.AdminKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	assertEqual(t, "the keys, by name", keys, []domain.AdminKey{bot, ops})

	again, _, _ := domain.NewAdminKey("ops", bytesReader(3), t0)
	if err := s.CreateAdminKey(t.Context(), again, testEvent(domain.EventAdminKeyCreated, "", t0)); !errors.Is(err, domain.ErrAdminKeyExists) {
		t.Errorf("a second key named ops = %v, want ErrAdminKeyExists", err)
	}
	revokedAt := t0.Add(time.Hour)
	if err := s.RevokeAdminKey(t.Context(), "ops", revokedAt, testEvent(domain.EventAdminKeyRevoked, "", revokedAt)); err != nil {
		t.Fatalf("RevokeAdminKey: %v", err)
	}
	if err := s.RevokeAdminKey(t.Context(), "ops", revokedAt.Add(time.Hour), testEvent(domain.EventAdminKeyRevoked, "", revokedAt)); err != nil {
		t.Fatalf("RevokeAdminKey again: %v", err)
	}
	if err := s.RevokeAdminKey(t.Context(), "nobody", revokedAt, testEvent(domain.EventAdminKeyRevoked, "", revokedAt)); !errors.Is(err, domain.ErrAdminKeyNotFound) {
		t.Errorf("revoking an unknown key = %v, want ErrAdminKeyNotFound", err)
	}
	ops.RevokedAt = revokedAt
	keys, _ = s.AdminKeys(t.Context())
	assertEqual(t, "the keys after revoking ops", keys, []domain.AdminKey{bot, ops})
	// Names are never reused, revoked or not.
	if err := s.CreateAdminKey(t.Context(), again, testEvent(domain.EventAdminKeyCreated, "", t0)); !errors.Is(err, domain.ErrAdminKeyExists) {
		t.Errorf("a new key named after a revoked one = %v, want ErrAdminKeyExists", err)
	}
	var types []domain.EventType
	for _, e := range auditOf(t, s, ports.AuditQuery{}) {
		types = append(types, e.Type)
	}
	want := []domain.EventType{domain.EventAdminKeyRevoked, domain.EventAdminKeyRevoked, domain.EventAdminKeyCreated, domain.EventAdminKeyCreated}
	if !slices.Equal(types, want) {
		t.Errorf("the events of the key changes = %v, want %v", types, want)
	}
}

func testLastLogin(t *testing.T, newStore NewStore) {
	s, users := storeWithUsers(t, newStore, 2)
	t0 := baseTime()
	for _, sess := range []domain.Session{
		newTestSession("s1", users[0], t0.Add(time.Hour)),
		newTestSession("s0", users[0], t0.Add(time.Minute)), // an older one, saved late
		newTestSession("s2", users[1], t0.Add(2*time.Hour)),
	} {
		if err := s.CreateSession(t.Context(), sess); err != nil {
			t.Fatal(err)
		}
	}
	for i, want := range []time.Time{t0.Add(time.Hour), t0.Add(2 * time.Hour)} {
		u, err := s.UserByID(t.Context(), users[i])
		if err != nil {
			t.Fatal(err)
		}
		if !u.LastLoginAt.Equal(want) {
			t.Errorf("account %d: last login %v, want %v", i+1, u.LastLoginAt, want)
		}
	}
}

func testSessionEvents(t *testing.T, newStore NewStore) {
	s, users := storeWithUsers(t, newStore, 1)
	t0 := baseTime()
	login := testEvent(domain.EventLogin, users[0], t0)
	if err := s.CreateSession(t.Context(), newTestSession("s1", users[0], t0), login); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSession(t.Context(), newTestSession("s2", users[0], t0)); err != nil {
		t.Fatal(err)
	}
	logout := testEvent(domain.EventLogout, users[0], t0.Add(time.Minute))
	_, err := s.UpdateSession(t.Context(), "s1", func(sess *domain.Session) ([]domain.AuditEvent, error) {
		sess.Revoke(t0.Add(time.Minute))
		return []domain.AuditEvent{logout}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	all := testEvent(domain.EventLogoutAll, users[0], t0.Add(2*time.Minute))
	if n, err := s.RevokeSessions(t.Context(), users[0], t0.Add(2*time.Minute), "", all); err != nil || n != 1 {
		t.Fatalf("RevokeSessions = %d, %v; want 1", n, err)
	}
	// A failed session change saves none.
	if err := s.CreateSession(t.Context(), newTestSession("s1", users[0], t0), testEvent(domain.EventLogin, users[0], t0)); err == nil {
		t.Fatal("a second session with the id of the first was stored")
	}
	assertEqual(t, "the events of the session changes", withoutIDs(t, auditOf(t, s, ports.AuditQuery{})), []domain.AuditEvent{all, logout, login})
}

func testLockedUntil(t *testing.T, newStore NewStore) {
	s := newStore(t)
	now := baseTime()
	if until, err := s.LockedUntil(t.Context(), "a@example.com", now); err != nil || !until.IsZero() {
		t.Fatalf("LockedUntil of an account never locked = %v, %v; want zero", until, err)
	}
	for i := range policy.LockAfter {
		admit(t, s, "a@example.com", fmt.Sprint("203.0.113.", i), now)
	}
	until, err := s.LockedUntil(t.Context(), "a@example.com", now)
	if err != nil || !until.Equal(now.Add(policy.FirstLock)) {
		t.Errorf("LockedUntil = %v, %v; want %v", until, err, now.Add(policy.FirstLock))
	}
	if until, _ := s.LockedUntil(t.Context(), "b@example.com", now); !until.IsZero() {
		t.Errorf("another account reads as locked until %v", until)
	}
	if until, _ := s.LockedUntil(t.Context(), "a@example.com", now.Add(policy.FirstLock)); !until.IsZero() {
		t.Errorf("the lock reads as in force until %v after it ran out", until)
	}
}

// bytesReader is a source of randomness that repeats b, so that keys made
// from it are known.
func bytesReader(b byte) *bytes.Reader { return bytes.NewReader(bytes.Repeat([]byte{b}, 64)) }
