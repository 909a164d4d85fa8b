// Package obs is safehub's operations side: Prometheus metrics fed from the
// gateway's per-request Events, the state behind the admin status page, and
// the admin HTTP handler (/metrics, /healthz, /readyz, /) that serve runs on
// its own listener (--admin-listen), away from the users' Hub traffic.
//
// Series (all on the Monitor's own registry, plus go_* and process_*):
//
//	safehub_requests_total{route,decision,code}     requests; code is the status class (2xx..5xx)
//	safehub_request_duration_seconds{route}         arrival to end of answer, downloads included
//	safehub_served_bytes_total{route}               body bytes sent to clients
//	safehub_refusals_total{rule,verdict,mode}       refused (mode=enforce) or would-be (mode=audit)
//	safehub_upstream_duration_seconds{route}        time to the upstream's metadata answer
//	safehub_scan_duration_seconds{format}           content check time
//	safehub_cache_requests_total{result}            per request: hit, fill, bypass
//	safehub_cache_{hits,fills,fill_failures,commits,commit_errors}_total   cache.Stats at scrape time
//	safehub_cache_stored_bytes, safehub_cache_max_bytes                    store usage and --cache-max
//	safehub_upstream_up                             last readiness probe: 1 reached, 0 failed
//
// Refusal reasons are free text (scanner findings), so they are not a label:
// the status page lists them for the last refusals instead.
package obs

import (
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/safehub/safehub/internal/gateway"
)

// Explicit histogram buckets, in seconds. Upstream answers are metadata
// (HEAD, API JSON), scans read only the pickle parts of a file, requests
// include multi-GB downloads, so each gets a range that fits it.
var (
	upstreamBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	scanBuckets     = []float64{.0005, .001, .005, .01, .05, .1, .5, 1, 5, 30, 120}
	requestBuckets  = []float64{.005, .01, .05, .1, .5, 1, 5, 30, 120, 600, 1800}
)

// maxLabelValues caps the distinct values one free-ish label (rule, format)
// may take; later values are counted as "other" so that a policy with many
// rules or an odd scanner format cannot blow up the series count.
const maxLabelValues = 64

// Metrics holds safehub's Prometheus series on its own registry. A nil
// *Metrics is valid and records nothing, so tests and tools can leave
// metrics out. Safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	requests      *prometheus.CounterVec
	requestTime   *prometheus.HistogramVec
	servedBytes   *prometheus.CounterVec
	cacheRequests *prometheus.CounterVec
	upstreamTime  *prometheus.HistogramVec
	scanTime      *prometheus.HistogramVec
	refusals      *prometheus.CounterVec
	upstreamUp    prometheus.Gauge

	rules, formats labelSet
}

// NewMetrics creates the series on a new registry, together with the Go
// runtime and process collectors.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "safehub_requests_total",
			Help: "Requests answered by the gateway, by route (resolve, tree, repo-info, ...), decision (allow, refuse, audit-refuse, upstream-error, ...) and status class (2xx, 4xx, 5xx).",
		}, []string{"route", "decision", "code"}),
		requestTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "safehub_request_duration_seconds",
			Help:    "Time from a request's arrival to the end of its answer (downloads included), by route.",
			Buckets: requestBuckets,
		}, []string{"route"}),
		servedBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "safehub_served_bytes_total",
			Help: "Body bytes sent to clients, by route.",
		}, []string{"route"}),
		cacheRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "safehub_cache_requests_total",
			Help: "File requests by how the blob cache answered them: hit (from disk), fill (fetched from the upstream), bypass (not cached).",
		}, []string{"result"}),
		upstreamTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "safehub_upstream_duration_seconds",
			Help:    "Time to the upstream's metadata answer, by route.",
			Buckets: upstreamBuckets,
		}, []string{"route"}),
		scanTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "safehub_scan_duration_seconds",
			Help:    "Time spent on a file's content check, by detected format.",
			Buckets: scanBuckets,
		}, []string{"format"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "safehub_refusals_total",
			Help: "Files refused (mode=enforce) or that would be refused (mode=audit), by policy rule and content verdict. The reason text of recent refusals is on the status page.",
		}, []string{"rule", "verdict", "mode"}),
		upstreamUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "safehub_upstream_up",
			Help: "1 when the last readiness probe reached the upstream, 0 when it failed.",
		}),
	}
	reg.MustRegister(m.requests, m.requestTime, m.servedBytes, m.cacheRequests,
		m.upstreamTime, m.scanTime, m.refusals, m.upstreamUp,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is where the series live; the admin handler serves it, and
// callers may register more collectors on it.
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}

// Observe records one gateway Event. It takes microseconds and never
// blocks on I/O: it runs on the request's goroutine.
func (m *Metrics) Observe(ev gateway.Event) {
	if m == nil {
		return
	}
	route := orDash(ev.Route)
	m.requests.WithLabelValues(route, orDash(ev.Decision), statusClass(ev.Status)).Inc()
	if ev.Duration > 0 {
		m.requestTime.WithLabelValues(route).Observe(ev.Duration.Seconds())
	}
	if ev.Bytes > 0 {
		m.servedBytes.WithLabelValues(route).Add(float64(ev.Bytes))
	}
	if ev.Cache != "" {
		m.cacheRequests.WithLabelValues(orDash(ev.Cache)).Inc()
	}
	if ev.UpstreamTime > 0 {
		m.upstreamTime.WithLabelValues(route).Observe(ev.UpstreamTime.Seconds())
	}
	if ev.ScanTime > 0 {
		m.scanTime.WithLabelValues(m.formats.limit(orDash(ev.Format))).Observe(ev.ScanTime.Seconds())
	}
	if mode := refusalMode(ev.Decision); mode != "" {
		m.refusals.WithLabelValues(m.rules.limit(orDash(ev.Rule)), orDash(ev.Verdict), mode).Inc()
	}
}

// setUpstreamUp records the outcome of a readiness probe.
func (m *Metrics) setUpstreamUp(ok bool) {
	if m == nil {
		return
	}
	if ok {
		m.upstreamUp.Set(1)
	} else {
		m.upstreamUp.Set(0)
	}
}

// refusalMode is "enforce" for a refused request, "audit" for one that
// audit mode let through but would have refused, "" otherwise.
func refusalMode(decision string) string {
	switch decision {
	case "refuse":
		return "enforce"
	case "audit-refuse":
		return "audit"
	}
	return ""
}

func statusClass(status int) string {
	if status < 100 || status > 599 {
		return "other"
	}
	return strconv.Itoa(status/100) + "xx"
}

// orDash makes s a label value: "-" for empty, and never invalid UTF-8 or
// long, because WithLabelValues panics on invalid UTF-8 and Observe runs
// on a request's goroutine.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	if len(s) > 128 {
		s = s[:128]
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// labelSet admits the first maxLabelValues distinct values of a label and
// maps the rest to "other".
type labelSet struct {
	mu   sync.Mutex
	seen map[string]struct{}
}

func (l *labelSet) limit(v string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.seen[v]; ok {
		return v
	}
	if len(l.seen) >= maxLabelValues {
		return "other"
	}
	if l.seen == nil {
		l.seen = make(map[string]struct{})
	}
	l.seen[v] = struct{}{}
	return v
}
