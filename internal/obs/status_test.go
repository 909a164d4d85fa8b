package obs

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/safehub/safehub/internal/gateway"
	"github.com/safehub/safehub/internal/humanize"
	"github.com/safehub/safehub/internal/policy"
)

func newLoopbackListener() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

func TestStatusPageShowsRefusalsReposCacheAndPolicy(t *testing.T) {
	s := newStack(t)
	s.traffic(t)
	st := s.cache.Stats()
	if st.Hits != 1 || st.Fills < 1 {
		t.Fatalf("cache stats %+v, want the repeated safetensors download as the one hit", st)
	}
	rate := fmt.Sprintf("%.1f%%", 100*float64(st.Hits)/float64(st.Hits+st.Fills))
	resp, body := fetch(t, s.admin, "GET", "/")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("/ = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		// refusals: file, rule and the reason text a person needs
		"pytorch_model.bin", "default:pickle-names", "pickle-based weights can run code when loaded",
		"tokenizer.model", "evil-org/backdoor", "this repo is blocked on this server",
		"data.pkl", "dataset", "token " + gateway.TokenHash("Bearer hf_alice"),
		// repos, cache, policy
		"acme/bert-base", "lab/tiny-llm", "Cache hit rate", rate, fmt.Sprintf("%d hits, %d misses", st.Hits, st.Fills),
		"Mode: enforce", "/etc/safehub/policy.yaml", "block-known-bad", "refused like any pickle",
		"Ready", "folder /srv/hub-mirror",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("status page lacks %q", want)
		}
	}
	if strings.Contains(body, "hf_alice") {
		t.Error("status page shows a token")
	}
	if got := strings.Count(body, `<tr class="refusal">`); got != 4 {
		t.Errorf("refusal rows = %d, want 4", got)
	}
}

func TestStatusPageEscapesWhatClientsSent(t *testing.T) {
	mon := NewMonitor(0)
	a := newTestAdmin(t, AdminConfig{Monitor: mon})
	mon.Observe(gateway.Event{Time: time.Now(), Decision: "refuse", Status: 404, Repo: "org/<b>x</b>",
		File: `<script>alert(1)</script>.bin`, Reason: `"><img src=x onerror=alert(1)>`})
	_, body := fetch(t, a, "GET", "/")
	for _, bad := range []string{"<script>alert", "<img src=x", "<b>x</b>"} {
		if strings.Contains(body, bad) {
			t.Errorf("status page contains unescaped %q", bad)
		}
	}
	if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;.bin") {
		t.Error("escaped file name missing")
	}
}

func TestStatusPageInAuditModeSaysNothingIsRefused(t *testing.T) {
	pol, err := policy.Parse([]byte("mode: audit\nweights_only_pickles: true\n"), "audit.yaml")
	if err != nil {
		t.Fatal(err)
	}
	mon := NewMonitor(0)
	a := newTestAdmin(t, AdminConfig{Monitor: mon, Policy: pol, Upstream: func(context.Context) error { return nil }})
	mon.Observe(gateway.Event{Time: time.Now(), Decision: "audit-refuse", Status: 200, Repo: "org/m", File: "x.pt", Rule: "default:pickle-names"})
	_, body := fetch(t, a, "GET", "/")
	for _, want := range []string{"Mode: audit (nothing is refused", "audit only", "1 more would be in enforce mode", "accepted</span> when the scanner proves"} {
		if !strings.Contains(body, want) {
			t.Errorf("audit page lacks %q", want)
		}
	}
}

func TestStatusPageWhenEmptyAndNotReady(t *testing.T) {
	a := newTestAdmin(t, AdminConfig{Upstream: func(context.Context) error { return context.DeadlineExceeded }})
	_, body := fetch(t, a, "GET", "/")
	for _, want := range []string{"Not ready", "Nothing refused since start.", "No repo requested since start.", "no cache configured", "unreachable"} {
		if !strings.Contains(body, want) {
			t.Errorf("empty page lacks %q", want)
		}
	}
}

func TestHumanNumbers(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 5 << 30: "5.0 GiB", 3 << 40: "3.0 TiB"} {
		if got := humanize.Bytes(n); got != want {
			t.Errorf("humanize.Bytes(%d) = %q, want %q", n, got, want)
		}
	}
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := humanCount(n); got != want {
			t.Errorf("humanCount(%d) = %q, want %q", n, got, want)
		}
	}
	for d, want := range map[time.Duration]string{0: "just now", 42 * time.Second: "42s ago", 5 * time.Minute: "5m ago", 3 * time.Hour: "3h ago", 72 * time.Hour: "3d ago"} {
		if got := humanAge(d); got != want {
			t.Errorf("humanAge(%s) = %q, want %q", d, got, want)
		}
	}
}
