// Package hubapi knows the Hugging Face Hub's HTTP protocol as clients use
// it: how a request URL names a repo, a revision and a file, how to encode
// them again for the upstream, and which routes exist at all.
//
// net/http.ServeMux cannot route Hub URLs (a repo id has one or two segments,
// and revisions carry encoded slashes), so the gateway registers one prefix
// and asks Parse what a request means.
package hubapi

import (
	"net/http"
	"net/url"
	"strings"
)

// RepoType is the kind of repository a request addresses.
type RepoType string

const (
	Model   RepoType = "model"
	Dataset RepoType = "dataset"
	Space   RepoType = "space"
)

// Plural is the form used in /api/ URLs: "models", "datasets", "spaces".
func (t RepoType) Plural() string { return string(t) + "s" }

// URLPrefix is the form used in /resolve URLs: "" for models, else "datasets/" or "spaces/".
func (t RepoType) URLPrefix() string {
	if t == Model {
		return ""
	}
	return t.Plural() + "/"
}

// ParseRepoType accepts the singular or plural name.
func ParseRepoType(s string) (RepoType, bool) {
	switch strings.TrimSuffix(s, "s") {
	case "model":
		return Model, true
	case "dataset":
		return Dataset, true
	case "space":
		return Space, true
	}
	return "", false
}

// Kind says what a request asks for; the gateway treats each kind differently.
type Kind int

const (
	KindUnknown      Kind = iota
	KindResolve           // HEAD/GET /{p}{repo}/resolve/{rev}/{path}: file bytes
	KindResolveCache      // HEAD/GET /api/resolve-cache/{t}/{repo}/{rev}/{path}: file bytes
	KindRepoInfo          // GET /api/{t}/{repo}[/revision/{rev}]: metadata with siblings
	KindTree              // GET /api/{t}/{repo}/tree/{rev}[/{path}]: listing
	KindPathsInfo         // POST /api/{t}/{repo}/paths-info/{rev}: listing
	KindXetToken          // GET /api/{t}/{repo}/xet-{read,write}-token/{rev}: refused
	KindRepoAPI           // other read-only /api/{t}/{repo}/... calls (commits, refs, discussions)
	KindAPI               // read-only /api/... calls about no single repo (whoami-v2, model lists)
	KindTelemetry         // /api/telemetry/..., /api/agent-harnesses: answered locally
	KindGit               // git and git-lfs routes: refused
)

var kindNames = [...]string{"unknown", "resolve", "resolve-cache", "repo-info", "tree", "paths-info", "xet-token", "repo-api", "api", "telemetry", "git"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind?"
}

// Route is a parsed request. Rev and Path are decoded; Path uses "/" between
// components and never holds "." or ".." components.
type Route struct {
	Kind Kind
	Type RepoType
	Repo string // "org/name", or a legacy one-segment id such as "gpt2"
	Rev  string // "" when the request names none (repo info of the default branch)
	Path string // file path (resolve) or sub-path (tree)
	Rest string // KindRepoAPI: what follows the repo id, still escaped ("commits/main")
}

// IsFile reports whether the route asks for a file's bytes or metadata.
func (r Route) IsFile() bool { return r.Kind == KindResolve || r.Kind == KindResolveCache }

// repoAPIKeywords are the /api/{t}/{repo}/<keyword>/... calls that the
// gateway passes through read-only; anything else under a repo is refused.
var repoAPIKeywords = map[string]bool{
	"commits": true, "refs": true, "discussions": true, "treesize": true,
	"last-commit": true, "notebook": true, "parquet": true, "compare": true,
}

// pathKeywords take a revision (and sometimes a path) after the repo id.
var pathKeywords = map[string]Kind{
	"revision":        KindRepoInfo,
	"tree":            KindTree,
	"paths-info":      KindPathsInfo,
	"xet-read-token":  KindXetToken,
	"xet-write-token": KindXetToken,
}

// Parse maps a request to a Route. It splits the escaped path and decodes
// each segment on its own, so "refs%2Fpr%2F1" stays one revision. Errors are
// *Error values carrying the HTTP status the client should get.
func Parse(method string, u *url.URL) (Route, error) {
	raw := u.EscapedPath()
	if len(raw) > MaxPathBytes {
		return Route{}, errf(http.StatusRequestURITooLong, "path longer than %d bytes", MaxPathBytes)
	}
	segs, err := splitEscaped(raw)
	if err != nil {
		return Route{}, err
	}
	if len(segs) == 0 {
		return Route{}, errNotFound("no route for /")
	}
	var rt Route
	if segs[0] == "api" {
		rt, err = parseAPI(segs[1:])
	} else {
		rt, err = parseResolve(segs)
	}
	if err != nil {
		return Route{}, err
	}
	return rt, checkMethod(method, rt)
}

func checkMethod(method string, rt Route) error {
	switch rt.Kind {
	case KindPathsInfo:
		if method != http.MethodPost {
			return errf(http.StatusMethodNotAllowed, "paths-info takes POST")
		}
	case KindGit, KindTelemetry:
		// answered whatever the method
	default:
		if method != http.MethodGet && method != http.MethodHead {
			return errf(http.StatusMethodNotAllowed, "safehub is read-only: %s is not allowed here", method)
		}
	}
	return nil
}

// parseResolve handles /{p}{repo}/resolve/{rev}/{path...} and the git routes.
func parseResolve(segs []string) (Route, error) {
	rt := Route{Type: Model}
	if t, ok := ParseRepoType(segs[0]); ok && (segs[0] == "datasets" || segs[0] == "spaces") {
		rt.Type = t
		segs = segs[1:]
	}
	if isGitRoute(segs) {
		rt.Kind = KindGit
		return rt, nil
	}
	// A two-segment id wins over a one-segment id: /org/resolve/resolve/main/f
	// is file f of repo org/resolve, not file main/f of repo org at rev resolve.
	for _, n := range []int{2, 1} {
		if len(segs) < n+3 || segs[n] != "resolve" {
			continue
		}
		repo, err := repoID(segs[:n])
		if err != nil {
			return Route{}, err
		}
		rev, err := revision(segs[n+1])
		if err != nil {
			return Route{}, err
		}
		p, err := filePath(segs[n+2:])
		if err != nil {
			return Route{}, err
		}
		rt.Kind, rt.Repo, rt.Rev, rt.Path = KindResolve, repo, rev, p
		return rt, nil
	}
	return Route{}, errNotFound("no such route (safehub serves /{repo}/resolve/{revision}/{file} and the read-only /api routes)")
}

// isGitRoute recognises git and git-lfs URLs: a repo id ending in ".git",
// or a git endpoint right after a one- or two-segment repo id. A folder or
// repo merely named "info" is not git.
func isGitRoute(segs []string) bool {
	for i := 0; i < len(segs) && i < 2; i++ {
		if strings.HasSuffix(segs[i], ".git") {
			return true
		}
	}
	for _, n := range []int{1, 2} {
		if len(segs) <= n {
			continue
		}
		switch segs[n] {
		case "git-upload-pack", "git-receive-pack":
			return len(segs) == n+1
		case "info":
			if len(segs) > n+1 && (segs[n+1] == "refs" || segs[n+1] == "lfs") {
				return true
			}
		}
	}
	return false
}

// parseAPI handles everything under /api/.
func parseAPI(segs []string) (Route, error) {
	if len(segs) == 0 {
		return Route{}, errNotFound("no such route /api")
	}
	switch segs[0] {
	case "telemetry", "agent-harnesses":
		return Route{Kind: KindTelemetry}, nil
	case "resolve-cache":
		return parseResolveCache(segs[1:])
	case "whoami-v2", "whoami":
		if len(segs) == 1 {
			return Route{Kind: KindAPI}, nil
		}
	}
	t, ok := ParseRepoType(segs[0])
	if !ok || !strings.HasSuffix(segs[0], "s") {
		return Route{}, errNotFound("no such route /api/" + segs[0])
	}
	rest := segs[1:]
	if len(rest) == 0 {
		// /api/models?search=...: a listing of repos, no single repo.
		return Route{Kind: KindAPI, Type: t}, nil
	}
	// Try a two-segment id first, then a one-segment id (see parseResolve).
	var firstErr error
	for _, n := range []int{2, 1} {
		if len(rest) < n {
			continue
		}
		rt, err := parseRepoCall(t, rest[:n], rest[n:])
		if err == nil {
			return rt, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return Route{}, firstErr
}

// parseRepoCall interprets what follows /api/{t}/{repo}.
func parseRepoCall(t RepoType, id, tail []string) (Route, error) {
	repo, err := repoID(id)
	if err != nil {
		return Route{}, err
	}
	rt := Route{Type: t, Repo: repo}
	if len(tail) == 0 {
		rt.Kind = KindRepoInfo
		return rt, nil
	}
	if k, ok := pathKeywords[tail[0]]; ok {
		if len(tail) < 2 {
			return Route{}, errNotFound(tail[0] + " needs a revision")
		}
		rev, err := revision(tail[1])
		if err != nil {
			return Route{}, err
		}
		rt.Kind, rt.Rev = k, rev
		switch {
		case k == KindTree && len(tail) > 2:
			if rt.Path, err = filePath(tail[2:]); err != nil {
				return Route{}, err
			}
		case len(tail) > 2:
			return Route{}, errNotFound("unexpected path after " + tail[0])
		}
		return rt, nil
	}
	if repoAPIKeywords[tail[0]] {
		for _, s := range tail {
			// Components, not segments: an encoded "..%2F.." must not reach
			// the upstream as a path that leaves this repo's API.
			if err := checkComponents(s); err != nil {
				return Route{}, err
			}
		}
		rt.Kind = KindRepoAPI
		rt.Rest = escapeSegments(tail)
		return rt, nil
	}
	return Route{}, errNotFound("no such route /api/" + t.Plural() + "/" + repo + "/" + tail[0])
}

// parseResolveCache handles /api/resolve-cache/{t}/{repo}/{rev}/{path...},
// where the Hub sends clients for small files; rev is a commit sha there.
func parseResolveCache(segs []string) (Route, error) {
	if len(segs) < 4 {
		return Route{}, errNotFound("resolve-cache needs a repo, a revision and a file")
	}
	t, ok := ParseRepoType(segs[0])
	if !ok {
		return Route{}, errNotFound("unknown repo type " + segs[0])
	}
	// Only the two-segment form is unambiguous here; fall back to one segment.
	for _, n := range []int{2, 1} {
		if len(segs) < 1+n+2 {
			continue
		}
		repo, err := repoID(segs[1 : 1+n])
		if err != nil {
			continue
		}
		rev, err := revision(segs[1+n])
		if err != nil || !IsCommitSHA(rev) {
			continue
		}
		p, err := filePath(segs[2+n:])
		if err != nil {
			return Route{}, err
		}
		return Route{Kind: KindResolveCache, Type: t, Repo: repo, Rev: rev, Path: p}, nil
	}
	return Route{}, errNotFound("malformed resolve-cache path")
}

// IsCommitSHA reports whether rev is a full 40-hex commit id.
func IsCommitSHA(rev string) bool {
	if len(rev) != 40 {
		return false
	}
	for i := 0; i < len(rev); i++ {
		c := rev[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
