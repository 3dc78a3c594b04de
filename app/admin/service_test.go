package admin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"authapi/adapters/postgres"
	"authapi/adapters/sqlite"
	"authapi/domain"
	"authapi/internal/testkit"
	"authapi/ports"
)

// The operators' use cases run on the real store, SQLite or, when the suite
// runs on it, PostgreSQL, as the auth use cases do: the listing's filters
// and pages, the login locks and the audit log are the store's work, and a
// fake of them would test the fake. Time, randomness and the emails are
// fakes: the clock moves only when a test moves it.

var start = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// The operator of the tests, and where it acts from.
var (
	opsClient = domain.Client{IP: "192.0.2.9", Source: "192.0.2.9", UserAgent: "ops-console/1.0"}
	ops       = ports.Operator{Actor: domain.AdminActor("ops"), Client: opsClient}
)

// testStore is what the operators' use cases run on, and the outbox, to
// read the mail they queue.
type testStore interface {
	ports.UserStore
	ports.SessionStore
	ports.AuditLog
	ports.AdminKeyStore
	ports.Outbox
}

type fixture struct {
	svc      *Service
	store    testStore
	throttle ports.LoginThrottle
	clock    *testkit.Clock
	notices  *fakeNotices
	mail     *countingNotifier
	random   *countingRandom
	n        int // accounts created so far
}

func TestMain(m *testing.M) { testkit.Main(m) }

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{clock: testkit.NewClock(start), notices: &fakeNotices{}, mail: &countingNotifier{}, random: &countingRandom{}}
	f.store, f.throttle = openTestStore(t)
	svc, err := NewService(f.deps())
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	return f
}

func (f *fixture) deps() Deps {
	return Deps{
		Users: f.store, Sessions: f.store, Throttle: f.throttle, Audit: f.store, AdminKeys: f.store,
		Clock: f.clock, Random: f.random, Logger: slog.New(slog.DiscardHandler),
		Notices: f.notices, Mail: f.mail,
	}
}

// openTestStore opens a migrated store of the test's own.
func openTestStore(t *testing.T) (testStore, ports.LoginThrottle) {
	t.Helper()
	if testkit.OnPostgres() {
		db, err := postgres.Open(t.Context(), testkit.Postgres(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := db.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		return postgres.NewStore(db), postgres.NewThrottle(db)
	}
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "auth.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.NewStore(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	return store, sqlite.NewThrottle(db)
}

// countingRandom yields a deterministic, never-repeating byte stream.
type countingRandom struct{ next byte }

func (r *countingRandom) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.next
		r.next++
	}
	return len(p), nil
}

// countingNotifier counts the wake-ups of the mail dispatcher.
type countingNotifier struct{ wakeups int }

func (n *countingNotifier) MailQueued() { n.wakeups++ }

// fakeNotices composes a recognisable notice, or fails when told to.
type fakeNotices struct {
	fail error
	sent []string // the ids of the accounts told
}

func (n *fakeNotices) TwoStepOffMail(u domain.User, now time.Time) (ports.OutgoingMail, error) {
	if n.fail != nil {
		return ports.OutgoingMail{}, n.fail
	}
	n.sent = append(n.sent, u.ID)
	return ports.OutgoingMail{
		Message:  ports.Message{ID: fmt.Sprintf("two-step-off-%d", len(n.sent)), To: u.Email, Subject: "Two-step login is off", Text: "off"},
		QueuedAt: now,
	}, nil
}

var testCodeKey = func() domain.CodeKey {
	k, err := domain.NewCodeKey([]byte("the operators' tests' server secret"))
	if err != nil {
		panic(err)
	}
	return k
}()

// account stores a new account for email, changed by edit, created now;
// a millisecond then passes, as between two signups, so that accounts list
// in the order they were made.
func (f *fixture) account(t *testing.T, email string, edit func(*domain.User)) domain.User {
	t.Helper()
	reg, err := domain.NewRegistration(email, "Vivid-Harbor-Lantern-7319", "Ada", "Lovelace")
	if err != nil {
		t.Fatal(err)
	}
	now := f.clock.Now()
	id, err := domain.NewID(now, f.random)
	if err != nil {
		t.Fatal(err)
	}
	u := domain.NewUser(id, reg, "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA", testCodeKey, domain.CodeSecrets{Code: "123456", Link: "link"}, now, time.Hour)
	if edit != nil {
		edit(&u)
	}
	if err := f.store.CreateUser(t.Context(), u, ports.Effects{}); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Millisecond)
	return u
}

func (f *fixture) active(t *testing.T, email string) domain.User {
	t.Helper()
	return f.account(t, email, func(u *domain.User) { u.MarkVerified(f.clock.Now()) })
}

// session starts a session of u that lives an hour.
func (f *fixture) session(t *testing.T, u domain.User) domain.Session {
	t.Helper()
	f.n++
	s := domain.NewSession(fmt.Sprintf("session-%d", f.n), u.ID, fmt.Sprintf("refresh-%d", f.n), domain.Client{IP: "198.51.100.1"}, f.clock.Now(), time.Hour)
	if err := f.store.CreateSession(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	return s
}

// lock fails logins of u, from sources that the slow-down lets through,
// until the account locks.
func (f *fixture) lock(t *testing.T, u domain.User) {
	t.Helper()
	policy := domain.DefaultLoginPolicy()
	for i := range policy.LockAfter {
		if until, _ := f.throttle.LockedUntil(t.Context(), u.Email, f.clock.Now()); !until.IsZero() {
			return
		}
		source := fmt.Sprintf("203.0.113.%d", i%policy.FreeFailures)
		if _, err := f.throttle.Admit(t.Context(), policy, u.Email, source, f.clock.Now()); err != nil {
			t.Fatalf("Admit: %v", err)
		}
	}
	if until, _ := f.throttle.LockedUntil(t.Context(), u.Email, f.clock.Now()); until.IsZero() {
		t.Fatal("the account did not lock")
	}
}

// events returns the audit log, newest first, without the ids the store
// gave its events.
func (f *fixture) events(t *testing.T, q ports.AuditQuery) []domain.AuditEvent {
	t.Helper()
	q.Limit = 1000
	events, err := f.store.AuditEvents(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	for i := range events {
		events[i].ID = 0
	}
	return events
}

// byOps is what the operator's action of typ on userID records.
func byOps(typ domain.EventType, userID string, at time.Time) domain.AuditEvent {
	return domain.AuditEvent{At: at, Type: typ, UserID: userID, Actor: ops.Actor, IP: opsClient.IP, UserAgent: opsClient.UserAgent}
}

// diff compares whole values: times as instants, empty as nil.
func diff(want, got any) string {
	return cmp.Diff(want, got, cmpopts.EquateEmpty(), cmpopts.EquateApproxTime(0))
}

// fieldsOf names the fields of a validation error, nil for any other.
func fieldsOf(err error) []string {
	var de *domain.Error
	if !errors.As(err, &de) || de.Code != domain.CodeValidationFailed {
		return nil
	}
	var fields []string
	for _, fe := range de.Fields {
		fields = append(fields, fe.Field)
	}
	return fields
}

func ids(users []ports.AccountSummary) []string {
	out := make([]string, len(users))
	for i, u := range users {
		out[i] = u.ID
	}
	return out
}

func idsOf(users ...domain.User) []string {
	out := make([]string, len(users))
	for i, u := range users {
		out[i] = u.ID
	}
	return out
}

func TestNewServiceNeedsEveryDependency(t *testing.T) {
	f := newFixture(t)
	for _, name := range []string{"Users", "Sessions", "Throttle", "Audit", "AdminKeys", "Clock", "Random", "Logger", "Notices", "Mail"} {
		t.Run(name, func(t *testing.T) {
			deps := f.deps()
			switch name {
			case "Users":
				deps.Users = nil
			case "Sessions":
				deps.Sessions = nil
			case "Throttle":
				deps.Throttle = nil
			case "Audit":
				deps.Audit = nil
			case "AdminKeys":
				deps.AdminKeys = nil
			case "Clock":
				deps.Clock = nil
			case "Random":
				deps.Random = nil
			case "Logger":
				deps.Logger = nil
			case "Notices":
				deps.Notices = nil
			case "Mail":
				deps.Mail = nil
			}
			if _, err := NewService(deps); err == nil {
				t.Errorf("NewService without %s succeeded", name)
			}
		})
	}
}

func TestListUsersFilters(t *testing.T) {
	f := newFixture(t)
	ann := f.active(t, "ann@example.com")
	anna := f.active(t, "Anna@Example.org")
	bob := f.account(t, "bob@example.com", nil)
	carol := f.account(t, "carol@example.com", func(u *domain.User) { u.MarkVerified(start); u.Disable(start) })
	dave := f.active(t, "dave@example.net")
	f.lock(t, dave)
	eve := f.account(t, "eve@example.net", nil)
	f.lock(t, eve)

	tests := []struct {
		name string
		q    ports.UserQuery
		want []string
	}{
		{"every account", ports.UserQuery{}, idsOf(ann, anna, bob, carol, dave, eve)},
		{"a prefix", ports.UserQuery{EmailPrefix: "ann"}, idsOf(ann, anna)},
		{"a prefix in upper case", ports.UserQuery{EmailPrefix: "ANNA@EXAMPLE"}, idsOf(anna)},
		{"a prefix with spaces around", ports.UserQuery{EmailPrefix: "  Ann "}, idsOf(ann, anna)},
		{"a blank prefix", ports.UserQuery{EmailPrefix: " \t "}, idsOf(ann, anna, bob, carol, dave, eve)},
		{"a whole address", ports.UserQuery{EmailPrefix: "Carol@Example.com"}, idsOf(carol)},
		{"a domain is no prefix", ports.UserQuery{EmailPrefix: "example.net"}, nil},
		{"active", ports.UserQuery{State: ports.StateActive}, idsOf(ann, anna, dave)},
		{"inactive", ports.UserQuery{State: ports.StateInactive}, idsOf(bob, eve)},
		{"disabled", ports.UserQuery{State: ports.StateDisabled}, idsOf(carol)},
		{"locked", ports.UserQuery{State: ports.StateLocked}, idsOf(dave, eve)},
		{"a prefix and a state", ports.UserQuery{EmailPrefix: "e", State: ports.StateLocked}, idsOf(eve)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, err := f.svc.ListUsers(t.Context(), tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(page.Users); !slices.Equal(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Errorf("ListUsers = %v, want %v", got, tt.want)
			}
			if page.Next != "" {
				t.Errorf("Next = %q on the only page", page.Next)
			}
		})
	}

	page, err := f.svc.ListUsers(t.Context(), ports.UserQuery{})
	if err != nil {
		t.Fatal(err)
	}
	wantStates := []ports.UserState{ports.StateActive, ports.StateActive, ports.StateInactive, ports.StateDisabled, ports.StateLocked, ports.StateLocked}
	for i, u := range page.Users {
		if u.State() != wantStates[i] {
			t.Errorf("%s is %s, want %s", u.Email, u.State(), wantStates[i])
		}
	}
	// The lock lapses by itself, and the list says so.
	f.clock.Advance(24 * time.Hour)
	if page, _ := f.svc.ListUsers(t.Context(), ports.UserQuery{State: ports.StateLocked}); len(page.Users) != 0 {
		t.Errorf("locked a day later = %v, want none", ids(page.Users))
	}
}

func TestListUsersRefusals(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name   string
		q      ports.UserQuery
		fields []string
	}{
		{"a negative limit", ports.UserQuery{Limit: -1}, []string{"limit"}},
		{"a limit over the largest", ports.UserQuery{Limit: ports.MaxPageSize + 1}, []string{"limit"}},
		{"an unknown state", ports.UserQuery{State: "frozen"}, []string{"state"}},
		{"a state in upper case", ports.UserQuery{State: "ACTIVE"}, []string{"state"}},
		{"a prefix over 254 bytes", ports.UserQuery{EmailPrefix: domain.Email(strings.Repeat("a", 255))}, []string{"email"}},
		{"a prefix of invalid UTF-8", ports.UserQuery{EmailPrefix: "a\xff"}, []string{"email"}},
		{"everything wrong", ports.UserQuery{Limit: -5, State: "x", EmailPrefix: "\xff"}, []string{"limit", "state", "email"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.ListUsers(t.Context(), tt.q)
			if got := fieldsOf(err); !slices.Equal(got, tt.fields) {
				t.Errorf("ListUsers = %v, want a validation failure of %v", err, tt.fields)
			}
		})
	}
}

// TestListUsersPages reads the accounts a page at a time while others sign
// up: each page holds up to the limit, the last says there is no next, and
// the pages hold every account once, the new ones at the end.
func TestListUsersPages(t *testing.T) {
	f := newFixture(t)
	var want []string
	for i := range 5 {
		want = append(want, f.account(t, fmt.Sprintf("user%d@example.com", i), nil).ID)
	}
	var got []string
	q := ports.UserQuery{Limit: 2}
	for page := 0; ; page++ {
		if page > 10 {
			t.Fatal("the pages never end")
		}
		p, err := f.svc.ListUsers(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Users) > 2 || (p.Next != "" && (len(p.Users) != 2 || p.Next != p.Users[1].ID)) {
			t.Fatalf("page %d = %v, next %q: want at most 2, and the last one's id as the next cursor", page, ids(p.Users), p.Next)
		}
		got = append(got, ids(p.Users)...)
		if page < 2 {
			want = append(want, f.account(t, fmt.Sprintf("late%d@example.com", page), nil).ID)
		}
		if p.Next == "" {
			break
		}
		q.After = p.Next
	}
	if !slices.Equal(got, want) {
		t.Errorf("pages hold\n%v\nwant\n%v", got, want)
	}

	// A last page that is exactly full says so: no empty page follows.
	p, err := f.svc.ListUsers(t.Context(), ports.UserQuery{Limit: 7})
	if err != nil || len(p.Users) != 7 || p.Next != "" {
		t.Errorf("7 accounts in a page of 7 = %d accounts, next %q, %v; want all and no next", len(p.Users), p.Next, err)
	}
	// A cursor past the last account, or of a deleted one, reads on from
	// where it stands.
	if p, err := f.svc.ListUsers(t.Context(), ports.UserQuery{After: want[6]}); err != nil || len(p.Users) != 0 || p.Next != "" {
		t.Errorf("after the last = %v, %q, %v", ids(p.Users), p.Next, err)
	}
	if err := f.svc.DeleteUser(t.Context(), ops, want[2]); err != nil {
		t.Fatal(err)
	}
	if p, err := f.svc.ListUsers(t.Context(), ports.UserQuery{After: want[2], Limit: 2}); err != nil || !slices.Equal(ids(p.Users), want[3:5]) {
		t.Errorf("after a deleted account = %v, %v; want %v", ids(p.Users), err, want[3:5])
	}
}

// TestListUsersDefaultPage: a zero limit takes the default page size.
func TestListUsersDefaultPage(t *testing.T) {
	f := newFixture(t)
	for i := range ports.DefaultPageSize + 1 {
		f.account(t, fmt.Sprintf("user%03d@example.com", i), nil)
	}
	p, err := f.svc.ListUsers(t.Context(), ports.UserQuery{})
	if err != nil || len(p.Users) != ports.DefaultPageSize || p.Next != p.Users[ports.DefaultPageSize-1].ID {
		t.Errorf("the default page = %d accounts, next %q, %v; want %d and a next cursor", len(p.Users), p.Next, err, ports.DefaultPageSize)
	}
	p, err = f.svc.ListUsers(t.Context(), ports.UserQuery{Limit: ports.MaxPageSize})
	if err != nil || len(p.Users) != ports.DefaultPageSize+1 || p.Next != "" {
		t.Errorf("the largest page = %d accounts, next %q, %v", len(p.Users), p.Next, err)
	}
}

// TestUser reads an account with its state, lock and live sessions.
func TestUser(t *testing.T) {
	f := newFixture(t)
	u := f.active(t, "astro.user@example.com")
	f.session(t, u)
	ended := f.session(t, u)
	if _, err := f.store.UpdateSession(t.Context(), ended.ID, func(s *domain.Session) ([]domain.AuditEvent, error) {
		s.Revoke(f.clock.Now())
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(30 * time.Minute)
	lastLogin := f.clock.Now()
	f.session(t, u)
	other := f.active(t, "other@example.com")
	f.session(t, other)

	for _, key := range []string{u.ID, "astro.user@example.com", " Astro.User@EXAMPLE.com "} {
		d, err := f.svc.User(t.Context(), key)
		if err != nil {
			t.Fatalf("User(%q): %v", key, err)
		}
		if d.ID != u.ID || d.State() != ports.StateActive || d.LiveSessions != 2 || !d.LockedUntil.IsZero() || !d.CreatedAt.Equal(start) {
			t.Errorf("User(%q) = %+v, want the active account with 2 live sessions", key, d)
		}
		if !d.LastLoginAt.Equal(lastLogin) {
			t.Errorf("last login = %v, want %v", d.LastLoginAt, lastLogin)
		}
	}
	// The first session expires; the lock shows with its end.
	f.clock.Advance(31 * time.Minute)
	f.lock(t, u)
	d, err := f.svc.User(t.Context(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	policy := domain.DefaultLoginPolicy()
	if d.LiveSessions != 1 || d.State() != ports.StateLocked || !d.LockedUntil.Equal(f.clock.Now().Add(policy.FirstLock)) {
		t.Errorf("User = %d live sessions, state %s, locked until %v", d.LiveSessions, d.State(), d.LockedUntil)
	}

	for _, missing := range []string{"0194694c-5dc0-7c3d-9a4f-2e5b6c7d8e9f", "", "nobody@example.com", "@", strings.Repeat("a", 300) + "@example.com", "a\xff@example.com"} {
		if _, err := f.svc.User(t.Context(), missing); !errors.Is(err, domain.ErrUserNotFound) {
			t.Errorf("User(%q) = %v, want ErrUserNotFound", missing, err)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestUpdateUser applies each change to a fresh account and compares the
// account, its sessions and its events with what the change should make.
func TestUpdateUser(t *testing.T) {
	withMFA := func(u *domain.User) {
		u.MarkVerified(start)
		u.MFA = domain.MFA{TOTPSecret: []byte("sealed"), TOTPEnabledAt: start, LastTOTPStep: 7, RecoveryCodes: [][]byte{bytes.Repeat([]byte{1}, 32)}}
	}
	tests := []struct {
		name    string
		setup   func(*domain.User) // nil: an active account
		change  ports.AccountChange
		want    func(u *domain.User, now time.Time) // the account after the change
		events  []domain.EventType
		ends    bool // the change ends the account's sessions
		notices int  // emails to the owner
	}{
		{
			name:   "rename",
			change: ports.AccountChange{FirstName: ptr(" Grace "), LastName: ptr("Hopper")},
			want:   func(u *domain.User, now time.Time) { u.FirstName, u.LastName, u.UpdatedAt = "Grace", "Hopper", now },
			events: []domain.EventType{domain.EventNamesChanged},
		},
		{
			name:   "rename the last name only",
			change: ports.AccountChange{LastName: ptr("Hopper")},
			want:   func(u *domain.User, now time.Time) { u.LastName, u.UpdatedAt = "Hopper", now },
			events: []domain.EventType{domain.EventNamesChanged},
		},
		{
			name:   "names as they are",
			change: ports.AccountChange{FirstName: ptr("Ada"), LastName: ptr(" Lovelace")},
			want:   func(*domain.User, time.Time) {},
		},
		{
			name:   "verify a pending account",
			setup:  func(*domain.User) {},
			change: ports.AccountChange{EmailVerified: ptr(true)},
			want:   func(u *domain.User, now time.Time) { u.MarkVerified(now) },
			events: []domain.EventType{domain.EventEmailVerified},
		},
		{
			name:   "verify an active account",
			change: ports.AccountChange{EmailVerified: ptr(true)},
			want:   func(*domain.User, time.Time) {},
		},
		{
			name:   "disable",
			change: ports.AccountChange{Disabled: ptr(true)},
			want:   func(u *domain.User, now time.Time) { u.Disable(now) },
			events: []domain.EventType{domain.EventAccountDisabled},
			ends:   true,
		},
		{
			name:   "disable a disabled account",
			setup:  func(u *domain.User) { u.MarkVerified(start); u.Disable(start) },
			change: ports.AccountChange{Disabled: ptr(true)},
			want:   func(*domain.User, time.Time) {},
		},
		{
			name:   "enable",
			setup:  func(u *domain.User) { u.MarkVerified(start); u.Disable(start) },
			change: ports.AccountChange{Disabled: ptr(false)},
			want:   func(u *domain.User, now time.Time) { u.Enable(now) },
			events: []domain.EventType{domain.EventAccountEnabled},
		},
		{
			name:   "enable an enabled account",
			change: ports.AccountChange{Disabled: ptr(false)},
			want:   func(*domain.User, time.Time) {},
		},
		{
			name:    "turn two-step login off",
			setup:   withMFA,
			change:  ports.AccountChange{MFAEnabled: ptr(false)},
			want:    func(u *domain.User, now time.Time) { u.DisableMFA(now) },
			events:  []domain.EventType{domain.EventMFADisabled},
			notices: 1,
		},
		{
			name:   "turn off two-step login that is off",
			change: ports.AccountChange{MFAEnabled: ptr(false)},
			want:   func(*domain.User, time.Time) {},
		},
		{
			name:   "everything at once",
			setup:  func(*domain.User) {},
			change: ports.AccountChange{Disabled: ptr(true), EmailVerified: ptr(true), FirstName: ptr("Grace")},
			want: func(u *domain.User, now time.Time) {
				u.FirstName = "Grace"
				u.MarkVerified(now)
				u.Disable(now)
			},
			events: []domain.EventType{domain.EventAccountDisabled, domain.EventEmailVerified, domain.EventNamesChanged},
			ends:   true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			setup := tt.setup
			if setup == nil {
				setup = func(u *domain.User) { u.MarkVerified(start) }
			}
			before := f.account(t, "astro.user@example.com", setup)
			sess := f.session(t, before)
			stored, err := f.store.UserByID(t.Context(), before.ID)
			if err != nil {
				t.Fatal(err)
			}
			f.clock.Advance(time.Minute)
			now := f.clock.Now()
			wakeups := f.mail.wakeups

			d, err := f.svc.UpdateUser(t.Context(), ops, before.ID, tt.change)
			if err != nil {
				t.Fatal(err)
			}
			want := stored
			tt.want(&want, now)
			after, err := f.store.UserByID(t.Context(), before.ID)
			if err != nil {
				t.Fatal(err)
			}
			if d := diff(want, after); d != "" {
				t.Errorf("stored account (-want +got):\n%s", d)
			}
			if d := diff(want, d.User); d != "" {
				t.Errorf("returned account (-want +got):\n%s", d)
			}
			var wantEvents []domain.AuditEvent
			for _, typ := range tt.events {
				wantEvents = append(wantEvents, byOps(typ, before.ID, now))
			}
			if d := diff(wantEvents, f.events(t, ports.AuditQuery{UserID: before.ID})); d != "" {
				t.Errorf("events (-want +got):\n%s", d)
			}
			live, err := f.store.SessionsOfUser(t.Context(), before.ID, now)
			if err != nil {
				t.Fatal(err)
			}
			if wantLive := !tt.ends; (len(live) == 1) != wantLive || d.LiveSessions != len(live) {
				t.Errorf("live sessions = %d (%d said), want the session %s to live: %v", len(live), d.LiveSessions, sess.ID, wantLive)
			}
			if len(f.notices.sent) != tt.notices {
				t.Errorf("%d notices composed, want %d", len(f.notices.sent), tt.notices)
			}
			queued, err := f.store.ClaimMail(t.Context(), now.Add(time.Hour), time.Minute, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(queued) != tt.notices {
				t.Errorf("%d emails queued, want %d", len(queued), tt.notices)
			}
			if tt.notices > 0 && f.mail.wakeups == wakeups {
				t.Error("the mail dispatcher was not told of the queued notice")
			}
		})
	}
}

// TestEnablingRestoresLoginNotSessions: the sessions a disabling ended stay
// ended once the account is enabled again.
func TestEnablingRestoresLoginNotSessions(t *testing.T) {
	f := newFixture(t)
	u := f.active(t, "astro.user@example.com")
	s := f.session(t, u)
	if _, err := f.svc.UpdateUser(t.Context(), ops, u.ID, ports.AccountChange{Disabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	stored, _ := f.store.UserByID(t.Context(), u.ID)
	if !errors.Is(stored.CheckCanLogin(), domain.ErrAccountDisabled) {
		t.Errorf("a disabled account may log in: %v", stored.CheckCanLogin())
	}
	f.clock.Advance(time.Minute)
	d, err := f.svc.UpdateUser(t.Context(), ops, u.Email.String(), ports.AccountChange{Disabled: ptr(false)})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.CheckCanLogin(); err != nil || d.LiveSessions != 0 {
		t.Errorf("enabled: login %v, %d live sessions; want login and none", err, d.LiveSessions)
	}
	sess, err := f.store.Session(t.Context(), s.ID)
	if err != nil || sess.Live(f.clock.Now()) {
		t.Errorf("the session ended by disabling = %+v, %v; want it still ended", sess, err)
	}
}

func TestUpdateUserRefusals(t *testing.T) {
	tests := []struct {
		name    string
		key     string // "" names the account
		change  ports.AccountChange
		fields  []string
		wantErr error
	}{
		{name: "unverify", change: ports.AccountChange{EmailVerified: ptr(false)}, fields: []string{"email_verified"}},
		{name: "turn two-step login on", change: ports.AccountChange{MFAEnabled: ptr(true)}, fields: []string{"mfa_enabled"}},
		{name: "an empty first name", change: ports.AccountChange{FirstName: ptr("")}, fields: []string{"first_name"}},
		{name: "an empty last name beside a change", change: ports.AccountChange{Disabled: ptr(true), LastName: ptr("")}, fields: []string{"last_name"}},
		{name: "a blank first name", change: ports.AccountChange{FirstName: ptr("  ")}, fields: []string{"first_name"}},
		{name: "a name too long", change: ports.AccountChange{LastName: ptr(strings.Repeat("x", 101))}, fields: []string{"last_name"}},
		{name: "two bad names", change: ports.AccountChange{FirstName: ptr("a\x00"), LastName: ptr("\u202eb")}, fields: []string{"first_name", "last_name"}},
		{name: "an unknown id", key: "0194694c-5dc0-7c3d-9a4f-2e5b6c7d8e9f", change: ports.AccountChange{Disabled: ptr(true)}, wantErr: domain.ErrUserNotFound},
		{name: "an unknown email", key: "nobody@example.com", change: ports.AccountChange{Disabled: ptr(true)}, wantErr: domain.ErrUserNotFound},
		{name: "an email no account can have", key: strings.Repeat("a", 300) + "@x", change: ports.AccountChange{Disabled: ptr(true)}, wantErr: domain.ErrUserNotFound},
		{name: "the notice cannot be composed", change: ports.AccountChange{MFAEnabled: ptr(false), Disabled: ptr(true)}, wantErr: errNoTemplate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.notices.fail = errNoTemplate
			u := f.account(t, "astro.user@example.com", func(u *domain.User) {
				u.MarkVerified(start)
				u.MFA = domain.MFA{TOTPSecret: []byte("sealed"), TOTPEnabledAt: start}
			})
			f.session(t, u)
			stored, _ := f.store.UserByID(t.Context(), u.ID)
			key := tt.key
			if key == "" {
				key = u.ID
			}
			_, err := f.svc.UpdateUser(t.Context(), ops, key, tt.change)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("UpdateUser = %v, want %v", err, tt.wantErr)
				}
			} else if got := fieldsOf(err); !slices.Equal(got, tt.fields) {
				t.Errorf("UpdateUser = %v, want a validation failure of %v", err, tt.fields)
			}
			// Nothing of a refused change is kept.
			after, _ := f.store.UserByID(t.Context(), u.ID)
			if d := diff(stored, after); d != "" {
				t.Errorf("a refused change changed the account (-before +after):\n%s", d)
			}
			if events := f.events(t, ports.AuditQuery{}); len(events) != 0 {
				t.Errorf("a refused change left events: %v", events)
			}
			if live, _ := f.store.SessionsOfUser(t.Context(), u.ID, f.clock.Now()); len(live) != 1 {
				t.Errorf("a refused change ended the sessions")
			}
		})
	}
}

var errNoTemplate = errors.New("no template")

// TestUnlockUser lifts the account's lock and the slow-down of the source
// that guessed, in one step, and records it.
func TestUnlockUser(t *testing.T) {
	f := newFixture(t)
	u := f.active(t, "astro.user@example.com")
	policy := domain.DefaultLoginPolicy()
	const guesser = "203.0.113.200"
	for range policy.FreeFailures + 1 {
		if _, err := f.throttle.Admit(t.Context(), policy, u.Email, guesser, f.clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.throttle.Admit(t.Context(), policy, u.Email, guesser, f.clock.Now()); !errors.Is(err, domain.ErrTooManyRequests) {
		t.Fatalf("the guesser is not slowed down: %v", err)
	}
	f.lock(t, u)

	if err := f.svc.UnlockUser(t.Context(), ops, " ASTRO.user@example.com"); err != nil {
		t.Fatal(err)
	}
	if until, err := f.throttle.LockedUntil(t.Context(), u.Email, f.clock.Now()); err != nil || !until.IsZero() {
		t.Errorf("locked until %v, %v after the unlock", until, err)
	}
	if _, err := f.throttle.Admit(t.Context(), policy, u.Email, guesser, f.clock.Now()); err != nil {
		t.Errorf("the guesser is still slowed down after the unlock: %v", err)
	}
	if d := diff([]domain.AuditEvent{byOps(domain.EventUnlock, u.ID, f.clock.Now())}, f.events(t, ports.AuditQuery{Types: []domain.EventType{domain.EventUnlock}})); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	if err := f.svc.UnlockUser(t.Context(), ops, "nobody@example.com"); !errors.Is(err, domain.ErrUserNotFound) {
		t.Errorf("UnlockUser(unknown) = %v", err)
	}
}

func TestRevokeSessions(t *testing.T) {
	f := newFixture(t)
	u := f.active(t, "astro.user@example.com")
	other := f.active(t, "other@example.com")
	f.session(t, u)
	f.session(t, u)
	f.session(t, other)

	n, err := f.svc.RevokeSessions(t.Context(), ops, u.ID)
	if err != nil || n != 2 {
		t.Fatalf("RevokeSessions = %d, %v; want 2", n, err)
	}
	if live, _ := f.store.SessionsOfUser(t.Context(), u.ID, f.clock.Now()); len(live) != 0 {
		t.Errorf("%d sessions live on", len(live))
	}
	if live, _ := f.store.SessionsOfUser(t.Context(), other.ID, f.clock.Now()); len(live) != 1 {
		t.Errorf("another account has %d sessions, want 1", len(live))
	}
	if n, err := f.svc.RevokeSessions(t.Context(), ops, "astro.user@example.com"); err != nil || n != 0 {
		t.Errorf("RevokeSessions again = %d, %v; want 0", n, err)
	}
	now := f.clock.Now()
	want := []domain.AuditEvent{byOps(domain.EventSessionsRevoked, u.ID, now), byOps(domain.EventSessionsRevoked, u.ID, now)}
	if d := diff(want, f.events(t, ports.AuditQuery{UserID: u.ID})); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	if _, err := f.svc.RevokeSessions(t.Context(), ops, "0194694c-5dc0-7c3d-9a4f-2e5b6c7d8e9f"); !errors.Is(err, domain.ErrUserNotFound) {
		t.Errorf("RevokeSessions(unknown) = %v", err)
	}
}

func TestDeleteUser(t *testing.T) {
	f := newFixture(t)
	u := f.active(t, "astro.user@example.com")
	s := f.session(t, u)
	if err := f.svc.DeleteUser(t.Context(), ops, "Astro.User@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.UserByID(t.Context(), u.ID); !errors.Is(err, domain.ErrUserNotFound) {
		t.Errorf("the deleted account reads %v", err)
	}
	if _, err := f.store.Session(t.Context(), s.ID); !errors.Is(err, domain.ErrSessionNotFound) {
		t.Errorf("the deleted account's session reads %v", err)
	}
	deleted := byOps(domain.EventAccountDeleted, u.ID, f.clock.Now())
	deleted.Email = "astro.user@example.com"
	if d := diff([]domain.AuditEvent{deleted}, f.events(t, ports.AuditQuery{UserID: u.ID})); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	if err := f.svc.DeleteUser(t.Context(), ops, u.ID); !errors.Is(err, domain.ErrUserNotFound) {
		t.Errorf("deleting again = %v", err)
	}
	// The email may sign up again.
	f.account(t, "astro.user@example.com", nil)
}

// TestAudit reads the log by account, type and time, a page at a time.
func TestAudit(t *testing.T) {
	f := newFixture(t)
	at := func(minutes int) time.Time { return start.Add(time.Duration(minutes) * time.Minute) }
	recorded := []domain.AuditEvent{
		{At: at(0), Type: domain.EventSignup, UserID: "u1"},
		{At: at(1), Type: domain.EventLogin, UserID: "u1"},
		{At: at(2), Type: domain.EventLoginFailed, Email: "Nobody@Example.com", Reason: domain.ReasonUnknownEmail},
		{At: at(3), Type: domain.EventSignup, UserID: "u2"},
		{At: at(4), Type: domain.EventAccountDisabled, UserID: "u1", Actor: domain.AdminActor("ops")},
		{At: at(5), Type: domain.EventLogin, UserID: "u2"},
	}
	for _, e := range recorded {
		if err := f.store.Record(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
	// The events by index in recorded, newest first.
	events := func(idx ...int) []domain.AuditEvent {
		var out []domain.AuditEvent
		for _, i := range idx {
			out = append(out, recorded[i])
		}
		return out
	}
	tests := []struct {
		name string
		q    ports.AuditQuery
		want []domain.AuditEvent
	}{
		{"everything", ports.AuditQuery{}, events(5, 4, 3, 2, 1, 0)},
		{"an account", ports.AuditQuery{UserID: "u1"}, events(4, 1, 0)},
		{"an unknown account", ports.AuditQuery{UserID: "nobody"}, nil},
		{"a type", ports.AuditQuery{Types: []domain.EventType{domain.EventLogin}}, events(5, 1)},
		{"two types", ports.AuditQuery{Types: []domain.EventType{domain.EventLogin, domain.EventLoginFailed}}, events(5, 2, 1)},
		{"since", ports.AuditQuery{Since: at(3)}, events(5, 4, 3)},
		{"until", ports.AuditQuery{Until: at(3)}, events(2, 1, 0)},
		{"between", ports.AuditQuery{Since: at(1), Until: at(4)}, events(3, 2, 1)},
		{"everything at once", ports.AuditQuery{UserID: "u1", Types: []domain.EventType{domain.EventLogin, domain.EventSignup}, Since: at(1)}, events(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, err := f.svc.Audit(t.Context(), tt.q)
			if err != nil {
				t.Fatal(err)
			}
			for i := range page.Events {
				page.Events[i].ID = 0
			}
			if d := diff(tt.want, page.Events); d != "" {
				t.Errorf("Audit (-want +got):\n%s", d)
			}
			if page.Next != 0 {
				t.Errorf("Next = %d on the only page", page.Next)
			}
		})
	}

	// Pages of 1, 2, 3 and 6 add up to the whole; the last page, however
	// full, says there is no next.
	for _, limit := range []int{1, 2, 3, 6} {
		var got []domain.AuditEvent
		q := ports.AuditQuery{Limit: limit}
		for pages := 0; ; pages++ {
			if pages > 6 {
				t.Fatal("the pages never end")
			}
			page, err := f.svc.Audit(t.Context(), q)
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Events) > limit || (page.Next != 0 && page.Next != page.Events[len(page.Events)-1].ID) {
				t.Fatalf("a page of %d = %d events, next %d", limit, len(page.Events), page.Next)
			}
			for _, e := range page.Events {
				e.ID = 0
				got = append(got, e)
			}
			if page.Next == 0 {
				break
			}
			q.Before = page.Next
		}
		if d := diff(events(5, 4, 3, 2, 1, 0), got); d != "" {
			t.Errorf("in pages of %d (-want +got):\n%s", limit, d)
		}
	}
}

func TestAuditRefusals(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name   string
		q      ports.AuditQuery
		fields []string
	}{
		{"a negative limit", ports.AuditQuery{Limit: -1}, []string{"limit"}},
		{"a limit over the largest", ports.AuditQuery{Limit: ports.MaxPageSize + 1}, []string{"limit"}},
		{"an unknown type", ports.AuditQuery{Types: []domain.EventType{domain.EventLogin, "hacked"}}, []string{"event"}},
		{"an empty type", ports.AuditQuery{Types: []domain.EventType{""}}, []string{"event"}},
		{"until before since", ports.AuditQuery{Since: start, Until: start.Add(-time.Second)}, []string{"until"}},
		{"until at since", ports.AuditQuery{Since: start, Until: start}, []string{"until"}},
		{"a negative cursor", ports.AuditQuery{Before: -1}, []string{"cursor"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.Audit(t.Context(), tt.q)
			if got := fieldsOf(err); !slices.Equal(got, tt.fields) {
				t.Errorf("Audit = %v, want a validation failure of %v", err, tt.fields)
			}
		})
	}
}

// TestAdminKeys: a key is shown once and kept as its hash; it
// authenticates as its name until revoked; names are never reused.
func TestAdminKeys(t *testing.T) {
	f := newFixture(t)
	cli := ports.Operator{Actor: domain.ActorCLI}
	secret, err := f.svc.CreateAdminKey(t.Context(), cli, "deploy-bot")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, domain.AdminKeyPrefix) {
		t.Errorf("key %q lacks the prefix %q", secret, domain.AdminKeyPrefix)
	}
	keys, err := f.svc.AdminKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	hash := sha256.Sum256([]byte(secret))
	if want := []domain.AdminKey{{Name: "deploy-bot", Hash: hash[:], CreatedAt: start}}; diff(want, keys) != "" {
		t.Errorf("keys (-want +got):\n%s", diff(want, keys))
	}
	if bytes.Contains(keys[0].Hash, []byte(strings.TrimPrefix(secret, domain.AdminKeyPrefix))) {
		t.Error("the store keeps the key")
	}
	actor, err := f.svc.AuthenticateAdmin(t.Context(), secret)
	if err != nil || actor != "admin:deploy-bot" {
		t.Errorf("AuthenticateAdmin = %q, %v; want admin:deploy-bot", actor, err)
	}
	for _, wrong := range []string{"", secret + "x", strings.TrimPrefix(secret, domain.AdminKeyPrefix), string(hash[:]), fmt.Sprintf("%x", hash)} {
		if _, err := f.svc.AuthenticateAdmin(t.Context(), wrong); !errors.Is(err, domain.ErrInvalidAdminKey) {
			t.Errorf("AuthenticateAdmin(%q) = %v, want ErrInvalidAdminKey", wrong, err)
		}
	}

	if _, err := f.svc.CreateAdminKey(t.Context(), cli, "deploy-bot"); !errors.Is(err, domain.ErrAdminKeyExists) {
		t.Errorf("a second key of the name = %v, want ErrAdminKeyExists", err)
	}
	for _, name := range []string{"", "Deploy", "a b", strings.Repeat("a", 65)} {
		if _, err := f.svc.CreateAdminKey(t.Context(), cli, name); !slices.Equal(fieldsOf(err), []string{"name"}) {
			t.Errorf("CreateAdminKey(%q) = %v, want a validation failure of name", name, err)
		}
	}

	f.clock.Advance(time.Hour)
	if err := f.svc.RevokeAdminKey(t.Context(), cli, "deploy-bot"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AuthenticateAdmin(t.Context(), secret); !errors.Is(err, domain.ErrInvalidAdminKey) {
		t.Errorf("a revoked key authenticates: %v", err)
	}
	if _, err := f.svc.CreateAdminKey(t.Context(), cli, "deploy-bot"); !errors.Is(err, domain.ErrAdminKeyExists) {
		t.Errorf("the name of a revoked key was reused: %v", err)
	}
	if err := f.svc.RevokeAdminKey(t.Context(), cli, "nobody"); !errors.Is(err, domain.ErrAdminKeyNotFound) {
		t.Errorf("RevokeAdminKey(unknown) = %v", err)
	}
	want := []domain.AuditEvent{
		{At: start.Add(time.Hour), Type: domain.EventAdminKeyRevoked, Reason: "deploy-bot", Actor: domain.ActorCLI},
		{At: start, Type: domain.EventAdminKeyCreated, Reason: "deploy-bot", Actor: domain.ActorCLI},
	}
	if d := diff(want, f.events(t, ports.AuditQuery{})); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
}

// failingKeys is a key store that cannot be read.
type failingKeys struct{ ports.AdminKeyStore }

func (failingKeys) AdminKeys(context.Context) ([]domain.AdminKey, error) {
	return nil, domain.ErrUnavailable
}

// TestAuthenticateAdminDoesNotHideAnOutage: when the keys cannot be read,
// the caller hears that the service is unavailable, not that the key is
// wrong, which would send an operator hunting for a typo.
func TestAuthenticateAdminDoesNotHideAnOutage(t *testing.T) {
	f := newFixture(t)
	deps := f.deps()
	deps.AdminKeys = failingKeys{f.store}
	svc, err := NewService(deps)
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.AuthenticateAdmin(t.Context(), domain.AdminKeyPrefix+"x")
	if !errors.Is(err, domain.ErrUnavailable) || errors.Is(err, domain.ErrInvalidAdminKey) {
		t.Errorf("AuthenticateAdmin = %v, want ErrUnavailable", err)
	}
}

// TestEveryActionIsAudited: each change an operator makes leaves one event
// naming the operator, the account and the operator's client.
func TestEveryActionIsAudited(t *testing.T) {
	tests := []struct {
		name string
		act  func(f *fixture, u domain.User) error
		want domain.EventType
	}{
		{"disable", func(f *fixture, u domain.User) error {
			_, err := f.svc.UpdateUser(t.Context(), ops, u.ID, ports.AccountChange{Disabled: ptr(true)})
			return err
		}, domain.EventAccountDisabled},
		{"verify", func(f *fixture, u domain.User) error {
			_, err := f.svc.UpdateUser(t.Context(), ops, u.ID, ports.AccountChange{EmailVerified: ptr(true)})
			return err
		}, domain.EventEmailVerified},
		{"rename", func(f *fixture, u domain.User) error {
			_, err := f.svc.UpdateUser(t.Context(), ops, u.ID, ports.AccountChange{FirstName: ptr("Grace")})
			return err
		}, domain.EventNamesChanged},
		{"unlock", func(f *fixture, u domain.User) error { return f.svc.UnlockUser(t.Context(), ops, u.ID) }, domain.EventUnlock},
		{"end the sessions", func(f *fixture, u domain.User) error {
			_, err := f.svc.RevokeSessions(t.Context(), ops, u.ID)
			return err
		}, domain.EventSessionsRevoked},
		{"delete", func(f *fixture, u domain.User) error { return f.svc.DeleteUser(t.Context(), ops, u.ID) }, domain.EventAccountDeleted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			u := f.account(t, "astro.user@example.com", nil)
			if err := tt.act(f, u); err != nil {
				t.Fatal(err)
			}
			events := f.events(t, ports.AuditQuery{})
			if len(events) != 1 {
				t.Fatalf("events = %+v, want one", events)
			}
			want := byOps(tt.want, u.ID, f.clock.Now())
			if tt.want == domain.EventAccountDeleted {
				want.Email = string(u.Email)
			}
			if d := diff(want, events[0]); d != "" {
				t.Errorf("event (-want +got):\n%s", d)
			}
		})
	}
}
