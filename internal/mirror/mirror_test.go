package mirror

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/safehub/safehub/internal/hubrepo"
)

var weights = strings.Repeat("0123456789abcdef", 64) // 1 KiB of "tensor" bytes

func newMirror(t *testing.T, opts ...Option) (*httptest.Server, string) {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"models/org/m/config.json":           `{"model_type":"demo"}`,
		"models/org/m/model.safetensors":     weights,
		"models/org/m/onnx/model.onnx":       "onnx",
		"models/org/m/onnx/sub/a.txt":        "a",
		"models/org/m/empty.txt":             "",
		"models/gpt2/config.json":            `{}`,
		"datasets/org/d/data/train.csv":      "x,y\n1,2\n",
		"spaces/org/s/app.py":                "print('hi')\n",
		"models/org/many/file-00.txt":        "0",
		"models/org/many/dir/file-01.txt":    "1",
		"models/org/many/dir/file-02.txt":    "2",
		"models/org/many/dir/deep/file-3.md": "3",
		"models/org/many/file-04.txt":        "4",
	}
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	h, err := New(dir, append([]Option{WithSnapshotTTL(0)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, dir
}

func do(t *testing.T, method, u string, hdr map[string]string, body io.Reader) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultTransport.RoundTrip(req) // no redirects followed, no gzip added
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var hex40 = regexp.MustCompile(`^[0-9a-f]{40}$`)

func TestResolveHeadAndGet(t *testing.T) {
	srv, _ := newMirror(t)
	// Git file: 200, git blob etag, no linked headers.
	resp, body := do(t, "HEAD", srv.URL+"/org/m/resolve/main/config.json", nil, nil)
	commit := resp.Header.Get("X-Repo-Commit")
	if resp.StatusCode != 200 || !hex40.MatchString(commit) || body != "" {
		t.Fatalf("HEAD config: %d commit %q body %q", resp.StatusCode, commit, body)
	}
	if got, want := resp.Header.Get("ETag"), `"`+hubrepo.GitBlobID([]byte(`{"model_type":"demo"}`))+`"`; got != want {
		t.Errorf("ETag %s, want %s", got, want)
	}
	if resp.Header.Get("Content-Length") != "21" || resp.Header.Get("X-Linked-Etag") != "" || resp.Header.Get("Location") != "" {
		t.Errorf("HEAD config headers: %v", resp.Header)
	}
	// LFS file: sha256 etags and linked size, bytes on GET, by branch and by commit.
	sum := sha256.Sum256([]byte(weights))
	for _, rev := range []string{"main", commit} {
		resp, body = do(t, "GET", srv.URL+"/org/m/resolve/"+rev+"/model.safetensors", nil, nil)
		if resp.StatusCode != 200 || body != weights {
			t.Fatalf("GET safetensors at %s: %d, %d bytes", rev, resp.StatusCode, len(body))
		}
		if resp.Header.Get("X-Linked-Etag") != `"`+hex.EncodeToString(sum[:])+`"` ||
			resp.Header.Get("ETag") != resp.Header.Get("X-Linked-Etag") ||
			resp.Header.Get("X-Linked-Size") != "1024" || resp.Header.Get("Accept-Ranges") != "bytes" ||
			resp.Header.Get("X-Repo-Commit") != commit || resp.Header.Get("Content-Encoding") != "" {
			t.Errorf("GET safetensors headers: %v", resp.Header)
		}
	}
	// Range: 206 with Content-Range, and 416 past the end.
	resp, body = do(t, "GET", srv.URL+"/org/m/resolve/main/model.safetensors", map[string]string{"Range": "bytes=16-31"}, nil)
	if resp.StatusCode != 206 || body != weights[16:32] || resp.Header.Get("Content-Range") != "bytes 16-31/1024" {
		t.Errorf("Range: %d %q %q", resp.StatusCode, body, resp.Header.Get("Content-Range"))
	}
	resp, _ = do(t, "GET", srv.URL+"/org/m/resolve/main/model.safetensors", map[string]string{"Range": "bytes=5000-"}, nil)
	if resp.StatusCode != 416 {
		t.Errorf("Range past end: %d, want 416", resp.StatusCode)
	}
	// Zero-byte file, nested path, one-segment repo, dataset and space prefixes.
	for _, p := range []string{"/org/m/resolve/main/empty.txt", "/org/m/resolve/main/onnx/sub/a.txt",
		"/gpt2/resolve/main/config.json", "/datasets/org/d/resolve/main/data/train.csv", "/spaces/org/s/resolve/main/app.py",
		"/api/resolve-cache/models/org/m/" + commit + "/config.json"} {
		resp, _ := do(t, "HEAD", srv.URL+p, nil, nil)
		if resp.StatusCode != 200 || resp.Header.Get("X-Repo-Commit") == "" || resp.Header.Get("Content-Length") == "" {
			t.Errorf("HEAD %s: %d %v", p, resp.StatusCode, resp.Header)
		}
	}
}

func TestErrorsLikeTheHub(t *testing.T) {
	srv, _ := newMirror(t)
	resp, _ := do(t, "HEAD", srv.URL+"/org/m/resolve/main/config.json", nil, nil)
	commit := resp.Header.Get("X-Repo-Commit")
	for _, c := range []struct {
		method, path string
		auth         bool
		status       int
		code         string
		commit       bool
	}{
		{"HEAD", "/org/m/resolve/main/adapter_config.json", false, 404, CodeEntryNotFound, true},
		{"GET", "/org/m/resolve/main/onnx", false, 404, CodeEntryNotFound, true},
		{"HEAD", "/org/m/resolve/v9/config.json", false, 404, CodeRevisionNotFound, false},
		{"HEAD", "/org/m/resolve/refs%2Fpr%2F1/config.json", false, 404, CodeRevisionNotFound, false},
		{"GET", "/api/models/org/m/revision/" + strings.Repeat("0", 40), false, 404, CodeRevisionNotFound, false},
		{"HEAD", "/org/nope/resolve/main/config.json", false, 401, CodeRepoNotFound, false},
		{"HEAD", "/org/nope/resolve/main/config.json", true, 404, CodeRepoNotFound, false},
		{"GET", "/api/models/org/nope", false, 401, CodeRepoNotFound, false},
		{"GET", "/api/datasets/org/m", true, 404, CodeRepoNotFound, false},
		{"GET", "/api/models/org/m/tree/main/missing", false, 404, CodeEntryNotFound, true},
		{"GET", "/org/m/resolve/main/..%2Fx", false, 400, "BadRequest", false},
		{"GET", "/api/models/org/m/tree/main?cursor=!!", false, 400, "BadRequest", false},
		{"GET", "/api/whoami-v2", false, 404, "RouteNotFound", false},
		{"POST", "/org/m/resolve/main/config.json", false, 405, "MethodNotAllowed", false},
		{"GET", "/api/models/org/m/xet-read-token/main", false, 404, CodeEntryNotFound, true},
	} {
		hdr := map[string]string{}
		if c.auth {
			hdr["Authorization"] = "Bearer hf_x"
		}
		resp, body := do(t, c.method, srv.URL+c.path, hdr, nil)
		if resp.StatusCode != c.status || resp.Header.Get("X-Error-Code") != c.code || resp.Header.Get("X-Error-Message") == "" {
			t.Errorf("%s %s: %d code %q msg %q; want %d %q", c.method, c.path, resp.StatusCode,
				resp.Header.Get("X-Error-Code"), resp.Header.Get("X-Error-Message"), c.status, c.code)
		}
		if got := resp.Header.Get("X-Repo-Commit"); (got == commit) != c.commit {
			t.Errorf("%s %s: X-Repo-Commit %q, want present=%v", c.method, c.path, got, c.commit)
		}
		if c.method == "GET" && !strings.Contains(body, `"error"`) {
			t.Errorf("%s %s: body %q has no error key", c.method, c.path, body)
		}
	}
}

func TestRepoInfo(t *testing.T) {
	srv, _ := newMirror(t)
	var plain, blobs struct {
		ID       string           `json:"id"`
		SHA      string           `json:"sha"`
		Siblings []map[string]any `json:"siblings"`
		Gated    any              `json:"gated"`
		Private  *bool            `json:"private"`
	}
	_, body := do(t, "GET", srv.URL+"/api/models/org/m", nil, nil)
	if err := json.Unmarshal([]byte(body), &plain); err != nil {
		t.Fatal(err)
	}
	_, body = do(t, "GET", srv.URL+"/api/models/org/m/revision/main?blobs=true", nil, nil)
	if err := json.Unmarshal([]byte(body), &blobs); err != nil {
		t.Fatal(err)
	}
	if plain.ID != "org/m" || !hex40.MatchString(plain.SHA) || plain.SHA != blobs.SHA || plain.Gated != false || plain.Private == nil {
		t.Errorf("info: %+v", plain)
	}
	if len(plain.Siblings) != 5 || len(plain.Siblings[0]) != 1 {
		t.Errorf("siblings without blobs: %v", plain.Siblings)
	}
	for _, s := range blobs.Siblings {
		if _, ok := s["size"]; !ok {
			t.Errorf("blobs=true sibling without size: %v", s)
		}
		if s["rfilename"] == "model.safetensors" {
			lfs, _ := s["lfs"].(map[string]any)
			if lfs["sha256"] == nil || lfs["size"] != float64(1024) {
				t.Errorf("LFS sibling: %v", s)
			}
		}
	}
}

func TestTreePagingAndPathsInfo(t *testing.T) {
	srv, _ := newMirror(t, WithPageSize(2))
	var all []TreeEntry
	next := srv.URL + "/api/models/org/many/tree/main?recursive=true&expand=false"
	for pages := 0; next != ""; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		resp, body := do(t, "GET", next, nil, nil)
		var page []TreeEntry
		if err := json.Unmarshal([]byte(body), &page); err != nil || resp.StatusCode != 200 {
			t.Fatalf("page %d: %d %v %s", pages, resp.StatusCode, err, body)
		}
		all = append(all, page...)
		next = ""
		if link := resp.Header.Get("Link"); link != "" {
			m := regexp.MustCompile(`^<([^>]+)>; rel="next"$`).FindStringSubmatch(link)
			if m == nil || !strings.HasPrefix(m[1], srv.URL+"/api/models/org/many/tree/main?") {
				t.Fatalf("Link %q is not an absolute next URL on %s", link, srv.URL)
			}
			u, _ := url.Parse(m[1])
			if u.Query().Get("recursive") != "true" || u.Query().Get("expand") != "false" {
				t.Errorf("Link dropped the query: %s", m[1])
			}
			next = m[1]
		}
	}
	var paths []string
	for _, e := range all {
		paths = append(paths, e.Type[:1]+":"+e.Path)
	}
	want := "d:dir d:dir/deep f:dir/deep/file-3.md f:dir/file-01.txt f:dir/file-02.txt f:file-00.txt f:file-04.txt"
	if got := strings.Join(paths, " "); got != want {
		t.Errorf("paged tree:\n  %s\nwant\n  %s", got, want)
	}
	// Sub-path with an encoded slash, non-recursive, expand=true extras.
	_, body := do(t, "GET", srv.URL+"/api/models/org/m/tree/main/onnx%2Fsub?expand=true", nil, nil)
	var sub []TreeEntry
	json.Unmarshal([]byte(body), &sub)
	if len(sub) != 1 || sub[0].Path != "onnx/sub/a.txt" || sub[0].LastCommit == nil || sub[0].SecurityFileStatus == nil {
		t.Errorf("tree onnx/sub expand: %s", body)
	}
	// paths-info, form-encoded with repeated keys, as huggingface_hub sends it.
	resp, body := do(t, "POST", srv.URL+"/api/models/org/m/paths-info/main",
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
		strings.NewReader("paths=onnx&paths=model.safetensors&paths=missing&expand=false"))
	var info []TreeEntry
	if err := json.Unmarshal([]byte(body), &info); err != nil || resp.StatusCode != 200 {
		t.Fatalf("paths-info: %d %s", resp.StatusCode, body)
	}
	if len(info) != 2 || info[0].Type != "directory" || info[1].LFS == nil || info[1].XetHash != "" {
		t.Errorf("paths-info: %s", body)
	}
}

func TestLinkUsesRequestHost(t *testing.T) {
	h, err := New(filepath.Join("..", "..", "examples", "mirror"), WithPageSize(1))
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "http://gateway.internal:8080/api/models/safehub-demo/tiny-model/tree/main", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if link := rec.Header().Get("Link"); !strings.HasPrefix(link, "<http://gateway.internal:8080/api/models/safehub-demo/tiny-model/tree/main?cursor=") {
		t.Errorf("Link = %q (status %d)", link, rec.Code)
	}
}

// TestExampleMirror checks the demo mirror shipped for the README quick start.
func TestExampleMirror(t *testing.T) {
	h, err := New(filepath.Join("..", "..", "examples", "mirror"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	for p, check := range map[string]func(string) bool{
		"/safehub-demo/tiny-model/resolve/main/config.json":       func(b string) bool { return json.Valid([]byte(b)) },
		"/safehub-demo/tiny-model/resolve/main/tokenizer.json":    func(b string) bool { return json.Valid([]byte(b)) },
		"/safehub-demo/tiny-model/resolve/main/model.safetensors": func(b string) bool { return len(b) > 8 && b[8] == '{' },
		"/safehub-demo/tiny-model/resolve/main/pytorch_model.bin": func(b string) bool { return strings.HasPrefix(b, "PK\x03\x04") },
		"/safehub-demo/tiny-model/resolve/main/README.md":         func(b string) bool { return strings.Contains(b, "tiny-model") },
		"/datasets/safehub-demo/tiny-data/resolve/main/train.csv": func(b string) bool { return strings.HasPrefix(b, "text,label\n") },
	} {
		resp, body := do(t, "GET", srv.URL+p, nil, nil)
		if resp.StatusCode != 200 || !check(body) {
			t.Errorf("GET %s: %d, unexpected content %.40q", p, resp.StatusCode, body)
		}
	}
	resp, _ := do(t, "HEAD", srv.URL+"/safehub-demo/tiny-model/resolve/main/pytorch_model.bin", nil, nil)
	if resp.Header.Get("X-Linked-Etag") == "" {
		t.Errorf("pytorch_model.bin is not described as an LFS file: %v", resp.Header)
	}
}

func TestWarmupAndDigestFile(t *testing.T) {
	digests := filepath.Join(t.TempDir(), "digests.jsonl")
	done := make(chan error, 1)
	_, err := New(filepath.Join("..", "..", "examples", "mirror"), WithDigestFile(digests),
		WithWarmup(t.Context(), func(err error) { done <- err }))
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("warmup: %v", err)
	}
	raw, err := os.ReadFile(digests)
	if n := strings.Count(string(raw), "\n"); err != nil || n != 8 { // 5 model files + 3 dataset files
		t.Errorf("digest file after warmup: %d records, %v", n, err)
	}
}
