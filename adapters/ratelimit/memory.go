// Package ratelimit keeps rate-limit state in memory: token buckets per key
// (on golang.org/x/time/rate) and runs of consecutive failures. It suits one
// node; several nodes behind a balancer need a shared implementation of the
// same ports, or each enforces its limits alone.
package ratelimit

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"authapi/ports"
)

var (
	_ ports.RateLimiter    = (*Memory)(nil)
	_ ports.FailureCounter = (*Memory)(nil)
)

// sweepEvery is how many calls pass between sweeps of idle state, which
// keeps memory bounded by the keys active recently rather than ever.
const sweepEvery = 1024

// failureMemory is how long a run of failures is remembered after its last
// failure; an attacker who pauses longer starts over, as a user would.
const failureMemory = 24 * time.Hour

type bucket struct {
	limiter *rate.Limiter
	// idleAfter is when the bucket will be full again, so forgetting it
	// changes nothing.
	idleAfter time.Time
}

// Memory implements ports.RateLimiter and ports.FailureCounter in memory.
type Memory struct {
	mu       sync.Mutex
	buckets  map[string]*bucket
	failures map[string]ports.Failures
	calls    int
}

// NewMemory returns empty state.
func NewMemory() *Memory {
	return &Memory{buckets: map[string]*bucket{}, failures: map[string]ports.Failures{}}
}

// Take spends one event from key's bucket.
func (m *Memory) Take(_ context.Context, key string, limit ports.Limit, now time.Time) (time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.maybeSweep(now)
	every := rate.Every(limit.Per / time.Duration(max(limit.Events, 1)))
	b, ok := m.buckets[key]
	if !ok || b.limiter.Limit() != every || b.limiter.Burst() != limit.Burst {
		// A new bucket starts full.
		b = &bucket{limiter: rate.NewLimiter(every, limit.Burst)}
		m.buckets[key] = b
	}
	r := b.limiter.ReserveN(now, 1)
	if !r.OK() {
		return limit.Per, nil
	}
	if wait := r.DelayFrom(now); wait > 0 {
		r.CancelAt(now)
		return wait, nil
	}
	b.idleAfter = now.Add(limit.Per / time.Duration(max(limit.Events, 1)) * time.Duration(limit.Burst))
	return 0, nil
}

// Failures returns key's run of failures.
func (m *Memory) Failures(_ context.Context, key string, now time.Time) (ports.Failures, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.failures[key]
	if now.Sub(f.Last) > failureMemory {
		return ports.Failures{}, nil
	}
	return f, nil
}

// RecordFailure extends key's run of failures.
func (m *Memory) RecordFailure(_ context.Context, key string, now time.Time) (ports.Failures, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.maybeSweep(now)
	f := m.failures[key]
	if now.Sub(f.Last) > failureMemory {
		f = ports.Failures{}
	}
	f.Count++
	f.Last = now
	m.failures[key] = f
	return f, nil
}

// Reset forgets key's run of failures.
func (m *Memory) Reset(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.failures, key)
	return nil
}

// maybeSweep forgets state that no longer matters. The caller holds the lock.
func (m *Memory) maybeSweep(now time.Time) {
	m.calls++
	if m.calls%sweepEvery != 0 {
		return
	}
	for key, b := range m.buckets {
		if now.After(b.idleAfter) {
			delete(m.buckets, key)
		}
	}
	for key, f := range m.failures {
		if now.Sub(f.Last) > failureMemory {
			delete(m.failures, key)
		}
	}
}
