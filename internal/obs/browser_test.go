//go:build browser

package obs

// The status page as a person sees it: headless Chromium (Debian's
// `chromium`) loads it from a real admin listener fed by real gateway
// traffic, the rendered DOM is checked for what the page must show, and a
// screenshot is kept as a test artifact. Run with test/browser/run.sh or
// `go test -tags browser ./internal/obs/`.

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/safehub/safehub/internal/gateway"
	"github.com/safehub/safehub/internal/humanize"
	"github.com/safehub/safehub/internal/policy"
	"github.com/safehub/safehub/internal/store"
)

const chromiumHint = "install it with: apt-get install -y chromium (or set SAFEHUB_CHROMIUM to a Chromium binary)"

func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SAFEHUB_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatalf("the browser test needs headless Chromium, which is not on PATH; %s", chromiumHint)
	return ""
}

// artifactsDir is SAFEHUB_ARTIFACTS, or test/artifacts at the repo root.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SAFEHUB_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "test", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifacts folder %s: %v", dir, err)
	}
	abs, _ := filepath.Abs(dir)
	return abs
}

// runChromium runs one headless Chromium with a throw-away profile and
// nothing that phones home, and returns its stdout.
func runChromium(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir=" + t.TempDir(), "--window-size=1280,900"}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, tail(stderr.String(), 2000))
	}
	return stdout.Bytes()
}

var (
	tagRE   = regexp.MustCompile(`(?s)<[^>]*>`)
	spaceRE = regexp.MustCompile(`\s+`)
)

// visibleText strips the tags from an HTML fragment: roughly what a
// person reads.
func visibleText(fragment string) string {
	s := tagRE.ReplaceAllString(fragment, " ")
	for _, r := range [][2]string{{"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", `"`}, {"&#39;", "'"}, {"&nbsp;", " "}} {
		s = strings.ReplaceAll(s, r[0], r[1])
	}
	return strings.TrimSpace(spaceRE.ReplaceAllString(s, " "))
}

// element returns the outer HTML of the first <tag> with id ("" for the
// first <tag>), up to its matching closing tag.
func element(t *testing.T, dom, tag, id string) string {
	t.Helper()
	open := "<" + tag
	if id != "" {
		open += ` id="` + id + `"`
	}
	start := strings.Index(dom, open)
	if start < 0 {
		t.Fatalf("rendered page has no %s", open)
	}
	depth, i := 0, start
	for i < len(dom) {
		next := strings.Index(dom[i:], "<")
		if next < 0 {
			break
		}
		i += next
		switch rest := dom[i:]; {
		case strings.HasPrefix(rest, "</"+tag+">"):
			depth--
			i += len(tag) + 3
			if depth == 0 {
				return dom[start:i]
			}
		case strings.HasPrefix(rest, "<"+tag+">") || strings.HasPrefix(rest, "<"+tag+" "):
			depth++
			i++
		default:
			i++
		}
	}
	t.Fatalf("%s is not closed", open)
	return ""
}

func TestStatusPageInHeadlessChromium(t *testing.T) {
	bin := chromiumPath(t)
	s := newStack(t)
	s.traffic(t)
	url := serveAdmin(t, s.admin)

	dom := string(runChromium(t, bin, "--dump-dom", url))
	if !strings.Contains(dom, "<title>safehub status</title>") {
		t.Fatalf("Chromium did not render the status page:\n%s", tail(dom, 1500))
	}

	// Recent refusals: one row per refused file, each with its reason.
	refusals := element(t, dom, "section", "refusals")
	rows := regexp.MustCompile(`(?s)<tr class="refusal">.*?</tr>`).FindAllString(refusals, -1)
	if len(rows) != 4 {
		t.Fatalf("refusal rows = %d, want 4:\n%s", len(rows), visibleText(refusals))
	}
	wantRows := []string{ // newest first
		"lab/corpus data.pkl default:pickle-names pickle-based weights can run code when loaded token " + gateway.TokenHash("Bearer hf_carol"),
		"evil-org/backdoor config.json block-known-bad this repo is blocked on this server no token",
		"lab/tiny-llm tokenizer.model default:unsafe-content",
		"acme/bert-base pytorch_model.bin default:pickle-names pickle-based weights can run code when loaded token " + gateway.TokenHash("Bearer hf_alice"),
	}
	for i, want := range wantRows {
		if got := visibleText(rows[i]); !strings.Contains(got, want) {
			t.Errorf("refusal row %d reads\n  %q\nwant it to contain\n  %q", i+1, got, want)
		}
	}
	if got := visibleText(rows[2]); !strings.Contains(got, "(content: unsafe)") {
		t.Errorf("the content refusal does not show its verdict: %q", got)
	}

	// Most requested repos, most requested first.
	repos := visibleText(element(t, dom, "section", "repos"))
	if !regexp.MustCompile(`acme/bert-base model 5 1 .*lab/tiny-llm model 2 1 `).MatchString(repos) {
		t.Errorf("repos table reads %q", repos)
	}

	// Cache numbers, from the real cache and disk store.
	st := s.cache.Stats()
	held, err := store.Usage(t.Context(), s.st)
	if err != nil || held < int64(len(s.st8)) {
		t.Fatalf("store holds %d bytes (%v), want at least the safetensors file", held, err)
	}
	size := visibleText(element(t, dom, "div", "cache-size"))
	if want := "Cache size " + humanize.Bytes(held) + " of 10.0 GiB cap"; !strings.Contains(size, want) {
		t.Errorf("cache size tile reads %q, want %q", size, want)
	}
	rate := visibleText(element(t, dom, "div", "cache-hit-rate"))
	if want := percentOf(st.Hits, st.Hits+st.Fills); !strings.Contains(rate, want) || !strings.Contains(rate, "1 hits") {
		t.Errorf("hit rate tile reads %q, want %s and 1 hits", rate, want)
	}

	// The policy in force and the state of the server.
	pol := visibleText(element(t, dom, "section", "policy"))
	for _, want := range []string{"Mode enforce", "/etc/safehub/policy.yaml", "block-known-bad", "*.bin *.pt", "refused like any pickle"} {
		if !strings.Contains(pol, want) {
			t.Errorf("policy section reads %q, lacks %q", pol, want)
		}
	}
	if head := visibleText(element(t, dom, "header", "")); !strings.Contains(head, "Ready") || !strings.Contains(head, "Mode: enforce") {
		t.Errorf("header reads %q", head)
	}

	screenshot(t, bin, url, "status-page.png")
}

// TestAuditModeStatusPageInHeadlessChromium is the page an admin sees
// while rolling out in audit mode with the upstream down: nothing refused,
// would-be refusals marked, and a server that is not ready.
func TestAuditModeStatusPageInHeadlessChromium(t *testing.T) {
	bin := chromiumPath(t)
	pol, err := policy.Parse([]byte("mode: audit\nweights_only_pickles: true\n"), "/etc/safehub/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	mon := NewMonitor(0)
	admin, err := NewAdmin(AdminConfig{Monitor: mon, Policy: pol, UpstreamName: "https://huggingface.co",
		Upstream: func(context.Context) error { return errors.New("dial tcp: lookup huggingface.co: no such host") }})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i, f := range []string{"pytorch_model.bin", "optimizer.pt", "training_args.bin"} {
		mon.Observe(gateway.Event{Time: now.Add(time.Duration(i-5) * time.Minute), Route: "resolve", Status: 200,
			Decision: "audit-refuse", RepoType: "model", Repo: "old-org/legacy-bert", File: f,
			Rule: policy.RulePickleNames, Reason: policy.ReasonPickleNames, TokenHash: "5f1d3a9c0b7e2d41", Bytes: 1 << 20})
	}
	url := serveAdmin(t, admin)
	dom := string(runChromium(t, bin, "--dump-dom", url))
	head := visibleText(element(t, dom, "header", ""))
	for _, want := range []string{"Not ready", "Mode: audit (nothing is refused, refusals are only recorded)"} {
		if !strings.Contains(head, want) {
			t.Errorf("header reads %q, lacks %q", head, want)
		}
	}
	refusals := visibleText(element(t, dom, "section", "refusals"))
	if strings.Count(refusals, "audit only") != 3 || !strings.Contains(refusals, "training_args.bin default:pickle-names audit only") {
		t.Errorf("refusals read %q", refusals)
	}
	if tile := visibleText(element(t, dom, "div", "refused-count")); !strings.Contains(tile, "Refused 0 3 more would be in enforce mode") {
		t.Errorf("refused tile reads %q", tile)
	}
	health := visibleText(element(t, dom, "section", "health"))
	if !strings.Contains(health, "unreachable") || !strings.Contains(health, "no such host") {
		t.Errorf("health reads %q", health)
	}
	if pol := visibleText(element(t, dom, "section", "policy")); !strings.Contains(pol, "Weights-only pickles accepted") {
		t.Errorf("policy reads %q", pol)
	}
	screenshot(t, bin, url, "status-page-audit.png")
}

// serveAdmin runs h on a loopback port for the test and returns its URL.
func serveAdmin(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := newLoopbackListener()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, h, nil, time.Second) }()
	t.Cleanup(func() { cancel(); <-done })
	return "http://" + ln.Addr().String() + "/"
}

// screenshot keeps a 1280x900 capture of url as an artifact for people,
// and checks that it is a real render.
func screenshot(t *testing.T, bin, url, name string) {
	t.Helper()
	shot := filepath.Join(artifactsDir(t), name)
	os.Remove(shot)
	runChromium(t, bin, "--screenshot="+shot, "--hide-scrollbars", url)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s is not a PNG: %v", shot, err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 900 {
		t.Errorf("screenshot is %dx%d, want 1280x900", b.Dx(), b.Dy())
	}
	colours := map[[3]uint32]bool{}
	for y := 0; y < img.Bounds().Dy(); y += 7 {
		for x := 0; x < img.Bounds().Dx(); x += 7 {
			r, g, b, _ := img.At(x, y).RGBA()
			colours[[3]uint32{r >> 8, g >> 8, b >> 8}] = true
		}
	}
	if len(colours) < 20 {
		t.Errorf("screenshot has %d colours: blank or failed render", len(colours))
	}
	t.Logf("screenshot: %s", shot)
}

func percentOf(a, b int64) string {
	if b == 0 {
		return "–"
	}
	return humanPercent(float64(a) / float64(b))
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
