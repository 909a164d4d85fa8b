package gateway_test

// Revisions, the per-token memo and offline serving (issue 5, points 4
// and 5): branch names are trusted for BranchTTL, commits for good, a
// token's acceptance for AuthMemoTTL per repo, and a cached public file is
// served while the upstream is down, also after a restart.

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/safehub/safehub/internal/cache"
	"github.com/safehub/safehub/internal/gateway"
	"github.com/safehub/safehub/internal/store"
	"github.com/safehub/safehub/internal/store/disk"
	"github.com/safehub/safehub/internal/upstream"
	"github.com/safehub/safehub/test/hubsim"
)

// clock is a settable time source for Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// cachedGateway is a gateway with a disk cache and a metadata index under
// dir, as `safehub serve` lays them out; reopening the same dir is a restart.
func cachedGateway(t *testing.T, upstreamURL, dir string, now func() time.Time) (*gateway.Gateway, *httptest.Server, *cache.Cache) {
	t.Helper()
	up, err := upstream.New(upstreamURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := disk.Open(filepath.Join(dir, "store"), disk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := cache.New(st, cache.Options{})
	g, err := gateway.New(gateway.Config{Upstream: up, Cache: c, MetaDir: filepath.Join(dir, "meta"), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	t.Cleanup(func() { srv.Close(); g.Close(); c.Close() })
	return g, srv, c
}

// waitStored waits until the blob a response names is committed to the
// cache (the commit follows the last byte to the client by a moment).
func waitStored(t *testing.T, c *cache.Cache, resp *http.Response) {
	t.Helper()
	etag := strings.Trim(resp.Header.Get("X-Linked-Etag"), `"`)
	if etag == "" {
		etag = strings.Trim(resp.Header.Get("ETag"), `"`)
	}
	d, err := store.ParseDigest(etag)
	if err != nil {
		t.Fatalf("digest of %q: %v", etag, err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, err := c.Lookup(context.Background(), d); err == nil {
			return
		}
	}
	t.Fatalf("blob %s never reached the cache", etag)
}

// hubCalls counts the requests that reached the simulator's Hub listener.
func hubCalls(sim *hubsim.Sim) int {
	n := 0
	for _, l := range sim.Log() {
		if l.Listener == "hub" {
			n++
		}
	}
	return n
}

func mustGet(t *testing.T, method, url string, hdr map[string]string, want int) (*http.Response, []byte) {
	t.Helper()
	resp, body, err := call(t, method, url, hdr)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d (%s), want %d", method, url, resp.StatusCode, resp.Header.Get("X-Error-Message"), want)
	}
	return resp, body
}

var revFiles = map[string][]byte{
	"models/org/pub/config.json":         []byte(`{"a":1}`),
	"models/org/pub/model.safetensors":   safetensorsBytes(50_000),
	"models/org/pub/uncached.json":       []byte(`{}`),
	"models/org/other/config.json":       []byte(`{"b":2}`),
	"models/org/gated/model.safetensors": safetensorsBytes(20_000),
}

var revSettings = hubsim.Settings{"models/org/gated": {Gated: "manual", Tokens: []string{"hf_ok"}}}

func startRevSim(t *testing.T) *hubsim.Sim {
	t.Helper()
	dir := t.TempDir()
	for rel, data := range revFiles {
		writeFile(t, dir, rel, data)
	}
	sim, err := hubsim.Start(hubsim.Config{ReposDir: dir, PageSize: 50, Settings: revSettings})
	if err != nil {
		t.Fatalf("hubsim: %v", err)
	}
	t.Cleanup(func() { sim.Close() })
	return sim
}

func TestBranchTTLAndCommitsCachedForGood(t *testing.T) {
	sim := startRevSim(t)
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	_, gw, _ := cachedGateway(t, sim.HubURL, t.TempDir(), clk.now)
	url := gw.URL + "/org/pub/resolve/main/model.safetensors"
	want := revFiles["models/org/pub/model.safetensors"]

	resp, body := mustGet(t, "GET", url, nil, 200)
	if !bytes.Equal(body, want) {
		t.Fatal("first GET: wrong bytes")
	}
	commit := resp.Header.Get("X-Repo-Commit")
	byCommit := gw.URL + "/org/pub/resolve/" + commit + "/model.safetensors"

	sim.ResetLog()
	_, body = mustGet(t, "GET", url, nil, 200)
	if n := hubCalls(sim); n != 0 || !bytes.Equal(body, want) {
		t.Errorf("second GET within BranchTTL: %d upstream calls (want 0), right bytes %v", n, bytes.Equal(body, want))
	}

	clk.advance(gateway.BranchTTL + time.Second)
	sim.ResetLog()
	mustGet(t, "HEAD", url, nil, 200)
	if n := hubCalls(sim); n == 0 {
		t.Error("branch name trusted past BranchTTL: no upstream call")
	}
	clk.advance(gateway.BranchTTL + time.Second) // the branch's memo entry is fresh again, the commit never expires
	sim.ResetLog()
	resp, body = mustGet(t, "GET", byCommit, nil, 200)
	if n := hubCalls(sim); n != 0 || !bytes.Equal(body, want) || resp.Header.Get("X-Repo-Commit") != commit {
		t.Errorf("GET by commit: %d upstream calls (want 0), commit %q", n, resp.Header.Get("X-Repo-Commit"))
	}

	clk.advance(gateway.AuthMemoTTL + time.Second)
	sim.ResetLog()
	mustGet(t, "GET", byCommit, nil, 200)
	if n := hubCalls(sim); n == 0 {
		t.Error("access remembered past AuthMemoTTL: no upstream call")
	}
}

func TestCachedGatedFileRefusedWithoutValidTokenWithinMemo(t *testing.T) {
	sim := startRevSim(t)
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	_, gw, _ := cachedGateway(t, sim.HubURL, t.TempDir(), clk.now)
	url := gw.URL + "/org/gated/resolve/main/model.safetensors"
	want := revFiles["models/org/gated/model.safetensors"]
	ok := map[string]string{"Authorization": "Bearer hf_ok"}

	if _, body := mustGet(t, "GET", url, ok, 200); !bytes.Equal(body, want) {
		t.Fatal("with token: wrong bytes")
	}
	clk.advance(time.Second) // well inside the memo window of hf_ok
	for _, c := range []struct {
		name   string
		hdr    map[string]string
		status int
	}{
		{"no token", nil, 401},
		{"wrong token", map[string]string{"Authorization": "Bearer hf_wrong"}, 403},
	} {
		for _, method := range []string{"HEAD", "GET"} {
			resp, body, err := call(t, method, url, c.hdr)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != c.status || resp.Header.Get("X-Error-Code") != "GatedRepo" || bytes.Contains(body, want[:64]) {
				t.Errorf("%s %s: %d %q, want %d GatedRepo", c.name, method, resp.StatusCode, resp.Header.Get("X-Error-Code"), c.status)
			}
			if resp.Header.Get("X-Repo-Commit") != "" || resp.Header.Get("ETag") != "" {
				t.Errorf("%s %s: metadata of a gated file leaked: %v", c.name, method, resp.Header)
			}
		}
	}
	// The right token is remembered: no upstream call within the window.
	sim.ResetLog()
	if _, body := mustGet(t, "GET", url, ok, 200); !bytes.Equal(body, want) {
		t.Fatal("with token again: wrong bytes")
	}
	if n := hubCalls(sim); n != 0 {
		t.Errorf("%d upstream calls for a remembered token within the window, want 0", n)
	}
	// Past the window the upstream is asked again, and a revoked token
	// (here: the gate's token list no longer has it) is refused.
	clk.advance(gateway.AuthMemoTTL)
	sim.ResetLog()
	mustGet(t, "HEAD", url, ok, 200)
	if n := hubCalls(sim); n == 0 {
		t.Error("token acceptance remembered past AuthMemoTTL")
	}
}

func TestOfflineServesCachedPublicFilesAcrossRestart(t *testing.T) {
	sim := startRevSim(t)
	dir := t.TempDir()
	g1, gw, c1 := cachedGateway(t, sim.HubURL, dir, nil)
	pubURL := "/org/pub/resolve/main/model.safetensors"
	want := revFiles["models/org/pub/model.safetensors"]
	online, _ := mustGet(t, "GET", gw.URL+pubURL, nil, 200)
	waitStored(t, c1, online)
	// config.json is fetched with a token: the gateway checks in the
	// background that the repo is public too.
	resp, _ := mustGet(t, "GET", gw.URL+"/org/pub/resolve/main/config.json", map[string]string{"Authorization": "Bearer hf_any"}, 200)
	waitStored(t, c1, resp)
	resp, _ = mustGet(t, "GET", gw.URL+"/org/other/resolve/main/config.json", map[string]string{"Authorization": "Bearer hf_any"}, 200)
	waitStored(t, c1, resp)
	resp, _ = mustGet(t, "GET", gw.URL+"/org/gated/resolve/main/model.safetensors", map[string]string{"Authorization": "Bearer hf_ok"}, 200)
	waitStored(t, c1, resp)
	commit := online.Header.Get("X-Repo-Commit")
	gw.Close()
	g1.Close()
	c1.Close()
	sim.Close() // the upstream is gone: connection refused from now on

	_, gw2, _ := cachedGateway(t, sim.HubURL, dir, nil) // a restart over the same cache dir
	for _, method := range []string{"HEAD", "GET"} {
		for _, p := range []string{pubURL, "/org/pub/resolve/" + commit + "/model.safetensors"} {
			resp, body := mustGet(t, method, gw2.URL+p, nil, 200)
			for _, h := range []string{"X-Repo-Commit", "ETag", "X-Linked-Etag", "X-Linked-Size", "Content-Length"} {
				if resp.Header.Get(h) == "" || resp.Header.Get(h) != online.Header.Get(h) {
					t.Errorf("offline %s %s: %s %q, online it was %q", method, p, h, resp.Header.Get(h), online.Header.Get(h))
				}
			}
			if method == "GET" && !bytes.Equal(body, want) {
				t.Errorf("offline GET %s: wrong bytes", p)
			}
		}
	}
	_, body := mustGet(t, "GET", gw2.URL+pubURL, map[string]string{"Range": "bytes=100-199"}, 206)
	if !bytes.Equal(body, want[100:200]) {
		t.Errorf("offline range: %d bytes", len(body))
	}
	// A file fetched only with a token, of a repo known to be public.
	cfg, body := mustGet(t, "GET", gw2.URL+"/org/pub/resolve/main/config.json", nil, 200)
	if string(body) != `{"a":1}` || cfg.Header.Get("X-Repo-Commit") != commit {
		t.Errorf("offline config.json: %q at %q", body, cfg.Header.Get("X-Repo-Commit"))
	}

	// A repo only ever fetched with a token, which the probe found public.
	if _, body := mustGet(t, "GET", gw2.URL+"/org/other/resolve/main/config.json", nil, 200); string(body) != `{"b":2}` {
		t.Errorf("offline other config.json: %q", body)
	}

	for _, c := range []struct {
		path, hdr, says string
	}{
		{"/org/pub/resolve/main/uncached.json", "", "is not cached"},
		{"/org/pub/resolve/v2/model.safetensors", "", "never resolved this revision"},
		{"/org/gated/resolve/main/model.safetensors", "Bearer hf_ok", "not served offline"},
		{"/org/gated/resolve/main/model.safetensors", "", "not served offline"},
	} {
		for _, method := range []string{"HEAD", "GET"} {
			hdr := map[string]string{}
			if c.hdr != "" {
				hdr["Authorization"] = c.hdr
			}
			resp, body, err := call(t, method, gw2.URL+c.path, hdr)
			if err != nil {
				t.Fatal(err)
			}
			msg := resp.Header.Get("X-Error-Message")
			if resp.StatusCode != 502 || resp.Header.Get("X-Error-Code") != gateway.ErrCodeUpstreamUnreachable ||
				!strings.Contains(msg, "upstream is unreachable") || !strings.Contains(msg, c.says) {
				t.Errorf("offline %s %s: %d %q %q, want 502 %s saying %q", method, c.path, resp.StatusCode,
					resp.Header.Get("X-Error-Code"), msg, gateway.ErrCodeUpstreamUnreachable, c.says)
			}
			if resp.Header.Get("ETag") != "" || bytes.Contains(body, revFiles["models/org/gated/model.safetensors"][:64]) {
				t.Errorf("offline %s %s: served file data in an error", method, c.path)
			}
		}
	}
}

// switchUpstream proxies to the simulator, or answers every request with
// a fixed Hub error, as the test chooses.
type switchUpstream struct {
	mode  atomic.Value // "", "503", "private"
	proxy *httputil.ReverseProxy
}

func (u *switchUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch u.mode.Load() {
	case "503":
		w.Header().Set("X-Error-Message", "maintenance")
		w.WriteHeader(503)
	case "private":
		w.Header().Set("X-Error-Code", "RepoNotFound")
		w.Header().Set("X-Error-Message", "Repository not found")
		w.WriteHeader(401)
	default:
		u.proxy.ServeHTTP(w, r)
	}
}

func TestUpstream5xxFallsBackToCacheButNot4xx(t *testing.T) {
	sim := startRevSim(t)
	target, _ := url.Parse(sim.HubURL)
	sw := &switchUpstream{proxy: httputil.NewSingleHostReverseProxy(target)}
	sw.mode.Store("")
	up := httptest.NewServer(sw)
	t.Cleanup(up.Close)
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	_, gw, c := cachedGateway(t, up.URL, t.TempDir(), clk.now)
	u := gw.URL + "/org/pub/resolve/main/config.json"
	resp, _ := mustGet(t, "GET", u, nil, 200)
	waitStored(t, c, resp)
	clk.advance(gateway.AuthMemoTTL + time.Second) // forces an upstream call

	sw.mode.Store("503")
	if _, body := mustGet(t, "GET", u, nil, 200); string(body) != `{"a":1}` {
		t.Errorf("upstream 503: cached copy not served: %q", body)
	}
	sw.mode.Store("private")
	resp, _, err := call(t, "GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 401 || resp.Header.Get("X-Error-Code") != "RepoNotFound" {
		t.Errorf("repo made private: %d %q, want the Hub's 401 RepoNotFound", resp.StatusCode, resp.Header.Get("X-Error-Code"))
	}
	// Now known as not public, it is not served offline any more.
	sw.mode.Store("503")
	resp, _, err = call(t, "GET", u, nil)
	if err != nil || resp.StatusCode != 503 || resp.Header.Get("X-Error-Code") != gateway.ErrCodeUpstreamUnreachable {
		t.Errorf("formerly public repo during an outage: %d %v, want 503 %s", statusOf(resp), err, gateway.ErrCodeUpstreamUnreachable)
	}
}
