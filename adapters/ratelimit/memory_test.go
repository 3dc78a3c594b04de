package ratelimit

import (
	"context"
	"testing"
	"time"

	"authapi/ports"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestTakeSpendsABucket(t *testing.T) {
	m := NewMemory()
	ctx := context.Background()
	limit := ports.Limit{Events: 6, Per: time.Minute, Burst: 3} // one per 10 s, three at once
	for i := 0; i < 3; i++ {
		if wait, _ := m.Take(ctx, "ip:1", limit, t0); wait != 0 {
			t.Fatalf("event %d of the burst refused (wait %v)", i+1, wait)
		}
	}
	wait, err := m.Take(ctx, "ip:1", limit, t0)
	if err != nil || wait != 10*time.Second {
		t.Fatalf("fourth event: wait %v, %v; want 10s", wait, err)
	}
	// A refused event costs nothing: the wait does not grow.
	if wait, _ := m.Take(ctx, "ip:1", limit, t0.Add(time.Second)); wait != 9*time.Second {
		t.Errorf("wait a second later = %v, want 9s", wait)
	}
	if wait, _ := m.Take(ctx, "ip:2", limit, t0); wait != 0 {
		t.Error("another key shares the bucket")
	}
	if wait, _ := m.Take(ctx, "ip:1", limit, t0.Add(10*time.Second)); wait != 0 {
		t.Errorf("refilled token refused (wait %v)", wait)
	}
}

func TestFailures(t *testing.T) {
	m := NewMemory()
	ctx := context.Background()
	for i := 1; i <= 3; i++ {
		f, err := m.RecordFailure(ctx, "acct", t0.Add(time.Duration(i)*time.Minute))
		if err != nil || f.Count != i || !f.Last.Equal(t0.Add(time.Duration(i)*time.Minute)) {
			t.Fatalf("failure %d = %+v, %v", i, f, err)
		}
	}
	if f, _ := m.Failures(ctx, "acct", t0.Add(time.Hour)); f.Count != 3 {
		t.Errorf("Failures = %+v, want 3", f)
	}
	if f, _ := m.Failures(ctx, "acct", t0.Add(25*time.Hour)); f.Count != 0 {
		t.Errorf("a run a day old is still remembered: %+v", f)
	}
	if f, _ := m.RecordFailure(ctx, "acct", t0.Add(26*time.Hour)); f.Count != 1 {
		t.Errorf("a failure after a long pause starts a new run: %+v", f)
	}
	if err := m.Reset(ctx, "acct"); err != nil {
		t.Fatal(err)
	}
	if f, _ := m.Failures(ctx, "acct", t0.Add(26*time.Hour)); f.Count != 0 {
		t.Errorf("after Reset: %+v", f)
	}
}

func TestSweepForgetsOnlyIdleState(t *testing.T) {
	m := NewMemory()
	ctx := context.Background()
	limit := ports.Limit{Events: 1, Per: time.Hour, Burst: 1}
	if wait, _ := m.Take(ctx, "busy", limit, t0); wait != 0 {
		t.Fatal("first event refused")
	}
	_, _ = m.RecordFailure(ctx, "recent", t0)
	for i := 0; i < sweepEvery; i++ {
		_, _ = m.Take(ctx, "other", ports.Limit{Events: 1000, Per: time.Second, Burst: 1000}, t0.Add(time.Minute))
	}
	if wait, _ := m.Take(ctx, "busy", limit, t0.Add(time.Minute)); wait == 0 {
		t.Error("a sweep forgot a bucket that was still spent")
	}
	if f, _ := m.Failures(ctx, "recent", t0.Add(time.Minute)); f.Count != 1 {
		t.Error("a sweep forgot a recent failure")
	}
	if len(m.buckets) > 2 {
		t.Errorf("%d buckets kept", len(m.buckets))
	}
}
