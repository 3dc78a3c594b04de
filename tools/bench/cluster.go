package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"path/filepath"
	"strings"
	"time"
)

// cluster is the replicas of the service that share one database. Load is
// spread over them in turn, as a round-robin load balancer would; memory
// is summed over them.
type cluster struct {
	replicas []*service
}

// clusterSpec says how to start a cluster.
type clusterSpec struct {
	bin      string
	database string // a SQLite file or a PostgreSQL URL
	// dir holds the key files, which every cluster on one database
	// shares (the server secret must be the same); logDir holds the logs
	// (dir when empty).
	dir, logDir string
	replicas    int
	metrics     bool
	pprof       bool
	env         []string
}

// startCluster starts spec.replicas services one after another, each
// ready before the next starts, as a rolling deploy would. They share the
// first one's address as their public URL, as replicas behind a load
// balancer share its. On error nothing is left running.
func startCluster(ctx context.Context, spec clusterSpec) (*cluster, error) {
	c := &cluster{}
	logDir := spec.logDir
	if logDir == "" {
		logDir = spec.dir
	}
	var publicURL string
	for i := range spec.replicas {
		s, err := startService(ctx, serviceSpec{
			bin:      spec.bin,
			database: spec.database,
			dir:      spec.dir,
			logPath:  filepath.Join(logDir, fmt.Sprintf("service-%d.log", i+1)),
			// Empty for the first, which then uses its own address.
			publicURL: publicURL,
			metrics:   spec.metrics,
			pprof:     spec.pprof,
			env:       spec.env,
		})
		if err != nil {
			c.stop()
			if spec.replicas > 1 {
				err = fmt.Errorf("replica %d: %w", i+1, err)
			}
			return nil, err
		}
		c.replicas = append(c.replicas, s)
		publicURL = c.replicas[0].base
	}
	return c, nil
}

// bases are the replicas' base URLs.
func (c *cluster) bases() []string {
	bases := make([]string, len(c.replicas))
	for i, s := range c.replicas {
		bases[i] = s.base
	}
	return bases
}

// stop stops every replica.
func (c *cluster) stop() {
	for _, s := range c.replicas {
		s.stop()
	}
}

// alive returns an error if a replica has exited.
func (c *cluster) alive() error {
	var errs []error
	for i, s := range c.replicas {
		if err := s.alive(); err != nil {
			errs = append(errs, c.name(i, err))
		}
	}
	return errors.Join(errs...)
}

func (c *cluster) name(i int, err error) error {
	if len(c.replicas) == 1 {
		return err
	}
	return fmt.Errorf("replica %d: %w", i+1, err)
}

// rss is the replicas' resident set sizes now, summed, in bytes.
func (c *cluster) rss() (uint64, error) {
	return c.sum((*service).rss)
}

// hwm is the sum of the replicas' peak resident set sizes since they
// started, in bytes.
func (c *cluster) hwm() (uint64, error) {
	return c.sum((*service).hwm)
}

func (c *cluster) sum(read func(*service) (uint64, error)) (uint64, error) {
	var total uint64
	for i, s := range c.replicas {
		v, err := read(s)
		if err != nil {
			return 0, c.name(i, err)
		}
		total += v
	}
	return total, nil
}

// sampleRSS records the replicas' summed VmRSS every interval until the
// returned function is called, which returns the largest value seen.
func (c *cluster) sampleRSS(interval time.Duration) (stop func() uint64) {
	done := make(chan struct{})
	peak := make(chan uint64, 1)
	go func() {
		var most uint64
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			if v, err := c.rss(); err == nil {
				most = max(most, v)
			}
			select {
			case <-done:
				peak <- most
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		return <-peak
	}
}

// logTail returns the last n lines of each replica's log.
func (c *cluster) logTail(n int) string {
	if len(c.replicas) == 1 {
		return c.replicas[0].logTail(n)
	}
	var b strings.Builder
	for i, s := range c.replicas {
		if tail := s.logTail(n); tail != "" {
			fmt.Fprintf(&b, "replica %d:\n%s\n", i+1, tail)
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// mailedCodes reads the activation codes that any replica's log mailer
// printed: the replica that delivers an email is whichever claims it.
func (c *cluster) mailedCodes() (map[string]string, error) {
	codes := map[string]string{}
	for i, s := range c.replicas {
		some, err := s.mailedCodes()
		if err != nil {
			return nil, c.name(i, err)
		}
		maps.Copy(codes, some)
	}
	return codes, nil
}

// awaitMailSettled waits until no replica has pending mail. With
// PostgreSQL the outbox is shared, so each replica sees all of it.
func (c *cluster) awaitMailSettled(ctx context.Context, client *http.Client) error {
	for i, s := range c.replicas {
		if err := s.awaitMailSettled(ctx, client); err != nil {
			return c.name(i, err)
		}
	}
	return nil
}

// heapReport returns the largest live heap that any replica logged, in MiB,
// the collections of all, and the memory limit of the first.
func (c *cluster) heapReport() (peak, collections, limit int, err error) {
	for i, s := range c.replicas {
		p, n, l, err := s.heapReport()
		if err != nil {
			return 0, 0, 0, c.name(i, err)
		}
		peak, collections = max(peak, p), collections+n
		if i == 0 {
			limit = l
		}
	}
	return peak, collections, limit, nil
}
