package main

import (
	"context"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		pct    int
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one value", []time.Duration{7}, 99, 7},
		{"median of 100", hundred, 50, 50 * time.Millisecond},
		{"p99 of 100", hundred, 99, 99 * time.Millisecond},
		{"p100 is the maximum", hundred, 100, 100 * time.Millisecond},
		{"p99 of 3 is the maximum", []time.Duration{1, 2, 3}, 99, 3},
		{"median of 4 is the lower middle", []time.Duration{1, 2, 3, 4}, 50, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.pct); got != tt.want {
				t.Errorf("percentile(%d) = %v, want %v", tt.pct, got, tt.want)
			}
		})
	}
}

func TestParseStatusField(t *testing.T) {
	status := []byte("Name:\tauthapi\nVmHWM:\t   51200 kB\nVmRSS:\t   40960 kB\nThreads:\t7\n")
	tests := []struct {
		name    string
		status  []byte
		field   string
		want    uint64
		wantErr bool
	}{
		{"rss", status, "VmRSS", 40960 * 1024, false},
		{"high-water mark", status, "VmHWM", 51200 * 1024, false},
		{"absent", status, "VmSwap", 0, true},
		{"not in kB", []byte("VmRSS:\t12 MB\n"), "VmRSS", 0, true},
		{"not a number", []byte("VmRSS:\tlots kB\n"), "VmRSS", 0, true},
		{"prefix of another field", []byte("VmRSSx:\t1 kB\n"), "VmRSS", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatusField(tt.status, tt.field)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseStatusField(%s) error = %v, want error %v", tt.field, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("parseStatusField(%s) = %d, want %d", tt.field, got, tt.want)
			}
		})
	}
}

func TestErrorsText(t *testing.T) {
	tests := []struct {
		name string
		errs map[string]int
		want string
	}{
		{"none", nil, "none"},
		{"most frequent first, ties by name", map[string]int{"timeout": 2, "503": 9, "500": 2}, "503 ×9, 500 ×2, timeout ×2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errorsText(tt.errs); got != tt.want {
				t.Errorf("errorsText = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseOptions(t *testing.T) {
	all := setupNames()
	tests := []struct {
		name       string
		args       []string
		want       options
		wantSetups []string
		wantErr    bool
	}{
		{
			name:       "defaults",
			want:       options{duration: 10 * time.Second, concurrency: 64, overload: 256, users: 16, workloads: allWorkloads()},
			wantSetups: all,
		},
		{
			name:       "brief shortens what was not given",
			args:       []string{"-brief", "-concurrency", "4"},
			want:       options{duration: 2 * time.Second, concurrency: 4, overload: 32, users: 8, workloads: allWorkloads(), brief: true},
			wantSetups: all,
		},
		{
			name:       "workloads run in canonical order, once",
			args:       []string{"-workloads", "mixed, me,mixed"},
			want:       options{duration: 10 * time.Second, concurrency: 64, overload: 256, users: 16, workloads: []string{workMe, workMixed}},
			wantSetups: all,
		},
		{
			name:       "setups run in canonical order, once",
			args:       []string{"-setups", "postgres-x2, sqlite,postgres-x2"},
			want:       options{duration: 10 * time.Second, concurrency: 64, overload: 256, users: 16, workloads: allWorkloads()},
			wantSetups: []string{setupSQLite, setupPostgresX2},
		},
		{name: "unknown workload", args: []string{"-workloads", "me,logout"}, wantErr: true},
		{name: "no workload", args: []string{"-workloads", ","}, wantErr: true},
		{name: "unknown setup", args: []string{"-setups", "mysql"}, wantErr: true},
		{name: "no setup", args: []string{"-setups", ""}, wantErr: true},
		{name: "zero duration", args: []string{"-duration", "0s"}, wantErr: true},
		{name: "no clients", args: []string{"-concurrency", "0"}, wantErr: true},
		{name: "too many clients", args: []string{"-overload", "100000"}, wantErr: true},
		{name: "stray argument", args: []string{"now"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseOptions(tt.args, io.Discard)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseOptions(%q) error = %v, want error %v", tt.args, err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if got.duration != tt.want.duration || got.concurrency != tt.want.concurrency ||
				got.overload != tt.want.overload || got.users != tt.want.users || got.brief != tt.want.brief ||
				!slices.Equal(got.workloads, tt.want.workloads) {
				t.Errorf("parseOptions(%q) = %+v, want %+v", tt.args, got, tt.want)
			}
			var setups []string
			for _, s := range got.setups {
				setups = append(setups, s.name)
			}
			if !slices.Equal(setups, tt.wantSetups) {
				t.Errorf("parseOptions(%q) setups = %v, want %v", tt.args, setups, tt.wantSetups)
			}
		})
	}
}

// TestTargetRoundRobin checks that a worker sends its requests to the
// replicas in turn, and each account's requests to every replica.
func TestTargetRoundRobin(t *testing.T) {
	accounts := []account{{email: "a"}, {email: "b"}, {email: "c"}}
	tg := &target{bases: []string{"r1", "r2"}, accounts: accounts}
	seen := map[string]map[string]bool{}
	var order []string
	w := &worker{id: 0}
	for w.n = 0; w.n < 12; w.n++ {
		base, a := tg.base(w), tg.pick(w)
		order = append(order, base)
		if seen[a.email] == nil {
			seen[a.email] = map[string]bool{}
		}
		seen[a.email][base] = true
	}
	for i := 1; i < len(order); i++ {
		if order[i] == order[i-1] {
			t.Fatalf("requests %d and %d both went to %s: %v", i-1, i, order[i], order)
		}
	}
	for _, a := range accounts {
		if len(seen[a.email]) != 2 {
			t.Errorf("account %s reached replicas %v, want both", a.email, seen[a.email])
		}
	}
	if got := tg.base(&worker{id: 1}); got != "r2" {
		t.Errorf("worker 1 starts at %s, want r2: workers do not all start at one replica", got)
	}
	one := &target{bases: []string{"only"}, accounts: accounts}
	if got := one.pick(&worker{id: 0, n: 1}); got.email != "b" {
		t.Errorf("one replica: request 1 of worker 0 uses account %s, want b", got.email)
	}
}

func TestMergeResults(t *testing.T) {
	a := loadResult{concurrency: 4, duration: time.Second, ok: 10, okInWindow: 9, responses: 11,
		errs: map[string]int{"500": 1}, latencies: []time.Duration{1, 3}}
	b := loadResult{concurrency: 4, duration: time.Second, ok: 20, okInWindow: 19, responses: 20,
		errs: map[string]int{}, latencies: []time.Duration{2}}
	got := mergeResults(mergeResults(loadResult{}, a), b)
	if got.duration != 2*time.Second || got.ok != 30 || got.okInWindow != 28 || got.responses != 31 ||
		got.errs["500"] != 1 || got.concurrency != 4 || !slices.Equal(got.latencies, []time.Duration{1, 2, 3}) {
		t.Errorf("mergeResults = %+v", got)
	}
	if got.rate() != 14 {
		t.Errorf("merged rate = %v, want 14", got.rate())
	}
}

func TestMixedCeiling(t *testing.T) {
	// 90% of requests at 1000/s cost 0.9 ms; 10% at 10/s cost 10 ms:
	// 10.9 ms per request on average.
	rep := &report{
		bare: &loadResult{okInWindow: 10_000, duration: 10 * time.Second},
		hash: &hashResult{hashes: 100, elapsed: 10 * time.Second},
	}
	got := rep.mixedCeiling().rate
	if want := 1 / 0.0109; math.Abs(got-want) > 1e-9 {
		t.Errorf("mixed ceiling = %v/s, want %v/s", got, want)
	}
	if got := (&report{}).mixedCeiling().rate; got != 0 {
		t.Errorf("mixed ceiling without measurements = %v, want 0", got)
	}
}

func TestHarnessError(t *testing.T) {
	ok := row{name: "GET /me", res: loadResult{ok: 5}}
	failed := row{name: "POST /login", res: loadResult{errs: map[string]int{"500": 3}}}
	tests := []struct {
		name    string
		rows    []row
		wantErr bool
	}{
		{"every load had successes", []row{ok}, false},
		{"a load got only errors", []row{ok, failed}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := &report{setups: []*setupReport{{setup: allSetups()[0], rows: tt.rows}}}
			err := rep.harnessError()
			if (err != nil) != tt.wantErr {
				t.Errorf("harnessError() = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

// TestDriveHonoursRetryAfter checks that a polite worker, refused with
// Retry-After, waits before its next request, and that an impolite one does
// not.
func TestDriveHonoursRetryAfter(t *testing.T) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	client := newClient(1)
	defer client.CloseIdleConnections()
	next := func(ctx context.Context, _ *worker) (call, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		return call{req: req, want: http.StatusOK}, err
	}
	for _, polite := range []bool{true, false} {
		requests.Store(0)
		res, err := drive(t.Context(), client, loadSpec{concurrency: 1, duration: 300 * time.Millisecond, honourRetryAfter: polite, next: next})
		if err != nil {
			t.Fatal(err)
		}
		n := requests.Load()
		switch {
		case polite && n != 1:
			t.Errorf("a polite client sent %d requests in 300 ms when told to wait 1 s, want 1", n)
		case !polite && n < 2:
			t.Errorf("an impolite client sent %d requests in 300 ms, want more than 1", n)
		}
		if res.errs["503"] != int(n) {
			t.Errorf("polite=%v: errors %v, want every one of the %d answers counted as 503", polite, res.errs, n)
		}
	}
}

func TestParseProcessCPU(t *testing.T) {
	tests := []struct {
		name    string
		stat    string
		want    time.Duration
		wantErr bool
	}{
		{"plain", "42 (authapi) S 1 42 42 0 -1 4194560 100 0 0 0 150 25 0 0 20 0 8 0", 1750 * time.Millisecond, false},
		{"name with spaces and parentheses", "7 (a (b) c) R 1 7 7 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0", 70 * time.Millisecond, false},
		{"truncated", "7 (x) R 1 7", 0, true},
		{"no name", "7 x R", 0, true},
		{"not a number", "7 (x) R 1 7 7 0 -1 0 0 0 0 0 many 4 0", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcessCPU([]byte(tt.stat))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseProcessCPU error = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("parseProcessCPU = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseMachineBusy(t *testing.T) {
	// user nice system idle iowait irq softirq steal guest guest_nice
	got, err := parseMachineBusy([]byte("cpu  100 2 30 5000 70 1 2 3 9 0\ncpu0 50 1 15 2500 35 0 1 1 0 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := 138 * clockTick; got != want {
		t.Errorf("parseMachineBusy = %v, want %v (idle, iowait and guest left out)", got, want)
	}
	if _, err := parseMachineBusy([]byte("intr 1 2 3\n")); err == nil {
		t.Error("parseMachineBusy accepted a file without the cpu line")
	}
}
