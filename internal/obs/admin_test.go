package obs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/safehub/safehub/internal/cache"
	"github.com/safehub/safehub/internal/gateway"
	"github.com/safehub/safehub/internal/upstream"
)

func fetch(t *testing.T, h http.Handler, method, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	resp := rec.Result()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func newTestAdmin(t *testing.T, cfg AdminConfig) *Admin {
	t.Helper()
	if cfg.Monitor == nil {
		cfg.Monitor = NewMonitor(0)
	}
	a, err := NewAdmin(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestHealthzAnswersWhileTheProcessRuns(t *testing.T) {
	a := newTestAdmin(t, AdminConfig{Upstream: func(context.Context) error { return errors.New("down") }})
	resp, body := fetch(t, a, "GET", "/healthz")
	if resp.StatusCode != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q, want 200 ok even with the upstream down", resp.StatusCode, body)
	}
}

func TestReadyzNeedsTheUpstreamOrACacheWithBlobs(t *testing.T) {
	down := func(context.Context) error { return errors.New("dial tcp: connection refused") }
	up := func(context.Context) error { return nil }
	usage := func(n int64, err error) func(context.Context) (int64, error) {
		return func(context.Context) (int64, error) { return n, err }
	}
	for _, c := range []struct {
		name     string
		probe    Probe
		usage    func(context.Context) (int64, error)
		want     int
		contains string
	}{
		{"upstream up, no cache", up, nil, 200, "upstream: ok, answered in"},
		{"upstream up, empty cache", up, usage(0, nil), 200, "cache: not ok, empty"},
		{"upstream down, cache with blobs", down, usage(5<<30, nil), 200, "cache: ok, holds 5.0 GiB"},
		{"upstream down, empty cache", down, usage(0, nil), 503, "connection refused"},
		{"upstream down, unreadable cache", down, usage(0, errors.New("permission denied")), 503, "unreadable: permission denied"},
		{"no probe, no cache", nil, nil, 503, "next: check that the upstream"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := newTestAdmin(t, AdminConfig{Upstream: c.probe, Cache: CacheInfo{Usage: c.usage}})
			resp, body := fetch(t, a, "GET", "/readyz")
			if resp.StatusCode != c.want || !strings.Contains(body, c.contains) {
				t.Errorf("/readyz = %d\n%s\nwant %d containing %q", resp.StatusCode, body, c.want, c.contains)
			}
		})
	}
}

func TestReadyzReusesTheProbeAndSetsUpstreamUp(t *testing.T) {
	var calls atomic.Int32
	mon := NewMonitor(0)
	a := newTestAdmin(t, AdminConfig{Monitor: mon, Upstream: func(context.Context) error { calls.Add(1); return nil }})
	for range 20 {
		if resp, _ := fetch(t, a, "GET", "/readyz"); resp.StatusCode != 200 {
			t.Fatalf("/readyz = %d", resp.StatusCode)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("probe ran %d times for 20 polls within %s, want 1", n, probeTTL)
	}
	if v := testutil.ToFloat64(mon.Metrics.upstreamUp); v != 1 {
		t.Errorf("safehub_upstream_up = %v, want 1", v)
	}
}

func TestReadyzDoesNotHangOnAProbeThatIgnoresItsContext(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	a := newTestAdmin(t, AdminConfig{Upstream: func(context.Context) error { <-block; return nil }})
	start := time.Now()
	resp, body := fetch(t, a, "GET", "/readyz")
	if took := time.Since(start); took > probeTimeout+2*time.Second {
		t.Errorf("/readyz took %s with a hung probe, want about %s", took, probeTimeout)
	}
	if resp.StatusCode != 503 || !strings.Contains(body, "no answer within") {
		t.Errorf("/readyz = %d %q", resp.StatusCode, body)
	}
}

func TestUpstreamProbeAgainstARealHTTPUpstream(t *testing.T) {
	var status atomic.Int32
	var path atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path.Store(r.URL.Path)
		if r.Header.Get("Authorization") != "" {
			t.Error("the probe must not send a token")
		}
		w.WriteHeader(int(status.Load()))
	}))
	defer srv.Close()
	up, err := upstream.New(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	probe := UpstreamProbe(up)
	status.Store(401) // the Hub's answer without a token: reachable
	if err := probe(t.Context()); err != nil || path.Load() != "/api/whoami-v2" {
		t.Errorf("401 from /api/whoami-v2: %v (path %v), want reachable", err, path.Load())
	}
	status.Store(503)
	if err := probe(t.Context()); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("503: %v, want an error naming it", err)
	}
	srv.Close()
	if err := probe(t.Context()); err == nil {
		t.Error("closed upstream: no error")
	}
}

func TestMetricsEndpointServesGatewayAndCacheSeries(t *testing.T) {
	mon := NewMonitor(0)
	stats := cache.Stats{Hits: 7, Fills: 3, Failures: 1, Commits: 2}
	var usageCalls atomic.Int32
	a := newTestAdmin(t, AdminConfig{Monitor: mon, Cache: CacheInfo{
		Stats:    func() cache.Stats { return stats },
		Usage:    func(context.Context) (int64, error) { usageCalls.Add(1); return 4096, nil },
		MaxBytes: 1 << 20,
	}})
	mon.Observe(gateway.Event{Route: "resolve", Decision: "refuse", Status: 404, Rule: "default:pickle-names"})
	resp, body := fetch(t, a, "GET", "/metrics")
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics = %d", resp.StatusCode)
	}
	for _, want := range []string{
		`safehub_requests_total{code="4xx",decision="refuse",route="resolve"} 1`,
		`safehub_refusals_total{mode="enforce",rule="default:pickle-names",verdict="-"} 1`,
		"safehub_cache_hits_total 7", "safehub_cache_fills_total 3", "safehub_cache_fill_failures_total 1",
		"safehub_cache_commits_total 2", "safehub_cache_stored_bytes 4096", "safehub_cache_max_bytes 1.048576e+06",
		"go_goroutines", "process_", "promhttp_metric_handler_requests_total",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	fetch(t, a, "GET", "/metrics")
	if n := usageCalls.Load(); n != 1 {
		t.Errorf("store usage read %d times for 2 scrapes within %s, want 1", n, usageTTL)
	}
}

func TestCacheSizeLeftOutWhenUnreadable(t *testing.T) {
	a := newTestAdmin(t, AdminConfig{Cache: CacheInfo{Usage: func(context.Context) (int64, error) { return 0, errors.New("EIO") }}})
	_, body := fetch(t, a, "GET", "/metrics")
	if strings.Contains(body, "safehub_cache_stored_bytes") {
		t.Error("an unreadable store was reported with a size")
	}
}

func TestNewAdminErrorsSayWhatToDo(t *testing.T) {
	if _, err := NewAdmin(AdminConfig{}); err == nil || !strings.Contains(err.Error(), "obs.NewMonitor") {
		t.Errorf("no monitor: %v", err)
	}
	mon := NewMonitor(0)
	newTestAdmin(t, AdminConfig{Monitor: mon})
	if _, err := NewAdmin(AdminConfig{Monitor: mon}); err == nil || !strings.Contains(err.Error(), "called twice") {
		t.Errorf("second admin on one monitor: %v", err)
	}
}

func TestAdminRoutesAndHeaders(t *testing.T) {
	a := newTestAdmin(t, AdminConfig{})
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/", 200}, {"HEAD", "/", 200}, {"GET", "/nope", 404}, {"POST", "/", 405}, {"POST", "/metrics", 405},
	} {
		resp, _ := fetch(t, a, c.method, c.path)
		if resp.StatusCode != c.want {
			t.Errorf("%s %s = %d, want %d", c.method, c.path, resp.StatusCode, c.want)
		}
	}
	resp, _ := fetch(t, a, "GET", "/")
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP = %q", csp)
	}
	if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("headers = %v", resp.Header)
	}
}

func TestListenAndServeStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	ln, err := newLoopbackListener()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, newTestAdmin(t, AdminConfig{}), nil, time.Second) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz over TCP: %v", err)
	}
	resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
	if err := ListenAndServe(t.Context(), "256.0.0.1:1", nil, nil, time.Second); err == nil || !strings.Contains(err.Error(), "--admin-listen") {
		t.Errorf("bad address: %v, want a hint about --admin-listen", err)
	}
}

// TestConcurrentObserveScrapeAndRender is for -race: requests are observed
// on many goroutines while Prometheus scrapes and a person reloads the page.
func TestConcurrentObserveScrapeAndRender(t *testing.T) {
	mon := NewMonitor(8)
	a := newTestAdmin(t, AdminConfig{Monitor: mon, Cache: CacheInfo{Stats: func() cache.Stats { return cache.Stats{Hits: 1} }}})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				mon.Observe(gateway.Event{Time: time.Now(), Route: "resolve", Status: 404, Decision: "refuse",
					Repo: fmt.Sprintf("org/m%d", (g*200+i)%30), File: "x.bin", Rule: "r", Reason: "why", Bytes: 1})
			}
		})
	}
	for range 10 {
		fetch(t, a, "GET", "/metrics")
		fetch(t, a, "GET", "/")
	}
	wg.Wait()
	if tot := mon.Recent.Totals(); tot.Requests != 800 || tot.Refused != 800 || len(mon.Recent.Refusals()) != 8 {
		t.Errorf("totals %+v, %d refusals kept", tot, len(mon.Recent.Refusals()))
	}
	if got := testutil.ToFloat64(mon.Metrics.refusals.WithLabelValues("r", "-", "enforce")); got != 800 {
		t.Errorf("refusals metric = %v, want 800", got)
	}
}
