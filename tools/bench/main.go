// Command bench is authapi's load benchmark. It builds the service and, for
// each setup (SQLite; PostgreSQL with one replica; PostgreSQL with two
// replicas that the clients use in turn), starts it on free loopback ports
// with a fresh database and the log mailer, prepares accounts, drives each
// workload for a fixed time at a fixed concurrency and prints markdown
// tables: successful requests per second, p50 and p99 latency, errors by
// status, and the service's peak RSS from /proc.
//
// Absolute numbers depend on the machine and on whatever else runs on it, so
// every workload is also given as a ratio to a ceiling measured once in the
// same run with the same load generator, the same for every setup: a bare
// net/http handler serving a body of the size GET /me returns, and the raw
// argon2id hash rate on all cores with the service's parameters.
//
// Usage, from the module root:
//
//	go run ./tools/bench                            # 10 s per workload, 64 clients, every setup
//	go run ./tools/bench -brief                     # a few seconds each (CI)
//	go run ./tools/bench -workloads me,login -duration 30s -setups postgres
//
// The PostgreSQL setups run on the server of -postgres (by default the
// tests' server, $AUTH_TEST_POSTGRES_URL or the local one), in databases
// that the benchmark creates and drops. It runs on Linux only: memory is
// read from /proc. Everything it starts (the services and the baseline
// server) is stopped on exit, on error and on Ctrl-C.
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
	workMetrics  = "metrics"
	workLogin    = "login"
	workSignup   = "signup"
	workRefresh  = "refresh"
	workMixed    = "mixed"
	workOverload = "overload"
	workFlood    = "flood"
)

// allWorkloads lists every workload in running order.
func allWorkloads() []string {
	return []string{workMe, workMetrics, workLogin, workSignup, workRefresh, workMixed, workOverload, workFlood}
}

// maxConcurrency bounds the clients (and prepared accounts) of one workload.
const maxConcurrency = 4096

// setup is one way of running the service: an engine and a number of
// replicas that share its database.
type setup struct {
	name     string // as -setups names it
	title    string // as the report names it
	postgres bool
	replicas int
}

// Setup names, in the order they run.
const (
	setupSQLite     = "sqlite"
	setupPostgres   = "postgres"
	setupPostgresX2 = "postgres-x2"
)

// allSetups lists every setup in running order.
func allSetups() []setup {
	return []setup{
		{name: setupSQLite, title: "SQLite", replicas: 1},
		{name: setupPostgres, title: "PostgreSQL, one replica", postgres: true, replicas: 1},
		{name: setupPostgresX2, title: "PostgreSQL, two replicas (round-robin)", postgres: true, replicas: 2},
	}
}

func setupNames() []string {
	var names []string
	for _, s := range allSetups() {
		names = append(names, s.name)
	}
	return names
}

// options are the command-line settings.
type options struct {
	duration    time.Duration // per workload
	concurrency int           // clients per workload
	overload    int           // concurrent logins in the overload scenario
	users       int           // prepared accounts
	workloads   []string
	setups      []setup
	postgres    string // the server the PostgreSQL setups create their databases on
	brief       bool
	// ignoreRetryAfter makes the overload's clients retry a refused login
	// at once rather than wait as told: the worst case.
	ignoreRetryAfter bool
	// cpuProfiles, when set, is a directory for CPU profiles of the
	// service under each workload.
	cpuProfiles string
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var workloads, setups string
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long each workload runs")
	fs.IntVar(&o.concurrency, "concurrency", 64, "concurrent clients per workload")
	fs.IntVar(&o.overload, "overload", 256, "concurrent logins in the overload scenario")
	fs.BoolVar(&o.ignoreRetryAfter, "ignore-retry-after", false, "in the overload scenario, retry a refused login at once instead of waiting as Retry-After says")
	fs.IntVar(&o.users, "users", 16, "accounts prepared for the /me, login and refresh workloads")
	fs.StringVar(&workloads, "workloads", strings.Join(allWorkloads(), ","), "comma-separated workloads to run: "+strings.Join(allWorkloads(), ", "))
	fs.StringVar(&setups, "setups", strings.Join(setupNames(), ","), "comma-separated setups to run: "+strings.Join(setupNames(), ", "))
	fs.StringVar(&o.postgres, "postgres", defaultPostgres(), "URL of the PostgreSQL server on which the PostgreSQL setups create (and then drop) their databases; its user must be allowed to create databases (default $"+postgresURLEnv+" or the local server)")
	fs.StringVar(&o.cpuProfiles, "cpuprofile", "", "directory to write a CPU profile of the service under each workload to (SETUP-WORKLOAD[-rN].pprof), taken through net/http/pprof on a loopback port of a build made for it")
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
	for name := range strings.SplitSeq(setups, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		i := slices.IndexFunc(allSetups(), func(s setup) bool { return s.name == name })
		if i < 0 {
			return options{}, fmt.Errorf("unknown setup %q (want some of %s)", name, strings.Join(setupNames(), ", "))
		}
		if !slices.ContainsFunc(o.setups, func(s setup) bool { return s.name == name }) {
			o.setups = append(o.setups, allSetups()[i])
		}
	}
	switch {
	case len(o.setups) == 0:
		return options{}, errors.New("no setup selected")
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
	order := setupNames()
	slices.SortFunc(o.setups, func(a, b setup) int {
		return slices.Index(order, a.name) - slices.Index(order, b.name)
	})
	return o, nil
}

// wantsPostgres reports whether a selected setup runs on PostgreSQL.
func (o options) wantsPostgres() bool {
	return slices.ContainsFunc(o.setups, func(s setup) bool { return s.postgres })
}

func (o options) wants(names ...string) bool {
	for _, n := range names {
		if slices.Contains(o.workloads, n) {
			return true
		}
	}
	return false
}

// run is the whole benchmark; every process and server it starts, and
// every database it creates, is stopped or dropped before it returns.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	progress := func(format string, args ...any) {
		fmt.Fprintf(stderr, "bench: "+format+"\n", args...)
	}
	var pg *postgresServer
	if opts.wantsPostgres() {
		// Before the build, so that a missing server is the first thing said.
		if pg, err = connectPostgres(ctx, opts.postgres); err != nil {
			return err
		}
		defer pg.close()
	}
	if opts.cpuProfiles != "" {
		if err := os.MkdirAll(opts.cpuProfiles, 0o755); err != nil {
			return fmt.Errorf("-cpuprofile: %w", err)
		}
	}
	dir, err := os.MkdirTemp("", "authapi-bench-")
	if err != nil {
		return fmt.Errorf("create a working directory: %w", err)
	}
	defer os.RemoveAll(dir)

	progress("building the service")
	bin, err := buildService(ctx, root, dir, opts.cpuProfiles != "", stderr)
	if err != nil {
		return err
	}

	b := &bench{opts: opts, progress: progress, bin: bin, dir: dir, pg: pg}
	rep := &report{opts: opts, machine: describeMachine()}
	for _, s := range opts.setups {
		if err := b.runSetup(ctx, s, rep, stderr); err != nil {
			if ctx.Err() != nil {
				return errors.New("interrupted; the services were stopped")
			}
			return fmt.Errorf("%s: %w", s.title, err)
		}
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
