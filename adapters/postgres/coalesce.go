package postgres

import (
	"context"
	"sync"
	"time"
)

// coalescer turns concurrent lookups of one key each into reads of many
// keys. A lookup that finds fewer than maxReading reads in flight reads at
// once, alone, as it would without a coalescer. A lookup that arrives while
// maxReading reads are in flight waits; when one of them ends, the lookups
// waiting then (up to maxBatch) go to the database together, in one query.
//
// Under load most of a point read's cost is the round trip and the query's
// fixed cost, on both sides of the connection; sharing them lets the
// database and the service answer more requests on the same CPUs. With
// little load nothing ever waits.
//
// Every lookup is answered by a read that starts after the lookup was made,
// so it sees every change committed before the lookup: unlike a cache, or
// joining a read already in flight, coalescing never answers with state
// older than the request.
type coalescer[K comparable, V any] struct {
	// read returns the values of the keys that exist; keys may repeat.
	read       func(ctx context.Context, keys []K) (map[K]V, error)
	maxReading int
	maxBatch   int
	// timeout bounds a shared read, which no single caller's context may
	// end: each caller stops waiting when its own context ends.
	timeout time.Duration

	mu      sync.Mutex
	reading int
	waiting []*lookup[K, V]
}

// lookup is one caller's key, waiting for a shared read.
type lookup[K comparable, V any] struct {
	ctx  context.Context
	key  K
	done chan lookupResult[V] // buffered, so a read never waits for a caller that left
}

type lookupResult[V any] struct {
	value V
	found bool
	err   error
}

// get returns key's value and whether it exists.
func (c *coalescer[K, V]) get(ctx context.Context, key K) (V, bool, error) {
	c.mu.Lock()
	if c.reading < c.maxReading {
		c.reading++
		c.mu.Unlock()
		values, err := c.readAlone(ctx, key)
		v, found := values[key]
		return v, found, err
	}
	l := &lookup[K, V]{ctx: ctx, key: key, done: make(chan lookupResult[V], 1)}
	c.waiting = append(c.waiting, l)
	c.mu.Unlock()

	select {
	case r := <-l.done:
		return r.value, r.found, r.err
	case <-ctx.Done():
		var zero V
		return zero, false, ctx.Err()
	}
}

// readAlone reads key for its caller alone, in a read slot it gives up or
// hands on when done, even if read panics.
func (c *coalescer[K, V]) readAlone(ctx context.Context, key K) (map[K]V, error) {
	defer c.readDone()
	return c.read(ctx, []K{key})
}

// readDone ends a solo read. If lookups wait, a shared read of their keys
// takes its place, so that no more than maxReading reads are ever in flight.
func (c *coalescer[K, V]) readDone() {
	if batch := c.next(); batch != nil {
		go c.readBatches(batch)
	}
}

// next takes the next batch of waiting lookups, or, if none waits, gives up
// the read slot and returns nil.
func (c *coalescer[K, V]) next() []*lookup[K, V] {
	c.mu.Lock()
	defer c.mu.Unlock()
	batch := c.takeBatch()
	if batch == nil {
		c.reading--
	}
	return batch
}

// takeBatch removes up to maxBatch waiting lookups whose callers still wait,
// and drops the ones whose callers left. c.mu must be held.
func (c *coalescer[K, V]) takeBatch() []*lookup[K, V] {
	var batch []*lookup[K, V]
	taken := 0
	for _, l := range c.waiting {
		if len(batch) == c.maxBatch {
			break
		}
		taken++
		if l.ctx.Err() == nil {
			batch = append(batch, l)
		}
	}
	rest := copy(c.waiting, c.waiting[taken:])
	clear(c.waiting[rest:])
	c.waiting = c.waiting[:rest]
	return batch
}

// readBatches reads batch and every batch that waits after it, in one read
// slot, until none waits.
func (c *coalescer[K, V]) readBatches(batch []*lookup[K, V]) {
	for ; batch != nil; batch = c.next() {
		keys := make([]K, len(batch))
		for i, l := range batch {
			keys[i] = l.key
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		values, err := c.read(ctx, keys)
		cancel()
		for _, l := range batch {
			v, found := values[l.key]
			l.done <- lookupResult[V]{value: v, found: found, err: err}
		}
	}
}

// Settings of the store's coalescers. Two reads in flight, so that one
// read's round trip does not leave the database idle; beyond that, more
// load makes reads larger rather than more numerous. Measured on two CPUs
// (docs/performance.md): one read in flight saved backend CPU but answered
// fewer requests a second than two; four answered fewer too.
const (
	maxReading = 2
	maxBatch   = 128
	// sharedReadTimeout bounds a shared read, as a request's own deadline
	// would bound a solo one.
	sharedReadTimeout = 15 * time.Second
)
