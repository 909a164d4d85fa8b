package gateway_test

// Broken upstreams: a CDN that cuts, resets, stalls or corrupts a transfer,
// an upstream that is down, rate limits, 5xx, code-less 4xx, oversized
// files. The rule under test is DESIGN.md's "a clear error, never a crash,
// a hang or a truncated success".

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/safehub/safehub/internal/gateway"
	"github.com/safehub/safehub/internal/upstream"
	"github.com/safehub/safehub/test/hubsim"
)

// startSim serves files ("models/org/m/f" → bytes) from a simulator with
// the given settings and returns it with a gateway in front of it.
func startSim(t *testing.T, files map[string][]byte, settings hubsim.Settings) (*hubsim.Sim, *httptest.Server) {
	t.Helper()
	dir := t.TempDir()
	for rel, data := range files {
		writeFile(t, dir, rel, data)
	}
	sim, err := hubsim.Start(hubsim.Config{ReposDir: dir, PageSize: 3, Settings: settings})
	if err != nil {
		t.Fatalf("hubsim: %v", err)
	}
	t.Cleanup(func() { sim.Close() })
	return sim, gatewayOver(t, sim.HubURL)
}

// gatewayOver starts a gateway in front of any upstream URL.
func gatewayOver(t *testing.T, upstreamURL string) *httptest.Server {
	t.Helper()
	up, err := upstream.New(upstreamURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(gateway.Config{Upstream: up})
	if err != nil {
		t.Fatal(err)
	}
	gw := httptest.NewServer(g)
	t.Cleanup(gw.Close)
	return gw
}

// call sends one request (no redirect following) and reads the whole body,
// returning the read error too: a cut transfer must be visible as one.
func call(t *testing.T, method, url string, hdr map[string]string) (*http.Response, []byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// assertErrorShape checks what every gateway error answer must carry: an
// X-Error-Message that is printable ASCII on one line, and, for a 403 or
// 404 on a file, an X-Error-Code (hub-protocol.md 8: never code-less).
func assertErrorShape(t *testing.T, what string, resp *http.Response) {
	t.Helper()
	msg := resp.Header.Get("X-Error-Message")
	if msg == "" {
		t.Errorf("%s: status %d without X-Error-Message", what, resp.StatusCode)
	}
	assertASCII(t, what+" X-Error-Message", msg)
	if (resp.StatusCode == 403 || resp.StatusCode == 404) && resp.Header.Get("X-Error-Code") == "" {
		t.Errorf("%s: code-less %d for a file (message %q); huggingface_hub reports it as a connection problem", what, resp.StatusCode, msg)
	}
}

func assertASCII(t *testing.T, what, s string) {
	t.Helper()
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			t.Errorf("%s holds byte %#x at %d: %q", what, s[i], i, s)
			return
		}
	}
}

func TestCDNFaultsNeverEndAsCompleteResponse(t *testing.T) {
	data := safetensorsBytes(400_000) // 1.6 MB: several copy chunks
	files := map[string][]byte{}
	faults := map[string]string{}
	for _, f := range []string{hubsim.FaultShort, hubsim.FaultDie} {
		files["models/org/m/"+f+".safetensors"] = data
		faults[f+".safetensors"] = f
	}
	sim, gw := startSim(t, files, hubsim.Settings{"models/org/m": {CDNFaults: faults}})
	for _, f := range []string{hubsim.FaultShort, hubsim.FaultDie} {
		t.Run(f, func(t *testing.T) {
			start := time.Now()
			resp, body, err := call(t, "GET", gw.URL+"/org/m/resolve/main/"+f+".safetensors", nil)
			if time.Since(start) > 20*time.Second {
				t.Errorf("a %s fault took %v to surface", f, time.Since(start))
			}
			if resp != nil && resp.StatusCode != 200 && resp.StatusCode != 502 {
				t.Fatalf("%s fault: status %d (%s): the faulty transfer was never attempted", f, resp.StatusCode, resp.Header.Get("X-Error-Message"))
			}
			if err == nil && resp.StatusCode == 200 {
				t.Fatalf("%s fault: complete 200 of %d bytes (want %d); the client would keep a broken file", f, len(body), len(data))
			}
			if len(body) > 0 && !bytes.Equal(body, data[:len(body)]) {
				t.Errorf("%s fault: the bytes sent are not a prefix of the file", f)
			}
		})
	}
	for _, l := range sim.Log() {
		if l.Listener == "cas" {
			t.Errorf("CAS contacted: %+v", l)
		}
	}
}

// A stall shorter than upstream.IdleTimeout is slowness, not failure: the
// transfer completes with the right bytes. (Stalls beyond IdleTimeout are
// tested on the idle reader itself in internal/upstream.)
func TestCDNShortStallCompletesWithRightBytes(t *testing.T) {
	data := safetensorsBytes(300_000)
	_, gw := startSim(t, map[string][]byte{"models/org/m/slow.safetensors": data},
		hubsim.Settings{"models/org/m": {CDNFaults: map[string]string{"slow.safetensors": hubsim.FaultStall}, StallMillis: 700}})
	resp, body, err := call(t, "GET", gw.URL+"/org/m/resolve/main/slow.safetensors", nil)
	if err != nil || resp.StatusCode != 200 || !bytes.Equal(body, data) {
		t.Fatalf("stalled transfer: err %v, status %v, %d of %d bytes", err, statusOf(resp), len(body), len(data))
	}
}

func statusOf(resp *http.Response) int {
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}

// fakeFile is an upstream serving one git-stored file at
// /org/m/resolve/{rev}/{name} (200 on HEAD, shape B). full is what a GET
// without Range gets, ranged what range reads see; the ETag is the git blob
// id of etagOf.
type fakeFile struct {
	name                 string
	full, ranged, etagOf []byte
	commit               string
	sizeHeader           string // X-Linked-Size to announce instead of Content-Length, if set
}

func gitBlobID(b []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(b))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

func (f *fakeFile) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	prefix := "/org/m/resolve/"
	if !strings.HasPrefix(r.URL.Path, prefix) || !strings.HasSuffix(r.URL.Path, "/"+f.name) {
		if strings.HasPrefix(r.URL.Path, "/api/models/org/m") {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"id":"org/m","sha":%q,"siblings":[{"rfilename":%q}]}`, f.commit, f.name)
			return
		}
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("X-Repo-Commit", f.commit)
	h.Set("ETag", `"`+gitBlobID(f.etagOf)+`"`)
	h.Set("Accept-Ranges", "bytes")
	if f.sizeHeader != "" {
		h.Set("X-Linked-Size", f.sizeHeader)
	}
	if r.Method == http.MethodHead {
		h.Set("Content-Length", fmt.Sprint(len(f.full)))
		return
	}
	if r.Header.Get("Range") != "" {
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.ranged))
		return
	}
	h.Set("Content-Length", fmt.Sprint(len(f.full)))
	w.Write(f.full)
}

// The content check reads ranges, the download reads the whole file; a
// whole file whose bytes do not match its etag must be cut even when the
// ranges looked right.
func TestCorruptFullTransferIsCutByDigest(t *testing.T) {
	good := []byte(`{"model_type":"demo","hidden_size":64}`)
	bad := bytes.ToUpper(good)
	up := httptest.NewServer(&fakeFile{name: "config.json", full: bad, ranged: good, etagOf: good, commit: strings.Repeat("a", 40)})
	defer up.Close()
	gw := gatewayOver(t, up.URL)
	resp, body, err := call(t, "GET", gw.URL+"/org/m/resolve/main/config.json", nil)
	if resp != nil && resp.StatusCode != 200 && resp.StatusCode != 502 {
		t.Fatalf("status %d (%s): the corrupt transfer was never attempted", resp.StatusCode, resp.Header.Get("X-Error-Message"))
	}
	if err == nil && resp.StatusCode == 200 {
		t.Fatalf("corrupted bytes delivered as a complete 200: %q", body)
	}
	if bytes.Equal(body, bad) {
		t.Error("the whole corrupted file reached the client")
	}
}

// Regression (found in review, fixed): metaFrom ignores the ParseInt error of X-Linked-Size, so a malformed
// size becomes 0 and the gateway answers a complete, empty 200 without
// fetching or verifying a byte.
func TestRegression_MalformedLinkedSizeServedAsEmptyFile(t *testing.T) {
	data := []byte(`{"model_type":"demo"}`)
	up := httptest.NewServer(&fakeFile{name: "config.json", full: data, ranged: data, etagOf: data,
		commit: strings.Repeat("b", 40), sizeHeader: "21 bytes"})
	defer up.Close()
	gw := gatewayOver(t, up.URL)
	resp, body, err := call(t, "GET", gw.URL+"/org/m/resolve/main/config.json", nil)
	if err == nil && resp.StatusCode == 200 && !bytes.Equal(body, data) {
		t.Fatalf("malformed X-Linked-Size: complete 200 with %d bytes instead of the file's %d (want a 502 naming the bad header)", len(body), len(data))
	}
}

func TestUpstreamDownIsQuick502WithMessage(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there any more: connection refused
	gw := gatewayOver(t, "http://"+addr)
	for _, p := range []string{
		"/org/m/resolve/main/config.json",
		"/org/m/resolve/main/pytorch_model.bin", // refused by name: the refusal needs repo info
		"/api/models/org/m",
		"/api/models/org/m/tree/main",
		"/api/whoami-v2",
	} {
		start := time.Now()
		resp, _, err := call(t, "GET", gw.URL+p, nil)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: took %v with the upstream down", p, d)
		}
		if resp.StatusCode != http.StatusBadGateway {
			t.Errorf("%s: status %d, want 502", p, resp.StatusCode)
		}
		msg := resp.Header.Get("X-Error-Message")
		if !strings.HasPrefix(msg, "safehub: ") || !strings.Contains(msg, "unreachable") {
			t.Errorf("%s: message %q does not say the upstream is unreachable", p, msg)
		}
		assertErrorShape(t, p, resp)
	}
}

func TestUpstream429IsRelayedWithRetryAfter(t *testing.T) {
	files := map[string][]byte{"models/org/busy/config.json": []byte(`{}`)}
	_, gw := startSim(t, files, hubsim.Settings{"models/org/busy": {Fail: &hubsim.FailSettings{Status: 429, RetryAfter: 7, Message: "rate limited"}}})
	for _, p := range []string{"/org/busy/resolve/main/config.json", "/api/models/org/busy", "/api/models/org/busy/tree/main"} {
		for _, method := range []string{"HEAD", "GET"} {
			resp, _, err := call(t, method, gw.URL+p, nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "7" {
				t.Errorf("%s %s: %d Retry-After %q, want 429 with 7", method, p, resp.StatusCode, resp.Header.Get("Retry-After"))
			}
			if !strings.Contains(resp.Header.Get("X-Error-Message"), "rate limited") {
				t.Errorf("%s %s: message %q not relayed", method, p, resp.Header.Get("X-Error-Message"))
			}
		}
	}
}

func TestUpstream5xxIsRelayedWithMessage(t *testing.T) {
	files := map[string][]byte{
		"models/org/flaky/config.json":  []byte(`{}`),
		"models/org/flaky/vocab.txt":    []byte("a\nb\n"),
		"models/org/down/config.json":   []byte(`{}`),
		"models/org/broken/config.json": []byte(`{}`),
	}
	_, gw := startSim(t, files, hubsim.Settings{
		"models/org/flaky": {Fail: &hubsim.FailSettings{Status: 503, Files: []string{"config.json"}}},
		"models/org/down":  {Fail: &hubsim.FailSettings{Status: 500}},
	})
	for _, c := range []struct {
		path   string
		status int
	}{
		{"/org/flaky/resolve/main/config.json", 503},
		{"/org/down/resolve/main/config.json", 500},
		{"/api/models/org/down", 500},
		{"/api/models/org/down/tree/main", 500},
	} {
		resp, _, err := call(t, "GET", gw.URL+c.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != c.status {
			t.Errorf("%s: %d, want %d relayed", c.path, resp.StatusCode, c.status)
		}
		assertErrorShape(t, c.path, resp)
	}
	// The failure is per file: the rest of the repo still flows.
	resp, body, err := call(t, "GET", gw.URL+"/org/flaky/resolve/main/vocab.txt", nil)
	if err != nil || resp.StatusCode != 200 || string(body) != "a\nb\n" {
		t.Errorf("unaffected file: %v %d %q", err, statusOf(resp), body)
	}
}

// Regression (hub-protocol.md 8) (found in review, fixed): an upstream 403 or 404 without X-Error-Code on a
// file is relayed as is, so hf_hub_download raises the misleading
// LocalEntryNotFoundError ("check your connection"); 4xx relays also get
// no X-Error-Message (only >= 500 get one).
func TestRegression_CodelessUpstream4xxOnFileRelayedCodeless(t *testing.T) {
	files := map[string][]byte{
		"models/org/m403/config.json": []byte(`{}`),
		"models/org/m404/config.json": []byte(`{}`),
	}
	_, gw := startSim(t, files, hubsim.Settings{
		"models/org/m403": {Fail: &hubsim.FailSettings{Status: 403, Files: []string{"*.json"}}},
		"models/org/m404": {Fail: &hubsim.FailSettings{Status: 404, Files: []string{"*.json"}}},
	})
	for _, repo := range []string{"m403", "m404"} {
		for _, method := range []string{"HEAD", "GET"} {
			p := "/org/" + repo + "/resolve/main/config.json"
			resp, _, err := call(t, method, gw.URL+p, nil)
			if err != nil {
				t.Fatal(err)
			}
			assertErrorShape(t, method+" "+p, resp)
		}
	}
}

func TestDeclaredSizeOver50GBIsRefusedClearly(t *testing.T) {
	files := map[string][]byte{
		"models/org/m/huge.safetensors": safetensorsBytes(10),
		"models/org/m/config.json":      []byte(`{}`),
	}
	sim, gw := startSim(t, files, hubsim.Settings{"models/org/m": {DeclaredSizes: map[string]int64{"huge.safetensors": 60_000_000_000}}})
	for _, method := range []string{"HEAD", "GET"} {
		resp, body, err := call(t, method, gw.URL+"/org/m/resolve/main/huge.safetensors", nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 404 || resp.Header.Get("X-Error-Code") != "EntryNotFound" {
			t.Fatalf("%s: %d %q, want 404 EntryNotFound", method, resp.StatusCode, resp.Header.Get("X-Error-Code"))
		}
		msg := resp.Header.Get("X-Error-Message")
		if !strings.Contains(msg, "50 GB") || !strings.Contains(msg, "huge.safetensors") {
			t.Errorf("%s: message %q does not name the file and the 50 GB limit", method, msg)
		}
		if len(resp.Header.Get("X-Repo-Commit")) != 40 {
			t.Errorf("%s: no X-Repo-Commit on the refusal", method)
		}
		if resp.Header.Get("X-Linked-Size") != "" || resp.Header.Get("Content-Range") != "" {
			t.Errorf("%s: refusal carries file headers: %v", method, resp.Header)
		}
		if bytes.Contains(body, files["models/org/m/huge.safetensors"][8:20]) {
			t.Errorf("%s: refusal body carries file bytes", method)
		}
		assertErrorShape(t, method, resp)
	}
	for _, l := range sim.Log() {
		if l.Listener == "cdn" {
			t.Errorf("an over-limit file was fetched from the CDN: %s %s", l.Method, l.Path)
		}
	}
}

// A file whose content type the upstream gets wrong still comes out as a
// download, and a GET's headers are a HEAD's (clients compare them).
func TestHeadAndGetCarryTheSameHeaders(t *testing.T) {
	files := map[string][]byte{
		"models/org/m/config.json":       []byte(`{"a":1}`),
		"models/org/m/model.safetensors": safetensorsBytes(1000),
		"models/org/m/pytorch_model.bin": maliciousPickle,
		"models/org/m/empty.txt":         {},
		"models/org/gated/config.json":   []byte(`{}`),
	}
	_, gw := startSim(t, files, hubsim.Settings{"models/org/gated": {Gated: "auto", Tokens: []string{"hf_ok"}}})
	skip := map[string]bool{"Date": true}
	for _, p := range []string{
		"/org/m/resolve/main/config.json",
		"/org/m/resolve/main/model.safetensors",
		"/org/m/resolve/main/pytorch_model.bin",
		"/org/m/resolve/main/empty.txt",
		"/org/m/resolve/main/missing.json",
		"/org/gated/resolve/main/config.json",
		"/api/models/org/m",
	} {
		head, _, err := call(t, "HEAD", gw.URL+p, nil)
		if err != nil {
			t.Fatal(err)
		}
		get, body, err := call(t, "GET", gw.URL+p, nil)
		if err != nil {
			t.Fatal(err)
		}
		if head.StatusCode != get.StatusCode {
			t.Errorf("%s: HEAD %d, GET %d", p, head.StatusCode, get.StatusCode)
		}
		for k := range mergeKeys(head.Header, get.Header) {
			if !skip[k] && head.Header.Get(k) != get.Header.Get(k) {
				t.Errorf("%s: %s differs: HEAD %q, GET %q", p, k, head.Header.Get(k), get.Header.Get(k))
			}
		}
		if get.StatusCode == 200 && get.Header.Get("Content-Length") != fmt.Sprint(len(body)) {
			t.Errorf("%s: Content-Length %s, body %d", p, get.Header.Get("Content-Length"), len(body))
		}
	}
}

func mergeKeys(a, b http.Header) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

func TestSizeLimitIsHuggingFaceHubs(t *testing.T) {
	// huggingface_hub refuses above 50*10^9 bytes (not 50 GiB).
	if gateway.MaxClientFileSize != 50_000_000_000 {
		t.Fatalf("MaxClientFileSize = %d, want 50e9 (huggingface_hub's limit)", gateway.MaxClientFileSize)
	}
}

// Regression (low) (found in review, fixed): a 206 from the upstream is trusted without reading its
// Content-Range, in streamFile and in the scanner's rangeReader.fetch. An
// upstream that answers another range than asked (a misbehaving cache or
// CDN) gets its bytes relayed under the range the client asked for, and a
// resumed download is silently corrupted (ranges are not digest-checked).
func TestRegression_Upstream206ForAnotherRangeIsRelayed(t *testing.T) {
	data := []byte(`{"model_type":"demo","padding":"0123456789abcdefghij"}`)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Repo-Commit", strings.Repeat("f", 40))
		h.Set("ETag", `"`+gitBlobID(data)+`"`)
		if r.Method == http.MethodHead || r.Header.Get("Range") == "" || strings.HasPrefix(r.Header.Get("Range"), "bytes=0-") {
			http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
			return
		}
		// Any other range: the first bytes of the file, labelled honestly.
		h.Set("Content-Range", fmt.Sprintf("bytes 0-9/%d", len(data)))
		h.Set("Content-Length", "10")
		w.WriteHeader(http.StatusPartialContent)
		w.Write(data[:10])
	}))
	defer up.Close()
	gw := gatewayOver(t, up.URL)
	resp, body, err := call(t, "GET", gw.URL+"/org/m/resolve/main/config.json", map[string]string{"Range": "bytes=20-29"})
	if err == nil && resp.StatusCode == 206 && !bytes.Equal(body, data[20:30]) {
		t.Errorf("206 for bytes 20-29 carries %q, which are bytes 0-9 (upstream said so in Content-Range)", body)
	}
}

// Regression (found in review, fixed): a CDN error (S3-style 403 AccessDenied for an expired presigned URL,
// 404 NoSuchKey) is relayed to the client as a code-less 403/404 for the
// file, through the scan-error and stream paths (writeUpstreamError). It is
// an upstream fault: a 502 with a safehub message would say so.
func TestRegression_CDNErrorRelayedAsCodeless4xx(t *testing.T) {
	data := safetensorsBytes(10)
	sum := sha256.Sum256(data)
	digest := hex.EncodeToString(sum[:])
	for _, status := range []int{403, 404} {
		cdn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "<Error><Code>AccessDenied</Code></Error>", status)
		}))
		hub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Location", cdn.URL+"/repos/"+digest+"?X-Amz-Signature=old")
			h.Set("X-Repo-Commit", strings.Repeat("1", 40))
			h.Set("X-Linked-Etag", `"`+digest+`"`)
			h.Set("X-Linked-Size", fmt.Sprint(len(data)))
			h.Set("ETag", `"`+digest+`"`)
			w.WriteHeader(302)
		}))
		gw := gatewayOver(t, hub.URL)
		for _, method := range []string{"HEAD", "GET"} {
			resp, _, err := call(t, method, gw.URL+"/org/m/resolve/main/model.safetensors", nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode < 500 {
				t.Errorf("CDN %d, %s: gateway answered %d (code %q), want a 502 naming the upstream", status, method, resp.StatusCode, resp.Header.Get("X-Error-Code"))
			}
			assertErrorShape(t, fmt.Sprintf("CDN %d %s", status, method), resp)
		}
		hub.Close()
		cdn.Close()
	}
}

// Regression (hardening, low) (found in review, fixed): X-Repo-Commit and ETag become directory and file
// names in the client's cache (snapshots/{commit}, blobs/{etag}); the
// gateway relays whatever the upstream says. A broken or hostile mirror
// answering "../../x" steers huggingface_hub's writes out of its cache.
// Commits should be 40-hex and etags hex, or the answer a 502.
func TestRegression_UpstreamCommitIsNotValidated(t *testing.T) {
	data := []byte(`{}`)
	up := httptest.NewServer(&fakeFile{name: "config.json", full: data, ranged: data, etagOf: data, commit: "../../../../tmp/escape"})
	defer up.Close()
	gw := gatewayOver(t, up.URL)
	resp, _, err := call(t, "HEAD", gw.URL+"/org/m/resolve/main/config.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c := resp.Header.Get("X-Repo-Commit"); resp.StatusCode == 200 && strings.ContainsAny(c, "./") {
		t.Errorf("relayed X-Repo-Commit %q, a path for the client's cache", c)
	}
}

func TestRangeEdgeCases(t *testing.T) {
	data := safetensorsBytes(1000)
	n := len(data)
	_, gw := startSim(t, map[string][]byte{"models/org/m/model.safetensors": data, "models/org/m/config.json": []byte(`{"k":"v"}`)}, nil)
	cases := []struct {
		rng        string
		status     int
		start, end int // expected body data[start:end] for 200/206
	}{
		{"bytes=0-", 206, 0, n},
		{"bytes=-10", 206, n - 10, n},
		{fmt.Sprintf("bytes=-%d", n+50), 206, 0, n},
		{fmt.Sprintf("bytes=10-%d", n*4), 206, 10, n},
		{"bytes=0-0", 206, 0, 1},
		{"bytes=0-1,5-6", 200, 0, n}, // multi-range: answered whole, which RFC 9110 allows
		{"items=0-5", 200, 0, n},
		{"bytes=5-2", 416, 0, 0},
		{"bytes=-0", 416, 0, 0},
		{fmt.Sprintf("bytes=%d-", n), 416, 0, 0},
	}
	for _, c := range cases {
		resp, body, err := call(t, "GET", gw.URL+"/org/m/resolve/main/model.safetensors", map[string]string{"Range": c.rng})
		if err != nil {
			t.Fatalf("%s: %v", c.rng, err)
		}
		if resp.StatusCode != c.status {
			t.Errorf("Range %s: %d, want %d", c.rng, resp.StatusCode, c.status)
			continue
		}
		switch c.status {
		case 206:
			want := fmt.Sprintf("bytes %d-%d/%d", c.start, c.end-1, n)
			if !bytes.Equal(body, data[c.start:c.end]) || resp.Header.Get("Content-Range") != want {
				t.Errorf("Range %s: Content-Range %q (want %q), %d bytes", c.rng, resp.Header.Get("Content-Range"), want, len(body))
			}
		case 200:
			if !bytes.Equal(body, data) {
				t.Errorf("Range %s: whole-file answer of %d bytes differs", c.rng, len(body))
			}
		case 416:
			if resp.Header.Get("Content-Range") != fmt.Sprintf("bytes */%d", n) {
				t.Errorf("Range %s: 416 Content-Range %q", c.rng, resp.Header.Get("Content-Range"))
			}
			assertErrorShape(t, "416 "+c.rng, resp)
		}
	}
}
