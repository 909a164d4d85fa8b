package obs

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/safehub/safehub/internal/gateway"
)

func TestMetricsCountRequestsByRouteDecisionAndStatusClass(t *testing.T) {
	m := NewMetrics()
	m.Observe(gateway.Event{Route: "resolve", Decision: "allow", Status: 200, Bytes: 1000, Cache: "fill"})
	m.Observe(gateway.Event{Route: "resolve", Decision: "allow", Status: 206, Bytes: 24, Cache: "hit"})
	m.Observe(gateway.Event{Route: "resolve", Decision: "refuse", Status: 404, Rule: "default:pickle-names"})
	m.Observe(gateway.Event{Route: "tree", Decision: "upstream-error", Status: 502})
	m.Observe(gateway.Event{Route: "api", Status: 200, Bytes: 10}) // no decision: whoami and the like

	for _, c := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"resolve", "allow", "2xx"}, 2},
		{[]string{"resolve", "refuse", "4xx"}, 1},
		{[]string{"tree", "upstream-error", "5xx"}, 1},
		{[]string{"api", "-", "2xx"}, 1},
	} {
		if got := testutil.ToFloat64(m.requests.WithLabelValues(c.labels...)); got != c.want {
			t.Errorf("safehub_requests_total%v = %v, want %v", c.labels, got, c.want)
		}
	}
	if got := testutil.ToFloat64(m.servedBytes.WithLabelValues("resolve")); got != 1024 {
		t.Errorf("served bytes for resolve = %v, want 1024", got)
	}
	if hit, fill := testutil.ToFloat64(m.cacheRequests.WithLabelValues("hit")), testutil.ToFloat64(m.cacheRequests.WithLabelValues("fill")); hit != 1 || fill != 1 {
		t.Errorf("cache requests hit=%v fill=%v, want 1 and 1", hit, fill)
	}
}

func TestMetricsRefusalsByRuleVerdictAndMode(t *testing.T) {
	m := NewMetrics()
	m.Observe(gateway.Event{Route: "resolve", Decision: "refuse", Status: 404, Rule: "default:pickle-content", Verdict: "unsafe", Reason: "calls posix.system"})
	m.Observe(gateway.Event{Route: "resolve", Decision: "refuse", Status: 404, Rule: "default:pickle-content", Verdict: "unsafe", Reason: "calls builtins.exec"})
	m.Observe(gateway.Event{Route: "resolve", Decision: "audit-refuse", Status: 200, Rule: "default:pickle-names"})
	m.Observe(gateway.Event{Route: "resolve", Decision: "allow", Status: 200})
	want := `
# HELP safehub_refusals_total Files refused (mode=enforce) or that would be refused (mode=audit), by policy rule and content verdict. The reason text of recent refusals is on the status page.
# TYPE safehub_refusals_total counter
safehub_refusals_total{mode="audit",rule="default:pickle-names",verdict="-"} 1
safehub_refusals_total{mode="enforce",rule="default:pickle-content",verdict="unsafe"} 2
`
	if err := testutil.CollectAndCompare(m.refusals, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

func TestMetricsLatencyHistogramsOnlyWhenMeasured(t *testing.T) {
	m := NewMetrics()
	m.Observe(gateway.Event{Route: "resolve", Status: 200, UpstreamTime: 30 * time.Millisecond, ScanTime: 2 * time.Millisecond, Format: "safetensors", Duration: time.Second})
	m.Observe(gateway.Event{Route: "resolve", Status: 200, UpstreamTime: 70 * time.Millisecond, Format: "safetensors"}) // cached verdict: no scan time
	m.Observe(gateway.Event{Route: "telemetry", Status: 200})                                                           // answered locally
	want := `
# HELP safehub_upstream_duration_seconds Time to the upstream's metadata answer, by route.
# TYPE safehub_upstream_duration_seconds histogram
safehub_upstream_duration_seconds_bucket{route="resolve",le="0.005"} 0
safehub_upstream_duration_seconds_bucket{route="resolve",le="0.01"} 0
safehub_upstream_duration_seconds_bucket{route="resolve",le="0.025"} 0
safehub_upstream_duration_seconds_bucket{route="resolve",le="0.05"} 1
safehub_upstream_duration_seconds_bucket{route="resolve",le="0.1"} 2
safehub_upstream_duration_seconds_bucket{route="resolve",le="0.25"} 2
safehub_upstream_duration_seconds_bucket{route="resolve",le="0.5"} 2
safehub_upstream_duration_seconds_bucket{route="resolve",le="1"} 2
safehub_upstream_duration_seconds_bucket{route="resolve",le="2.5"} 2
safehub_upstream_duration_seconds_bucket{route="resolve",le="5"} 2
safehub_upstream_duration_seconds_bucket{route="resolve",le="10"} 2
safehub_upstream_duration_seconds_bucket{route="resolve",le="30"} 2
safehub_upstream_duration_seconds_bucket{route="resolve",le="+Inf"} 2
safehub_upstream_duration_seconds_sum{route="resolve"} 0.1
safehub_upstream_duration_seconds_count{route="resolve"} 2
`
	if err := testutil.CollectAndCompare(m.upstreamTime, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(m.scanTime); n != 1 {
		t.Errorf("scan histogram series = %d, want 1 (only the measured scan)", n)
	}
	if n := testutil.CollectAndCount(m.requestTime); n != 1 {
		t.Errorf("request duration series = %d, want 1 (only the event with a duration)", n)
	}
}

func TestMetricsCapTheRulesLabel(t *testing.T) {
	m := NewMetrics()
	for i := range maxLabelValues + 10 {
		m.Observe(gateway.Event{Decision: "refuse", Status: 404, Rule: fmt.Sprintf("rule-%d", i)})
	}
	if n := testutil.CollectAndCount(m.refusals); n != maxLabelValues+1 {
		t.Errorf("refusal series = %d, want %d (the rest as other)", n, maxLabelValues+1)
	}
	if got := testutil.ToFloat64(m.refusals.WithLabelValues("other", "-", "enforce")); got != 10 {
		t.Errorf(`rule="other" = %v, want 10`, got)
	}
}

func TestMetricsFollowPrometheusNamingRules(t *testing.T) {
	m := NewMetrics()
	m.Observe(gateway.Event{Route: "resolve", Decision: "refuse", Status: 404, Bytes: 1, Cache: "hit", UpstreamTime: 1, ScanTime: 1, Duration: 1})
	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "safehub_") {
			t.Errorf("%s: %s", p.Metric, p.Text)
		}
	}
}

func TestNilRecordersRecordNothingAndDoNotPanic(t *testing.T) {
	var m *Metrics
	var r *Recent
	var mon *Monitor
	ev := gateway.Event{Route: "resolve", Decision: "refuse", Status: 404, Repo: "a/b"}
	m.Observe(ev)
	m.setUpstreamUp(true)
	r.Observe(ev)
	mon.Observe(ev)
	(&Monitor{}).Observe(ev) // a Monitor with neither part
	if m.Registry() != nil || r.Refusals() != nil || r.TopRepos(3) != nil || r.Totals() != (Totals{}) {
		t.Error("nil recorders returned data")
	}
}

func TestStatusClass(t *testing.T) {
	for in, want := range map[int]string{200: "2xx", 206: "2xx", 304: "3xx", 404: "4xx", 502: "5xx", 0: "other", 999: "other"} {
		if got := statusClass(in); got != want {
			t.Errorf("statusClass(%d) = %q, want %q", in, got, want)
		}
	}
}

// A label value that is not UTF-8 panics inside client_golang; found by
// FuzzStatusPageRendersClientText with a rule of "\x8a".
func TestMetricsSurviveInvalidUTF8Labels(t *testing.T) {
	m := NewMetrics()
	m.Observe(gateway.Event{Route: "resolve\xff", Decision: "refuse", Status: 404, Rule: "\x8a", Verdict: "\xfe", Format: "\xc3", ScanTime: 1, Cache: "\xff"})
	if got := testutil.ToFloat64(m.refusals.WithLabelValues("\uFFFD", "\uFFFD", "enforce")); got != 1 {
		t.Errorf("refusal with invalid UTF-8 rule recorded %v times, want 1", got)
	}
}
