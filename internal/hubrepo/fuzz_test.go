package hubrepo

import (
	"path/filepath"
	"strings"
	"testing"
)

// FuzzCheckPath: whatever CheckPath accepts must be a local path that cannot
// leave the repository folder once joined to it.
func FuzzCheckPath(f *testing.F) {
	for _, s := range []string{"", "a/b", "../x", "a/./b", "a\\..\\b", ".git/x", "a//b", "\xff", "é/ü.txt"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if CheckPath(p) != nil || p == "" {
			return
		}
		if !filepath.IsLocal(filepath.FromSlash(p)) || strings.Contains(p, "\\") {
			t.Fatalf("CheckPath accepted %q, which is not local", p)
		}
		if filepath.ToSlash(filepath.Clean(filepath.FromSlash(p))) != p {
			t.Fatalf("CheckPath accepted unclean %q", p)
		}
	})
}

// FuzzCheckRepoID: an accepted id is one or two clean name segments.
func FuzzCheckRepoID(f *testing.F) {
	for _, s := range []string{"org/m", "gpt2", "a/b/c", "../x", "org/m.git", "o--x/m", "x/."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if CheckRepoID(id) != nil {
			return
		}
		if err := CheckPath(id); err != nil || strings.Count(id, "/") > 1 {
			t.Fatalf("CheckRepoID accepted %q: %v", id, err)
		}
	})
}
