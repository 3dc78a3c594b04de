package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeReads is a coalescer's read function whose reads the test can hold:
// each read reports its keys on started and, when gate is set, waits for a
// token from it before answering. A key's value is the key and the number
// of writes made before the read started, so a test can tell which read
// answered.
type fakeReads struct {
	started chan []string
	gate    chan struct{}
	fail    error

	mu          sync.Mutex
	writes      int
	reads       [][]string
	inFlight    int
	maxInFlight int
}

func newFakeReads(gated bool) *fakeReads {
	f := &fakeReads{started: make(chan []string, 1000)}
	if gated {
		f.gate = make(chan struct{})
	}
	return f
}

func (f *fakeReads) read(ctx context.Context, keys []string) (map[string]string, error) {
	f.mu.Lock()
	f.reads = append(f.reads, slices.Clone(keys))
	f.inFlight++
	f.maxInFlight = max(f.maxInFlight, f.inFlight)
	writes := f.writes
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inFlight--
		f.mu.Unlock()
	}()

	f.started <- keys
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if f.fail != nil {
		return nil, f.fail
	}
	values := map[string]string{}
	for _, k := range keys {
		if k != "missing" {
			values[k] = fmt.Sprintf("%s@%d", k, writes)
		}
	}
	return values, nil
}

func (f *fakeReads) write() {
	f.mu.Lock()
	f.writes++
	f.mu.Unlock()
}

func (f *fakeReads) readCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.reads)
}

func newTestCoalescer(f *fakeReads, maxReading, maxBatch int) *coalescer[string, string] {
	return &coalescer[string, string]{read: f.read, maxReading: maxReading, maxBatch: maxBatch, timeout: time.Minute}
}

// answer is what one get returned.
type answer struct {
	value string
	found bool
	err   error
}

// goGet runs c.get(ctx, key) in a goroutine and returns where its answer
// arrives.
func goGet(ctx context.Context, c *coalescer[string, string], key string) <-chan answer {
	out := make(chan answer, 1)
	go func() {
		v, found, err := c.get(ctx, key)
		out <- answer{v, found, err}
	}()
	return out
}

// waitForWaiting waits until n lookups wait for a shared read.
func waitForWaiting(t *testing.T, c *coalescer[string, string], n int) {
	t.Helper()
	waitFor(t, c, func(_, waiting int) bool { return waiting == n }, fmt.Sprintf("want %d lookups waiting", n))
}

// waitIdle waits until c has no read in flight and no lookup waiting: a
// shared read's goroutine gives up its slot just after answering.
func waitIdle(t *testing.T, c *coalescer[string, string]) {
	t.Helper()
	waitFor(t, c, func(reading, waiting int) bool { return reading == 0 && waiting == 0 }, "want the coalescer idle")
}

// waitFor waits until c's reads in flight and lookups waiting satisfy ok.
func waitFor(t *testing.T, c *coalescer[string, string], ok func(reading, waiting int) bool, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		reading, waiting := c.reading, len(c.waiting)
		c.mu.Unlock()
		if ok(reading, waiting) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d reads in flight, %d lookups waiting; %s", reading, waiting, want)
		}
		time.Sleep(time.Millisecond)
	}
}

func receive[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("timed out")
		panic("unreachable")
	}
}

func TestCoalescerReadsAloneWhenNothingIsInFlight(t *testing.T) {
	f := newFakeReads(false)
	c := newTestCoalescer(f, 2, 10)
	for _, tc := range []struct {
		key       string
		wantValue string
		wantFound bool
	}{
		{"a", "a@0", true},
		{"missing", "", false},
	} {
		v, found, err := c.get(t.Context(), tc.key)
		if err != nil || v != tc.wantValue || found != tc.wantFound {
			t.Errorf("get(%q) = %q, %v, %v; want %q, %v, nil", tc.key, v, found, err, tc.wantValue, tc.wantFound)
		}
	}
	if want := [][]string{{"a"}, {"missing"}}; !slices.EqualFunc(f.reads, want, slices.Equal) {
		t.Errorf("reads = %v, want %v: one read per lookup, none waiting", f.reads, want)
	}
	waitIdle(t, c)
}

// Lookups that arrive while every read slot is taken share one read when a
// slot frees, and each gets its own key's answer.
func TestCoalescerSharesOneReadAmongWaitingLookups(t *testing.T) {
	f := newFakeReads(true)
	c := newTestCoalescer(f, 1, 10)

	first := goGet(t.Context(), c, "a")
	receive(t, f.started)
	waiters := map[string]<-chan answer{}
	for _, k := range []string{"b", "c", "missing", "b"} {
		waiters[k+fmt.Sprint(len(waiters))] = goGet(t.Context(), c, k)
	}
	waitForWaiting(t, c, 4)
	if n := f.readCount(); n != 1 {
		t.Fatalf("%d reads started while the only slot was taken, want 1", n)
	}

	f.gate <- struct{}{}
	if got := receive(t, first); got != (answer{"a@0", true, nil}) {
		t.Errorf("first lookup = %+v", got)
	}
	shared := receive(t, f.started)
	slices.Sort(shared)
	if want := []string{"b", "b", "c", "missing"}; !slices.Equal(shared, want) {
		t.Errorf("shared read's keys = %v, want %v", shared, want)
	}
	f.gate <- struct{}{}
	for name, ch := range waiters {
		got := receive(t, ch)
		key := name[:len(name)-1]
		want := answer{key + "@0", true, nil}
		if key == "missing" {
			want = answer{}
		}
		if got != want {
			t.Errorf("lookup of %q = %+v, want %+v", key, got, want)
		}
	}
	if n := f.readCount(); n != 2 {
		t.Errorf("%d reads, want 2: one alone, one shared", n)
	}
}

// The property that sets coalescing apart from a cache or from joining a
// read in flight: a lookup made after a write sees the write, even when a
// read of the same key started before the write is still in flight.
func TestCoalescerNeverAnswersFromAReadStartedBeforeTheLookup(t *testing.T) {
	f := newFakeReads(true)
	c := newTestCoalescer(f, 1, 10)

	before := goGet(t.Context(), c, "a")
	receive(t, f.started)
	f.write() // commits while the first read is in flight
	after := goGet(t.Context(), c, "a")
	waitForWaiting(t, c, 1)

	f.gate <- struct{}{}
	if got := receive(t, before); got.value != "a@0" {
		t.Errorf("lookup before the write = %+v, want a@0", got)
	}
	receive(t, f.started)
	f.gate <- struct{}{}
	if got := receive(t, after); got.value != "a@1" {
		t.Errorf("lookup after the write = %+v, want a@1: it was answered by a read that started before it", got)
	}
}

// A caller whose context ends stops waiting at once, and its key is left
// out of the next read.
func TestCoalescerCallerThatLeavesIsDropped(t *testing.T) {
	f := newFakeReads(true)
	c := newTestCoalescer(f, 1, 10)

	first := goGet(t.Context(), c, "a")
	receive(t, f.started)
	ctx, cancel := context.WithCancel(t.Context())
	left := goGet(ctx, c, "gone")
	stays := goGet(t.Context(), c, "b")
	waitForWaiting(t, c, 2)
	cancel()
	if got := receive(t, left); !errors.Is(got.err, context.Canceled) {
		t.Errorf("lookup whose context ended = %+v, want context.Canceled", got)
	}

	f.gate <- struct{}{}
	receive(t, first)
	if keys := receive(t, f.started); !slices.Equal(keys, []string{"b"}) {
		t.Errorf("next read's keys = %v, want [b]", keys)
	}
	f.gate <- struct{}{}
	if got := receive(t, stays); got.value != "b@0" {
		t.Errorf("lookup of b = %+v", got)
	}
	waitIdle(t, c)
	if n := f.readCount(); n != 2 {
		t.Errorf("%d reads, want 2", n)
	}
}

func TestCoalescerReadErrorReachesEveryLookupOfTheRead(t *testing.T) {
	f := newFakeReads(true)
	c := newTestCoalescer(f, 1, 10)
	first := goGet(t.Context(), c, "a")
	receive(t, f.started)
	b, d := goGet(t.Context(), c, "b"), goGet(t.Context(), c, "d")
	waitForWaiting(t, c, 2)

	broken := errors.New("connection lost")
	f.mu.Lock()
	f.fail = broken
	f.mu.Unlock()
	f.gate <- struct{}{}
	receive(t, f.started)
	f.gate <- struct{}{}
	for _, ch := range []<-chan answer{first, b, d} {
		if got := receive(t, ch); !errors.Is(got.err, broken) || got.found {
			t.Errorf("lookup = %+v, want the read's error", got)
		}
	}
}

// Under a crowd of lookups, no more than maxReading reads run at once, no
// read holds more than maxBatch keys, every lookup gets its own answer, and
// the coalescer ends idle.
func TestCoalescerBoundsReadsUnderLoad(t *testing.T) {
	f := newFakeReads(false)
	c := newTestCoalescer(f, 2, 5)
	const lookups = 300
	var wg sync.WaitGroup
	errs := make(chan error, lookups)
	for i := range lookups {
		wg.Go(func() {
			key := fmt.Sprintf("k%d", i%40)
			v, found, err := c.get(t.Context(), key)
			if err != nil || !found || v != key+"@0" {
				errs <- fmt.Errorf("get(%q) = %q, %v, %v", key, v, found, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	waitIdle(t, c)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.maxInFlight > 2 {
		t.Errorf("%d reads ran at once, want at most 2", f.maxInFlight)
	}
	for _, keys := range f.reads {
		if len(keys) > 5 {
			t.Errorf("a read of %d keys, want at most 5", len(keys))
		}
	}
}

// A read that panics in its caller's goroutine (where the HTTP layer
// recovers) still frees its slot: later lookups are not left waiting.
func TestCoalescerPanickingReadFreesItsSlot(t *testing.T) {
	f := newFakeReads(false)
	c := &coalescer[string, string]{
		read: func(ctx context.Context, keys []string) (map[string]string, error) {
			if keys[0] == "boom" {
				panic("read failed badly")
			}
			return f.read(ctx, keys)
		},
		maxReading: 1, maxBatch: 10, timeout: time.Minute,
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the read's panic did not reach the caller")
			}
		}()
		c.get(t.Context(), "boom")
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if v, found, err := c.get(ctx, "a"); err != nil || !found || v != "a@0" {
		t.Errorf("get after a panicking read = %q, %v, %v; want a@0", v, found, err)
	}
}
