// Package metrics exposes the service's Prometheus metrics, with the
// official client library, in a registry of its own: HTTP requests by
// route and status with their latency, logins by outcome, signups,
// refreshes, limit rejections, the password-hash queue, the mail outbox, the
// database's connections, and the Go runtime's and the process's own.
//
// Everything on the request path is a counter increment or a histogram
// observation on series resolved once per label values and kept; what
// costs a query (the outbox, the pool) is read only when Prometheus
// scrapes.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"authapi/ports"
)

const namespace = "authapi"

// Metrics holds the service's metrics and the registry that serves them.
type Metrics struct {
	registry *prometheus.Registry

	requests   *prometheus.CounterVec
	durations  *prometheus.HistogramVec
	logins     *prometheus.CounterVec
	signups    prometheus.Counter
	refreshes  *prometheus.CounterVec
	rejections *prometheus.CounterVec
	hashWaits  prometheus.Histogram

	// series holds the requests' series by requestKey, resolved on first
	// use: a lookup by label values hashes and locks on every call.
	series sync.Map
}

// requestKey is the label values of a request's series. Each part comes
// from a bounded set: route patterns, the methods HTTP defines, and the
// statuses the handlers answer with.
type requestKey struct {
	route, method string
	status        int
}

// requestSeries are a request's counter and histogram.
type requestSeries struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

// New returns the metrics, registered with the Go runtime's and the
// process's collectors.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "http_requests_total",
			Help: "HTTP requests answered, by route (the route's pattern, not the path), method and status.",
		}, []string{"route", "method", "status"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "http_request_duration_seconds",
			Help:    "Time from the request's arrival to its answer, by route and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "logins_total",
			Help: "Logins by outcome: success, or why they failed (wrong_password, unknown_email, not_active, disabled, locked, limited).",
		}, []string{"outcome"}),
		signups: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "signups_total", Help: "Accounts created.",
		}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "refreshes_total", Help: "Token refreshes by result: ok or refused.",
		}, []string{"result"}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "limit_rejections_total",
			Help: "Requests refused by an abuse limit, by limit.",
		}, []string{"limit"}),
		hashWaits: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "password_hash_wait_seconds",
			Help:    "Time a password hash waited for a free hashing slot.",
			Buckets: []float64{0, .001, .01, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
	}
	m.registry.MustRegister(
		m.requests, m.durations, m.logins, m.signups, m.refreshes, m.rejections, m.hashWaits,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Handler serves the metrics in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// ObserveRequest counts and times a request by its route's pattern (not
// its path, so that the labels stay few whatever paths clients send) and
// its method, which is OTHER for a method HTTP does not define, since a
// client may send any token there.
func (m *Metrics) ObserveRequest(route, method string, status int, took time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	key := requestKey{route: route, method: knownMethod(method), status: status}
	v, ok := m.series.Load(key)
	if !ok {
		v, _ = m.series.LoadOrStore(key, &requestSeries{
			count:    m.requests.WithLabelValues(key.route, key.method, strconv.Itoa(status)),
			duration: m.durations.WithLabelValues(key.route, key.method),
		})
	}
	s := v.(*requestSeries)
	s.count.Inc()
	s.duration.Observe(took.Seconds())
}

// knownMethod is method if HTTP defines it, and OTHER otherwise.
func knownMethod(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return method
	}
	return "OTHER"
}

// LoginOutcome counts a login by outcome.
func (m *Metrics) LoginOutcome(outcome string) { m.logins.WithLabelValues(outcome).Inc() }

// SignedUp counts an account created.
func (m *Metrics) SignedUp() { m.signups.Inc() }

// Refreshed counts a refresh by result.
func (m *Metrics) Refreshed(ok bool) {
	result := "refused"
	if ok {
		result = "ok"
	}
	m.refreshes.WithLabelValues(result).Inc()
}

// LimitRejected counts a request that limit refused.
func (m *Metrics) LimitRejected(limit string) { m.rejections.WithLabelValues(limit).Inc() }

// HashWaited records how long a password hash waited for a slot.
func (m *Metrics) HashWaited(d time.Duration) { m.hashWaits.Observe(d.Seconds()) }

// WatchHashQueue reports the number of hashes waiting, as waiting tells it.
func (m *Metrics) WatchHashQueue(waiting func() int) {
	m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: namespace, Name: "password_hash_queue_length",
		Help: "Password hashes waiting for a free hashing slot.",
	}, func() float64 { return float64(waiting()) }))
}

// MailStats tells the state of the outbox.
type MailStats interface {
	Stats(ctx context.Context) (ports.MailStats, error)
}

// DatabaseStats tells the state of the database's connections, without
// asking the database.
type DatabaseStats interface {
	Stats() ports.DatabaseStatus
}

// WatchOutbox reports the outbox when scraped.
func (m *Metrics) WatchOutbox(mail MailStats) {
	m.registry.MustRegister(&outboxCollector{mail: mail})
}

// WatchDatabase reports the database's connections when scraped.
func (m *Metrics) WatchDatabase(db DatabaseStats) {
	m.registry.MustRegister(&databaseCollector{db: db})
}

var (
	mailPendingDesc = prometheus.NewDesc(namespace+"_mail_pending", "Emails queued and not yet delivered.", nil, nil)
	mailDeadDesc    = prometheus.NewDesc(namespace+"_mail_dead", "Emails given up on, in the last 7 days.", nil, nil)
	mailOldestDesc  = prometheus.NewDesc(namespace+"_mail_oldest_pending_seconds", "Age of the oldest pending email; 0 when none is pending.", nil, nil)
	dbOpenDesc      = prometheus.NewDesc(namespace+"_db_connections_open", "Database connections open.", []string{"engine"}, nil)
	dbInUseDesc     = prometheus.NewDesc(namespace+"_db_connections_in_use", "Database connections serving a request.", []string{"engine"}, nil)
	dbMaxDesc       = prometheus.NewDesc(namespace+"_db_connections_max", "The most database connections the service opens.", []string{"engine"}, nil)
)

// outboxCollector reads the outbox at each scrape: one query, bounded by
// the scrape's own timeout.
type outboxCollector struct{ mail MailStats }

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- mailPendingDesc
	ch <- mailDeadDesc
	ch <- mailOldestDesc
}

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := c.mail.Stats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(mailPendingDesc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(mailPendingDesc, prometheus.GaugeValue, float64(st.Pending))
	ch <- prometheus.MustNewConstMetric(mailDeadDesc, prometheus.GaugeValue, float64(st.Dead))
	ch <- prometheus.MustNewConstMetric(mailOldestDesc, prometheus.GaugeValue, st.OldestPending.Seconds())
}

type databaseCollector struct{ db DatabaseStats }

func (c *databaseCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- dbOpenDesc
	ch <- dbInUseDesc
	ch <- dbMaxDesc
}

func (c *databaseCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.db.Stats()
	ch <- prometheus.MustNewConstMetric(dbOpenDesc, prometheus.GaugeValue, float64(st.Connections), st.Engine)
	ch <- prometheus.MustNewConstMetric(dbInUseDesc, prometheus.GaugeValue, float64(st.InUse), st.Engine)
	ch <- prometheus.MustNewConstMetric(dbMaxDesc, prometheus.GaugeValue, float64(st.MaxConnections), st.Engine)
}
