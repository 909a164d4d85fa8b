package policy

import (
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// rule is one compiled rule. Patterns are stored lower-cased and matched
// against lower-cased subjects: file names must match case-insensitively
// (x.BIN loads like x.bin), and Hub repo ids are case-insensitive (the Hub
// answers Evil-Org/m for evil-org/m), so a case-sensitive deny would be a
// bypass.
type rule struct {
	name        string
	allow       bool
	reason      string
	line        int
	repos       []string          // org/name globs; empty = every repo
	types       map[RepoType]bool // nil = every repo type
	files       []string          // globs; empty = repo-level rule
	weightsOnly bool              // allow rules: accept proven weights-only pickles
}

// repoLevel reports whether the rule applies to whole repos (no files).
func (r *rule) repoLevel() bool { return len(r.files) == 0 }

// matchesRepo reports whether the rule covers repo id (lower-cased) of type t.
func (r *rule) matchesRepo(t RepoType, repoLower string) bool {
	if r.types != nil && !r.types[t] {
		return false
	}
	if len(r.repos) == 0 {
		return true
	}
	for _, g := range r.repos {
		if doublestar.MatchUnvalidated(g, repoLower) {
			return true
		}
	}
	return false
}

// matchesFile reports whether one of the rule's file globs matches. A glob
// without "/" matches the base name at any depth; a glob with "/" matches
// the full path from the repo root (doublestar: "**/" spans folders).
func (r *rule) matchesFile(f fileName) bool {
	for _, g := range r.files {
		subject := f.base
		if strings.Contains(g, "/") {
			subject = f.path
		}
		if doublestar.MatchUnvalidated(g, subject) {
			return true
		}
	}
	return false
}

// fileName is a repo path prepared for matching.
type fileName struct {
	path string // lower-cased, without leading or trailing slashes
	base string // lower-cased last segment
}

func newFileName(p string) fileName {
	p = strings.ToLower(strings.Trim(p, "/"))
	base := p
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		base = p[i+1:]
	}
	return fileName{path: p, base: base}
}
