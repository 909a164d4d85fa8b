package hubapi

// More parser cases from the gateway review: names that look like git
// routes, encoded separators in every position, limits, and a round-trip
// property (what Parse accepts, the *Path helpers encode back to a URL that
// parses to the same route).

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// parseRaw parses an escaped path exactly as given (no re-escaping).
func parseRaw(method, raw string) (Route, error) {
	p, err := url.PathUnescape(raw)
	if err != nil {
		p = raw
	}
	return Parse(method, &url.URL{Scheme: "http", Host: "gw", Path: p, RawPath: raw})
}

// Regression (found in review, fixed): isGitRoute looks at every segment, so a file inside a folder named
// "info", a file named "info", or a repo named "info" is answered 403 "git
// access is disabled" instead of being served. Only the segment right
// after a ".git" repo (or the git endpoints on a repo) should count.
func TestRegression_InfoSegmentIsNotAGitRoute(t *testing.T) {
	for _, c := range []struct {
		raw  string
		want Route
	}{
		{"/org/m/resolve/main/info/readme.md", Route{Kind: KindResolve, Type: Model, Repo: "org/m", Rev: "main", Path: "info/readme.md"}},
		{"/org/m/resolve/main/info", Route{Kind: KindResolve, Type: Model, Repo: "org/m", Rev: "main", Path: "info"}},
		{"/datasets/org/info/resolve/main/data.csv", Route{Kind: KindResolve, Type: Dataset, Repo: "org/info", Rev: "main", Path: "data.csv"}},
		{"/org/m/resolve/main/tools/git-upload-pack", Route{Kind: KindResolve, Type: Model, Repo: "org/m", Rev: "main", Path: "tools/git-upload-pack"}},
	} {
		got, err := parseRaw("GET", c.raw)
		if err != nil || got != c.want {
			t.Errorf("Parse(%s) = %+v, %v\n want %+v", c.raw, got, err, c.want)
		}
	}
}

func TestParseEncodedSeparatorsAndRevisions(t *testing.T) {
	ok := []struct {
		method, raw string
		want        Route
	}{
		{"GET", "/api/models/org/m/tree/refs%2Fpr%2F1/sub", Route{Kind: KindTree, Type: Model, Repo: "org/m", Rev: "refs/pr/1", Path: "sub"}},
		{"HEAD", "/org/m/resolve/" + strings.Repeat("ab", 20) + "/w.safetensors", Route{Kind: KindResolve, Type: Model, Repo: "org/m", Rev: strings.Repeat("ab", 20), Path: "w.safetensors"}},
		{"GET", "/org/m/resolve/feature%2Fx/a%2Fb.json", Route{Kind: KindResolve, Type: Model, Repo: "org/m", Rev: "feature/x", Path: "a/b.json"}},
		{"GET", "/org/m/resolve/main/%E6%A8%A1%E5%9E%8B.json", Route{Kind: KindResolve, Type: Model, Repo: "org/m", Rev: "main", Path: "模型.json"}},
		{"GET", "/api/models/org/m/commits/refs%2Fpr%2F1", Route{Kind: KindRepoAPI, Type: Model, Repo: "org/m", Rest: "commits/refs%2Fpr%2F1"}},
		{"POST", "/api/datasets/org/d/paths-info/v1.0", Route{Kind: KindPathsInfo, Type: Dataset, Repo: "org/d", Rev: "v1.0"}},
		{"GET", "/org/m/resolve/main/config.json/", Route{Kind: KindResolve, Type: Model, Repo: "org/m", Rev: "main", Path: "config.json"}},
	}
	for _, c := range ok {
		got, err := parseRaw(c.method, c.raw)
		if err != nil || got != c.want {
			t.Errorf("Parse(%s %s) = %+v, %v\n want %+v", c.method, c.raw, got, err, c.want)
		}
	}
	bad := []struct {
		raw    string
		status int
	}{
		{"/org%2Fm/resolve/main/f", http.StatusBadRequest}, // a slash smuggled into the repo id
		{"/org/m/resolve/main/%2E%2E/x", http.StatusBadRequest},
		{"/org/m/resolve/main/a%2F%2Fb", http.StatusBadRequest}, // empty component
		{"/org/m/resolve/refs%2F..%2Fmain/f", http.StatusBadRequest},
		{"/org/m/resolve/main/a%0Ab", http.StatusBadRequest}, // a newline would split a log line or header
		{"/org/m/resolve/main/a%7Fb", http.StatusBadRequest},
		{"/org/m/resolve/main/%FF%FE", http.StatusBadRequest}, // not UTF-8
		{"/api/models/org/m/tree/main/..", http.StatusBadRequest},
		{"/api/models/org/m/tree/main/a%2F..%2F..", http.StatusBadRequest},
		{"/org/m/resolve/" + strings.Repeat("r", MaxRevisionLen+1) + "/f", http.StatusBadRequest},
		{"/org/m/resolve/main/" + strings.Repeat("f", MaxSegmentBytes+1), http.StatusBadRequest},
		{"/" + strings.Repeat("o", MaxRepoNameLen+1) + "/m/resolve/main/f", http.StatusBadRequest},
		{"/.org/m/resolve/main/f", http.StatusBadRequest},
		{"/api/resolve-cache/models/org/m/" + strings.ToUpper(strings.Repeat("ab", 20)) + "/f", http.StatusNotFound},
		{"/api/models/org/m/xet-write-token", http.StatusNotFound},
	}
	for _, c := range bad {
		got, err := parseRaw("GET", c.raw)
		var he *Error
		if !errors.As(err, &he) || he.Status != c.status {
			t.Errorf("Parse(%s) = %+v, %v; want status %d", truncate(c.raw, 80), got, err, c.status)
		}
	}
}

// Repo-id errors quote only a truncated piece of a hostile input.
func TestParseErrorMessagesAreBounded(t *testing.T) {
	for _, raw := range []string{
		"/" + strings.Repeat("%C3%A9", 2000) + "/m/resolve/main/f",
		"/org/" + strings.Repeat("x", 5000) + "/resolve/main/f",
	} {
		_, err := parseRaw("GET", raw)
		if err == nil {
			t.Errorf("Parse(%.40s...) accepted", raw)
			continue
		}
		if len(err.Error()) > 300 {
			t.Errorf("error message of %d bytes for a hostile path", len(err.Error()))
		}
	}
}

// Regression (low) (found in review, fixed): pass-through segments (commits/{rev}, refs, ...) are checked
// with checkSegment only, so a decoded "../../settings" in one segment is
// accepted and sent upstream as "..%2F..%2Fsettings". Revisions and file
// paths use checkComponents, which rejects it; these should too.
func TestRegression_RepoAPIAcceptsEncodedDotDot(t *testing.T) {
	got, err := parseRaw("GET", "/api/models/org/m/commits/..%2F..%2Fsettings")
	var he *Error
	if !errors.As(err, &he) || he.Status != http.StatusBadRequest {
		t.Errorf("Parse = %+v, %v; want 400", got, err)
	}
}

// checkRoundTrip re-encodes an accepted file or tree route with the
// upstream path helpers and parses the result again: the route must come
// back unchanged, or the gateway would ask the upstream for another file
// than the policy judged.
func checkRoundTrip(t *testing.T, rt Route) {
	t.Helper()
	var p string
	switch rt.Kind {
	case KindResolve:
		p = ResolvePath(rt.Type, rt.Repo, rt.Rev, rt.Path)
	case KindTree:
		p = TreePath(rt.Type, rt.Repo, rt.Rev, rt.Path)
	case KindRepoInfo:
		p = RepoInfoPath(rt.Type, rt.Repo, rt.Rev)
	case KindPathsInfo:
		p = PathsInfoPath(rt.Type, rt.Repo, rt.Rev)
	default:
		return
	}
	method := "GET"
	if rt.Kind == KindPathsInfo {
		method = "POST"
	}
	again, err := parseRaw(method, p)
	if err != nil {
		t.Fatalf("route %+v encodes to %q, which does not parse: %v", rt, p, err)
	}
	if again != rt {
		t.Fatalf("route %+v encodes to %q, which parses to %+v", rt, p, again)
	}
}

func TestUpstreamPathsRoundTripForTrickyNames(t *testing.T) {
	for _, raw := range []string{
		"/org/m/resolve/refs%2Fpr%2F1/dir/a%20b%2Bc%3F%23.txt",
		"/datasets/org/d/resolve/v1.0/%25zz/%E2%80%AE.csv",
		"/spaces/org/s/resolve/main/a;b=c/@x",
		"/api/models/org/m/tree/feature%2Fx/onnx%2Fsub%20dir",
		"/api/models/gpt2/revision/refs%2Fconvert%2Fparquet",
		"/api/datasets/org/d/paths-info/main",
	} {
		method := "GET"
		if strings.Contains(raw, "paths-info") {
			method = "POST"
		}
		rt, err := parseRaw(method, raw)
		if err != nil {
			t.Fatalf("Parse(%s): %v", raw, err)
		}
		checkRoundTrip(t, rt)
	}
}

func FuzzUpstreamPathRoundTrip(f *testing.F) {
	for _, s := range []string{
		"/org/m/resolve/refs%2Fpr%2F1/dir/a%20b.txt",
		"/datasets/org/d/resolve/main/x%25y",
		"/api/models/org/m/tree/main/a%2Fb",
		"/api/models/org/m/revision/v%2F2",
		"/gpt2/resolve/main/%E6%A8%A1.json",
		"/org/resolve/resolve/resolve/resolve",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if !strings.HasPrefix(raw, "/") {
			return
		}
		for _, method := range []string{"GET", "POST"} {
			rt, err := parseRaw(method, raw)
			if err == nil {
				checkRoundTrip(t, rt)
			}
		}
	})
}
