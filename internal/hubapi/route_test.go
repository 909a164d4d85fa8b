package hubapi

import (
	"errors"
	"net/http"
	"net/url"
	"testing"
)

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatalf("url.Parse(%q): %v", s, err)
	}
	return u
}

func TestParseRoutes(t *testing.T) {
	tests := []struct {
		name, method, path string
		want               Route
	}{
		{"resolve model", "GET", "/org/m/resolve/main/config.json",
			Route{Kind: KindResolve, Type: Model, Repo: "org/m", Rev: "main", Path: "config.json"}},
		{"resolve HEAD nested", "HEAD", "/org/m/resolve/main/onnx/sub/model.onnx",
			Route{Kind: KindResolve, Type: Model, Repo: "org/m", Rev: "main", Path: "onnx/sub/model.onnx"}},
		{"resolve encoded slash revision", "GET", "/org/m/resolve/refs%2Fpr%2F1/config.json",
			Route{Kind: KindResolve, Type: Model, Repo: "org/m", Rev: "refs/pr/1", Path: "config.json"}},
		{"resolve dataset", "GET", "/datasets/org/d/resolve/main/data/train.csv",
			Route{Kind: KindResolve, Type: Dataset, Repo: "org/d", Rev: "main", Path: "data/train.csv"}},
		{"resolve space", "HEAD", "/spaces/org/s/resolve/main/app.py",
			Route{Kind: KindResolve, Type: Space, Repo: "org/s", Rev: "main", Path: "app.py"}},
		{"resolve legacy one-segment id", "GET", "/gpt2/resolve/main/config.json",
			Route{Kind: KindResolve, Type: Model, Repo: "gpt2", Rev: "main", Path: "config.json"}},
		// Decided on purpose: the two-segment reading wins.
		{"repo named resolve", "GET", "/org/resolve/resolve/main/f.json",
			Route{Kind: KindResolve, Type: Model, Repo: "org/resolve", Rev: "main", Path: "f.json"}},
		{"escaped file name", "GET", "/org/m/resolve/main/a%20b%2Bc.txt",
			Route{Kind: KindResolve, Type: Model, Repo: "org/m", Rev: "main", Path: "a b+c.txt"}},
		{"resolve-cache", "HEAD", "/api/resolve-cache/models/org/m/0123456789abcdef0123456789abcdef01234567/config.json",
			Route{Kind: KindResolveCache, Type: Model, Repo: "org/m", Rev: "0123456789abcdef0123456789abcdef01234567", Path: "config.json"}},
		{"repo info", "GET", "/api/models/org/m",
			Route{Kind: KindRepoInfo, Type: Model, Repo: "org/m"}},
		{"repo info legacy id", "GET", "/api/models/gpt2",
			Route{Kind: KindRepoInfo, Type: Model, Repo: "gpt2"}},
		{"repo info revision", "GET", "/api/datasets/org/d/revision/refs%2Fconvert%2Fparquet",
			Route{Kind: KindRepoInfo, Type: Dataset, Repo: "org/d", Rev: "refs/convert/parquet"}},
		{"legacy id revision", "GET", "/api/models/gpt2/revision/main",
			Route{Kind: KindRepoInfo, Type: Model, Repo: "gpt2", Rev: "main"}},
		// A repo literally named "tree" is info, since tree needs a revision.
		{"repo named tree", "GET", "/api/models/org/tree",
			Route{Kind: KindRepoInfo, Type: Model, Repo: "org/tree"}},
		{"tree", "GET", "/api/models/org/m/tree/main",
			Route{Kind: KindTree, Type: Model, Repo: "org/m", Rev: "main"}},
		{"tree sub-path one segment", "GET", "/api/models/org/m/tree/main/onnx%2Fsub",
			Route{Kind: KindTree, Type: Model, Repo: "org/m", Rev: "main", Path: "onnx/sub"}},
		{"tree sub-path several segments", "GET", "/api/spaces/org/s/tree/main/a/b",
			Route{Kind: KindTree, Type: Space, Repo: "org/s", Rev: "main", Path: "a/b"}},
		{"paths-info", "POST", "/api/models/org/m/paths-info/main",
			Route{Kind: KindPathsInfo, Type: Model, Repo: "org/m", Rev: "main"}},
		{"xet token", "GET", "/api/models/org/m/xet-read-token/main",
			Route{Kind: KindXetToken, Type: Model, Repo: "org/m", Rev: "main"}},
		{"commits", "GET", "/api/models/org/m/commits/main",
			Route{Kind: KindRepoAPI, Type: Model, Repo: "org/m", Rest: "commits/main"}},
		{"discussions", "GET", "/api/models/org/m/discussions",
			Route{Kind: KindRepoAPI, Type: Model, Repo: "org/m", Rest: "discussions"}},
		{"whoami", "GET", "/api/whoami-v2", Route{Kind: KindAPI}},
		{"model list", "GET", "/api/models", Route{Kind: KindAPI, Type: Model}},
		{"telemetry", "HEAD", "/api/telemetry/hf_hub_download", Route{Kind: KindTelemetry}},
		{"git info refs", "GET", "/org/m.git/info/refs", Route{Kind: KindGit, Type: Model}},
		{"lfs batch", "POST", "/datasets/org/d.git/info/lfs/objects/batch", Route{Kind: KindGit, Type: Dataset}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.method, mustURL(t, "http://gw"+tc.path))
			if err != nil {
				t.Fatalf("Parse(%s %s): %v", tc.method, tc.path, err)
			}
			if got != tc.want {
				t.Errorf("Parse(%s %s)\n got %+v\nwant %+v", tc.method, tc.path, got, tc.want)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name, method, path string
		status             int
	}{
		{"dot-dot file", "GET", "/org/m/resolve/main/../../etc/passwd", http.StatusBadRequest},
		{"encoded dot-dot file", "GET", "/org/m/resolve/main/a%2F..%2F..%2Fetc", http.StatusBadRequest},
		{"dot-dot revision", "GET", "/org/m/resolve/..%2F..%2Fx/config.json", http.StatusBadRequest},
		{"backslash", "GET", "/org/m/resolve/main/a%5Cb", http.StatusBadRequest},
		{"NUL", "GET", "/org/m/resolve/main/a%00b", http.StatusBadRequest},
		{"bad repo chars", "GET", "/org/m%20x/resolve/main/f", http.StatusBadRequest},
		{"double dash repo", "GET", "/org/m--x/resolve/main/f", http.StatusBadRequest},
		{"empty segment", "GET", "/org//m/resolve/main/f", http.StatusBadRequest},
		{"no file", "GET", "/org/m/resolve/main", http.StatusNotFound},
		{"unknown api", "GET", "/api/secrets", http.StatusNotFound},
		{"unknown repo type", "GET", "/api/kernels/org/m", http.StatusNotFound},
		{"unknown repo call", "GET", "/api/models/org/m/settings", http.StatusNotFound},
		{"write on resolve", "PUT", "/org/m/resolve/main/f", http.StatusMethodNotAllowed},
		{"write on repo", "DELETE", "/api/models/org/m", http.StatusMethodNotAllowed},
		{"commit API", "POST", "/api/models/org/m/commit/main", http.StatusNotFound},
		{"paths-info GET", "GET", "/api/models/org/m/paths-info/main", http.StatusMethodNotAllowed},
		{"other host in path", "GET", "/http:%2F%2Fevil.example/x", http.StatusNotFound},
		{"root", "GET", "/", http.StatusNotFound},
		{"resolve-cache not sha", "GET", "/api/resolve-cache/models/org/m/main/f", http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := &url.URL{Scheme: "http", Host: "gw", Path: "/placeholder"}
			// Set the raw path directly so the test controls the escaping.
			p, err := url.PathUnescape(tc.path)
			if err != nil {
				p = tc.path
			}
			u.Path, u.RawPath = p, tc.path
			got, err := Parse(tc.method, u)
			var he *Error
			if !errors.As(err, &he) {
				t.Fatalf("Parse(%s %s) = %+v, %v; want *Error with status %d", tc.method, tc.path, got, err, tc.status)
			}
			if he.Status != tc.status {
				t.Errorf("Parse(%s %s) status %d (%s), want %d", tc.method, tc.path, he.Status, he.Msg, tc.status)
			}
		})
	}
}

func TestOverlongPath(t *testing.T) {
	long := make([]byte, MaxPathBytes+1)
	for i := range long {
		long[i] = 'a'
	}
	u := &url.URL{Path: "/org/m/resolve/main/" + string(long)}
	_, err := Parse("GET", u)
	var he *Error
	if !errors.As(err, &he) || he.Status != http.StatusRequestURITooLong {
		t.Fatalf("overlong path: got %v, want 414", err)
	}
}

func TestQuotePythonMatchesClient(t *testing.T) {
	// Values from Python's urllib.parse.quote.
	cases := []struct{ in, safe, want string }{
		{"refs/pr/1", "", "refs%2Fpr%2F1"},
		{"a b+c.txt", "/", "a%20b%2Bc.txt"},
		{"dir/x:y@z=1&$", "/", "dir/x%3Ay%40z%3D1%26%24"},
		{"ünï", "/", "%C3%BCn%C3%AF"},
		{"a~b_c-d.e", "", "a~b_c-d.e"},
	}
	for _, c := range cases {
		if got := QuotePython(c.in, c.safe); got != c.want {
			t.Errorf("QuotePython(%q, %q) = %q, want %q", c.in, c.safe, got, c.want)
		}
	}
}

func TestUpstreamPathsRoundTrip(t *testing.T) {
	p := ResolvePath(Dataset, "org/d", "refs/pr/1", "dir/a b.csv")
	if want := "/datasets/org/d/resolve/refs%2Fpr%2F1/dir/a%20b.csv"; p != want {
		t.Fatalf("ResolvePath = %q, want %q", p, want)
	}
	u := &url.URL{}
	u.Path, _ = url.PathUnescape(p)
	u.RawPath = p
	rt, err := Parse("GET", u)
	if err != nil {
		t.Fatal(err)
	}
	if rt.Repo != "org/d" || rt.Rev != "refs/pr/1" || rt.Path != "dir/a b.csv" || rt.Type != Dataset {
		t.Fatalf("round trip: %+v", rt)
	}
	if got := TreePath(Model, "org/m", "main", "onnx/sub"); got != "/api/models/org/m/tree/main/onnx%2Fsub" {
		t.Errorf("TreePath = %q", got)
	}
}
