package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Probes measure latency during the overload scenario without adding load
// of their own: a few clients, each at most one request per probePace.
const (
	probeClients = 2
	probePace    = 10 * time.Millisecond
	rssInterval  = 100 * time.Millisecond
)

// bench runs the workloads of each setup.
type bench struct {
	opts     options
	progress func(format string, args ...any)
	// bin is the service's binary; dir is the run's working directory.
	bin, dir string
	// pg is the server of the PostgreSQL setups; nil when none runs.
	pg *postgresServer
}

// setupRun is a setup while it runs: its database, its replicas, and what
// it has measured so far.
type setupRun struct {
	setup    setup
	database string // a SQLite file or a PostgreSQL URL
	pgName   string // the PostgreSQL database's name
	dir      string // its working directory, with the key files
	cluster  *cluster
	// side are the replicas that a workload started beside cluster, while
	// they run.
	side   []*cluster
	report *setupReport
}

// mailedCodes reads the activation codes that the log mailer of any replica
// of the setup printed.
func (r *setupRun) mailedCodes() (map[string]string, error) {
	codes, err := r.cluster.mailedCodes()
	if err != nil {
		return nil, err
	}
	for _, c := range r.side {
		more, err := c.mailedCodes()
		if err != nil {
			return nil, err
		}
		maps.Copy(codes, more)
	}
	return codes, nil
}

// runSetup starts the setup's replicas on a database of its own, runs every
// selected workload against them and adds the results to rep. The
// replicas are stopped, and a PostgreSQL database dropped, before it
// returns.
func (b *bench) runSetup(ctx context.Context, s setup, rep *report, stderr io.Writer) error {
	dir := filepath.Join(b.dir, s.name)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	database, pgName := filepath.Join(dir, "auth.db"), ""
	if s.postgres {
		db, err := b.pg.createDatabase(ctx, s.name)
		if err != nil {
			return err
		}
		defer func() {
			if err := db.drop(); err != nil {
				b.progress("%v", err)
			}
		}()
		database, pgName = db.url, db.name
	}
	c, err := startCluster(ctx, clusterSpec{bin: b.bin, database: database, dir: dir, replicas: s.replicas, pprof: b.profiling()})
	if err != nil {
		return err
	}
	defer c.stop()
	b.progress("%s: ready in %v on %s", s.title, c.replicas[0].readyIn.Round(time.Millisecond), strings.Join(c.bases(), ", "))

	// Memory right after start, once start-up work has settled: the target
	// is about a service nobody is using yet.
	if err := pause(ctx, time.Second); err != nil {
		return err
	}
	idle, err := c.replicas[0].rss()
	if err != nil {
		return err
	}
	r := &setupRun{setup: s, database: database, pgName: pgName, dir: dir, cluster: c,
		report: &setupReport{setup: s, readyIn: c.replicas[0].readyIn, idleRSS: idle}}
	if err := b.runAll(ctx, rep, r); err != nil {
		if tail := c.logTail(20); tail != "" && ctx.Err() == nil {
			fmt.Fprintf(stderr, "bench: the service's last log lines:\n%s\n", tail)
		}
		return err
	}
	rep.setups = append(rep.setups, r.report)
	return nil
}

// runAll prepares accounts, measures the ceilings if no setup has yet, and
// runs every selected workload, adding each result to the setup's report.
func (b *bench) runAll(ctx context.Context, rep *report, r *setupRun) error {
	control := newClient(4) // preparation and outbox polling, never measured
	defer control.CloseIdleConnections()

	b.progress("%s: preparing %d accounts", r.setup.title, b.opts.users)
	accounts, err := prepareAccounts(ctx, control, r.cluster.bases(), r.mailedCodes, "bench-user", b.opts.users)
	if err != nil {
		return err
	}
	t := &target{bases: r.cluster.bases(), accounts: accounts}
	if err := b.measureCeilings(ctx, rep, control, t); err != nil {
		return err
	}

	for _, name := range b.opts.workloads {
		// Emails queued by the previous workload are delivered before the
		// next one starts, so that it does not pay for them.
		if err := r.cluster.awaitMailSettled(ctx, control); err != nil {
			return err
		}
		b.progress("%s: workload %s", r.setup.title, name)
		var err error
		switch name {
		case workMe:
			err = b.closedLoop(ctx, r, name, "GET /me", t.me, rep.bareCeiling())
		case workMetrics:
			err = b.metricsCost(ctx, rep, r, control)
		case workLogin:
			err = b.closedLoop(ctx, r, name, "POST /login", t.login, rep.hashCeiling())
		case workSignup:
			err = b.closedLoop(ctx, r, name, "POST /signup", t.signup("signup"), rep.hashCeiling())
		case workRefresh:
			err = b.closedLoop(ctx, r, name, "POST /refresh", t.refresh, rep.bareCeiling())
		case workMixed:
			err = b.closedLoop(ctx, r, name, mixedName, t.mixed(), rep.mixedCeiling())
		case workOverload:
			err = b.overload(ctx, rep, r, t)
		case workFlood:
			err = b.flood(ctx, r)
		}
		if err == nil {
			err = r.cluster.alive()
		}
		if err != nil {
			return fmt.Errorf("workload %s: %w", name, err)
		}
	}
	return nil
}

// mixedName is the mixed workload's row.
var mixedName = fmt.Sprintf("mixed (%d%% /me, %d%% refresh, %d%% login, %d%% signup)", mixMe, mixRefresh, mixLogin, mixSignup)

// measureCeilings measures the ceilings that the selected workloads are
// compared with, once per run: every setup is compared with the same. The
// bare handler serves a body of the size of GET /me's answer, as read from
// t.
func (b *bench) measureCeilings(ctx context.Context, rep *report, control *http.Client, t *target) error {
	if rep.ceilingsMeasured {
		return nil
	}
	rep.ceilingsMeasured = true
	meBody, err := expect(ctx, control, "read GET /me", http.StatusOK, http.MethodGet, t.bases[0]+"/me", nil,
		http.Header{"Authorization": {t.accounts[0].bearer}})
	if err != nil {
		return err
	}
	rep.meBodySize = len(meBody)
	if b.opts.wants(workMe, workMetrics, workRefresh, workMixed) {
		b.progress("ceiling: bare net/http handler, %d-byte body, %d clients", len(meBody), b.opts.concurrency)
		// The Content-Type Gin gives GET /me's answer.
		stopCPU := ownCPU(ctx)
		bare, err := bareBaseline(ctx, meBody, "application/json; charset=utf-8", b.opts.concurrency, b.opts.duration)
		if err != nil {
			return err
		}
		rep.bare = &bare
		rep.bareCPU, rep.bareCPUKnown = stopCPU()
	}
	if b.opts.wants(workLogin, workSignup, workMixed, workOverload) {
		b.progress("ceiling: raw argon2id rate")
		stopCPU := ownCPU(ctx)
		hash, err := hashBaseline(ctx, b.opts.duration)
		if err != nil {
			return err
		}
		rep.hash = &hash
		rep.hashCPU, rep.hashCPUKnown = stopCPU()
	}
	return nil
}

// closedLoop runs one workload at the configured concurrency.
func (b *bench) closedLoop(ctx context.Context, r *setupRun, workload, name string, next func(context.Context, *worker) (call, error), c ceiling) error {
	client := newClient(b.opts.concurrency)
	defer client.CloseIdleConnections()
	stopProfile := b.startProfile(ctx, r.cluster, r.setup.name+"-"+workload, b.opts.duration)
	stopRSS := r.cluster.sampleRSS(rssInterval)
	stopCPU := b.cpuMeter(r, r.cluster).start(ctx)
	res, err := drive(ctx, client, loadSpec{concurrency: b.opts.concurrency, duration: b.opts.duration, next: next})
	cpu, cpuKnown := stopCPU()
	peak := stopRSS()
	if err := errors.Join(err, stopProfile()); err != nil {
		return err
	}
	hwm, err := r.cluster.hwm()
	if err != nil {
		return err
	}
	r.report.rows = append(r.report.rows, row{name: name, res: res, peakRSS: peak, hwm: hwm, ceiling: c, cpu: cpu, cpuKnown: cpuKnown})
	return nil
}

// cpuMeter measures the CPU time of c, which runs on the setup's database.
func (b *bench) cpuMeter(r *setupRun, c *cluster) cpuMeter {
	m := cpuMeter{cluster: c}
	if r.setup.postgres && b.pg.local {
		m.pg, m.database = b.pg, r.pgName
	}
	return m
}

// overload sends -overload concurrent logins, far more than the hasher has
// slots, while probes time GET /healthz and GET /me: the question is whether
// cheap routes stay fast and memory stays bounded when logins pile up.
func (b *bench) overload(ctx context.Context, rep *report, r *setupRun, t *target) error {
	loginClient := newClient(b.opts.overload)
	defer loginClient.CloseIdleConnections()
	probeClient := newClient(2 * probeClients)
	defer probeClient.CloseIdleConnections()

	stopRSS := r.cluster.sampleRSS(rssInterval)
	var (
		wg                         sync.WaitGroup
		logins, health, me         loadResult
		errLogin, errHealth, errMe error
	)
	wg.Go(func() {
		logins, errLogin = drive(ctx, loginClient, loadSpec{
			concurrency: b.opts.overload, duration: b.opts.duration, honourRetryAfter: !b.opts.ignoreRetryAfter, next: t.login,
		})
	})
	wg.Go(func() {
		health, errHealth = drive(ctx, probeClient, loadSpec{concurrency: probeClients, duration: b.opts.duration, pace: probePace, next: t.healthz})
	})
	wg.Go(func() {
		me, errMe = drive(ctx, probeClient, loadSpec{concurrency: probeClients, duration: b.opts.duration, pace: probePace, next: t.me})
	})
	wg.Wait()
	peak := stopRSS()
	if err := errors.Join(errLogin, errHealth, errMe); err != nil {
		return err
	}
	hwm, err := r.cluster.hwm()
	if err != nil {
		return err
	}
	ov := &overloadRows{
		logins:  row{name: "overload: POST /login", res: logins, peakRSS: peak, hwm: hwm, ceiling: rep.hashCeiling()},
		healthz: row{name: "overload: GET /healthz (probe)", res: health, peakRSS: peak, hwm: hwm},
		me:      row{name: "overload: GET /me (probe)", res: me, peakRSS: peak, hwm: hwm},
	}
	r.report.overload = ov
	r.report.rows = append(r.report.rows, ov.logins, ov.healthz, ov.me)
	return nil
}

// flood sends failed requests with the largest inputs each route takes,
// over every limited route, each from a client address of its own, to
// replicas of their own with the abuse limits on (on the setup's database
// when it is PostgreSQL, which holds the limits of a fleet): the question
// is whether memory stays bounded when an attacker with many addresses
// fills the limiters. One request in fifty names an unknown email at
// /login, which costs a password hash as a real login does.
func (b *bench) flood(ctx context.Context, r *setupRun) error {
	c, err := b.sideCluster(ctx, r, "flood", false, floodEnv()...)
	if err != nil {
		return err
	}
	defer r.stopSide(c)
	client := newClient(b.opts.concurrency)
	defer client.CloseIdleConnections()
	stopRSS := c.sampleRSS(rssInterval)
	res, err := drive(ctx, client, loadSpec{concurrency: b.opts.concurrency, duration: b.opts.duration, next: floodRequest(c.bases())})
	peak := stopRSS()
	if err != nil {
		return err
	}
	if err := c.alive(); err != nil {
		return err
	}
	hwm, err := c.hwm()
	if err != nil {
		return err
	}
	live, collections, limit, err := c.heapReport()
	if err != nil {
		return err
	}
	fr := row{name: "flood: failed requests on every limited route, each from its own address", res: res, peakRSS: peak, hwm: hwm}
	r.report.rows = append(r.report.rows, fr)
	r.report.flood = &floodResult{row: fr, liveHeap: live, collections: collections, memoryLimit: limit}
	return nil
}

// sideCluster starts as many replicas as the setup has, with env, for a
// workload that needs replicas of its own: on the setup's database when it
// is PostgreSQL (with the server secret it was set up with), on a new
// SQLite file otherwise.
func (b *bench) sideCluster(ctx context.Context, r *setupRun, name string, metrics bool, env ...string) (*cluster, error) {
	logDir := filepath.Join(r.dir, name)
	if err := os.Mkdir(logDir, 0o700); err != nil {
		return nil, err
	}
	spec := clusterSpec{bin: b.bin, database: r.database, dir: r.dir, logDir: logDir,
		replicas: r.setup.replicas, metrics: metrics, pprof: b.profiling(), env: env}
	if !r.setup.postgres {
		spec.database, spec.dir = filepath.Join(logDir, "auth.db"), logDir
	}
	c, err := startCluster(ctx, spec)
	if err != nil {
		return nil, err
	}
	r.side = append(r.side, c)
	return c, nil
}

// stopSide stops replicas that sideCluster started.
func (r *setupRun) stopSide(c *cluster) {
	c.stop()
	r.side = slices.DeleteFunc(r.side, func(s *cluster) bool { return s == c })
}
