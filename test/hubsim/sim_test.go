package hubsim

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// fixture builds a repos folder and starts a simulator on it.
type fixture struct {
	*Sim
	dir     string
	weights []byte // content of models/org/m/model.safetensors
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func start(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	weights := randomBytes(t, 3000)
	files := map[string][]byte{
		"models/org/m/config.json":           []byte(`{"model_type":"demo"}`),
		"models/org/m/model.safetensors":     weights,
		"models/org/m/pytorch_model.bin":     []byte("pretend pickle"),
		"models/org/m/empty.txt":             nil,
		"models/org/m/onnx/model.onnx":       []byte("onnx"),
		"models/org/m/huge.safetensors":      []byte("small on disk"),
		"models/org/m/short.safetensors":     randomBytes(t, 4000),
		"models/org/m/die.safetensors":       randomBytes(t, 4000),
		"models/org/m/bad.safetensors":       randomBytes(t, 4000),
		"models/org/m/slow.safetensors":      randomBytes(t, 4000),
		"_revisions/m-v2/config.json":        []byte(`{"model_type":"demo","v":2}`),
		"models/org/gated/config.json":       []byte(`{"gated":true}`),
		"models/org/private/config.json":     []byte(`{"private":true}`),
		"models/org/broken/config.json":      []byte(`{}`),
		"models/org/busy/config.json":        []byte(`{}`),
		"models/org/flaky/config.json":       []byte(`{}`),
		"models/org/flaky/pytorch_model.bin": []byte(`x`),
		"models/gpt2/config.json":            []byte(`{"legacy":true}`),
		"datasets/org/d/data/train.csv":      []byte("a,b\n1,2\n"),
		"models/org/many/a.txt":              []byte("a"),
		"models/org/many/b/c.txt":            []byte("c"),
		"models/org/many/b/d.safetensors":    []byte("d"),
		"models/org/many/e.txt":              []byte("e"),
	}
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, c, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	settings := `{
	  "models/org/m": {"branches": {"v2": "_revisions/m-v2", "refs/pr/1": "_revisions/m-v2"},
	    "declared_sizes": {"huge.safetensors": 60000000000},
	    "cdn_faults": {"short.safetensors": "short", "die.safetensors": "die", "bad.safetensors": "corrupt", "slow.safetensors": "stall"},
	    "stall_ms": 300},
	  "models/org/gated": {"gated": "manual", "tokens": ["hf_ok"]},
	  "models/org/private": {"private": true, "tokens": ["hf_ok"]},
	  "models/org/old": {"renamed_to": "org/m"},
	  "models/org/broken": {"fail": {"status": 403}},
	  "models/org/busy": {"fail": {"status": 429, "retry_after": 7, "times": 2, "message": "slow down"}},
	  "models/org/flaky": {"fail": {"status": 503, "files": ["*.bin"]}}
	}`
	if err := os.WriteFile(filepath.Join(dir, SettingsFile), []byte(settings), 0o644); err != nil {
		t.Fatal(err)
	}
	sim, err := Start(Config{ReposDir: dir, PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	return &fixture{Sim: sim, dir: dir, weights: weights}
}

// noRedirects sees every answer as the client's first request does.
var noRedirects = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Transport:     &http.Transport{DisableCompression: true},
	Timeout:       10 * time.Second,
}

func call(t *testing.T, method, u string, hdr map[string]string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, u, err)
	}
	return resp, b
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

var hex40 = regexp.MustCompile(`^[0-9a-f]{40}$`)

func TestShapeA_RelativeRedirectToResolveCache(t *testing.T) {
	f := start(t)
	resp, _ := call(t, "HEAD", f.HubURL+"/org/m/resolve/main/config.json", nil, nil)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != 307 || !strings.HasPrefix(loc, "/api/resolve-cache/models/org/m/") || !strings.Contains(loc, "?") ||
		!strings.Contains(loc, "etag=%22") || resp.Header.Get("X-Repo-Commit") != "" {
		t.Fatalf("HEAD config: %d Location %q commit %q", resp.StatusCode, loc, resp.Header.Get("X-Repo-Commit"))
	}
	for _, m := range []string{"HEAD", "GET"} {
		resp, body := call(t, m, f.HubURL+loc, nil, nil)
		if resp.StatusCode != 200 || !hex40.MatchString(resp.Header.Get("X-Repo-Commit")) ||
			resp.Header.Get("ETag") == "" || resp.Header.Get("Content-Length") != "21" {
			t.Errorf("%s resolve-cache: %d %v", m, resp.StatusCode, resp.Header)
		}
		if m == "GET" && string(body) != `{"model_type":"demo"}` {
			t.Errorf("resolve-cache body %q", body)
		}
	}
}

func TestShapeB_DirectAnswers(t *testing.T) {
	f := start(t)
	for _, c := range []struct {
		path, token, length string
	}{
		{"/org/gated/resolve/main/config.json", "hf_ok", "14"},
		{"/org/private/resolve/main/config.json", "hf_ok", "16"},
		{"/gpt2/resolve/main/config.json", "", "15"},
		{"/org/m/resolve/main/empty.txt", "", "0"},
		{"/datasets/org/d/resolve/main/data/train.csv", "", ""}, // public namespaced git file: shape A
	} {
		hdr := map[string]string{}
		if c.token != "" {
			hdr["Authorization"] = "Bearer " + c.token
		}
		resp, _ := call(t, "HEAD", f.HubURL+c.path, hdr, nil)
		if c.length == "" {
			if resp.StatusCode != 307 {
				t.Errorf("HEAD %s: %d, want 307", c.path, resp.StatusCode)
			}
			continue
		}
		if resp.StatusCode != 200 || resp.Header.Get("Content-Length") != c.length ||
			!hex40.MatchString(resp.Header.Get("X-Repo-Commit")) || resp.Header.Get("ETag") == "" {
			t.Errorf("HEAD %s: %d %v", c.path, resp.StatusCode, resp.Header)
		}
	}
}

func TestShapeC_RedirectToCDNWithMetadataAndXetHints(t *testing.T) {
	f := start(t)
	resp, _ := call(t, "HEAD", f.HubURL+"/org/m/resolve/main/model.safetensors", map[string]string{"Authorization": "Bearer hf_user"}, nil)
	h := resp.Header
	loc, err := url.Parse(h.Get("Location"))
	if resp.StatusCode != 302 || err != nil || !loc.IsAbs() {
		t.Fatalf("HEAD safetensors: %d Location %q", resp.StatusCode, h.Get("Location"))
	}
	hub, _ := url.Parse(f.HubURL)
	if loc.Hostname() == hub.Hostname() || loc.Query().Get("X-Amz-Signature") == "" {
		t.Errorf("CDN URL %s must be on another host than the hub (%s) and look presigned", loc, hub.Hostname())
	}
	sum := sha256Hex(f.weights)
	if h.Get("X-Linked-Etag") != `"`+sum+`"` || h.Get("X-Linked-Size") != "3000" || h.Get("ETag") == "" ||
		!hex40.MatchString(h.Get("X-Repo-Commit")) || len(h.Get("X-Xet-Hash")) != 64 {
		t.Errorf("302 metadata: %v", h)
	}
	link := h.Get("Link")
	if !strings.Contains(link, f.HubURL+"/api/models/org/m/xet-read-token/"+h.Get("X-Repo-Commit")+`>; rel="xet-auth"`) ||
		!strings.Contains(link, f.CASURL+"/v1/reconstructions/"+h.Get("X-Xet-Hash")+`>; rel="xet-reconstruction-info"`) {
		t.Errorf("Link %q lacks xet-auth or xet-reconstruction-info", link)
	}
	// The CDN serves the bytes, ranges and 416.
	f.ResetLog()
	resp, body := call(t, "GET", loc.String(), nil, nil)
	if resp.StatusCode != 200 || sha256Hex(body) != sum || resp.Header.Get("Content-Length") != "3000" {
		t.Errorf("CDN GET: %d, %d bytes", resp.StatusCode, len(body))
	}
	resp, body = call(t, "GET", loc.String(), map[string]string{"Range": "bytes=100-199", "Authorization": "Bearer leak"}, nil)
	if resp.StatusCode != 206 || string(body) != string(f.weights[100:200]) || resp.Header.Get("Content-Range") != "bytes 100-199/3000" {
		t.Errorf("CDN Range: %d %q", resp.StatusCode, resp.Header.Get("Content-Range"))
	}
	resp, _ = call(t, "GET", loc.String(), map[string]string{"Range": "bytes=3000-"}, nil)
	if resp.StatusCode != 416 {
		t.Errorf("CDN Range past end: %d", resp.StatusCode)
	}
	unsigned := *loc
	unsigned.RawQuery = ""
	if resp, _ = call(t, "GET", unsigned.String(), nil, nil); resp.StatusCode != 403 {
		t.Errorf("CDN without signature: %d, want 403", resp.StatusCode)
	}
	log := f.Log()
	if len(log) != 4 || log[0].Listener != "cdn" || log[0].Auth || !log[1].Auth || log[1].Token != "leak" || log[1].Range != "bytes=100-199" || log[1].Status != 206 {
		t.Errorf("CDN log: %+v", log)
	}
}

func TestShapeD_RenamedRepo(t *testing.T) {
	f := start(t)
	for p, want := range map[string]string{
		"/org/old/resolve/main/config.json":     "/org/m/resolve/main/config.json",
		"/api/models/org/old/revision/main?x=1": "/api/models/org/m/revision/main?x=1",
	} {
		resp, _ := call(t, "GET", f.HubURL+p, nil, nil)
		if resp.StatusCode != 307 || resp.Header.Get("Location") != want {
			t.Errorf("GET %s: %d Location %q, want %q", p, resp.StatusCode, resp.Header.Get("Location"), want)
		}
	}
}

func TestGatedAndPrivate(t *testing.T) {
	f := start(t)
	for _, c := range []struct {
		path, token string
		status      int
		code        string
	}{
		{"/org/gated/resolve/main/config.json", "", 401, "GatedRepo"},
		{"/org/gated/resolve/main/config.json", "hf_bad", 403, "GatedRepo"},
		{"/api/models/org/gated/tree/main", "", 401, "GatedRepo"},
		{"/api/models/org/gated", "", 200, ""}, // metadata readable without access
		{"/org/private/resolve/main/config.json", "", 401, "RepoNotFound"},
		{"/org/private/resolve/main/config.json", "hf_bad", 404, "RepoNotFound"},
		{"/api/models/org/private", "", 401, "RepoNotFound"},
		{"/api/models/org/private", "hf_ok", 200, ""},
		{"/org/nope/resolve/main/x", "", 401, "RepoNotFound"},
		{"/org/m/resolve/main/adapter_config.json", "", 404, "EntryNotFound"},
		{"/org/m/resolve/nobranch/config.json", "", 404, "RevisionNotFound"},
	} {
		hdr := map[string]string{}
		if c.token != "" {
			hdr["Authorization"] = "Bearer " + c.token
		}
		resp, body := call(t, "GET", f.HubURL+c.path, hdr, nil)
		if resp.StatusCode != c.status || resp.Header.Get("X-Error-Code") != c.code {
			t.Errorf("GET %s (token %q): %d %q, want %d %q", c.path, c.token, resp.StatusCode, resp.Header.Get("X-Error-Code"), c.status, c.code)
		}
		if c.code == "EntryNotFound" && !hex40.MatchString(resp.Header.Get("X-Repo-Commit")) {
			t.Errorf("EntryNotFound without X-Repo-Commit")
		}
		if c.path == "/api/models/org/gated" && !strings.Contains(string(body), `"gated":"manual"`) {
			t.Errorf("gated info: %s", body)
		}
	}
}

func TestWhoami(t *testing.T) {
	f := start(t)
	if resp, body := call(t, "GET", f.HubURL+"/api/whoami-v2", map[string]string{"Authorization": "Bearer hf_any"}, nil); resp.StatusCode != 200 || !strings.Contains(string(body), `"name":"hubsim"`) {
		t.Errorf("whoami with token: %d %s", resp.StatusCode, body)
	}
	if resp, _ := call(t, "GET", f.HubURL+"/api/whoami-v2", nil, nil); resp.StatusCode != 401 || resp.Header.Get("X-Error-Message") == "" {
		t.Errorf("whoami without token: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestInjectedFailures(t *testing.T) {
	f := start(t)
	resp, _ := call(t, "HEAD", f.HubURL+"/org/broken/resolve/main/config.json", nil, nil)
	if resp.StatusCode != 403 || resp.Header.Get("X-Error-Code") != "" || resp.Header.Get("X-Error-Message") != "" {
		t.Errorf("broken: %d %v, want a code-less 403", resp.StatusCode, resp.Header)
	}
	for i := 0; i < 3; i++ {
		resp, _ := call(t, "GET", f.HubURL+"/api/models/org/busy", nil, nil)
		if i < 2 && (resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "7" || resp.Header.Get("X-Error-Message") != "slow down") {
			t.Errorf("busy #%d: %d %v", i, resp.StatusCode, resp.Header)
		}
		if i == 2 && resp.StatusCode != 200 {
			t.Errorf("busy after 2 failures: %d, want 200", resp.StatusCode)
		}
	}
	if resp, _ := call(t, "HEAD", f.HubURL+"/org/flaky/resolve/main/pytorch_model.bin", nil, nil); resp.StatusCode != 503 {
		t.Errorf("flaky .bin: %d, want 503", resp.StatusCode)
	}
	if resp, _ := call(t, "HEAD", f.HubURL+"/org/flaky/resolve/main/config.json", nil, nil); resp.StatusCode != 307 {
		t.Errorf("flaky config.json: %d, want 307 (only *.bin fails)", resp.StatusCode)
	}
}

func TestXetTokenAndCASStub(t *testing.T) {
	f := start(t)
	resp, body := call(t, "GET", f.HubURL+"/api/models/org/m/xet-read-token/main", map[string]string{"Authorization": "Bearer hf_x"}, nil)
	var tok struct {
		AccessToken string `json:"accessToken"`
		Exp         int64  `json:"exp"`
		CasURL      string `json:"casUrl"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || resp.StatusCode != 200 || tok.CasURL != f.CASURL || tok.AccessToken == "" || tok.Exp < time.Now().Unix() {
		t.Fatalf("xet-read-token: %d %s", resp.StatusCode, body)
	}
	if resp.Header.Get("X-Xet-Cas-Url") != f.CASURL || resp.Header.Get("X-Xet-Access-Token") != tok.AccessToken || resp.Header.Get("X-Xet-Token-Expiration") == "" {
		t.Errorf("xet-read-token headers: %v", resp.Header)
	}
	f.ResetLog()
	resp, _ = call(t, "GET", f.CASURL+"/v2/reconstructions/abc", map[string]string{"Authorization": "Bearer " + tok.AccessToken}, nil)
	log := f.Log()
	if resp.StatusCode != 401 || len(log) != 1 || log[0].Listener != "cas" || log[0].Path != "/v2/reconstructions/abc" || !log[0].Auth {
		t.Errorf("CAS stub: %d, log %+v", resp.StatusCode, log)
	}
}

func TestTreePagingXetHashAndPathsInfo(t *testing.T) {
	f := start(t)
	var all []map[string]any
	next := f.HubURL + "/api/models/org/many/tree/main?recursive=true&expand=false"
	pages := 0
	for ; next != "" && pages < 10; pages++ {
		resp, body := call(t, "GET", next, nil, nil)
		var page []map[string]any
		if err := json.Unmarshal(body, &page); err != nil || len(page) > 2 {
			t.Fatalf("page %d: %s", pages, body)
		}
		all = append(all, page...)
		next = ""
		if m := regexp.MustCompile(`^<([^>]+)>; rel="next"$`).FindStringSubmatch(resp.Header.Get("Link")); m != nil {
			if !strings.HasPrefix(m[1], f.HubURL+"/api/models/org/many/tree/main?") {
				t.Errorf("Link %q is not absolute on the hub", m[1])
			}
			next = m[1]
		}
	}
	if pages != 3 || len(all) != 5 {
		t.Fatalf("%d pages, %d entries: %v", pages, len(all), all)
	}
	for _, e := range all {
		_, hasXet := e["xetHash"]
		if (e["path"] == "b/d.safetensors") != hasXet {
			t.Errorf("entry %v: xetHash must be on LFS files only", e)
		}
	}
	resp, body := call(t, "POST", f.HubURL+"/api/models/org/m/paths-info/main",
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
		strings.NewReader(url.Values{"paths": {"model.safetensors", "huge.safetensors", "onnx"}, "expand": {"false"}}.Encode()))
	var items []map[string]any
	if err := json.Unmarshal(body, &items); err != nil || resp.StatusCode != 200 || len(items) != 3 {
		t.Fatalf("paths-info: %d %s", resp.StatusCode, body)
	}
	if items[0]["xetHash"] == nil || items[1]["size"] != float64(60000000000) || items[2]["type"] != "directory" {
		t.Errorf("paths-info items: %s", body)
	}
}

func TestDeclaredSizeAbove50GB(t *testing.T) {
	f := start(t)
	resp, _ := call(t, "HEAD", f.HubURL+"/org/m/resolve/main/huge.safetensors", nil, nil)
	if resp.StatusCode != 302 || resp.Header.Get("X-Linked-Size") != "60000000000" {
		t.Errorf("huge: %d X-Linked-Size %q", resp.StatusCode, resp.Header.Get("X-Linked-Size"))
	}
}

func TestRevisionsAndMovingBranch(t *testing.T) {
	f := start(t)
	info := func(rev string) (int, string) {
		p := "/api/models/org/m"
		if rev != "" {
			p += "/revision/" + url.PathEscape(rev)
		}
		resp, body := call(t, "GET", f.HubURL+p, nil, nil)
		var v struct{ SHA string }
		json.Unmarshal(body, &v)
		return resp.StatusCode, v.SHA
	}
	_, mainSHA := info("")
	_, prSHA := info("refs/pr/1")
	if !hex40.MatchString(mainSHA) || !hex40.MatchString(prSHA) || mainSHA == prSHA {
		t.Fatalf("main %q, refs/pr/1 %q", mainSHA, prSHA)
	}
	// %2F in a resolve revision is one segment.
	resp, _ := call(t, "HEAD", f.HubURL+"/org/m/resolve/refs%2Fpr%2F1/config.json", nil, nil)
	if resp.StatusCode != 307 || !strings.Contains(resp.Header.Get("Location"), prSHA) {
		t.Errorf("resolve refs%%2Fpr%%2F1: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body := call(t, "POST", f.HubURL+"/_sim/move-branch?repo=models/org/m&branch=main&to=v2", nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), prSHA) {
		t.Fatalf("move-branch: %d %s", resp.StatusCode, body)
	}
	if _, sha := info("main"); sha != prSHA {
		t.Errorf("after move, main is %s, want %s", sha, prSHA)
	}
	if status, sha := info(mainSHA); status != 200 || sha != mainSHA {
		t.Errorf("old commit %s no longer resolvable: %d %s", mainSHA, status, sha)
	}
	if _, err := f.MoveBranch("models/org/m", "main", "@repo"); err != nil {
		t.Fatal(err)
	}
	if _, sha := info(""); sha != mainSHA {
		t.Errorf("after moving back, main is %s, want %s", sha, mainSHA)
	}
	if status, _ := info(strings.Repeat("a", 40)); status != 404 {
		t.Errorf("unknown commit: %d, want 404", status)
	}
}

func TestCDNFaults(t *testing.T) {
	f := start(t)
	cdnURL := func(name string) string {
		resp, _ := call(t, "HEAD", f.HubURL+"/org/m/resolve/main/"+name, nil, nil)
		return resp.Header.Get("Location")
	}
	get := func(u string) (int, []byte, error) {
		resp, err := noRedirects.Get(u)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, b, err
	}
	for _, name := range []string{"short.safetensors", "die.safetensors"} {
		if _, b, err := get(cdnURL(name)); err == nil {
			t.Errorf("%s: read %d bytes without error; want a broken transfer", name, len(b))
		}
	}
	orig, _ := os.ReadFile(filepath.Join(f.dir, "models/org/m/bad.safetensors"))
	status, b, err := get(cdnURL("bad.safetensors"))
	if err != nil || status != 200 || len(b) != len(orig) || sha256Hex(b) == sha256Hex(orig) {
		t.Errorf("corrupt: %d, %d bytes, err %v; want the right length and wrong bytes", status, len(b), err)
	}
	t0 := time.Now()
	orig, _ = os.ReadFile(filepath.Join(f.dir, "models/org/m/slow.safetensors"))
	status, b, err = get(cdnURL("slow.safetensors"))
	if err != nil || status != 200 || string(b) != string(orig) || time.Since(t0) < 300*time.Millisecond {
		t.Errorf("stall: %d, %d bytes, err %v after %v", status, len(b), err, time.Since(t0))
	}
}

func TestAdminLogOverHTTP(t *testing.T) {
	f := start(t)
	call(t, "GET", f.HubURL+"/org/m/resolve/refs%2Fpr%2F1/config.json?x=1", map[string]string{"User-Agent": "hf_hub/test", "Range": "bytes=0-1"}, nil)
	_, body := call(t, "GET", f.HubURL+"/_sim/log", nil, nil)
	var log []LogEntry
	if err := json.Unmarshal(body, &log); err != nil || len(log) != 1 {
		t.Fatalf("log: %s", body)
	}
	e := log[0]
	if e.Listener != "hub" || e.Method != "GET" || e.Path != "/org/m/resolve/refs%2Fpr%2F1/config.json" || e.Query != "x=1" ||
		e.UA != "hf_hub/test" || e.Range != "bytes=0-1" || e.Auth || e.Status != 307 {
		t.Errorf("log entry %+v", e)
	}
	call(t, "POST", f.HubURL+"/_sim/reset", nil, nil)
	if _, body = call(t, "GET", f.HubURL+"/_sim/log", nil, nil); string(body) != "[]" {
		t.Errorf("log after reset: %s", body)
	}
}

func TestSettingsAreValidated(t *testing.T) {
	for _, bad := range []string{
		`{"models/org/m": {"gatd": "manual"}}`,
		`{"models/org/m": {"cdn_faults": {"x": "explode"}}}`,
		`{"org/m": {}}`,
		`{"models/org/m": {"branches": {"x": "../outside"}}}`,
		`{"models/org/m": {"branches": {"x": "models/org/other"}}}`,
		`{"models/org/m": {"fail": {"status": 200}}}`,
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, SettingsFile), []byte(bad), 0o644)
		if _, err := LoadSettings(dir); err == nil {
			t.Errorf("LoadSettings accepted %s", bad)
		}
	}
}
