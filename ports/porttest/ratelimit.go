package porttest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"authapi/ports"
)

// NewRateLimiter returns an empty limiter of its own for each call.
type NewRateLimiter func(t *testing.T) ports.RateLimiter

// TestRateLimiter runs the ports.RateLimiter contract against the limiters
// newLimiter returns: token buckets per limit, rate and subject, spent all
// or nothing, and never overspent by concurrent takes.
func TestRateLimiter(t *testing.T, newLimiter NewRateLimiter) {
	t.Run("a bucket spends its burst and refills", func(t *testing.T) { testBucket(t, newLimiter) })
	t.Run("subjects and limits have buckets of their own", func(t *testing.T) { testBucketsApart(t, newLimiter) })
	t.Run("several rates spend all or nothing", func(t *testing.T) { testAllOrNothing(t, newLimiter) })
	t.Run("concurrent takes never overspend", func(t *testing.T) { testConcurrentTakes(t, newLimiter) })
}

// sixAMinute is one event per 10 s, three at once.
var sixAMinute = ports.Limit{Name: "test", Rates: []ports.Rate{{Events: 6, Per: time.Minute, Burst: 3}}}

func take(t *testing.T, l ports.RateLimiter, limit ports.Limit, subject string, at time.Time) time.Duration {
	t.Helper()
	wait, err := l.Take(t.Context(), limit, subject, at)
	if err != nil {
		t.Fatalf("Take(%s, %q): %v", limit.Name, subject, err)
	}
	return wait
}

// roughly compares waits at the precision a store may keep time at.
func roughly(got, want time.Duration) bool {
	d := got - want
	return d > -time.Millisecond && d < time.Millisecond
}

func testBucket(t *testing.T, newLimiter NewRateLimiter) {
	l := newLimiter(t)
	t0 := baseTime()
	for i := range 3 {
		if wait := take(t, l, sixAMinute, "198.51.100.1", t0); wait != 0 {
			t.Fatalf("event %d of the burst refused (wait %v)", i+1, wait)
		}
	}
	if wait := take(t, l, sixAMinute, "198.51.100.1", t0); !roughly(wait, 10*time.Second) {
		t.Fatalf("the event after the burst: wait %v, want 10s", wait)
	}
	// A refused event costs nothing: the wait does not grow.
	if wait := take(t, l, sixAMinute, "198.51.100.1", t0.Add(time.Second)); !roughly(wait, 9*time.Second) {
		t.Errorf("a second later: wait %v, want 9s", wait)
	}
	if wait := take(t, l, sixAMinute, "198.51.100.1", t0.Add(10*time.Second)); wait != 0 {
		t.Errorf("the refilled token was refused (wait %v)", wait)
	}
	// A long idle time refills up to the burst, not beyond.
	later := t0.Add(time.Hour)
	for i := range 3 {
		if wait := take(t, l, sixAMinute, "198.51.100.1", later); wait != 0 {
			t.Fatalf("event %d after an hour refused (wait %v)", i+1, wait)
		}
	}
	if wait := take(t, l, sixAMinute, "198.51.100.1", later); wait == 0 {
		t.Error("a bucket idle for an hour held more than its burst")
	}
	if wait := take(t, l, ports.Limit{Name: "off"}, "198.51.100.1", later); wait != 0 {
		t.Errorf("a limit without rates refused an event: %v", wait)
	}
}

func testBucketsApart(t *testing.T, newLimiter NewRateLimiter) {
	l := newLimiter(t)
	t0 := baseTime()
	for range 3 {
		take(t, l, sixAMinute, "198.51.100.1", t0)
	}
	if wait := take(t, l, sixAMinute, "198.51.100.1", t0); wait == 0 {
		t.Fatal("the burst did not run out")
	}
	if wait := take(t, l, sixAMinute, "198.51.100.2", t0); wait != 0 {
		t.Error("another subject shares the bucket")
	}
	other := ports.Limit{Name: "other", Rates: sixAMinute.Rates}
	if wait := take(t, l, other, "198.51.100.1", t0); wait != 0 {
		t.Error("another limit shares the subject's bucket")
	}
	// A subject is data, not syntax: ones that differ only in what a
	// careless key might drop or merge stay apart.
	for _, subject := range []string{"", "198.51.100.1\x00", "test\x00198.51.100.1", "198.51.100.10"} {
		if wait := take(t, l, sixAMinute, subject, t0); wait != 0 {
			t.Errorf("subject %q shares a bucket with another", subject)
		}
	}
}

func testAllOrNothing(t *testing.T, newLimiter NewRateLimiter) {
	l := newLimiter(t)
	limit := ports.Limit{Name: "codes", Rates: []ports.Rate{
		{Events: 1, Per: time.Minute, Burst: 1},
		{Events: 3, Per: time.Hour, Burst: 3},
	}}
	now := baseTime()
	for i := range 3 {
		if wait := take(t, l, limit, "a@example.com", now); wait != 0 {
			t.Fatalf("event %d refused: %v", i+1, wait)
		}
		// Refused by the first rate, and after the third event by the
		// second too: must not spend from either.
		want := 30 * time.Second
		if i == 2 {
			want = 17*time.Minute + 30*time.Second
		}
		if wait := take(t, l, limit, "a@example.com", now.Add(30*time.Second)); !roughly(wait, want) {
			t.Fatalf("an event 30 s after event %d: wait %v, want %v", i+1, wait, want)
		}
		now = now.Add(time.Minute)
	}
	if wait := take(t, l, limit, "a@example.com", now); !roughly(wait, 17*time.Minute) {
		t.Errorf("the fourth event in the hour: wait %v, want 17m (the hourly rate refills one every 20 minutes)", wait)
	}
}

// testConcurrentTakes takes from one bucket in many goroutines at the same
// instant, as replicas do: exactly the burst is allowed.
func testConcurrentTakes(t *testing.T, newLimiter NewRateLimiter) {
	l := newLimiter(t)
	limit := ports.Limit{Name: "burst", Rates: []ports.Rate{{Events: 1, Per: time.Hour, Burst: 10}, {Events: 100, Per: time.Hour, Burst: 100}}}
	at := baseTime()
	var (
		allowed atomic.Int32
		wg      sync.WaitGroup
	)
	for range 8 {
		wg.Go(func() {
			for range 5 {
				wait, err := l.Take(t.Context(), limit, "203.0.113.9", at)
				if err != nil {
					t.Errorf("Take: %v", err)
					return
				}
				if wait == 0 {
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := allowed.Load(); n != 10 {
		t.Errorf("%d of 40 concurrent events allowed by a burst of 10", n)
	}
}
