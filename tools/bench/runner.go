package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
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

// bench runs the workloads against one service.
type bench struct {
	opts     options
	svc      *service
	progress func(format string, args ...any)
	// bin and dir start the separate service of the flood workload.
	bin, dir string
}

// runAll prepares accounts, measures the ceilings and runs every selected
// workload, adding each result to rep.
func (b *bench) runAll(ctx context.Context, rep *report) error {
	control := newClient(4) // preparation and outbox polling, never measured
	defer control.CloseIdleConnections()

	b.progress("preparing %d accounts", b.opts.users)
	accounts, err := prepareAccounts(ctx, control, b.svc, b.opts.users)
	if err != nil {
		return err
	}
	t := &target{base: b.svc.base, accounts: accounts}
	meBody, err := expect(ctx, control, "read GET /me", http.StatusOK, http.MethodGet, b.svc.base+"/me", nil,
		http.Header{"Authorization": {accounts[0].bearer}})
	if err != nil {
		return err
	}
	rep.meBodySize = len(meBody)

	if b.opts.wants(workMe, workRefresh, workMixed) {
		b.progress("ceiling: bare net/http handler, %d-byte body, %d clients", len(meBody), b.opts.concurrency)
		// The Content-Type Gin gives GET /me's answer.
		bare, err := bareBaseline(ctx, meBody, "application/json; charset=utf-8", b.opts.concurrency, b.opts.duration)
		if err != nil {
			return err
		}
		rep.bare = &bare
	}
	if b.opts.wants(workLogin, workSignup, workMixed, workOverload) {
		b.progress("ceiling: raw argon2id rate")
		hash, err := hashBaseline(ctx, b.opts.duration)
		if err != nil {
			return err
		}
		rep.hash = &hash
	}

	for _, name := range b.opts.workloads {
		// Emails queued by the previous workload are delivered before the
		// next one starts, so that it does not pay for them.
		if err := b.svc.awaitMailSettled(ctx, control); err != nil {
			return err
		}
		b.progress("workload %s", name)
		var err error
		switch name {
		case workMe:
			err = b.closedLoop(ctx, rep, "GET /me", t.me, rep.bareCeiling())
		case workLogin:
			err = b.closedLoop(ctx, rep, "POST /login", t.login, rep.hashCeiling())
		case workSignup:
			err = b.closedLoop(ctx, rep, "POST /signup", t.signup("signup"), rep.hashCeiling())
		case workRefresh:
			err = b.closedLoop(ctx, rep, "POST /refresh", t.refresh, rep.bareCeiling())
		case workMixed:
			err = b.closedLoop(ctx, rep, fmt.Sprintf("mixed (%d%% /me, %d%% refresh, %d%% login, %d%% signup)",
				mixMe, mixRefresh, mixLogin, mixSignup), t.mixed(), rep.mixedCeiling())
		case workOverload:
			err = b.overload(ctx, rep, t)
		case workFlood:
			err = b.flood(ctx, rep)
		}
		if err == nil {
			err = b.svc.alive()
		}
		if err != nil {
			return fmt.Errorf("workload %s: %w", name, err)
		}
	}
	return nil
}

// closedLoop runs one workload at the configured concurrency.
func (b *bench) closedLoop(ctx context.Context, rep *report, name string, next func(context.Context, *worker) (call, error), c ceiling) error {
	client := newClient(b.opts.concurrency)
	defer client.CloseIdleConnections()
	stopRSS := b.svc.sampleRSS(rssInterval)
	res, err := drive(ctx, client, loadSpec{concurrency: b.opts.concurrency, duration: b.opts.duration, next: next})
	peak := stopRSS()
	if err != nil {
		return err
	}
	hwm, err := b.svc.hwm()
	if err != nil {
		return err
	}
	rep.rows = append(rep.rows, row{name: name, res: res, peakRSS: peak, hwm: hwm, ceiling: c})
	return nil
}

// overload sends -overload concurrent logins, far more than the hasher has
// slots, while probes time GET /healthz and GET /me: the question is whether
// cheap routes stay fast and memory stays bounded when logins pile up.
func (b *bench) overload(ctx context.Context, rep *report, t *target) error {
	loginClient := newClient(b.opts.overload)
	defer loginClient.CloseIdleConnections()
	probeClient := newClient(2 * probeClients)
	defer probeClient.CloseIdleConnections()

	stopRSS := b.svc.sampleRSS(rssInterval)
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
	hwm, err := b.svc.hwm()
	if err != nil {
		return err
	}
	rep.overload = &overloadRows{
		logins:  row{name: "overload: POST /login", res: logins, peakRSS: peak, hwm: hwm, ceiling: rep.hashCeiling()},
		healthz: row{name: "overload: GET /healthz (probe)", res: health, peakRSS: peak, hwm: hwm},
		me:      row{name: "overload: GET /me (probe)", res: me, peakRSS: peak, hwm: hwm},
	}
	rep.rows = append(rep.rows, rep.overload.logins, rep.overload.healthz, rep.overload.me)
	return nil
}

// flood sends failed requests with the largest inputs each route takes,
// over every limited route, each from a client address of its own, to a
// service of its own with the abuse limits on: the question is whether
// memory stays bounded when an attacker with many addresses fills the
// limiters. One request in fifty names an unknown email at /login, which
// costs a password hash as a real login does.
func (b *bench) flood(ctx context.Context, rep *report) error {
	dir := filepath.Join(b.dir, "flood")
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	svc, err := startService(ctx, b.bin, dir, floodEnv()...)
	if err != nil {
		return err
	}
	defer svc.stop()
	client := newClient(b.opts.concurrency)
	defer client.CloseIdleConnections()
	stopRSS := svc.sampleRSS(rssInterval)
	res, err := drive(ctx, client, loadSpec{concurrency: b.opts.concurrency, duration: b.opts.duration, next: floodRequest(svc.base)})
	peak := stopRSS()
	if err != nil {
		return err
	}
	if err := svc.alive(); err != nil {
		return err
	}
	hwm, err := svc.hwm()
	if err != nil {
		return err
	}
	live, collections, limit, err := svc.heapReport()
	if err != nil {
		return err
	}
	r := row{name: "flood: failed requests on every limited route, each from its own address", res: res, peakRSS: peak, hwm: hwm}
	rep.rows = append(rep.rows, r)
	rep.flood = &floodResult{row: r, liveHeap: live, collections: collections, memoryLimit: limit}
	return nil
}
