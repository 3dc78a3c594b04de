// Command bench is authapi's load benchmark. It builds the service, starts it
// on a free loopback port with a fresh database and the log mailer, prepares
// accounts, drives each workload for a fixed time at a fixed concurrency and
// prints a markdown table: successful requests per second, p50 and p99
// latency, errors by status, and the service's peak RSS from /proc.
//
// Absolute numbers depend on the machine and on whatever else runs on it, so
// every workload is also given as a ratio to a ceiling measured in the same
// run with the same load generator: a bare net/http handler serving a body
// of the size GET /me returns, and the raw argon2id hash rate on all cores
// with the service's parameters.
//
// Usage, from the module root:
//
//	go run ./tools/bench                            # 10 s per workload, 64 clients
//	go run ./tools/bench -brief                     # a few seconds each (CI)
//	go run ./tools/bench -workloads me,login -duration 30s
//
// It runs on Linux only: memory is read from /proc. Everything it starts
// (the service and the baseline server) is stopped on exit, on error and on
// Ctrl-C.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// Workload names, in the order they run.
const (
	workMe       = "me"
	workLogin    = "login"
	workSignup   = "signup"
	workRefresh  = "refresh"
	workMixed    = "mixed"
	workOverload = "overload"
	workFlood    = "flood"
)

// allWorkloads lists every workload in running order.
func allWorkloads() []string {
	return []string{workMe, workLogin, workSignup, workRefresh, workMixed, workOverload, workFlood}
}

// maxConcurrency bounds the clients (and prepared accounts) of one workload.
const maxConcurrency = 4096

// options are the command-line settings.
type options struct {
	duration    time.Duration // per workload
	concurrency int           // clients per workload
	overload    int           // concurrent logins in the overload scenario
	users       int           // prepared accounts
	workloads   []string
	brief       bool
	// ignoreRetryAfter makes the overload's clients retry a refused login
	// at once rather than wait as told: the worst case.
	ignoreRetryAfter bool
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var workloads string
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long each workload runs")
	fs.IntVar(&o.concurrency, "concurrency", 64, "concurrent clients per workload")
	fs.IntVar(&o.overload, "overload", 256, "concurrent logins in the overload scenario")
	fs.BoolVar(&o.ignoreRetryAfter, "ignore-retry-after", false, "in the overload scenario, retry a refused login at once instead of waiting as Retry-After says")
	fs.IntVar(&o.users, "users", 16, "accounts prepared for the /me, login and refresh workloads")
	fs.StringVar(&workloads, "workloads", strings.Join(allWorkloads(), ","), "comma-separated workloads to run: "+strings.Join(allWorkloads(), ", "))
	fs.BoolVar(&o.brief, "brief", false, "a short run for CI: 2s per workload, 8 clients, 32 overload logins, 8 accounts (explicit flags still win)")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if o.brief {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["duration"] {
			o.duration = 2 * time.Second
		}
		if !set["concurrency"] {
			o.concurrency = 8
		}
		if !set["overload"] {
			o.overload = 32
		}
		if !set["users"] {
			o.users = 8
		}
	}
	all := allWorkloads()
	for w := range strings.SplitSeq(workloads, ",") {
		w = strings.TrimSpace(w)
		if w == "" {
			continue
		}
		if !slices.Contains(all, w) {
			return options{}, fmt.Errorf("unknown workload %q (want some of %s)", w, strings.Join(all, ", "))
		}
		if !slices.Contains(o.workloads, w) {
			o.workloads = append(o.workloads, w)
		}
	}
	switch {
	case len(o.workloads) == 0:
		return options{}, errors.New("no workload selected")
	case o.duration <= 0:
		return options{}, errors.New("-duration must be positive")
	case o.concurrency < 1 || o.overload < 1 || o.users < 1:
		return options{}, errors.New("-concurrency, -overload and -users must be at least 1")
	case o.concurrency > maxConcurrency || o.overload > maxConcurrency || o.users > maxConcurrency:
		return options{}, fmt.Errorf("-concurrency, -overload and -users must be at most %d", maxConcurrency)
	}
	// Run in the canonical order whatever order the flag gave.
	slices.SortFunc(o.workloads, func(a, b string) int {
		return slices.Index(all, a) - slices.Index(all, b)
	})
	return o, nil
}

func (o options) wants(names ...string) bool {
	for _, n := range names {
		if slices.Contains(o.workloads, n) {
			return true
		}
	}
	return false
}

// run is the whole benchmark; every process and server it starts is stopped
// before it returns.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "authapi-bench-")
	if err != nil {
		return fmt.Errorf("create a working directory: %w", err)
	}
	defer os.RemoveAll(dir)

	progress := func(format string, args ...any) {
		fmt.Fprintf(stderr, "bench: "+format+"\n", args...)
	}
	progress("building the service")
	bin, err := buildService(ctx, root, dir, stderr)
	if err != nil {
		return err
	}

	svc, err := startService(ctx, bin, dir)
	if err != nil {
		return err
	}
	defer svc.stop()
	progress("service ready in %v on %s", svc.readyIn.Round(time.Millisecond), svc.base)

	// Memory right after start, once start-up work has settled: the target
	// is about a service nobody is using yet.
	if err := pause(ctx, time.Second); err != nil {
		return err
	}
	idle, err := svc.rss()
	if err != nil {
		return err
	}

	b := &bench{opts: opts, svc: svc, progress: progress, bin: bin, dir: dir}
	rep := &report{
		opts:    opts,
		machine: describeMachine(),
		readyIn: svc.readyIn,
		idleRSS: idle,
	}
	if err := b.runAll(ctx, rep); err != nil {
		if ctx.Err() != nil {
			return errors.New("interrupted; the service was stopped")
		}
		if tail := svc.logTail(20); tail != "" {
			fmt.Fprintf(stderr, "bench: the service's last log lines:\n%s\n", tail)
		}
		return err
	}
	rep.write(stdout)
	return rep.harnessError()
}

// pause waits for d unless ctx ends first.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
