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
	tests := []struct {
		name    string
		args    []string
		want    options
		wantErr bool
	}{
		{
			name: "defaults",
			want: options{duration: 10 * time.Second, concurrency: 64, overload: 256, users: 16, workloads: allWorkloads()},
		},
		{
			name: "brief shortens what was not given",
			args: []string{"-brief", "-concurrency", "4"},
			want: options{duration: 2 * time.Second, concurrency: 4, overload: 32, users: 8, workloads: allWorkloads(), brief: true},
		},
		{
			name: "workloads run in canonical order, once",
			args: []string{"-workloads", "mixed, me,mixed"},
			want: options{duration: 10 * time.Second, concurrency: 64, overload: 256, users: 16, workloads: []string{workMe, workMixed}},
		},
		{name: "unknown workload", args: []string{"-workloads", "me,logout"}, wantErr: true},
		{name: "no workload", args: []string{"-workloads", ","}, wantErr: true},
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
		})
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
			err := (&report{rows: tt.rows}).harnessError()
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
