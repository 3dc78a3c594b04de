package metrics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// counted reads a counter's value.
func counted(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// seriesOf counts the series that c holds.
func seriesOf(c prometheus.Collector) int {
	ch := make(chan prometheus.Metric)
	go func() {
		c.Collect(ch)
		close(ch)
	}()
	n := 0
	for range ch {
		n++
	}
	return n
}

// TestObserveRequestLabels checks that requests are counted by route,
// method and status, that an unmatched route and a method HTTP does not
// define each take one label value, so that clients cannot make new series,
// and that every request of a series counts.
func TestObserveRequestLabels(t *testing.T) {
	m := New()
	for range 3 {
		m.ObserveRequest("/me", "GET", 200, time.Millisecond)
	}
	m.ObserveRequest("/me", "GET", 401, time.Millisecond)
	m.ObserveRequest("", "GET", 404, time.Millisecond)
	for _, method := range []string{"FOO1", "FOO2", "get", "PROPFIND"} {
		m.ObserveRequest("", method, 405, time.Millisecond)
	}
	tests := []struct {
		route, method, status string
		want                  float64
	}{
		{"/me", "GET", "200", 3},
		{"/me", "GET", "401", 1},
		{"unmatched", "GET", "404", 1},
		{"unmatched", "OTHER", "405", 4},
	}
	for _, tt := range tests {
		if got := counted(t, m.requests.WithLabelValues(tt.route, tt.method, tt.status)); got != tt.want {
			t.Errorf("requests{route=%q, method=%q, status=%q} = %v, want %v", tt.route, tt.method, tt.status, got, tt.want)
		}
	}
	if got := seriesOf(m.requests); got != len(tests) {
		t.Errorf("%d request series, want %d", got, len(tests))
	}
	if got := seriesOf(m.durations); got != 3 {
		t.Errorf("%d duration series, want 3 (/me GET, unmatched GET, unmatched OTHER)", got)
	}
}
