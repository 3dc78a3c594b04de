// Package ratelimit keeps rate-limit state in memory: a token bucket per
// limit, rate and subject. It suits one process; a fleet shares its buckets
// through the database instead, behind the same port.
//
// Memory stays bounded whatever clients send. A bucket is keyed by a
// 16-byte digest of its limit, rate and subject, never by the subject
// itself, and there are at most MaxKeys buckets. Buckets that have filled up
// again are forgotten, which changes nothing: a new bucket starts full. When
// every bucket still holds state in force, a request that needs a new bucket
// is refused until one fills up. Evicting a bucket in force instead would
// hand whoever is being limited a fresh budget, so the limiter fails safe:
// it may refuse someone new, never free someone limited.
package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"log/slog"
	"sync"
	"time"

	"authapi/ports"
)

var _ ports.RateLimiter = (*Memory)(nil)

// DefaultMaxKeys bounds the buckets held. One costs about 60 bytes with its
// share of the map, so the default holds a few MiB at most.
const DefaultMaxKeys = 100_000

// sweepEvery is how many calls pass between sweeps of full buckets, which
// keeps memory following the subjects active recently rather than ever.
const sweepEvery = 1024

// key is the digest of a limit's name, a rate's index and a subject.
type key [16]byte

// bucket is a token bucket: tokens as of at, and when it is full again.
type bucket struct {
	tokens float64
	at     int64 // unix nanoseconds
	fullAt int64 // unix nanoseconds
}

// Memory implements ports.RateLimiter in memory.
type Memory struct {
	maxKeys int
	log     *slog.Logger

	mu      sync.Mutex
	buckets map[key]bucket
	calls   int
	// noRoomUntil is when a bucket will next be full again, after a sweep
	// that found none: until then a new bucket is refused without another
	// sweep, so that a full table does not cost a scan per request.
	noRoomUntil time.Time
	// warnedAt rate-limits the warning about a full table.
	warnedAt time.Time
}

// NewMemory returns a limiter that holds at most maxKeys buckets (0 means
// DefaultMaxKeys) and warns on log when it is full.
func NewMemory(maxKeys int, log *slog.Logger) *Memory {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Memory{maxKeys: maxKeys, log: log, buckets: make(map[key]bucket)}
}

// Take spends one event from each of subject's buckets under limit, or none
// if any of them is empty.
func (m *Memory) Take(ctx context.Context, limit ports.Limit, subject string, now time.Time) (time.Duration, error) {
	if limit.Off() {
		return 0, nil
	}
	keys := make([]key, len(limit.Rates))
	for i := range limit.Rates {
		keys[i] = digest(limit.Name, i, subject)
	}
	nanos := now.UnixNano()

	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if m.calls%sweepEvery == 0 {
		m.sweep(nanos)
	}
	var (
		wait    time.Duration
		missing int
		next    = make([]bucket, len(keys))
	)
	for i, rate := range limit.Rates {
		b, ok := m.buckets[keys[i]]
		if !ok {
			missing++
			b = bucket{tokens: float64(rate.Burst), at: nanos}
		}
		b = refill(b, rate, nanos)
		if b.tokens < 1 {
			wait = max(wait, time.Duration((1-b.tokens)*float64(interval(rate))))
		}
		next[i] = b
	}
	if wait > 0 {
		return wait, nil
	}
	if missing > 0 && len(m.buckets)+missing > m.maxKeys {
		if wait := m.makeRoom(ctx, now, missing); wait > 0 {
			return wait, nil
		}
	}
	for i, rate := range limit.Rates {
		b := next[i]
		b.tokens--
		b.fullAt = nanos + int64((float64(rate.Burst)-b.tokens)*float64(interval(rate)))
		m.buckets[keys[i]] = b
	}
	return 0, nil
}

// makeRoom forgets full buckets until need new ones fit, and otherwise
// returns how long until one may. The caller holds the lock.
func (m *Memory) makeRoom(ctx context.Context, now time.Time, need int) time.Duration {
	if now.Before(m.noRoomUntil) {
		return m.noRoomUntil.Sub(now)
	}
	earliest := m.sweep(now.UnixNano())
	if len(m.buckets)+need <= m.maxKeys {
		return 0
	}
	m.noRoomUntil = time.Unix(0, earliest)
	if now.Sub(m.warnedAt) >= time.Minute {
		m.warnedAt = now
		m.log.WarnContext(ctx, "the rate limiter is full of limits in force; new clients are refused until some run out",
			"buckets", len(m.buckets), "max", m.maxKeys, "until", m.noRoomUntil.UTC())
	}
	return max(time.Second, m.noRoomUntil.Sub(now))
}

// sweep forgets the buckets that are full again at nanos and returns when
// the next of the others will be. The caller holds the lock.
func (m *Memory) sweep(nanos int64) (earliest int64) {
	earliest = int64(^uint64(0) >> 1)
	for k, b := range m.buckets {
		if b.fullAt <= nanos {
			delete(m.buckets, k)
			continue
		}
		earliest = min(earliest, b.fullAt)
	}
	return earliest
}

// Len returns how many buckets are held.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.buckets)
}

// refill adds the tokens that rate has earned b since b.at, up to the burst.
func refill(b bucket, rate ports.Rate, nanos int64) bucket {
	if elapsed := nanos - b.at; elapsed > 0 {
		b.tokens = min(float64(rate.Burst), b.tokens+float64(elapsed)/float64(interval(rate)))
		b.at = nanos
	}
	return b
}

// interval is the time one token takes to come back.
func interval(rate ports.Rate) time.Duration {
	return rate.Per / time.Duration(max(rate.Events, 1))
}

func digest(name string, rate int, subject string) key {
	h := sha256.New()
	h.Write([]byte(name))
	var n [9]byte
	binary.BigEndian.PutUint64(n[1:], uint64(rate))
	h.Write(n[:])
	h.Write([]byte(subject))
	var k key
	copy(k[:], h.Sum(nil))
	return k
}
