package gateway_test

// Hostile input and faults at the HTTP level (issue 5, point 7): odd URLs,
// oversized and trickled headers against the server settings `safehub
// serve` uses, upstreams that lie about sizes or die, and a full cache
// disk. The rule: a clear error, never a crash, a hang, a truncated
// success, or a byte of cache that was not verified. (Huge and hostile
// JSON from the upstream: TestHugeAndHostileJSONFromUpstream.)

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/safehub/safehub/internal/cache"
	"github.com/safehub/safehub/internal/gateway"
	"github.com/safehub/safehub/internal/store"
	"github.com/safehub/safehub/internal/store/disk"
	"github.com/safehub/safehub/internal/upstream"
)

func TestTraversalAndEncodedSeparatorsAreRefused(t *testing.T) {
	sim := startRevSim(t)
	dir := t.TempDir()
	_, gw, _ := cachedGateway(t, sim.HubURL, dir, nil)
	sim.ResetLog()
	for _, p := range []string{
		"/org/../etc/resolve/main/config.json",
		"/org%2F..%2Fpub/resolve/main/config.json",
		"/..%2F..%2Fetc/passwd/resolve/main/x",
		"/%2e%2e/%2e%2e/resolve/main/config.json",
		"/org/pub/resolve/..%2F..%2Fmain/config.json",
		"/org/pub/resolve/%2e%2e/config.json",
		"/org/pub/resolve/main/..%2F..%2F..%2Fetc%2Fpasswd",
		"/org/pub/resolve/main/%2e%2e/%2e%2e/etc/passwd",
		"/org/pub/resolve/main/sub/../../config.json",
		"/org/pub/resolve/main/..%5C..%5Cconfig.json",
		"/org/pub/resolve/main/config.json%00.safetensors",
		"/org/pub/resolve/ma%00in/config.json",
		"/org%00/pub/resolve/main/config.json",
		"/api/models/org/../../etc/tree/main",
		"/api/models/org/pub/tree/main/..%2F..%2F..",
		"/datasets/%2e%2e/%2e%2e/resolve/main/x",
		"/org/pub/resolve/main//config.json",
	} {
		for _, method := range []string{"HEAD", "GET"} {
			resp, body, err := rawRequest(t, gw.Listener.Addr().String(), method, p, nil)
			if err != nil {
				t.Fatalf("%s %s: %v", method, p, err)
			}
			if resp.StatusCode != 400 && resp.StatusCode != 404 {
				t.Errorf("%s %s: %d (%q), want 400 or 404", method, p, resp.StatusCode, resp.Header.Get("X-Error-Message"))
			}
			if bytes.Contains(body, []byte(`{"a":1}`)) || resp.Header.Get("ETag") != "" {
				t.Errorf("%s %s: served file data", method, p)
			}
		}
	}
	for _, l := range sim.Log() {
		dec, _ := url.PathUnescape(l.Path)
		for _, seg := range strings.Split(strings.ReplaceAll(dec, `\`, "/"), "/") {
			if seg == ".." || seg == "." || strings.ContainsRune(seg, 0) {
				t.Errorf("a traversal reached the upstream: %s %s", l.Method, l.Path)
			}
		}
	}
	assertOnlyCacheFiles(t, dir)
}

// rawRequest sends a request line exactly as given (Go's client would
// clean or re-escape it) and reads the answer.
func rawRequest(t *testing.T, addr, method, target string, extra []string) (*http.Response, []byte, error) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	req := method + " " + target + " HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n" + strings.Join(extra, "") + "\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		return nil, nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// assertOnlyCacheFiles checks nothing was written outside the cache's own
// folders (a traversal that reached a file name would show up here).
func assertOnlyCacheFiles(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		if !strings.HasPrefix(rel, "store"+string(filepath.Separator)) && !strings.HasPrefix(rel, "meta"+string(filepath.Separator)) {
			t.Errorf("unexpected file in the cache dir: %s", rel)
		}
		return nil
	})
}

// servedLikeServe runs the gateway behind the same http.Server settings
// as `safehub serve`.
func servedLikeServe(t *testing.T, h http.Handler, tweak func(*http.Server)) string {
	t.Helper()
	srv := gateway.NewServer(h, nil)
	if tweak != nil {
		tweak(srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func TestServerSettingsBoundHeadersAndTime(t *testing.T) {
	srv := gateway.NewServer(http.NotFoundHandler(), nil)
	if srv.MaxHeaderBytes != 64<<10 || srv.ReadHeaderTimeout != 10*time.Second || srv.WriteTimeout != 0 {
		t.Errorf("server settings: MaxHeaderBytes %d, ReadHeaderTimeout %v, WriteTimeout %v; want 64 KiB, 10s, none",
			srv.MaxHeaderBytes, srv.ReadHeaderTimeout, srv.WriteTimeout)
	}
}

func TestOverlongURLsAndHeadersAre431(t *testing.T) {
	sim := startRevSim(t)
	_, gw, _ := cachedGateway(t, sim.HubURL, t.TempDir(), nil)
	g := gw.Config.Handler
	addr := servedLikeServe(t, g, nil)
	long := strings.Repeat("a", 200<<10)
	many := make([]string, 2000)
	for i := range many {
		many[i] = fmt.Sprintf("X-Junk-%d: %s\r\n", i, strings.Repeat("b", 60))
	}
	for _, c := range []struct {
		name, target string
		extra        []string
	}{
		{"long file name", "/org/pub/resolve/main/" + long, nil},
		{"long repo id", "/org/" + long + "/resolve/main/config.json", nil},
		{"long query", "/api/models?search=" + long, nil},
		{"long header", "/org/pub/resolve/main/config.json", []string{"Authorization: Bearer " + long + "\r\n"}},
		{"many headers", "/org/pub/resolve/main/config.json", many},
	} {
		resp, _, err := rawRequest(t, addr, "GET", c.target, c.extra)
		if err != nil {
			t.Errorf("%s: %v (want a 431 answer)", c.name, err)
			continue
		}
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("%s: %d, want 431", c.name, resp.StatusCode)
		}
	}
	// Long but within the limit: an ordinary refusal, no 5xx, no crash.
	resp, _, err := rawRequest(t, addr, "GET", "/org/pub/resolve/main/"+strings.Repeat("c", 8000)+".json", nil)
	if err != nil || resp.StatusCode >= 500 {
		t.Errorf("8000-byte file name: %v %d, want a 4xx", err, statusOf(resp))
	}
	resp, body, err := rawRequest(t, addr, "GET", "/org/pub/resolve/main/config.json", nil)
	if err != nil || resp.StatusCode != 200 || string(body) != `{"a":1}` {
		t.Errorf("normal request after the hostile ones: %v %d %q", err, statusOf(resp), body)
	}
}

func TestSlowHeaderClientIsCut(t *testing.T) {
	sim := startRevSim(t)
	_, gw, _ := cachedGateway(t, sim.HubURL, t.TempDir(), nil)
	// The real 10 s, scaled down so the test is quick; the mechanism is
	// the server's ReadHeaderTimeout from NewServer.
	addr := servedLikeServe(t, gw.Config.Handler, func(s *http.Server) { s.ReadHeaderTimeout = 400 * time.Millisecond })
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	cut := make(chan time.Duration, 1)
	go func() { // the server closing the connection ends this read
		io.Copy(io.Discard, c)
		cut <- time.Since(start)
	}()
	trickle := "GET /org/pub/resolve/main/config.json HTTP/1.1\r\nHost: gw\r\nX-Slow: " + strings.Repeat("z", 200)
	for i := 0; i < len(trickle); i++ {
		if _, err := c.Write([]byte{trickle[i]}); err != nil {
			break // cut: good
		}
		select {
		case d := <-cut:
			if d > 3*time.Second {
				t.Errorf("slow client cut after %v, want about the header timeout", d)
			}
			goto done
		case <-time.After(50 * time.Millisecond):
		}
	}
	select {
	case d := <-cut:
		if d > 3*time.Second {
			t.Errorf("slow client cut after %v", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a client trickling its headers was never cut")
	}
done:
	// Meanwhile and afterwards, others are served.
	resp, _, err := rawRequest(t, addr, "GET", "/org/pub/resolve/main/config.json", nil)
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("normal client after the slow one: %v %d", err, statusOf(resp))
	}
}

// lyingFile is an upstream for one git-stored file whose HEAD and range
// reads are right but whose full GET misbehaves as mode says.
type lyingFile struct {
	data   []byte
	mode   string // "short", "long", "die", "close-early"
	commit string
}

func (f *lyingFile) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"org/m","sha":%q,"siblings":[{"rfilename":"config.json"}]}`, f.commit)
		return
	}
	if r.URL.Path != "/org/m/resolve/main/config.json" && r.URL.Path != "/org/m/resolve/"+f.commit+"/config.json" {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("X-Repo-Commit", f.commit)
	h.Set("ETag", `"`+gitBlobID(f.data)+`"`)
	h.Set("Accept-Ranges", "bytes")
	if r.Method == http.MethodHead || r.Header.Get("Range") != "" {
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.data))
		return
	}
	half := f.data[:len(f.data)/2]
	switch f.mode {
	case "short": // announces all, sends half, ends the response
		h.Set("Content-Length", fmt.Sprint(len(f.data)))
		w.Write(half)
	case "long": // no length announced, more bytes than the HEAD said
		w.(http.Flusher).Flush()
		w.Write(f.data)
		w.Write([]byte("  trailing junk"))
	case "die": // half, then a reset connection
		h.Set("Content-Length", fmt.Sprint(len(f.data)))
		w.Write(half)
		w.(http.Flusher).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			if tc, ok := conn.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
			conn.Close()
		}
	}
}

func TestUpstreamByteCountFaultsAreNeverCompletedNorCached(t *testing.T) {
	data := []byte(`{"model_type":"demo","vocab":"` + strings.Repeat("x", 200_000) + `"}`)
	for _, mode := range []string{"short", "long", "die"} {
		t.Run(mode, func(t *testing.T) {
			up := httptest.NewServer(&lyingFile{data: data, mode: mode, commit: strings.Repeat("b", 40)})
			t.Cleanup(up.Close)
			dir := t.TempDir()
			_, gw, c := cachedGateway(t, up.URL, dir, nil)
			resp, body, err := call(t, "GET", gw.URL+"/org/m/resolve/main/config.json", nil)
			if err == nil && resp.StatusCode == 200 {
				t.Fatalf("a %s upstream transfer ended as a complete 200 (%d of %d bytes)", mode, len(body), len(data))
			}
			if bytes.Equal(body, data) {
				t.Errorf("%s: the whole file was delivered with an error", mode)
			}
			if resp != nil && resp.StatusCode != 200 && !strings.HasPrefix(resp.Header.Get("X-Error-Message"), "safehub: ") {
				t.Errorf("%s: error %d without a safehub message", mode, resp.StatusCode)
			}
			d, _ := store.ParseDigest(gitBlobID(data))
			time.Sleep(100 * time.Millisecond) // a wrong commit would land by now
			if _, err := c.Lookup(context.Background(), d); err == nil {
				t.Errorf("%s: the cache kept a blob from a faulty transfer", mode)
			}
			assertNoBlobs(t, filepath.Join(dir, "store"))
		})
	}
}

// assertNoBlobs checks a disk store holds no blob (and no staging leftover
// once fills are over).
func assertNoBlobs(t *testing.T, root string) {
	t.Helper()
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			t.Errorf("store holds %s after a failed fill", p)
		}
		return nil
	})
}

// fullDisk is a disk store whose staging files hit ENOSPC after a few KiB
// while full is set, as a real full disk does part-way through a blob.
type fullDisk struct {
	*disk.Disk
	full atomic.Bool
}

func (f *fullDisk) Stage(ctx context.Context) (store.Staged, error) {
	s, err := f.Disk.Stage(ctx)
	if err != nil || !f.full.Load() {
		return s, err
	}
	return &enospcStaged{Staged: s, left: 4096}, nil
}

type enospcStaged struct {
	store.Staged
	left int
}

func (s *enospcStaged) Write(p []byte) (int, error) {
	if len(p) <= s.left {
		s.left -= len(p)
		return s.Staged.Write(p)
	}
	n, _ := s.Staged.Write(p[:s.left])
	s.left = 0
	return n, &os.PathError{Op: "write", Path: "staging", Err: syscall.ENOSPC}
}

func TestFullCacheDiskIsClearAndCacheStaysIntact(t *testing.T) {
	sim := startRevSim(t)
	d, err := disk.Open(t.TempDir(), disk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := &fullDisk{Disk: d}
	c := cache.New(st, cache.Options{})
	t.Cleanup(func() { c.Close() })
	up, err := upstream.New(sim.HubURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	g, err := gateway.New(gateway.Config{Upstream: up, Cache: c, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	gw := httptest.NewServer(g)
	t.Cleanup(gw.Close)
	cfgURL := gw.URL + "/org/pub/resolve/main/config.json"
	bigURL := gw.URL + "/org/pub/resolve/main/model.safetensors"
	big := revFiles["models/org/pub/model.safetensors"]

	resp, _ := mustGet(t, "GET", cfgURL, nil, 200)
	waitStored(t, c, resp)
	st.full.Store(true)
	resp, body, err := call(t, "GET", bigURL, nil)
	if err == nil && resp.StatusCode == 200 && !bytes.Equal(body, big) {
		t.Fatalf("full disk: a truncated 200 (%d of %d bytes)", len(body), len(big))
	}
	// The next request (a client's retry) gets the whole file, served
	// uncached from the upstream while the disk is full.
	resp, body = mustGet(t, "GET", bigURL, nil, 200)
	if !bytes.Equal(body, big) {
		t.Errorf("retry with a full disk: %d bytes, want the file", len(body))
	}
	// Intact: the earlier blob is still served, the failed one is absent.
	if _, body := mustGet(t, "GET", cfgURL, nil, 200); string(body) != `{"a":1}` {
		t.Errorf("cached file after the full disk: %q", body)
	}
	dg, _ := store.ParseDigest(strings.Trim(resp.Header.Get("X-Linked-Etag"), `"`))
	if _, err := c.Lookup(context.Background(), dg); err == nil {
		t.Error("a blob whose fill hit ENOSPC is in the cache")
	}
	// Space freed and the back-off over: caching resumes.
	st.full.Store(false)
	clk.advance(2 * time.Minute)
	resp, body = mustGet(t, "GET", bigURL, nil, 200)
	if !bytes.Equal(body, big) {
		t.Fatal("after the disk was freed: wrong bytes")
	}
	waitStored(t, c, resp)
}
