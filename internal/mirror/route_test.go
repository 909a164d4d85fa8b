package mirror

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRoute(t *testing.T) {
	for _, c := range []struct {
		path string
		want Route
		err  error
	}{
		{"/org/m/resolve/main/config.json", Route{KindResolve, "models", "org/m", "main", "config.json"}, nil},
		{"/org/m/resolve/refs%2Fpr%2F1/a/b%20c%2Bd.txt", Route{KindResolve, "models", "org/m", "refs/pr/1", "a/b c+d.txt"}, nil},
		{"/gpt2/resolve/main/config.json", Route{KindResolve, "models", "gpt2", "main", "config.json"}, nil},
		{"/datasets/org/d/resolve/main/data/train.csv", Route{KindResolve, "datasets", "org/d", "main", "data/train.csv"}, nil},
		{"/spaces/org/s/resolve/v1/app.py", Route{KindResolve, "spaces", "org/s", "v1", "app.py"}, nil},
		// A repo named "resolve": the two-segment reading wins.
		{"/org/resolve/resolve/main/f", Route{KindResolve, "models", "org/resolve", "main", "f"}, nil},
		// A legacy repo whose file path contains "resolve".
		{"/gpt2/resolve/main/resolve/x", Route{KindResolve, "models", "gpt2", "main", "resolve/x"}, nil},
		{"/api/resolve-cache/models/org/m/0123456789abcdef0123456789abcdef01234567/config.json",
			Route{KindResolveCache, "models", "org/m", "0123456789abcdef0123456789abcdef01234567", "config.json"}, nil},
		{"/api/resolve-cache/models/gpt2/0123456789abcdef0123456789abcdef01234567/c.json",
			Route{KindResolveCache, "models", "gpt2", "0123456789abcdef0123456789abcdef01234567", "c.json"}, nil},
		{"/api/models/org/m", Route{KindRepoInfo, "models", "org/m", "", ""}, nil},
		{"/api/models/gpt2", Route{KindRepoInfo, "models", "gpt2", "", ""}, nil},
		{"/api/datasets/org/d/revision/refs%2Fconvert%2Fparquet", Route{KindRepoInfo, "datasets", "org/d", "refs/convert/parquet", ""}, nil},
		{"/api/models/org/m/tree/main", Route{KindTree, "models", "org/m", "main", ""}, nil},
		{"/api/models/org/m/tree/main/onnx%2Fsub", Route{KindTree, "models", "org/m", "main", "onnx/sub"}, nil},
		{"/api/models/org/m/tree/main/onnx/sub", Route{KindTree, "models", "org/m", "main", "onnx/sub"}, nil},
		{"/api/models/gpt2/tree/main", Route{KindTree, "models", "gpt2", "main", ""}, nil},
		{"/api/models/org/tree/tree/main", Route{KindTree, "models", "org/tree", "main", ""}, nil},
		{"/api/models/org/m/paths-info/main", Route{KindPathsInfo, "models", "org/m", "main", ""}, nil},
		{"/api/models/org/m/xet-read-token/main", Route{KindXetReadToken, "models", "org/m", "main", ""}, nil},
		{"/api/models/org/m/commits/main", Route{KindCommits, "models", "org/m", "main", ""}, nil},
		{"/api/models/org/m/discussions", Route{KindDiscussions, "models", "org/m", "", ""}, nil},

		{"/org/m/resolve/main/../../etc/passwd", Route{}, ErrBadRoute},
		{"/org/m/resolve/main/a%2F..%2F..%2Fx", Route{}, ErrBadRoute},
		{"/org/m/resolve/main/a%5Cb", Route{}, ErrBadRoute},
		{"/org/m/resolve/main/", Route{}, ErrBadRoute},
		{"/org/m/resolve/..%2F..%2Fx/f", Route{}, ErrBadRoute},
		{"/org/m/resolve/main/%zz", Route{}, ErrBadRoute},
		{"/org/m/resolve/main/.git/config", Route{}, ErrBadRoute},
		{"/o..x/m/resolve/main/f", Route{}, ErrBadRoute},
		{"/api/models/org/m/revision/a/b", Route{}, ErrBadRoute},
		{"/api/models/org/m/tree", Route{}, ErrBadRoute}, // tree of org/m without a revision
		{"/api/unknown/org/m", Route{}, ErrUnknownRoute},
		{"/api/whoami-v2", Route{}, ErrUnknownRoute},
		{"/", Route{}, ErrUnknownRoute},
		{"/org/m/blob/main/f", Route{}, ErrUnknownRoute},
		{"relative", Route{}, ErrBadRoute},
		{"/" + strings.Repeat("a/", MaxURLPathLen), Route{}, ErrBadRoute},
	} {
		got, err := ParseRoute(c.path)
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("ParseRoute(%q) = %+v, %v; want error %v", c.path, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseRoute(%q) = %+v, %v; want %+v", c.path, got, err, c.want)
		}
	}
}

// FuzzParseRoute: no panic, and whatever parses has a checked repo id, a
// revision for byte routes, and a path that cannot escape the repo folder.
func FuzzParseRoute(f *testing.F) {
	for _, s := range []string{"/org/m/resolve/main/config.json", "/api/models/org/m/tree/main/a%2Fb",
		"/api/resolve-cache/models/org/m/0123456789abcdef0123456789abcdef01234567/x", "/datasets/o/d/resolve/refs%2Fpr%2F1/f",
		"/api/models/a/b/paths-info/main", "/x/resolve/%2e%2e/f", "//resolve//", "/api/models/%00/revision/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		rt, err := ParseRoute(p)
		if err != nil {
			if !errors.Is(err, ErrBadRoute) && !errors.Is(err, ErrUnknownRoute) {
				t.Fatalf("ParseRoute(%q): unclassified error %v", p, err)
			}
			return
		}
		if rt.Kind == 0 || rt.RepoID == "" {
			t.Fatalf("ParseRoute(%q) = %+v: no kind or repo", p, rt)
		}
		if strings.Contains(rt.Path, "..") && strings.Contains("/"+rt.Path+"/", "/../") {
			t.Fatalf("ParseRoute(%q): path %q escapes", p, rt.Path)
		}
		if (rt.Kind == KindResolve || rt.Kind == KindResolveCache) && (rt.Rev == "" || rt.Path == "") {
			t.Fatalf("ParseRoute(%q) = %+v: byte route without revision or path", p, rt)
		}
	})
}
