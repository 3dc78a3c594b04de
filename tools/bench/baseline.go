package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"

	"authapi/adapters/hasher"
)

// bareBaseline serves body with a bare net/http handler on a loopback port
// of this process and drives it like GET /me: the most a Go HTTP server can
// answer on this machine with this load generator, the ceiling for routes
// that do no hashing.
func bareBaseline(ctx context.Context, body []byte, contentType string, concurrency int, duration time.Duration) (loadResult, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return loadResult{}, fmt.Errorf("bare handler: listen: %w", err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", contentType)
			w.Write(body)
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	defer func() {
		srv.Close()
		<-served
	}()

	url := "http://" + l.Addr().String() + "/"
	client := newClient(concurrency)
	defer client.CloseIdleConnections()
	return drive(ctx, client, loadSpec{
		concurrency: concurrency,
		duration:    duration,
		next: func(ctx context.Context, _ *worker) (call, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			return call{req: req, want: http.StatusOK}, err
		},
	})
}

// hashResult is the raw argon2id rate.
type hashResult struct {
	params  hasher.Params
	workers int
	hashes  int64
	elapsed time.Duration
}

func (h hashResult) rate() float64 { return float64(h.hashes) / h.elapsed.Seconds() }

// maxHashesPerWorker keeps the hashing loop finite whatever the duration.
const maxHashesPerWorker = 1_000_000

// hashBaseline computes argon2id with the service's parameters on every
// core for duration: the most logins or signups per second this machine
// could do if hashing were all they cost.
func hashBaseline(ctx context.Context, duration time.Duration) (hashResult, error) {
	p := hasher.DefaultParams()
	res := hashResult{params: p, workers: runtime.NumCPU()}
	var count atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(duration)
	for i := range res.workers {
		wg.Go(func() {
			password := []byte(benchPassword)
			salt := make([]byte, p.SaltLength)
			salt[0] = byte(i) // the salt's content does not change the cost
			for n := 0; n < maxHashesPerWorker && time.Now().Before(deadline) && ctx.Err() == nil; n++ {
				argon2.IDKey(password, salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLength)
				count.Add(1)
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return hashResult{}, err
	}
	res.hashes = count.Load()
	res.elapsed = time.Since(start)
	if res.hashes == 0 {
		return hashResult{}, errors.New("raw hash rate: no hash completed")
	}
	return res, nil
}
