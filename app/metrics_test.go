package app

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"authapi/ports"
)

// withMetrics turns the metrics on, on a listener of their own.
func withMetrics(c *Config) { c.MetricsAddr = "127.0.0.1:9100" }

// scrape reads the metrics as Prometheus would, with its own parser.
func (api *testAPI) scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	if api.metrics == nil {
		t.Fatal("the metrics are not served")
	}
	rec := httptest.NewRecorder()
	api.metrics.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics = %d", rec.Code)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("the metrics do not parse: %v", err)
	}
	return families
}

// seriesValue returns the value of the series of family whose labels include
// want, 0 if there is none; a histogram's value is its count.
func seriesValue(families map[string]*dto.MetricFamily, family string, want map[string]string) float64 {
	f, ok := families[family]
	if !ok {
		return 0
	}
	total := 0.0
series:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue series
			}
		}
		switch {
		case m.Counter != nil:
			total += m.GetCounter().GetValue()
		case m.Gauge != nil:
			total += m.GetGauge().GetValue()
		case m.Histogram != nil:
			total += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return total
}

// TestMetricsCountWhatHappened scripts a little traffic and checks, through
// Prometheus's own parser, that each counter moved by what the traffic did.
func TestMetricsCountWhatHappened(t *testing.T) {
	api := newTestAPI(t, withMetrics, func(c *Config) {
		c.Limits.ResendPerSource = ports.Limit{Name: "resend_per_ip", Rates: []ports.Rate{{Events: 1, Per: time.Hour, Burst: 1}}}
	})
	before := api.scrape(t)
	if seriesValue(before, "authapi_signups_total", nil) != 0 {
		t.Fatal("signups counted before any")
	}

	api.activeUser(t) // one signup, one verification
	access, refresh := api.login(t)
	wantProblem(t, api.do(t, "POST", "/login", map[string]string{"email": email, "password": "not the password"}), http.StatusUnauthorized, "invalid_credentials")
	wantStatus(t, api.do(t, "GET", "/me", nil, "Authorization", "Bearer "+access), http.StatusOK)
	wantStatus(t, api.do(t, "GET", "/me", nil, "Authorization", "Bearer "+access), http.StatusOK)
	wantStatus(t, api.do(t, "POST", "/refresh", map[string]string{"refresh_token": refresh}), http.StatusOK)
	wantProblem(t, api.do(t, "POST", "/refresh", map[string]string{"refresh_token": "nonsense"}), http.StatusUnauthorized, "invalid_token")
	wantStatus(t, api.do(t, "POST", "/resend-activation", map[string]string{"email": "someone@example.com"}), http.StatusNotFound)
	wantProblem(t, api.do(t, "POST", "/resend-activation", map[string]string{"email": "someone@example.com"}), http.StatusTooManyRequests, "too_many_requests")
	wantProblem(t, api.do(t, "GET", "/no/such/route", nil), http.StatusNotFound, "not_found")

	after := api.scrape(t)
	checks := []struct {
		family string
		labels map[string]string
		want   float64
	}{
		{"authapi_signups_total", nil, 1},
		{"authapi_logins_total", map[string]string{"outcome": "success"}, 1},
		{"authapi_logins_total", map[string]string{"outcome": "wrong_password"}, 1},
		{"authapi_refreshes_total", map[string]string{"result": "ok"}, 1},
		{"authapi_refreshes_total", map[string]string{"result": "refused"}, 1},
		{"authapi_limit_rejections_total", map[string]string{"limit": "resend_per_ip"}, 1},
		{"authapi_http_requests_total", map[string]string{"route": "/me", "method": "GET", "status": "200"}, 2},
		{"authapi_http_requests_total", map[string]string{"route": "/login", "status": "401"}, 1},
		{"authapi_http_requests_total", map[string]string{"route": "unmatched", "status": "404"}, 1},
		{"authapi_http_request_duration_seconds", map[string]string{"route": "/me"}, 2},
		// signup, two logins: three hashes waited (for nothing) for a slot
		{"authapi_password_hash_wait_seconds", nil, 3},
	}
	for _, c := range checks {
		if got := seriesValue(after, c.family, c.labels) - seriesValue(before, c.family, c.labels); got != c.want {
			t.Errorf("%s%v moved by %v, want %v", c.family, c.labels, got, c.want)
		}
	}
	for _, family := range []string{"authapi_password_hash_queue_length", "authapi_mail_pending", "authapi_mail_dead",
		"authapi_mail_oldest_pending_seconds", "authapi_db_connections_open", "go_goroutines", "process_resident_memory_bytes"} {
		if _, ok := after[family]; !ok {
			t.Errorf("no %s", family)
		}
	}
	if seriesValue(after, "authapi_db_connections_max", nil) < 1 {
		t.Error("the pool's size is not reported")
	}
	// The path a client sends never becomes a label.
	for _, m := range after["authapi_http_requests_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if strings.Contains(l.GetValue(), "no/such") {
				t.Errorf("a client's path became a label: %s", l.GetValue())
			}
		}
	}
}

// TestMetricsAreOffByDefault: without AUTH_METRICS_ADDR nothing is served,
// and the public routes have no /metrics.
func TestMetricsAreOffByDefault(t *testing.T) {
	api := newTestAPI(t)
	if api.metrics != nil {
		t.Error("metrics are served though AUTH_METRICS_ADDR is empty")
	}
	wantProblem(t, api.do(t, "GET", "/metrics", nil), http.StatusNotFound, "not_found")
	on := newTestAPI(t, withMetrics)
	wantProblem(t, on.do(t, "GET", "/metrics", nil), http.StatusNotFound, "not_found")
}
