package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// profiling reports whether the run takes CPU profiles (-cpuprofile).
func (b *bench) profiling() bool { return b.opts.cpuProfiles != "" }

// startProfile starts a CPU profile of every replica of c for d, the length
// of a load, when the run takes them, and returns a function that waits
// for the profiles and writes them to the -cpuprofile directory as
// name.pprof, or name-rN.pprof for replica N of several.
func (b *bench) startProfile(ctx context.Context, c *cluster, name string, d time.Duration) (wait func() error) {
	if !b.profiling() {
		return func() error { return nil }
	}
	// The profiler counts whole seconds.
	seconds := max(1, int(d/time.Second))
	client := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: time.Duration(seconds)*time.Second + 30*time.Second}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for i, s := range c.replicas {
		file := name + ".pprof"
		if len(c.replicas) > 1 {
			file = fmt.Sprintf("%s-r%d.pprof", name, i+1)
		}
		path := filepath.Join(b.opts.cpuProfiles, file)
		wg.Go(func() {
			if err := fetchProfile(ctx, client, s.pprof, seconds, path); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("CPU profile %s: %w", file, err))
				mu.Unlock()
			}
		})
	}
	return func() error {
		wg.Wait()
		client.CloseIdleConnections()
		return errors.Join(errs...)
	}
}

// fetchProfile takes a CPU profile of seconds from the profiler at base
// and writes it to path.
func fetchProfile(ctx context.Context, client *http.Client, base string, seconds int, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", base, seconds), nil)
	if err != nil {
		return err
	}
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("the profiler answered %d", res.StatusCode)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
