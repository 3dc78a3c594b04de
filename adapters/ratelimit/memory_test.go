package ratelimit

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"authapi/ports"
	"authapi/ports/porttest"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// sixAMinute is one event per 10 s, three at once.
var sixAMinute = ports.Limit{Name: "test", Rates: []ports.Rate{{Events: 6, Per: time.Minute, Burst: 3}}}

// TestSubjectsDoNotGrowMemory: a subject becomes a fixed-size digest, so a
// long one costs no more than a short one.
func TestSubjectsDoNotGrowMemory(t *testing.T) {
	m := NewMemory(0, nil)
	before := heapInUse()
	const n = 2000
	for i := range n {
		subject := fmt.Sprintf("%d%s", i, strings.Repeat("x", 64<<10))
		if wait, _ := m.Take(t.Context(), sixAMinute, subject, t0); wait != 0 {
			t.Fatalf("subject %d refused", i)
		}
	}
	grown := heapInUse() - before
	if m.Len() != n {
		t.Fatalf("%d buckets, want %d", m.Len(), n)
	}
	// 2,000 subjects of 64 KiB are 125 MiB; their buckets must be a few
	// hundred KiB.
	if grown > 1<<20 {
		t.Errorf("the heap grew by %d KiB for %d buckets: the subjects are kept", grown>>10, n)
	}
	runtime.KeepAlive(m)
}

func heapInUse() int64 {
	runtime.GC()
	var s runtime.MemStats
	runtime.ReadMemStats(&s)
	return int64(s.HeapInuse)
}

// TestFullTableFailsSafe: when every bucket is in force, a new subject is
// refused, and no subject that is being limited gets a fresh bucket.
func TestFullTableFailsSafe(t *testing.T) {
	m := NewMemory(4, nil)
	oneAMinute := ports.Limit{Name: "test", Rates: []ports.Rate{{Events: 1, Per: time.Minute, Burst: 1}}}
	for i := range 4 {
		if wait, _ := m.Take(t.Context(), oneAMinute, fmt.Sprint(i), t0); wait != 0 {
			t.Fatalf("subject %d refused", i)
		}
	}
	wait, _ := m.Take(t.Context(), oneAMinute, "newcomer", t0.Add(10*time.Second))
	if wait <= 0 || wait > 50*time.Second {
		t.Errorf("a new subject with the table full: wait %v, want the 50s until a bucket is full again", wait)
	}
	for i := range 4 {
		if wait, _ := m.Take(t.Context(), oneAMinute, fmt.Sprint(i), t0.Add(10*time.Second)); wait == 0 {
			t.Errorf("subject %d was let through: its bucket was evicted to make room", i)
		}
	}
	// Once buckets are full again they make room.
	if wait, _ := m.Take(t.Context(), oneAMinute, "newcomer", t0.Add(time.Minute)); wait != 0 {
		t.Errorf("a new subject after the buckets refilled: wait %v", wait)
	}
	if m.Len() != 1 {
		t.Errorf("%d buckets after making room, want only the newcomer's", m.Len())
	}
}

// TestSweepForgetsOnlyFullBuckets: the periodic sweep drops the buckets
// that have filled up again, and keeps every one still in force.
func TestSweepForgetsOnlyFullBuckets(t *testing.T) {
	m := NewMemory(0, nil)
	hourly := ports.Limit{Name: "hourly", Rates: []ports.Rate{{Events: 1, Per: time.Hour, Burst: 1}}}
	minutely := ports.Limit{Name: "minutely", Rates: []ports.Rate{{Events: 1, Per: time.Minute, Burst: 1}}}
	const each = 300
	for i := range each {
		m.Take(t.Context(), hourly, fmt.Sprint("h", i), t0)
		m.Take(t.Context(), minutely, fmt.Sprint("m", i), t0)
	}
	// Enough calls at t0+10m for a sweep, on subjects of their own.
	later := t0.Add(10 * time.Minute)
	fillers := 0
	for ; m.calls%sweepEvery != 0 || fillers == 0; fillers++ {
		m.Take(t.Context(), ports.Limit{Name: "filler", Rates: minutely.Rates}, fmt.Sprint("f", fillers), later)
	}
	for i := range each {
		if wait, _ := m.Take(t.Context(), hourly, fmt.Sprint("h", i), later); wait == 0 {
			t.Fatalf("hourly subject %d was forgotten while its bucket was in force", i)
		}
	}
	if got, want := m.Len(), each+fillers; got != want {
		t.Errorf("%d buckets after the sweep, want %d: the %d hourly ones and the fillers in force", got, want, each)
	}
}

func TestRateLimiterContract(t *testing.T) {
	porttest.TestRateLimiter(t, func(*testing.T) ports.RateLimiter { return NewMemory(0, nil) })
}
