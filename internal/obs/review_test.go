package obs

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/safehub/safehub/internal/gateway"
)

// Repo ids, file names, reasons and client strings come from requests; the
// status page must show them as text, never as markup.
func TestReviewStatusPageEscapesAttackerStrings(t *testing.T) {
	mon := NewMonitor(0)
	payload := `"><script>alert(1)</script><img src=x onerror=alert(2)>`
	mon.Observe(gateway.Event{Time: time.Now(), Route: "resolve", Decision: "refuse", Status: 404,
		RepoType: "dataset" + payload, Repo: "org/" + payload, File: payload + ".bin", Rule: "r" + payload,
		Reason: payload, Client: payload, TokenHash: payload, Verdict: "malicious"})
	a := newTestAdmin(t, AdminConfig{Monitor: mon, UpstreamName: payload, Version: payload,
		Upstream: func(context.Context) error { return fmt.Errorf("err %s", payload) }})
	resp, body := fetch(t, a, "GET", "/")
	if resp.StatusCode != 200 {
		t.Fatalf("status page: %d", resp.StatusCode)
	}
	for _, bad := range []string{"<script>", "<img"} {
		if strings.Contains(strings.ToLower(body), bad) {
			t.Errorf("status page carries raw %q", bad)
		}
	}
	if !strings.Contains(body, "&lt;script&gt;") && !strings.Contains(body, "&lt;script>") {
		t.Errorf("expected the payload escaped on the page")
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP = %q", csp)
	}
}

// Rules and formats are capped; routes come from the router's fixed set.
// Thousands of distinct rule/format values must not make thousands of series.
func TestReviewMetricsLabelCardinalityBounded(t *testing.T) {
	m := NewMetrics()
	for i := range 2000 {
		m.Observe(gateway.Event{Route: "resolve", Decision: "refuse", Status: 404,
			Rule: fmt.Sprintf("rule-%d", i), Format: fmt.Sprintf("fmt-%d", i), ScanTime: time.Millisecond, Verdict: "malicious"})
	}
	if n := testutil.CollectAndCount(m.refusals); n > maxLabelValues+1 {
		t.Errorf("safehub_refusals_total has %d series", n)
	}
	if n := testutil.CollectAndCount(m.scanTime); n > maxLabelValues+1 {
		t.Errorf("safehub_scan_duration_seconds has %d series", n)
	}
	// Invalid UTF-8 in a label must not panic (Observe runs on the request goroutine).
	m.Observe(gateway.Event{Route: "\xff\xfe", Decision: "refuse", Rule: "\xff", Verdict: "\xc3"})
}

// /readyz polled by a load balancer that gives up early (cancels its
// request) must not make the gateway look down to the next caller: the
// cancelled probe's "context canceled" is cached for probeTTL and served to
// everyone.
func TestReview_ReadyzCancelledCallerPoisonsCachedProbe(t *testing.T) {
	probe := func(ctx context.Context) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
			return nil
		}
	}
	a := newTestAdmin(t, AdminConfig{Upstream: probe})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequest("GET", "/readyz", nil).WithContext(ctx)
	a.ServeHTTP(httptest.NewRecorder(), req)

	resp, body := fetch(t, a, "GET", "/readyz")
	if resp.StatusCode != 200 {
		t.Errorf("/readyz after an earlier caller hung up = %d %q; the upstream is fine (probe the upstream with a context not tied to one caller)", resp.StatusCode, body)
	}
}

// /readyz answers within the probe timeout even when the probe ignores its context.
func TestReviewReadyzBoundedWithHungProbe(t *testing.T) {
	a := newTestAdmin(t, AdminConfig{Upstream: func(context.Context) error { time.Sleep(10 * time.Second); return nil }})
	start := time.Now()
	resp, body := fetch(t, a, "GET", "/readyz")
	if time.Since(start) > probeTimeout+time.Second || resp.StatusCode != 503 || !strings.Contains(body, "next:") {
		t.Errorf("/readyz with a hung probe: %d %q after %s", resp.StatusCode, body, time.Since(start))
	}
}
