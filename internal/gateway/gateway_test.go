package gateway_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/safehub/safehub/internal/cache"
	"github.com/safehub/safehub/internal/gateway"
	"github.com/safehub/safehub/internal/store/disk"
	"github.com/safehub/safehub/internal/upstream"
	"github.com/safehub/safehub/test/hubsim"
)

// safetensorsBytes builds a valid safetensors file holding one F32 tensor
// of n elements, so the content check passes it.
func safetensorsBytes(n int) []byte {
	hdr := fmt.Sprintf(`{"w":{"dtype":"F32","shape":[%d],"data_offsets":[0,%d]}}`, n, 4*n)
	for len(hdr)%8 != 0 {
		hdr += " "
	}
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(hdr)))
	b.WriteString(hdr)
	for i := 0; i < 4*n; i++ {
		b.WriteByte(byte(i * 7))
	}
	return b.Bytes()
}

// maliciousPickle is a protocol-2 pickle calling os.system; never loaded.
var maliciousPickle = []byte("\x80\x02cposix\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03.")

type env struct {
	sim   *hubsim.Sim
	gw    *httptest.Server
	files map[string][]byte // "org/name/path" → bytes
}

func writeFile(t *testing.T, root, rel string, data []byte) { writeFileTB(t, root, rel, data) }

func writeFileTB(t testing.TB, root, rel string, data []byte) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{files: map[string][]byte{}}
	add := func(rel string, data []byte) {
		writeFile(t, dir, rel, data)
		e.files[rel] = data
	}
	add("models/org/mixed/config.json", []byte(`{"model_type":"demo"}`))
	add("models/org/mixed/model.safetensors", safetensorsBytes(300_000))
	add("models/org/mixed/pytorch_model.bin", maliciousPickle)
	add("models/org/mixed/sub/dir/notes.txt", []byte("hello\n"))
	add("models/org/sneaky/model.safetensors", maliciousPickle)
	add("models/org/sneaky/config.json", []byte(`{}`))
	add("models/org/gated/model.safetensors", safetensorsBytes(10))
	add("models/org/gated/config.json", []byte(`{"gated":true}`))
	add("models/org/faulty/model.safetensors", safetensorsBytes(200_000))
	for i := 0; i < 7; i++ {
		add(fmt.Sprintf("models/org/many/f%02d.json", i), []byte(`{}`))
		add(fmt.Sprintf("models/org/many/w%02d.pt", i), maliciousPickle)
	}
	settings := hubsim.Settings{
		"models/org/gated":  {Gated: "manual", Tokens: []string{"hf_ok"}},
		"models/org/faulty": {CDNFaults: map[string]string{"model.safetensors": hubsim.FaultCorrupt}},
	}
	sim, err := hubsim.Start(hubsim.Config{ReposDir: dir, PageSize: 3, Settings: settings})
	if err != nil {
		t.Fatalf("hubsim: %v", err)
	}
	t.Cleanup(func() { sim.Close() })
	up, err := upstream.New(sim.HubURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := disk.Open(t.TempDir(), disk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := cache.New(st, cache.Options{})
	t.Cleanup(func() { c.Close() })
	g, err := gateway.New(gateway.Config{Upstream: up, Cache: c})
	if err != nil {
		t.Fatal(err)
	}
	e.sim = sim
	e.gw = httptest.NewServer(g)
	t.Cleanup(e.gw.Close)
	return e
}

func (e *env) do(t *testing.T, method, path string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.gw.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultTransport.RoundTrip(req) // no redirect following
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp, nil
	}
	return resp, body
}

func TestHeadSafetensorsHasFullMetadataAndNoRedirect(t *testing.T) {
	e := newEnv(t)
	data := e.files["models/org/mixed/model.safetensors"]
	sum := sha256.Sum256(data)
	resp, _ := e.do(t, "HEAD", "/org/mixed/resolve/main/model.safetensors", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("HEAD status %d (%s)", resp.StatusCode, resp.Header.Get("X-Error-Message"))
	}
	h := resp.Header
	if got := h.Get("X-Linked-Etag"); got != `"`+hex.EncodeToString(sum[:])+`"` {
		t.Errorf("X-Linked-Etag = %q", got)
	}
	if got := h.Get("X-Linked-Size"); got != fmt.Sprint(len(data)) {
		t.Errorf("X-Linked-Size = %q, want %d", got, len(data))
	}
	if got := h.Get("Content-Length"); got != fmt.Sprint(len(data)) {
		t.Errorf("Content-Length = %q, want %d", got, len(data))
	}
	if len(h.Get("X-Repo-Commit")) != 40 || h.Get("ETag") == "" {
		t.Errorf("missing commit or etag: %v", h)
	}
	for k := range h {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-xet") || lk == "location" || lk == "link" {
			t.Errorf("HEAD leaked header %s: %q", k, h.Get(k))
		}
	}
}

func TestGetStreamsBytesThroughGatewayWithoutLeakingToken(t *testing.T) {
	e := newEnv(t)
	for _, f := range []string{"config.json", "model.safetensors", "sub/dir/notes.txt"} {
		e.sim.ResetLog()
		resp, body := e.do(t, "GET", "/org/mixed/resolve/main/"+f, map[string]string{"Authorization": "Bearer hf_secret"})
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", f, resp.StatusCode, resp.Header.Get("X-Error-Message"))
		}
		if !bytes.Equal(body, e.files["models/org/mixed/"+f]) {
			t.Errorf("GET %s: %d bytes differ from the source", f, len(body))
		}
		for _, l := range e.sim.Log() {
			if l.Listener != "hub" && l.Auth {
				t.Errorf("token sent to %s: %s %s", l.Listener, l.Method, l.Path)
			}
		}
	}
}

func TestRefusedFileIsEntryNotFoundNamingAlternative(t *testing.T) {
	e := newEnv(t)
	for _, method := range []string{"HEAD", "GET"} {
		resp, _ := e.do(t, method, "/org/mixed/resolve/main/pytorch_model.bin", nil)
		if resp.StatusCode != 404 || resp.Header.Get("X-Error-Code") != "EntryNotFound" {
			t.Fatalf("%s refused file: %d %q", method, resp.StatusCode, resp.Header.Get("X-Error-Code"))
		}
		msg := resp.Header.Get("X-Error-Message")
		if !strings.HasPrefix(msg, "safehub: ") || !strings.Contains(msg, "model.safetensors") {
			t.Errorf("%s message %q lacks the safehub prefix or the alternative", method, msg)
		}
		if len(resp.Header.Get("X-Repo-Commit")) != 40 {
			t.Errorf("%s refusal without X-Repo-Commit", method)
		}
	}
	// No byte of the refused file was fetched from the CDN.
	for _, l := range e.sim.Log() {
		if strings.Contains(l.Path, "pytorch_model.bin") && l.Listener == "cdn" {
			t.Errorf("refused file fetched from the CDN: %+v", l)
		}
	}
}

func TestPickleNamedSafetensorsRefusedByContent(t *testing.T) {
	e := newEnv(t)
	resp, body := e.do(t, "GET", "/org/sneaky/resolve/main/model.safetensors", nil)
	if resp.StatusCode != 404 || resp.Header.Get("X-Error-Code") != "EntryNotFound" {
		t.Fatalf("status %d code %q body %q", resp.StatusCode, resp.Header.Get("X-Error-Code"), body)
	}
	if msg := resp.Header.Get("X-Error-Message"); !strings.Contains(msg, "not safetensors") {
		t.Errorf("message %q does not say it is not safetensors", msg)
	}
	if bytes.Contains(body, maliciousPickle[:8]) {
		t.Error("refusal body carries file bytes")
	}
	// Once known, the listing hides it too.
	_, body = e.do(t, "GET", "/api/models/org/sneaky/tree/main", nil)
	if bytes.Contains(body, []byte("model.safetensors")) {
		t.Errorf("tree still lists the refused blob: %s", body)
	}
}

func TestListingsHideRefusedFilesAndXet(t *testing.T) {
	e := newEnv(t)
	_, info := e.do(t, "GET", "/api/models/org/mixed/revision/main?blobs=true", nil)
	if bytes.Contains(info, []byte("pytorch_model.bin")) || !bytes.Contains(info, []byte("model.safetensors")) {
		t.Errorf("siblings not filtered: %s", info)
	}
	_, tree := e.do(t, "GET", "/api/models/org/mixed/tree/main?recursive=true", nil)
	if bytes.Contains(tree, []byte("pytorch_model.bin")) || bytes.Contains(tree, []byte("xetHash")) {
		t.Errorf("tree not filtered: %s", tree)
	}
	req, _ := http.NewRequest("POST", e.gw.URL+"/api/models/org/mixed/paths-info/main",
		strings.NewReader(url.Values{"paths": {"pytorch_model.bin", "model.safetensors"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	pi, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var items []map[string]any
	if err := json.Unmarshal(pi, &items); err != nil || len(items) != 1 || items[0]["path"] != "model.safetensors" {
		t.Errorf("paths-info = %s (%v)", pi, err)
	}
	if bytes.Contains(pi, []byte("xetHash")) {
		t.Errorf("paths-info leaks xetHash: %s", pi)
	}
}

func TestTreePagingLinksPointAtGateway(t *testing.T) {
	e := newEnv(t)
	next := "/api/models/org/many/tree/main"
	var names []string
	for pages := 0; next != ""; pages++ {
		if pages > 20 {
			t.Fatal("paging does not end")
		}
		resp, body := e.do(t, "GET", next, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("page %d: %d", pages, resp.StatusCode)
		}
		var items []map[string]any
		if err := json.Unmarshal(body, &items); err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			names = append(names, it["path"].(string))
		}
		next = ""
		if l := resp.Header.Get("Link"); l != "" {
			if !strings.Contains(l, e.gw.URL) {
				t.Fatalf("Link %q not on the gateway origin %s", l, e.gw.URL)
			}
			start, end := strings.Index(l, "<"), strings.Index(l, ">")
			next = strings.TrimPrefix(l[start+1:end], e.gw.URL)
		}
	}
	if len(names) != 7 {
		t.Errorf("paged listing has %d files, want the 7 json files: %v", len(names), names)
	}
	for _, n := range names {
		if strings.HasSuffix(n, ".pt") {
			t.Errorf("refused %s listed", n)
		}
	}
}

func TestRangeRequests(t *testing.T) {
	e := newEnv(t)
	data := e.files["models/org/mixed/model.safetensors"]
	resp, body := e.do(t, "GET", "/org/mixed/resolve/main/model.safetensors", map[string]string{"Range": "bytes=100-199"})
	if resp.StatusCode != 206 || !bytes.Equal(body, data[100:200]) {
		t.Fatalf("range: %d, %d bytes", resp.StatusCode, len(body))
	}
	if got, want := resp.Header.Get("Content-Range"), fmt.Sprintf("bytes 100-199/%d", len(data)); got != want {
		t.Errorf("Content-Range = %q, want %q", got, want)
	}
	resp, body = e.do(t, "GET", "/org/mixed/resolve/main/model.safetensors", map[string]string{"Range": fmt.Sprintf("bytes=%d-", len(data)-10)})
	if resp.StatusCode != 206 || !bytes.Equal(body, data[len(data)-10:]) {
		t.Errorf("open range: %d, %d bytes", resp.StatusCode, len(body))
	}
	resp, _ = e.do(t, "GET", "/org/mixed/resolve/main/model.safetensors", map[string]string{"Range": fmt.Sprintf("bytes=%d-", len(data))})
	if resp.StatusCode != 416 {
		t.Errorf("range past the end: %d, want 416", resp.StatusCode)
	}
}

func TestGatedRepoKeepsHubErrors(t *testing.T) {
	e := newEnv(t)
	resp, _ := e.do(t, "HEAD", "/org/gated/resolve/main/config.json", nil)
	if resp.StatusCode != 401 || resp.Header.Get("X-Error-Code") != "GatedRepo" {
		t.Errorf("anonymous: %d %q", resp.StatusCode, resp.Header.Get("X-Error-Code"))
	}
	resp, _ = e.do(t, "HEAD", "/org/gated/resolve/main/config.json", map[string]string{"Authorization": "Bearer hf_wrong"})
	if resp.StatusCode != 403 || resp.Header.Get("X-Error-Code") != "GatedRepo" {
		t.Errorf("wrong token: %d %q", resp.StatusCode, resp.Header.Get("X-Error-Code"))
	}
	resp, body := e.do(t, "GET", "/org/gated/resolve/main/config.json", map[string]string{"Authorization": "Bearer hf_ok"})
	if resp.StatusCode != 200 || string(body) != `{"gated":true}` {
		t.Errorf("good token: %d %q", resp.StatusCode, body)
	}
}

func TestCorruptUpstreamIsNeverACompleteResponse(t *testing.T) {
	e := newEnv(t)
	req, _ := http.NewRequest("GET", e.gw.URL+"/org/faulty/resolve/main/model.safetensors", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return // refused before headers: fine
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode == 200 {
		t.Fatalf("corrupt upstream bytes delivered as a complete %d-byte response", len(body))
	}
}

func TestRoutesTheGatewayDoesNotServe(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		method, path string
		status       int
	}{
		{"GET", "/api/models/org/mixed/xet-read-token/main", 403},
		{"GET", "/org/mixed.git/info/refs?service=git-upload-pack", 403},
		{"PUT", "/org/mixed/resolve/main/config.json", 405},
		{"GET", "/api/spaces-secrets", 404},
		{"GET", "/org/mixed/resolve/main/..%2F..%2Fetc%2Fpasswd", 400},
		{"GET", "/http:%2F%2F127.0.0.3%2Fx/resolve/main/f", 400},
	}
	for _, c := range cases {
		resp, _ := e.do(t, c.method, c.path, nil)
		if resp.StatusCode != c.status {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, resp.StatusCode, c.status)
		}
		if resp.Header.Get("X-Error-Message") == "" {
			t.Errorf("%s %s: no X-Error-Message", c.method, c.path)
		}
	}
}

// cdnFullGets counts full (non-range) GETs of files on the CDN.
func cdnFullGets(sim *hubsim.Sim) int {
	n := 0
	for _, l := range sim.Log() {
		if l.Listener == "cdn" && l.Method == "GET" && l.Range == "" {
			n++
		}
	}
	return n
}

func TestConcurrentColdGetsFetchUpstreamOnceThenServeFromCache(t *testing.T) {
	e := newEnv(t)
	data := e.files["models/org/mixed/model.safetensors"]
	url := "/org/mixed/resolve/main/model.safetensors"
	e.sim.ResetLog()
	const clients = 8
	type answer struct {
		status int
		body   []byte
	}
	answers := make(chan answer, clients)
	for range clients {
		go func() {
			resp, body := e.do(t, "GET", url, nil)
			answers <- answer{resp.StatusCode, body}
		}()
	}
	for range clients {
		a := <-answers
		if a.status != 200 || !bytes.Equal(a.body, data) {
			t.Fatalf("client got %d with %d bytes, want 200 with the file", a.status, len(a.body))
		}
	}
	if n := cdnFullGets(e.sim); n != 1 {
		t.Errorf("%d full CDN fetches for %d concurrent cold GETs, want 1", n, clients)
	}
	// Served from the cache now: no byte from the CDN, and within
	// AuthMemoTTL of the upstream serving this repo without a token, no
	// upstream call at all (gated repos: revisions_test.go).
	e.sim.ResetLog()
	resp, body := e.do(t, "GET", url, map[string]string{"Range": "bytes=10-19"})
	if resp.StatusCode != 206 || !bytes.Equal(body, data[10:20]) {
		t.Fatalf("cached range: %d %q", resp.StatusCode, body)
	}
	resp, body = e.do(t, "GET", url, nil)
	if resp.StatusCode != 200 || !bytes.Equal(body, data) {
		t.Fatalf("cached GET: %d, %d bytes", resp.StatusCode, len(body))
	}
	hub := 0
	for _, l := range e.sim.Log() {
		if l.Listener == "cdn" && l.Range == "" {
			t.Errorf("cache hit fetched from the CDN: %+v", l)
		}
		if l.Listener == "hub" {
			hub++
		}
	}
	if hub != 0 {
		t.Errorf("%d upstream calls for cache hits of a public repo within the memo window, want 0", hub)
	}
}

func TestCachedGatedFileNeedsTheUpstreamsConsent(t *testing.T) {
	e := newEnv(t)
	url := "/org/gated/resolve/main/model.safetensors"
	resp, _ := e.do(t, "GET", url, map[string]string{"Authorization": "Bearer hf_ok"})
	if resp.StatusCode != 200 {
		t.Fatalf("with token: %d", resp.StatusCode)
	}
	resp, body := e.do(t, "GET", url, nil)
	if resp.StatusCode != 401 || resp.Header.Get("X-Error-Code") != "GatedRepo" || len(body) > 200 {
		t.Errorf("cached gated file without token: %d %q (%d bytes)", resp.StatusCode, resp.Header.Get("X-Error-Code"), len(body))
	}
}
