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
}

// row is one line of the results table.
type row struct {
	name    string
	res     loadResult
	peakRSS uint64 // largest VmRSS sampled during the load
	hwm     uint64 // VmHWM after the load: the peak since the service started
	ceiling ceiling
}

func (r row) ratio() (float64, bool) {
	if r.ceiling.rate <= 0 {
		return 0, false
	}
	return r.res.rate() / r.ceiling.rate, true
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

// report collects one run's measurements.
type report struct {
	opts       options
	machine    machine
	readyIn    time.Duration
	idleRSS    uint64
	meBodySize int
	bare       *loadResult
	hash       *hashResult
	rows       []row
	overload   *overloadRows
	flood      *floodResult
}

func (rep *report) bareCeiling() ceiling {
	if rep.bare == nil {
		return ceiling{}
	}
	return ceiling{name: "bare handler", rate: rep.bare.rate()}
}

func (rep *report) hashCeiling() ceiling {
	if rep.hash == nil {
		return ceiling{}
	}
	return ceiling{name: "raw argon2id", rate: rep.hash.rate()}
}

// mixedCeiling blends the two ceilings by the mix's shares: the rate if
// every request cost exactly what its ceiling allows, 1 / sum(share/ceiling).
func (rep *report) mixedCeiling() ceiling {
	bare, hash := rep.bareCeiling().rate, rep.hashCeiling().rate
	if bare <= 0 || hash <= 0 {
		return ceiling{}
	}
	perRequest := float64(mixMe+mixRefresh)/100/bare + float64(mixLogin+mixSignup)/100/hash
	return ceiling{name: "blend of both", rate: 1 / perRequest}
}

// write prints the report as markdown.
func (rep *report) write(w io.Writer) {
	o, m := rep.opts, rep.machine
	fmt.Fprintf(w, "\n## authapi load benchmark, %s\n\n", m.date.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "- Machine: %s, %d CPUs (nproc), %s, %s.\n", m.cpuModel, m.cpus, m.platform, m.goVersion)
	fmt.Fprintf(w, "- Settings: %v per workload, %d concurrent clients (overload: %d logins), %d prepared accounts; "+
		"fresh SQLite database, log mailer. Abuse limits are off, since all load comes from 127.0.0.1.\n",
		o.duration, o.concurrency, o.overload, o.users)
	fmt.Fprintf(w, "- req/s counts successful answers received within the window; p50 and p99 cover every answer. "+
		"Peak RSS is the largest VmRSS sampled every %v during the workload; VmHWM is the peak since start.\n", rssInterval)
	if rep.overload != nil {
		retry := "waiting as its Retry-After header says before retrying a refused login, as a polite client does"
		if o.ignoreRetryAfter {
			retry = "retrying a refused login at once (no back-off, Retry-After ignored: the worst case)"
		}
		fmt.Fprintf(w, "- Overload: %d clients log in as fast as they can, %s, while %d probes each time GET /healthz and GET /me, one request per %v.\n",
			o.overload, retry, probeClients, probePace)
	}
	if rep.flood != nil {
		fmt.Fprintf(w, "- Flood: %d clients send requests that fail, with the largest input each route takes (254-byte emails, "+
			"100-character names and 128-character passwords of four-byte characters), each from a random IPv4 address or IPv6 /64 "+
			"through a trusted proxy, to a service of its own with the abuse limits as shipped; one in fifty is a login of an unknown email, "+
			"which costs a password hash. Each answer counts as a success when it is the failure the route gives such a request.\n",
			o.concurrency)
	}
	fmt.Fprintf(w, "- Ready %s after the process started (fresh database, so migrations and key generation included); "+
		"idle RSS %.1f MiB one second later.\n\n", ms(rep.readyIn), float64(rep.idleRSS)/mib)

	if rep.bare != nil || rep.hash != nil {
		fmt.Fprintln(w, "| Ceiling | Clients | Rate | p50 | p99 |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
		if b := rep.bare; b != nil {
			fmt.Fprintf(w, "| bare net/http handler, %d-byte JSON body (GET /me's size) | %d | %s req/s | %s | %s |\n",
				rep.meBodySize, b.concurrency, rate(b.rate()), ms(b.p(50)), ms(b.p(99)))
		}
		if h := rep.hash; h != nil {
			fmt.Fprintf(w, "| raw argon2id (m=%d KiB, t=%d, p=%d), one goroutine per CPU | %d | %s hashes/s | | |\n",
				h.params.Memory, h.params.Iterations, h.params.Parallelism, h.workers, rate(h.rate()))
		}
		fmt.Fprintln(w)
	}

	fmt.Fprintln(w, "| Workload | Clients | req/s | p50 | p99 | Errors | Peak RSS (MiB) | VmHWM (MiB) | Ceiling | Ratio |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---|---:|---:|---|---:|")
	for _, r := range rep.rows {
		ceilingText, ratioText := "", ""
		if ratio, ok := r.ratio(); ok {
			ceilingText = fmt.Sprintf("%s, %s/s", r.ceiling.name, rate(r.ceiling.rate))
			ratioText = fmt.Sprintf("%.2f", ratio)
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %.1f | %.1f | %s | %s |\n",
			r.name, r.res.concurrency, rate(r.res.rate()), ms(r.res.p(50)), ms(r.res.p(99)), errorsText(r.res.errs),
			float64(r.peakRSS)/mib, float64(r.hwm)/mib, ceilingText, ratioText)
	}

	if f := rep.flood; f != nil {
		fmt.Fprintf(w, "\nFlood: the largest live heap after any of the %d collections was %d MiB; the service's memory limit is %d MiB.\n",
			f.collections, f.liveHeap, f.memoryLimit)
	}

	if checks := rep.targets(); len(checks) > 0 {
		fmt.Fprintln(w, "\nTargets:")
		for _, c := range checks {
			verdict := "missed"
			if c.met {
				verdict = "met"
			}
			fmt.Fprintf(w, "- %s: %s (%s)\n", c.goal, verdict, c.got)
		}
	}
}

// check is one performance target and how this run did.
type check struct {
	goal string
	got  string
	met  bool
}

// targets compares the run with the goals set for the service. They are
// reported, never enforced: timings on a shared machine are too noisy to
// fail a build on.
func (rep *report) targets() []check {
	var checks []check
	byName := map[string]row{}
	for _, r := range rep.rows {
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
		checks = append(checks, check{goal: goal, got: fmt.Sprintf("%.2f×", ratio), met: ratio >= least})
	}
	ratioCheck("GET /me", "GET /me at least 0.5× the bare handler", 0.5)
	ratioCheck("POST /login", "POST /login at least 0.9× the raw hash rate", 0.9)
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
	if ov := rep.overload; ov != nil {
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
	if f := rep.flood; f != nil && f.memoryLimit > 0 {
		checks = append(checks, check{
			goal: "live heap under the memory limit during the flood",
			got:  fmt.Sprintf("%d MiB of %d MiB", f.liveHeap, f.memoryLimit),
			met:  f.liveHeap < f.memoryLimit,
		})
	}
	checks = append(checks,
		check{goal: "idle RSS under 30 MiB", got: fmt.Sprintf("%.1f MiB", float64(rep.idleRSS)/mib), met: rep.idleRSS < 30*mib},
		check{goal: "ready within 200 ms of start", got: ms(rep.readyIn), met: rep.readyIn <= 200*time.Millisecond},
	)
	return checks
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
	for _, r := range rep.rows {
		if r.res.ok == 0 {
			errs = append(errs, fmt.Errorf("%s got no successful answer (errors: %s)", r.name, errorsText(r.res.errs)))
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
