package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// meServed is the line of the metrics that counts GET /me's successes.
const meServed = `authapi_http_requests_total{method="GET",route="/me",status="200"}`

// metricsCost measures what the Prometheus metrics cost GET /me: two sets of
// replicas of their own, alike but for AUTH_METRICS_ADDR, each with accounts
// of its own, take GET /me in turns (metricsTurns), each side for the
// workload's duration in all, so that whatever else the machine does
// weighs on both alike. The replicas with metrics on are then scraped, to
// show that they counted the requests.
func (b *bench) metricsCost(ctx context.Context, rep *report, r *setupRun, control *http.Client) error {
	type side struct {
		cluster *cluster
		target  *target
		client  *http.Client
		res     loadResult
		peak    uint64
		cpu     cpuUse
		cpuOK   bool
	}
	var sides [2]side
	for i, name := range [2]string{"off", "on"} {
		c, err := b.sideCluster(ctx, r, "metrics-"+name, i == 1)
		if err != nil {
			return err
		}
		defer r.stopSide(c)
		accounts, err := prepareAccounts(ctx, control, c.bases(), r.mailedCodes, "bench-metrics-"+name, b.opts.users)
		if err != nil {
			return err
		}
		client := newClient(b.opts.concurrency)
		defer client.CloseIdleConnections()
		sides[i] = side{cluster: c, target: &target{bases: c.bases(), accounts: accounts}, client: client}
	}
	c := sides[1].cluster

	turn := metricsTurn(b.opts.duration)
	for i, side := range metricsTurns {
		s := &sides[side]
		wait := func() error { return nil }
		if i < 2 {
			wait = b.startProfile(ctx, s.cluster, fmt.Sprintf("%s-metrics-%s", r.setup.name, [2]string{"off", "on"}[side]), turn)
		}
		stopRSS := s.cluster.sampleRSS(rssInterval)
		stopCPU := b.cpuMeter(r, s.cluster).start(ctx)
		res, err := drive(ctx, s.client, loadSpec{concurrency: b.opts.concurrency, duration: turn, next: s.target.me})
		cpu, cpuOK := stopCPU()
		s.cpu, s.cpuOK = s.cpu.add(cpu), cpuOK && (i < 2 || s.cpuOK)
		s.peak = max(s.peak, stopRSS())
		if err := errors.Join(err, wait()); err != nil {
			return err
		}
		s.res = mergeResults(s.res, res)
	}
	for i, s := range c.replicas {
		if err := checkScrape(ctx, control, s.metrics); err != nil {
			return c.name(i, err)
		}
	}
	var rows [2]row
	for i, s := range sides {
		hwm, err := s.cluster.hwm()
		if err != nil {
			return err
		}
		name := "GET /me, metrics off (in turns with on)"
		if i == 1 {
			name = "GET /me, metrics on (AUTH_METRICS_ADDR)"
		}
		rows[i] = row{name: name, res: s.res, peakRSS: s.peak, hwm: hwm, ceiling: rep.bareCeiling(), cpu: s.cpu, cpuKnown: s.cpuOK}
	}
	r.report.rows = append(r.report.rows, rows[0], rows[1])
	r.report.metrics = &metricsResult{off: rows[0], on: rows[1]}
	return nil
}

// metricsTurns orders the turns of metrics off (0) and on (1): each half
// mirrors the other, so that a trend in the machine's load over the
// workload weighs on both sides alike.
var metricsTurns = []int{0, 1, 1, 0, 1, 0, 0, 1}

// metricsTurn is the length of one turn.
func metricsTurn(duration time.Duration) time.Duration {
	return max(2*duration/time.Duration(len(metricsTurns)), time.Millisecond)
}

// checkScrape reads the metrics at url and fails unless they count GET
// /me's successes.
func checkScrape(ctx context.Context, client *http.Client, url string) error {
	status, body, err := exchange(ctx, client, http.MethodGet, url, nil, nil)
	if err != nil {
		return fmt.Errorf("scrape the metrics: %w", err)
	}
	if status != http.StatusOK {
		return fmt.Errorf("scrape the metrics: answered %d", status)
	}
	if !strings.Contains(string(body), meServed+" ") {
		return fmt.Errorf("scrape the metrics: no %s", meServed)
	}
	return nil
}

// mergeResults adds the measurements of b to a, as one load of the
// length of both.
func mergeResults(a, b loadResult) loadResult {
	out := loadResult{
		concurrency: max(a.concurrency, b.concurrency),
		duration:    a.duration + b.duration,
		ok:          a.ok + b.ok,
		okInWindow:  a.okInWindow + b.okInWindow,
		responses:   a.responses + b.responses,
		errs:        map[string]int{},
	}
	for _, m := range []map[string]int{a.errs, b.errs} {
		for k, v := range m {
			out.errs[k] += v
		}
	}
	out.latencies = append(append(out.latencies, a.latencies...), b.latencies...)
	slices.Sort(out.latencies)
	return out
}
