package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"time"

	"authapi/db/postgres/sqlcgen"
	"authapi/ports"
)

var _ ports.RateLimiter = (*Limiter)(nil)

// Limiter is the ports.RateLimiter that a fleet shares: the token buckets
// live in the rate_limits table, and a take is one statement (the
// take_rate_limit function of the schema), which locks the buckets it
// spends from. Spreading requests over several replicas therefore spends
// one budget, not one per replica.
//
// A bucket is a 16-byte digest of its limit, rate and subject: no client
// input is stored, and a row costs the same whatever the subject. Buckets
// that are full again are pruned; a missing bucket is a full one.
type Limiter struct {
	db *DB
}

// NewLimiter returns the shared limiter on db.
func NewLimiter(db *DB) *Limiter {
	return &Limiter{db: db}
}

// Take spends one event from each of subject's buckets under limit, or none
// if any of them is empty, and returns how long until it would be allowed.
func (l *Limiter) Take(ctx context.Context, limit ports.Limit, subject string, now time.Time) (time.Duration, error) {
	if limit.Off() {
		return 0, nil
	}
	params := sqlcgen.TakeRateLimitParams{
		Buckets:   make([][]byte, len(limit.Rates)),
		Bursts:    make([]float64, len(limit.Rates)),
		Intervals: make([]float64, len(limit.Rates)),
		AtTime:    ms(now),
	}
	for i, rate := range limit.Rates {
		params.Buckets[i] = bucketKey(limit.Name, i, subject)
		params.Bursts[i] = float64(rate.Burst)
		params.Intervals[i] = (rate.Per / time.Duration(max(rate.Events, 1))).Seconds()
	}
	wait, err := l.db.q.TakeRateLimit(ctx, params)
	if err != nil {
		return 0, translate(ctx, "take from rate limit", err)
	}
	if wait <= 0 {
		return 0, nil
	}
	return time.Duration(wait * float64(time.Second)).Round(time.Millisecond), nil
}

// Prune forgets the buckets that are full again at now and returns how
// many.
func (l *Limiter) Prune(ctx context.Context, now time.Time) (int, error) {
	n, err := l.db.q.PruneRateLimits(ctx, ms(now))
	if err != nil {
		return 0, translate(ctx, "prune rate limits", err)
	}
	return int(n), nil
}

// bucketKey digests a limit's name, a rate's index and a subject into the
// key of their bucket; the name and the index are framed, so that no
// subject can pose as another limit's.
func bucketKey(name string, rate int, subject string) []byte {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(name)))
	h.Write(n[:])
	h.Write([]byte(name))
	binary.BigEndian.PutUint64(n[:], uint64(rate))
	h.Write(n[:])
	h.Write([]byte(subject))
	return h.Sum(nil)[:16]
}
