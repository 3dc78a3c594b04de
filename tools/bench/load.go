package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Bounds that keep every loop finite whatever the flags say.
const (
	maxRequestsPerWorker = 10_000_000
	clientTimeout        = 30 * time.Second // the service's write timeout
)

// call is one request and the status that counts as its success.
type call struct {
	req  *http.Request
	want int
}

// worker is one client of a closed loop: it sends a request, waits for the
// answer, and sends the next.
type worker struct {
	id  int
	n   int        // requests started so far
	rng *rand.Rand // for mixed workloads; seeded per worker, so runs repeat

	latencies  []time.Duration
	ok         int // successes, whenever they arrived
	okInWindow int // successes that arrived before the deadline
	errs       map[string]int
	fail       error // the benchmark could not build a request
}

// loadSpec describes one closed-loop load.
type loadSpec struct {
	concurrency int
	duration    time.Duration
	// pace, when set, is the least time from one request of a worker to its
	// next, for light probes that must not add load of their own.
	pace time.Duration
	// honourRetryAfter makes a worker that is refused with a Retry-After
	// header wait that long before its next request, as a polite client does.
	honourRetryAfter bool
	next             func(ctx context.Context, w *worker) (call, error)
}

// loadResult is what a load measured.
type loadResult struct {
	concurrency int
	duration    time.Duration
	ok          int
	okInWindow  int
	responses   int
	errs        map[string]int
	latencies   []time.Duration // sorted
}

// rate is successful responses per second within the window.
func (r loadResult) rate() float64 { return float64(r.okInWindow) / r.duration.Seconds() }

// p returns the pct-th percentile latency.
func (r loadResult) p(pct int) time.Duration { return percentile(r.latencies, pct) }

func (r loadResult) errorCount() int {
	n := 0
	for _, c := range r.errs {
		n += c
	}
	return n
}

// newClient returns a client whose connection pool keeps one idle
// connection per worker, so that a closed loop reuses its connections
// instead of opening new ones. It never uses a proxy: all load goes to
// 127.0.0.1.
func newClient(concurrency int) *http.Client {
	return &http.Client{
		Timeout: clientTimeout,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConns:        concurrency,
			MaxIdleConnsPerHost: concurrency,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
	}
}

// drive runs spec's workers until the duration has passed. Workers start no
// request after the deadline, but a request in flight then is allowed to
// finish (within the client timeout), so the next load starts on an idle
// service; it counts toward latency and errors, not toward the rate. drive
// returns ctx's error if ctx ends first.
func drive(ctx context.Context, client *http.Client, spec loadSpec) (loadResult, error) {
	workers := make([]*worker, spec.concurrency)
	deadline := time.Now().Add(spec.duration)
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{id: i, rng: rand.New(rand.NewPCG(uint64(i), 0x5eed)), errs: map[string]int{}}
		workers[i] = w
		wg.Go(func() { w.loop(ctx, client, spec, deadline) })
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return loadResult{}, err
	}

	res := loadResult{concurrency: spec.concurrency, duration: spec.duration, errs: map[string]int{}}
	for _, w := range workers {
		if w.fail != nil {
			return loadResult{}, w.fail
		}
		res.ok += w.ok
		res.okInWindow += w.okInWindow
		res.responses += len(w.latencies)
		res.latencies = append(res.latencies, w.latencies...)
		for k, v := range w.errs {
			res.errs[k] += v
		}
	}
	slices.Sort(res.latencies)
	return res, nil
}

func (w *worker) loop(ctx context.Context, client *http.Client, spec loadSpec, deadline time.Time) {
	for w.n = 0; w.n < maxRequestsPerWorker; w.n++ {
		started := time.Now()
		if !started.Before(deadline) || ctx.Err() != nil {
			return
		}
		c, err := spec.next(ctx, w)
		if err != nil {
			w.fail = fmt.Errorf("build a request: %w", err)
			return
		}
		status, retryAfter, err := roundTrip(client, c.req)
		end := time.Now()
		if err != nil && ctx.Err() != nil {
			return // interrupted: not a measurement
		}
		w.latencies = append(w.latencies, end.Sub(started))
		switch {
		case err != nil:
			w.errs[transportError(err)]++
		case status != c.want:
			w.errs[strconv.Itoa(status)]++
		default:
			w.ok++
			if !end.After(deadline) {
				w.okInWindow++
			}
		}
		if spec.pace > 0 {
			if err := pauseUntil(ctx, started.Add(spec.pace), deadline); err != nil {
				return
			}
		}
		if spec.honourRetryAfter && retryAfter > 0 {
			if err := pauseUntil(ctx, end.Add(retryAfter), deadline); err != nil {
				return
			}
		}
	}
}

// roundTrip sends req and reads the whole answer, so the connection can be
// reused. It returns the status and, for a 429 or 503, the wait that the
// Retry-After header asks for (in seconds; zero if absent or unreadable).
func roundTrip(client *http.Client, req *http.Request) (status int, retryAfter time.Duration, err error) {
	res, err := client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer res.Body.Close()
	if _, err := io.Copy(io.Discard, res.Body); err != nil {
		return 0, 0, err
	}
	if res.StatusCode == http.StatusTooManyRequests || res.StatusCode == http.StatusServiceUnavailable {
		if secs, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && secs > 0 {
			retryAfter = time.Duration(secs) * time.Second
		}
	}
	return res.StatusCode, retryAfter, nil
}

// pauseUntil waits until t, or the deadline if that is sooner, or ctx's end.
func pauseUntil(ctx context.Context, t, deadline time.Time) error {
	if deadline.Before(t) {
		t = deadline
	}
	d := time.Until(t)
	if d <= 0 {
		return nil
	}
	return pause(ctx, d)
}

// transportError names a failure that produced no HTTP answer.
func transportError(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "reset"
	default:
		return "transport"
	}
}

// percentile returns the nearest-rank pct-th percentile (1 to 100) of
// sorted, or zero for no values. Integer arithmetic keeps the rank exact.
func percentile(sorted []time.Duration, pct int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (len(sorted)*pct + 99) / 100 // ceil(n * pct / 100), 1-based
	return sorted[min(max(rank, 1), len(sorted))-1]
}
