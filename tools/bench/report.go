package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

const mib = 1 << 20

// machine describes where the benchmark ran.
type machine struct {
	date      time.Time
	cpuModel  string
	cpus      int
	goVersion string
	platform  string
}

func describeMachine() machine {
	return machine{
		date:      time.Now().UTC(),
		cpuModel:  cpuModel(),
		cpus:      runtime.NumCPU(),
		goVersion: runtime.Version(),
		platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(name) == "model name" {
			return strings.TrimSpace(value)
		}
	}
	return "unknown CPU"
}

// ceiling is the rate a workload is compared with.
type ceiling struct {
	name string
	rate float64 // per second; zero when not measured
	// cpu is the CPU time the ceiling took per operation, load generator
	// included; zero when unknown.
	cpu time.Duration
}

// row is one line of the results table.
type row struct {
	name    string
	res     loadResult
	peakRSS uint64 // largest VmRSS sampled during the load
	hwm     uint64 // VmHWM after the load: the peak since the service started
	ceiling ceiling
	// cpu is where the CPU time went during the load, when known.
	cpu      cpuUse
	cpuKnown bool
}

func (r row) ratio() (float64, bool) {
	if r.ceiling.rate <= 0 {
		return 0, false
	}
	return r.res.rate() / r.ceiling.rate, true
}

// cpuPerOp is the CPU time of the service, its database and the load
// generator per successful request.
func (r row) cpuPerOp() (time.Duration, bool) {
	if !r.cpuKnown || r.res.ok == 0 {
		return 0, false
	}
	return r.cpu.ours() / time.Duration(r.res.ok), true
}

// cpuRatio is the ceiling's CPU time per operation over the workload's:
// what the ratio would be if the benchmark had the machine's CPUs to
// itself and used them all, which other processes on a shared machine
// disturb far less than they do rates.
func (r row) cpuRatio() (float64, bool) {
	per, ok := r.cpuPerOp()
	if !ok || r.ceiling.cpu <= 0 || per <= 0 {
		return 0, false
	}
	return float64(r.ceiling.cpu) / float64(per), true
}

// overloadRows are the overload scenario's three loads.
type overloadRows struct {
	logins, healthz, me row
}

// floodResult is the flood workload's memory, besides its row.
type floodResult struct {
	row         row
	liveHeap    int // MiB: the largest live heap after a collection
	collections int
	memoryLimit int // MiB: the soft limit the service set itself
}

// metricsResult is GET /me with metrics off and on, in turns.
type metricsResult struct {
	off, on row
}

// cost is the rate with metrics on over the rate with them off.
func (m metricsResult) ratio() float64 {
	if m.off.res.rate() <= 0 {
		return 0
	}
	return m.on.res.rate() / m.off.res.rate()
}

// report collects one run's measurements.
type report struct {
	opts             options
	machine          machine
	ceilingsMeasured bool
	meBodySize       int
	bare             *loadResult
	hash             *hashResult
	setups           []*setupReport
	// The CPU time the ceilings took, when known.
	bareCPU, hashCPU           cpuUse
	bareCPUKnown, hashCPUKnown bool
}

// setupReport is what one setup measured.
type setupReport struct {
	setup    setup
	readyIn  time.Duration // of the first replica
	idleRSS  uint64        // of the first replica
	rows     []row
	overload *overloadRows
	flood    *floodResult
	metrics  *metricsResult
}

func (rep *report) bareCeiling() ceiling {
	if rep.bare == nil {
		return ceiling{}
	}
	c := ceiling{name: "bare handler", rate: rep.bare.rate()}
	if rep.bareCPUKnown && rep.bare.ok > 0 {
		c.cpu = rep.bareCPU.generator / time.Duration(rep.bare.ok)
	}
	return c
}

func (rep *report) hashCeiling() ceiling {
	if rep.hash == nil {
		return ceiling{}
	}
	c := ceiling{name: "raw argon2id", rate: rep.hash.rate()}
	if rep.hashCPUKnown && rep.hash.hashes > 0 {
		c.cpu = rep.hashCPU.generator / time.Duration(rep.hash.hashes)
	}
	return c
}

// mixedCeiling blends the two ceilings by the mix's shares: the rate if
// every request cost exactly what its ceiling allows, 1 / sum(share/ceiling),
// and likewise the CPU time.
func (rep *report) mixedCeiling() ceiling {
	bare, hash := rep.bareCeiling(), rep.hashCeiling()
	if bare.rate <= 0 || hash.rate <= 0 {
		return ceiling{}
	}
	cheap, costly := float64(mixMe+mixRefresh)/100, float64(mixLogin+mixSignup)/100
	c := ceiling{name: "blend of both", rate: 1 / (cheap/bare.rate + costly/hash.rate)}
	if bare.cpu > 0 && hash.cpu > 0 {
		c.cpu = time.Duration(cheap*float64(bare.cpu) + costly*float64(hash.cpu))
	}
	return c
}

// write prints the report as markdown.
func (rep *report) write(w io.Writer) {
	o, m := rep.opts, rep.machine
	fmt.Fprintf(w, "\n## authapi load benchmark, %s\n\n", m.date.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "- Machine: %s, %d CPUs (nproc), %s, %s. The load generator, the service and PostgreSQL share them.\n", m.cpuModel, m.cpus, m.platform, m.goVersion)
	fmt.Fprintf(w, "- Settings: %v per workload, %d concurrent clients (overload: %d logins), %d prepared accounts; "+
		"a fresh database for each setup, log mailer. Abuse limits are off, since all load comes from 127.0.0.1.\n",
		o.duration, o.concurrency, o.overload, o.users)
	fmt.Fprintf(w, "- Setups, one after another: %s. With several replicas each client sends its requests to them in turn, "+
		"and memory is summed over them.\n", setupTitles(rep.setups))
	fmt.Fprintf(w, "- Every setup is compared with the same ceilings, measured once at the start of the run.\n")
	fmt.Fprintf(w, "- req/s counts successful answers received within the window; p50 and p99 cover every answer. "+
		"Peak RSS is the largest VmRSS sampled every %v during the workload; VmHWM is the peak since start.\n", rssInterval)
	if o.wants(workMetrics) {
		fmt.Fprintf(w, "- Metrics: two sets of replicas as the setup has, fresh and alike but for AUTH_METRICS_ADDR, take GET /me in %d turns of %v "+
			"(off, on, on, off, on, off, off, on); the replicas with metrics on are then scraped.\n", len(metricsTurns), metricsTurn(o.duration))
	}
	if o.wants(workOverload) {
		retry := "waiting as its Retry-After header says before retrying a refused login, as a polite client does"
		if o.ignoreRetryAfter {
			retry = "retrying a refused login at once (no back-off, Retry-After ignored: the worst case)"
		}
		fmt.Fprintf(w, "- Overload: %d clients log in as fast as they can, %s, while %d probes each time GET /healthz and GET /me, one request per %v.\n",
			o.overload, retry, probeClients, probePace)
	}
	if o.wants(workFlood) {
		fmt.Fprintf(w, "- Flood: %d clients send requests that fail, with the largest input each route takes (254-byte emails, "+
			"100-character names and 128-character passwords of four-byte characters), each from a random IPv4 address or IPv6 /64 "+
			"through a trusted proxy, to replicas of their own with the abuse limits as shipped; one in fifty is a login of an unknown email, "+
			"which costs a password hash. Each answer counts as a success when it is the failure the route gives such a request.\n",
			o.concurrency)
	}
	fmt.Fprintln(w)

	if rep.bare != nil || rep.hash != nil {
		fmt.Fprintln(w, "| Ceiling | Clients | Rate | p50 | p99 | CPU per operation | Other processes' share of the CPUs |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
		cpuText := func(c ceiling, u cpuUse, known bool) (string, string) {
			if !known || c.cpu <= 0 {
				return "", ""
			}
			return us(c.cpu), fmt.Sprintf("%.0f%%", 100*u.othersShare(m.cpus))
		}
		if b := rep.bare; b != nil {
			per, others := cpuText(rep.bareCeiling(), rep.bareCPU, rep.bareCPUKnown)
			fmt.Fprintf(w, "| bare net/http handler, %d-byte JSON body (GET /me's size) | %d | %s req/s | %s | %s | %s | %s |\n",
				rep.meBodySize, b.concurrency, rate(b.rate()), ms(b.p(50)), ms(b.p(99)), per, others)
		}
		if h := rep.hash; h != nil {
			per, others := cpuText(rep.hashCeiling(), rep.hashCPU, rep.hashCPUKnown)
			fmt.Fprintf(w, "| raw argon2id (m=%d KiB, t=%d, p=%d), one goroutine per CPU | %d | %s hashes/s | | | %s | %s |\n",
				h.params.Memory, h.params.Iterations, h.params.Parallelism, h.workers, rate(h.rate()), per, others)
		}
		fmt.Fprintln(w)
	}

	rep.writeSummary(w)
	for _, s := range rep.setups {
		s.write(w, m.cpus)
	}
}

// setupTitles lists the setups' titles.
func setupTitles(setups []*setupReport) string {
	titles := make([]string, len(setups))
	for i, s := range setups {
		titles[i] = s.setup.title
	}
	return strings.Join(titles, "; ")
}

// writeSummary prints each workload's ratio in each setup, side by side:
// by rate, and by CPU time when /proc told it.
func (rep *report) writeSummary(w io.Writer) {
	if len(rep.setups) == 0 {
		return
	}
	rep.writeSideBySide(w, "Workload: ratio to its ceiling (req/s)", func(r row) (string, bool) {
		ratio, ok := r.ratio()
		return fmt.Sprintf("%.2f (%s)", ratio, rate(r.res.rate())), ok
	}, true)
	if slices.ContainsFunc(rep.setups, func(s *setupReport) bool {
		return slices.ContainsFunc(s.rows, func(r row) bool { _, ok := r.cpuRatio(); return ok })
	}) {
		fmt.Fprintln(w, "The same by CPU time: the ceiling's CPU time per operation over the workload's (service, PostgreSQL and load generator), "+
			"the ratio the rates would show if nothing else ran on the machine and the load kept every CPU busy:")
		fmt.Fprintln(w)
		rep.writeSideBySide(w, "Workload: ratio by CPU time (CPU per request)", func(r row) (string, bool) {
			ratio, ok := r.cpuRatio()
			per, _ := r.cpuPerOp()
			return fmt.Sprintf("%.2f (%s)", ratio, us(per)), ok
		}, false)
	}
}

// writeSideBySide prints a table of the rows that cell gives a value for,
// a column per setup; with metrics, a last line gives their cost.
func (rep *report) writeSideBySide(w io.Writer, title string, cell func(row) (string, bool), metrics bool) {
	fmt.Fprintf(w, "| %s |", title)
	for _, s := range rep.setups {
		fmt.Fprintf(w, " %s |", s.setup.title)
	}
	fmt.Fprint(w, "\n|---|")
	for range rep.setups {
		fmt.Fprint(w, "---:|")
	}
	fmt.Fprintln(w)
	var names []string
	for _, s := range rep.setups {
		for _, r := range s.rows {
			if _, ok := cell(r); ok && !slices.Contains(names, r.name) {
				names = append(names, r.name)
			}
		}
	}
	for _, name := range names {
		fmt.Fprintf(w, "| %s |", name)
		for _, s := range rep.setups {
			i := slices.IndexFunc(s.rows, func(r row) bool { return r.name == name })
			text, ok := "", false
			if i >= 0 {
				text, ok = cell(s.rows[i])
			}
			if !ok {
				text = ""
			}
			fmt.Fprintf(w, " %s |", text)
		}
		fmt.Fprintln(w)
	}
	if metrics && slices.ContainsFunc(rep.setups, func(s *setupReport) bool { return s.metrics != nil }) {
		fmt.Fprint(w, "| GET /me with metrics on ÷ off |")
		for _, s := range rep.setups {
			if s.metrics == nil {
				fmt.Fprint(w, " |")
				continue
			}
			fmt.Fprintf(w, " %.3f |", s.metrics.ratio())
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
}

// write prints the setup's own table, notes and targets.
func (s *setupReport) write(w io.Writer, cpus int) {
	fmt.Fprintf(w, "### %s\n\n", s.setup.title)
	fmt.Fprintf(w, "Ready %s after the process started (fresh database, so migrations and key generation included); "+
		"idle RSS %.1f MiB one second later", ms(s.readyIn), float64(s.idleRSS)/mib)
	if s.setup.replicas > 1 {
		fmt.Fprint(w, " (the first replica)")
	}
	fmt.Fprint(w, ".\n\n")
	fmt.Fprintln(w, "| Workload | Clients | req/s | p50 | p99 | Errors | Peak RSS (MiB) | VmHWM (MiB) | Ceiling | Ratio |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---|---:|---:|---|---:|")
	for _, r := range s.rows {
		ceilingText, ratioText := "", ""
		if ratio, ok := r.ratio(); ok {
			ceilingText = fmt.Sprintf("%s, %s/s", r.ceiling.name, rate(r.ceiling.rate))
			ratioText = fmt.Sprintf("%.2f", ratio)
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %.1f | %.1f | %s | %s |\n",
			r.name, r.res.concurrency, rate(r.res.rate()), ms(r.res.p(50)), ms(r.res.p(99)), errorsText(r.res.errs),
			float64(r.peakRSS)/mib, float64(r.hwm)/mib, ceilingText, ratioText)
	}
	s.writeCPU(w, cpus)
	if m := s.metrics; m != nil {
		fmt.Fprintf(w, "\nMetrics: GET /me answered %s req/s with metrics on and %s req/s with them off, in turns: %.3f× (%+.1f%%).\n",
			rate(m.on.res.rate()), rate(m.off.res.rate()), m.ratio(), (m.ratio()-1)*100)
	}
	if f := s.flood; f != nil {
		fmt.Fprintf(w, "\nFlood: the largest live heap after any of the %d collections was %d MiB; the service's memory limit is %d MiB.\n",
			f.collections, f.liveHeap, f.memoryLimit)
	}
	if checks := s.targets(); len(checks) > 0 {
		fmt.Fprintln(w, "\nTargets:")
		for _, c := range checks {
			verdict := "missed"
			if c.met {
				verdict = "met"
			}
			fmt.Fprintf(w, "- %s: %s (%s)\n", c.goal, verdict, c.got)
		}
	}
	fmt.Fprintln(w)
}

// writeCPU prints where the CPU time of each load went, per successful
// request, and how busy other processes kept the machine meanwhile.
func (s *setupReport) writeCPU(w io.Writer, cpus int) {
	if !slices.ContainsFunc(s.rows, func(r row) bool { return r.cpuKnown }) {
		return
	}
	fmt.Fprintln(w, "\nCPU time per successful request, from /proc:")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| Workload | Service | PostgreSQL backends | Load generator | Ratio by CPU time | Other processes' share of the CPUs |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|")
	for _, r := range s.rows {
		if !r.cpuKnown || r.res.ok == 0 {
			continue
		}
		per := func(d time.Duration) string { return us(d / time.Duration(r.res.ok)) }
		db := "—"
		if s.setup.postgres {
			db = per(r.cpu.database)
		}
		ratio := ""
		if v, ok := r.cpuRatio(); ok {
			ratio = fmt.Sprintf("%.2f", v)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %.0f%% |\n", r.name, per(r.cpu.service), db, per(r.cpu.generator),
			ratio, 100*r.cpu.othersShare(cpus))
	}
}

// us prints a duration in microseconds, or milliseconds when long.
func us(d time.Duration) string {
	if d >= 10*time.Millisecond {
		return ms(d)
	}
	return strconv.FormatFloat(float64(d)/float64(time.Microsecond), 'f', 0, 64) + " µs"
}

// check is one performance target and how this run did.
type check struct {
	goal string
	got  string
	met  bool
}

// targets compares the setup's run with the goals set for it, by rate, with
// the ratio by CPU time beside it, which other processes disturb less. They
// are reported, never enforced: timings on a shared machine are too noisy
// to fail a build on. The goals of a single SQLite process were set first;
// PostgreSQL with one replica has goals of its own, and the metrics' cost
// has one in every setup.
func (s *setupReport) targets() []check {
	var checks []check
	byName := map[string]row{}
	for _, r := range s.rows {
		byName[r.name] = r
	}
	ratioCheck := func(name, goal string, least float64) {
		r, ok := byName[name]
		if !ok {
			return
		}
		ratio, ok := r.ratio()
		if !ok {
			return
		}
		got := fmt.Sprintf("%.2f×", ratio)
		if byCPU, ok := r.cpuRatio(); ok {
			got += fmt.Sprintf("; by CPU time %.2f×", byCPU)
		}
		checks = append(checks, check{goal: goal, got: got, met: ratio >= least})
	}
	switch s.setup.name {
	case setupSQLite:
		checks = s.sqliteTargets(byName, ratioCheck)
	case setupPostgres:
		ratioCheck("GET /me", "GET /me at least 0.3× the bare handler", 0.3)
		ratioCheck("POST /refresh", "POST /refresh at least 0.15× the bare handler", 0.15)
		ratioCheck("POST /login", "POST /login at least 0.85× the raw hash rate", 0.85)
		var loads []string
		errs := 0
		for _, name := range []string{"GET /me", "POST /login", "POST /signup", "POST /refresh", mixedName} {
			if r, ok := byName[name]; ok {
				loads = append(loads, name)
				errs += r.res.errorCount()
				if r.res.concurrency != 64 {
					loads[len(loads)-1] += fmt.Sprintf(" at %d clients", r.res.concurrency)
				}
			}
		}
		if len(loads) > 0 {
			checks = append(checks, check{
				goal: "no errors at 64 clients",
				got:  fmt.Sprintf("%d errors in %s", errs, strings.Join(loads, ", ")),
				met:  errs == 0,
			})
		}
	}
	if m := s.metrics; m != nil {
		checks = append(checks, check{
			goal: "GET /me with metrics on at least 0.95× its rate with metrics off",
			got:  fmt.Sprintf("%.3f×", m.ratio()),
			met:  m.ratio() >= 0.95,
		})
	}
	return checks
}

// sqliteTargets are the goals of a single process on SQLite.
func (s *setupReport) sqliteTargets(byName map[string]row, ratioCheck func(name, goal string, least float64)) []check {
	ratioCheck("GET /me", "GET /me at least 0.5× the bare handler", 0.5)
	ratioCheck("POST /login", "POST /login at least 0.9× the raw hash rate", 0.9)
	var checks []check
	if r, ok := byName["POST /signup"]; ok {
		if ratio, ok := r.ratio(); ok {
			errs := r.res.errorCount()
			checks = append(checks, check{
				goal: "POST /signup at least 0.85× the raw hash rate with no errors at " + clients(r.res.concurrency, 64),
				got:  fmt.Sprintf("%.2f×, %d errors", ratio, errs),
				met:  ratio >= 0.85 && errs == 0,
			})
		}
	}
	ratioCheck("POST /refresh", "POST /refresh at least 0.3× the bare handler", 0.3)
	if ov := s.overload; ov != nil {
		const limit = 50 * time.Millisecond
		checks = append(checks,
			check{
				goal: "peak RSS under 150 MiB with " + clients(ov.logins.res.concurrency, 256) + " logging in at once",
				got:  fmt.Sprintf("%.1f MiB", float64(ov.logins.peakRSS)/mib),
				met:  ov.logins.peakRSS < 150*mib,
			},
			check{goal: "GET /healthz p99 under 50 ms during the overload", got: ms(ov.healthz.res.p(99)), met: ov.healthz.res.p(99) < limit},
			check{goal: "GET /me p99 under 50 ms during the overload", got: ms(ov.me.res.p(99)), met: ov.me.res.p(99) < limit},
			check{goal: "every login answered, none left to time out (those beyond the queue get 503)",
				got: "logins: " + outcomes(ov.logins.res) + fmt.Sprintf(", p99 %s", ms(ov.logins.res.p(99))),
				met: ov.logins.res.errs["timeout"] == 0 && ov.logins.res.errs["transport"] == 0 && ov.logins.res.errs["reset"] == 0},
		)
	}
	if f := s.flood; f != nil && f.memoryLimit > 0 {
		checks = append(checks, check{
			goal: "live heap under the memory limit during the flood",
			got:  fmt.Sprintf("%d MiB of %d MiB", f.liveHeap, f.memoryLimit),
			met:  f.liveHeap < f.memoryLimit,
		})
	}
	return append(checks,
		check{goal: "idle RSS under 30 MiB", got: fmt.Sprintf("%.1f MiB", float64(s.idleRSS)/mib), met: s.idleRSS < 30*mib},
		check{goal: "ready within 200 ms of start", got: ms(s.readyIn), met: s.readyIn <= 200*time.Millisecond},
	)
}

// clients names a concurrency, and the one a goal was set for if it differs.
func clients(n, goal int) string {
	if n == goal {
		return fmt.Sprintf("%d clients", n)
	}
	return fmt.Sprintf("%d clients (the goal is for %d)", n, goal)
}

// harnessError fails the run when a load got no successful answer at all:
// then the benchmark itself is broken, whatever the timings.
func (rep *report) harnessError() error {
	var errs []error
	for _, s := range rep.setups {
		for _, r := range s.rows {
			if r.res.ok == 0 {
				errs = append(errs, fmt.Errorf("%s: %s got no successful answer (errors: %s)", s.setup.title, r.name, errorsText(r.res.errs)))
			}
		}
	}
	if rep.bare != nil && rep.bare.ok == 0 {
		errs = append(errs, errors.New("the bare handler got no successful answer"))
	}
	return errors.Join(errs...)
}

// errorsText lists failures by status or kind, most frequent first.
func errorsText(errs map[string]int) string {
	if len(errs) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(errs))
	for k := range errs {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if errs[a] != errs[b] {
			return errs[b] - errs[a]
		}
		return strings.Compare(a, b)
	})
	var b bytes.Buffer
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s ×%d", k, errs[k])
	}
	return b.String()
}

// outcomes counts successes and failures of a load.
func outcomes(r loadResult) string {
	return fmt.Sprintf("%d ok, %s", r.ok, errorsText(r.errs))
}

// ms prints a latency in milliseconds with a precision that suits it.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v < 10:
		return strconv.FormatFloat(v, 'f', 2, 64) + " ms"
	case v < 100:
		return strconv.FormatFloat(v, 'f', 1, 64) + " ms"
	default:
		return strconv.FormatFloat(v, 'f', 0, 64) + " ms"
	}
}

// rate prints a rate with three significant digits or more.
func rate(v float64) string {
	switch {
	case v < 10:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case v < 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
}
