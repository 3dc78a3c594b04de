package outbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"authapi/adapters/postgres"
	"authapi/adapters/sqlite"
	"authapi/domain"
	"authapi/internal/testkit"
	"authapi/ports"
)

var t0 = time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)

// zeroRandom makes the jitter draw its minimum, so waits are predictable.
type zeroRandom struct{}

func (zeroRandom) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// flakyMailer fails while down is set and records what it delivered.
type flakyMailer struct {
	mu        sync.Mutex
	down      error
	delivered []ports.Message
	tries     int
	sent      chan struct{}
}

func (m *flakyMailer) Send(_ context.Context, msg ports.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tries++
	if m.down != nil {
		return m.down
	}
	m.delivered = append(m.delivered, msg)
	if m.sent != nil {
		m.sent <- struct{}{}
	}
	return nil
}

func (m *flakyMailer) setDown(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.down = err
}

// The dispatcher runs against the real outbox (SQLite, or PostgreSQL when the
// suite runs on it), in a database of each test's own; the mailer and the clock are fakes.
type fixture struct {
	store  testStore
	mailer *flakyMailer
	clock  *testkit.Clock
	logs   *testkit.Buffer
	d      *Dispatcher
}

func testConfig() Config {
	c := DefaultConfig()
	c.MaxAttempts = 5
	c.BaseDelay = time.Second
	c.MaxDelay = 10 * time.Second
	return c
}

func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	f := &fixture{store: newStore(t), mailer: &flakyMailer{}, clock: testkit.NewClock(t0), logs: &testkit.Buffer{}}
	d, err := New(f.store, f.mailer, f.clock, zeroRandom{}, slog.New(slog.NewTextHandler(f.logs, nil)), cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.d = d
	return f
}

// testStore is the store the dispatcher delivers from, and fills in the
// tests.
type testStore interface {
	ports.UserStore
	ports.Outbox
}

// newStore opens a store on a database of the test's own: a SQLite file, or
// a PostgreSQL schema when the suite runs on PostgreSQL.
func newStore(t *testing.T) testStore {
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
		return postgres.NewStore(db)
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
	return store
}

func TestMain(m *testing.M) { testkit.Main(m) }

// queue stores an account with one activation email, as a signup does.
func (f *fixture) queue(t *testing.T, n int, mail ports.OutgoingMail) {
	t.Helper()
	reg, err := domain.NewRegistration(mail.To.String(), "StrongPassword123!", "Astro", "User")
	if err != nil {
		t.Fatal(err)
	}
	key, err := domain.NewCodeKey(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	user := domain.NewUser(mail.ID+"-user", reg, "hash", key, domain.CodeSecrets{Code: "123456"}, f.clock.Now(), time.Hour)
	if err := f.store.CreateUser(context.Background(), user, ports.Effects{Mail: []ports.OutgoingMail{mail}}); err != nil {
		t.Fatal(err)
	}
}

func message(id, to string, queuedAt time.Time) ports.OutgoingMail {
	return ports.OutgoingMail{
		Message:  ports.Message{ID: id, To: domain.Email(to), Subject: "Your activation code", Text: "code 123456", HTML: "<p>123456</p>"},
		QueuedAt: queuedAt,
	}
}

func (f *fixture) pass(t *testing.T) int {
	t.Helper()
	n, err := f.d.DeliverDue(context.Background())
	if err != nil {
		t.Fatalf("DeliverDue: %v", err)
	}
	return n
}

func (f *fixture) stats(t *testing.T) ports.MailStats {
	t.Helper()
	st, err := f.store.MailStats(context.Background(), f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestDeliversQueuedMail(t *testing.T) {
	f := newFixture(t, testConfig())
	f.queue(t, 1, message("m1", "a@example.com", t0))
	f.queue(t, 2, message("m2", "b@example.com", t0))
	if n := f.pass(t); n != 2 {
		t.Fatalf("handled %d, want 2", n)
	}
	if len(f.mailer.delivered) != 2 || f.mailer.delivered[0].ID != "m1" || f.mailer.delivered[0].Text != "code 123456" {
		t.Fatalf("delivered %+v", f.mailer.delivered)
	}
	if st := f.stats(t); st.Sent != 2 || st.Pending != 0 {
		t.Errorf("stats %+v", st)
	}
	if n := f.pass(t); n != 0 || len(f.mailer.delivered) != 2 {
		t.Errorf("a second pass delivered again")
	}
}

func TestRetriesWithBackoffUntilTheServerReturns(t *testing.T) {
	f := newFixture(t, testConfig())
	f.mailer.setDown(errors.New("dial tcp: connection refused"))
	f.queue(t, 1, message("m1", "a@example.com", t0))

	// With the jitter at its minimum, the waits are half of 1s, 2s, 4s.
	for i, wait := range []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second} {
		f.pass(t)
		if f.mailer.tries != i+1 {
			t.Fatalf("after pass %d: %d tries", i+1, f.mailer.tries)
		}
		f.clock.Advance(wait - time.Millisecond)
		f.pass(t)
		if f.mailer.tries != i+1 {
			t.Fatalf("retried %v early", time.Millisecond)
		}
		f.clock.Advance(time.Millisecond)
	}
	if st := f.stats(t); st.Pending != 1 || st.OldestPending != 3500*time.Millisecond {
		t.Errorf("stats while down = %+v", st)
	}
	f.mailer.setDown(nil)
	f.pass(t)
	if len(f.mailer.delivered) != 1 {
		t.Fatal("not delivered once the server came back")
	}
	if st := f.stats(t); st.Sent != 1 || st.Pending != 0 {
		t.Errorf("stats = %+v", st)
	}
	if logs := f.logs.String(); strings.Contains(logs, "123456") || !strings.Contains(logs, "connection refused") {
		t.Errorf("failure log leaks the code or lacks the cause:\n%s", logs)
	}
}

func TestGivesUp(t *testing.T) {
	tests := []struct {
		name     string
		mail     func() ports.OutgoingMail
		down     bool
		advance  time.Duration
		attempts int // tries before it is dead
	}{
		{"after the last attempt", func() ports.OutgoingMail { return message("m", "a@example.com", t0) }, true, time.Minute, 5},
		{"when its code expired", func() ports.OutgoingMail {
			m := message("m", "a@example.com", t0)
			m.ExpiresAt = t0.Add(time.Hour)
			return m
		}, false, time.Hour, 0},
		{"when older than the maximum age", func() ports.OutgoingMail { return message("m", "a@example.com", t0) }, false, 24 * time.Hour, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, testConfig())
			if tt.down {
				f.mailer.setDown(errors.New("550 mailbox unavailable"))
			}
			f.queue(t, 1, tt.mail())
			for i := 0; i < 10 && f.stats(t).Pending > 0; i++ {
				if i > 0 || !tt.down {
					f.clock.Advance(tt.advance)
				}
				f.pass(t)
			}
			if st := f.stats(t); st.Dead != 1 || st.Pending != 0 {
				t.Fatalf("stats = %+v, want one dead message", st)
			}
			if f.mailer.tries != tt.attempts || len(f.mailer.delivered) != 0 {
				t.Errorf("%d tries, %d delivered; want %d tries", f.mailer.tries, len(f.mailer.delivered), tt.attempts)
			}
		})
	}
}

func TestSupersededMailIsNotSent(t *testing.T) {
	f := newFixture(t, testConfig())
	f.mailer.setDown(errors.New("down"))
	first := message("old", "a@example.com", t0)
	first.Slot = "activation:u1"
	f.queue(t, 1, first)
	f.pass(t) // fails, stays queued

	_, err := f.store.UpdateUser(context.Background(), ports.UserEmail("a@example.com"), func(u *domain.User) (ports.Effects, error) {
		second := message("new", "a@example.com", f.clock.Now())
		second.Slot = "activation:u1"
		return ports.Effects{Mail: []ports.OutgoingMail{second}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	f.mailer.setDown(nil)
	f.clock.Advance(time.Minute)
	f.pass(t)
	if len(f.mailer.delivered) != 1 || f.mailer.delivered[0].ID != "new" {
		t.Errorf("delivered %+v, want only the new message", f.mailer.delivered)
	}
	if st := f.stats(t); st.Superseded != 1 || st.Sent != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestBackoff(t *testing.T) {
	cfg := testConfig()
	f := newFixture(t, cfg)
	tests := []struct {
		attempts int
		want     time.Duration // the un-jittered delay
	}{
		{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {4, 8 * time.Second},
		{5, 10 * time.Second}, {40, 10 * time.Second}, {1000, 10 * time.Second},
	}
	for _, tt := range tests {
		f.d.random = zeroRandom{}
		if got := f.d.backoff(tt.attempts); got != tt.want/2 {
			t.Errorf("backoff(%d) with the least jitter = %v, want %v", tt.attempts, got, tt.want/2)
		}
		f.d.random = bytes.NewReader(bytes.Repeat([]byte{0xff}, 8))
		if got := f.d.backoff(tt.attempts); got < tt.want/2 || got > tt.want {
			t.Errorf("backoff(%d) = %v, outside [%v, %v]", tt.attempts, got, tt.want/2, tt.want)
		}
	}
}

func TestRunDeliversOnWakeAndStops(t *testing.T) {
	f := newFixture(t, testConfig())
	f.d.cfg.PollInterval = time.Hour // only the wake-up can explain a prompt delivery
	f.mailer.sent = make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.d.Run(ctx); close(done) }()

	f.queue(t, 1, message("m1", "a@example.com", t0))
	f.d.MailQueued()
	select {
	case <-f.mailer.sent:
	case <-time.After(10 * time.Second):
		t.Fatal("queued mail not delivered after a wake-up")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	cfg := testConfig()
	cfg.MaxDelay = cfg.BaseDelay / 2
	if _, err := New(newStore(t), &flakyMailer{}, testkit.NewClock(time.Time{}), zeroRandom{}, slog.New(slog.DiscardHandler), cfg); err == nil {
		t.Error("accepted a max delay below the base delay")
	}
}

// TestDispatchersShareTheOutbox: dispatchers of several replicas deliver from
// one outbox at the same time, and each message goes out exactly once.
func TestDispatchersShareTheOutbox(t *testing.T) {
	f := newFixture(t, testConfig())
	const messages = 40
	for i := range messages {
		f.queue(t, i, message(fmt.Sprintf("m%02d", i), fmt.Sprintf("user%02d@example.com", i), t0))
	}
	cfg := testConfig()
	cfg.BatchSize = 3
	var wg sync.WaitGroup
	for range 4 {
		d, err := New(f.store, f.mailer, f.clock, zeroRandom{}, slog.New(slog.DiscardHandler), cfg)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n, err := d.DeliverDue(context.Background())
				if err != nil {
					t.Errorf("DeliverDue: %v", err)
					return
				}
				if n == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	sent := map[string]int{}
	for _, m := range f.mailer.delivered {
		sent[m.ID]++
	}
	if len(sent) != messages {
		t.Errorf("%d of %d messages delivered", len(sent), messages)
	}
	for id, n := range sent {
		if n != 1 {
			t.Errorf("message %s delivered %d times", id, n)
		}
	}
}

// TestMailOfADeadDispatcherIsTakenOver: a dispatcher that claimed mail and
// died holds it only until the lease runs out; then another delivers it.
func TestMailOfADeadDispatcherIsTakenOver(t *testing.T) {
	f := newFixture(t, testConfig())
	f.queue(t, 1, message("m1", "a@example.com", t0))
	cfg := testConfig()
	if claimed, err := f.store.ClaimMail(context.Background(), f.clock.Now(), cfg.Lease, 10); err != nil || len(claimed) != 1 {
		t.Fatalf("the dying dispatcher's claim = %v, %v", claimed, err)
	}
	f.clock.Advance(cfg.Lease - time.Millisecond)
	if n := f.pass(t); n != 0 || len(f.mailer.delivered) != 0 {
		t.Fatalf("delivered a message while another dispatcher's lease held it")
	}
	f.clock.Advance(time.Millisecond)
	if n := f.pass(t); n != 1 || len(f.mailer.delivered) != 1 {
		t.Fatalf("handled %d, delivered %d once the lease ran out; want 1 and 1", n, len(f.mailer.delivered))
	}
}

// stallingMailer blocks every send until its context ends.
type stallingMailer struct{ started chan struct{} }

func (m *stallingMailer) Send(ctx context.Context, _ ports.Message) error {
	m.started <- struct{}{}
	<-ctx.Done()
	return ctx.Err()
}

// TestStopHandsBackClaimedMail: mail claimed by a dispatcher that stops,
// the message in flight included, is due again at once, for the next run or
// another replica, and the cut-short send does not count as an attempt.
func TestStopHandsBackClaimedMail(t *testing.T) {
	f := newFixture(t, testConfig())
	f.queue(t, 1, message("m1", "a@example.com", t0))
	f.queue(t, 2, message("m2", "b@example.com", t0))
	mailer := &stallingMailer{started: make(chan struct{}, 1)}
	d, err := New(f.store, mailer, f.clock, zeroRandom{}, slog.New(slog.DiscardHandler), testConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	<-mailer.started
	cancel()
	<-done

	due, err := f.store.ClaimMail(context.Background(), f.clock.Now(), 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 2 || due[0].Attempts != 0 || due[1].Attempts != 0 {
		t.Errorf("due after the stop = %+v, want both messages with no attempt counted", due)
	}
}

// blockingMailer holds every send until released, and records what it was
// given.
type blockingMailer struct {
	started chan string
	release chan struct{}
}

func (m *blockingMailer) Send(ctx context.Context, msg ports.Message) error {
	m.started <- msg.ID
	select {
	case <-m.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestADispatcherHoldsOnlyWhatItSends: while one dispatcher is stuck on a
// message, another delivers the rest; one claim does not hold a batch.
func TestADispatcherHoldsOnlyWhatItSends(t *testing.T) {
	f := newFixture(t, testConfig())
	f.queue(t, 1, message("m1", "a@example.com", t0))
	f.queue(t, 2, message("m2", "b@example.com", t0))
	stuck := &blockingMailer{started: make(chan string, 1), release: make(chan struct{})}
	slow, err := New(f.store, stuck, f.clock, zeroRandom{}, slog.New(slog.DiscardHandler), testConfig())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { slow.DeliverDue(context.Background()); close(done) }()
	if id := <-stuck.started; id != "m1" {
		t.Fatalf("the stuck dispatcher took %s first, want m1", id)
	}
	if n := f.pass(t); n != 1 || len(f.mailer.delivered) != 1 || f.mailer.delivered[0].ID != "m2" {
		t.Errorf("beside the stuck dispatcher, a pass handled %d and delivered %v; want m2 alone", n, f.mailer.delivered)
	}
	close(stuck.release)
	<-done
	if st := f.stats(t); st.Sent != 2 {
		t.Errorf("stats = %+v, want both sent, once each", st)
	}
}

// TestASlowSendKeepsItsClaim: a send that outlasts the lease renews the
// claim, so that no other dispatcher sends the message a second time.
func TestASlowSendKeepsItsClaim(t *testing.T) {
	f := newFixture(t, testConfig())
	f.queue(t, 1, message("m1", "a@example.com", t0))
	cfg := testConfig()
	cfg.Lease = 3 * time.Second // the shortest allowed: renewed every second
	stuck := &blockingMailer{started: make(chan string, 1), release: make(chan struct{})}
	slow, err := New(f.store, stuck, f.clock, zeroRandom{}, slog.New(slog.DiscardHandler), cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { slow.DeliverDue(context.Background()); close(done) }()
	<-stuck.started
	// The send outlasts its lease; the renewal, once a second, moves the
	// claim past the new time.
	f.clock.Advance(time.Minute)
	time.Sleep(1500 * time.Millisecond)
	if n := f.pass(t); n != 0 || len(f.mailer.delivered) != 0 {
		t.Errorf("another dispatcher took over a message still being sent: handled %d", n)
	}
	close(stuck.release)
	<-done
	if st := f.stats(t); st.Sent != 1 {
		t.Errorf("stats = %+v, want the slow message sent", st)
	}
}
