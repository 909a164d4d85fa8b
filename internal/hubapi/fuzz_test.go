package hubapi

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

// FuzzParse checks that no request path crashes the parser, that every
// error carries a status, and that an accepted route never holds a path
// component that could escape a directory.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"/org/m/resolve/main/config.json",
		"/datasets/org/d/resolve/refs%2Fpr%2F1/a/b.csv",
		"/api/models/org/m/tree/main/onnx%2Fsub",
		"/api/models/gpt2/revision/main",
		"/api/resolve-cache/models/org/m/0123456789abcdef0123456789abcdef01234567/f",
		"/org/m/resolve/main/..%2F..%2Fetc%2Fpasswd",
		"/org/resolve/resolve/resolve/resolve",
		"/api/models/org/m/paths-info/main",
		"//%2e%2e/x",
	} {
		f.Add("GET", s)
	}
	f.Add("POST", "/api/models/org/m/paths-info/main")
	f.Fuzz(func(t *testing.T, method, raw string) {
		u, err := url.Parse("http://gw" + raw)
		if err != nil {
			return
		}
		rt, err := Parse(method, u)
		if err != nil {
			var he *Error
			if !errors.As(err, &he) || he.Status < 400 || he.Status > 499 {
				t.Fatalf("Parse(%q) error %v has no 4xx status", raw, err)
			}
			return
		}
		for _, s := range []string{rt.Path, rt.Rev, rt.Repo} {
			if s == "" {
				continue
			}
			for _, c := range strings.Split(s, "/") {
				if c == "" || c == "." || c == ".." || strings.ContainsAny(c, "\\\x00") {
					t.Fatalf("Parse(%q) accepted unsafe component %q in %+v", raw, c, rt)
				}
			}
		}
		if rt.IsFile() && (rt.Repo == "" || rt.Rev == "" || rt.Path == "") {
			t.Fatalf("file route with empty field: %+v", rt)
		}
	})
}
