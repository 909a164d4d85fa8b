package mirror

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/safehub/safehub/internal/hubrepo"
)

// Kind is the kind of a Hub request.
type Kind int

const (
	KindResolve      Kind = iota + 1 // {HEAD,GET} /{p}{repo}/resolve/{rev}/{path}
	KindResolveCache                 // {HEAD,GET} /api/resolve-cache/{t}/{repo}/{sha}/{path}
	KindRepoInfo                     // GET /api/{t}/{repo}[/revision/{rev}]
	KindTree                         // GET /api/{t}/{repo}/tree/{rev}[/{path}]
	KindPathsInfo                    // POST /api/{t}/{repo}/paths-info/{rev}
	KindXetReadToken                 // GET /api/{t}/{repo}/xet-read-token/{rev}
	KindCommits                      // GET /api/{t}/{repo}/commits/{rev}
	KindDiscussions                  // GET /api/{t}/{repo}/discussions
)

var kindNames = map[Kind]string{KindResolve: "resolve", KindResolveCache: "resolve-cache",
	KindRepoInfo: "repo-info", KindTree: "tree", KindPathsInfo: "paths-info",
	KindXetReadToken: "xet-read-token", KindCommits: "commits", KindDiscussions: "discussions"}

func (k Kind) String() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// apiOps maps the operation segment after an /api/{t}/{repo} prefix to its kind.
var apiOps = map[string]Kind{"revision": KindRepoInfo, "tree": KindTree, "paths-info": KindPathsInfo,
	"xet-read-token": KindXetReadToken, "commits": KindCommits, "discussions": KindDiscussions}

// Route is a parsed Hub request path. All fields are decoded.
type Route struct {
	Kind     Kind
	RepoType string // "models", "datasets", "spaces" or "kernels"
	RepoID   string // "org/name" or a legacy "name"
	Rev      string // "" when the URL names none (repo info, discussions)
	Path     string // file or folder inside the repository; "" for none
}

// Errors of ParseRoute. ErrBadRoute means a malformed request (answer 400);
// ErrUnknownRoute means a well-formed path that is not a Hub route we serve (404).
var (
	ErrBadRoute     = errors.New("malformed Hub URL")
	ErrUnknownRoute = errors.New("unknown Hub route")
)

// MaxURLPathLen caps the escaped path we parse.
const MaxURLPathLen = 8192

// ParseRoute parses an escaped URL path (r.URL.EscapedPath()), splitting it on
// '/' before decoding each segment, so that a revision such as refs%2Fpr%2F1
// stays one segment.
//
// Ambiguities are settled on purpose: where both a two-segment and a
// one-segment repo id fit, the two-segment reading wins (the Hub has few
// legacy ids). So /org/resolve/resolve/main/f is file f of repo
// "org/resolve", and /api/models/gpt2/tree/main is the tree of "gpt2" because
// "main" is not an operation. /api/models/a/b is always repo "a/b".
func ParseRoute(escapedPath string) (Route, error) {
	if len(escapedPath) > MaxURLPathLen {
		return Route{}, fmt.Errorf("%w: path longer than %d bytes", ErrBadRoute, MaxURLPathLen)
	}
	if !strings.HasPrefix(escapedPath, "/") {
		return Route{}, fmt.Errorf("%w: path must start with /", ErrBadRoute)
	}
	raw := strings.Split(escapedPath[1:], "/")
	segs := make([]string, len(raw))
	for i, s := range raw {
		d, err := url.PathUnescape(s)
		if err != nil {
			return Route{}, fmt.Errorf("%w: segment %d: %v", ErrBadRoute, i, err)
		}
		segs[i] = d
	}
	if len(segs) >= 2 && segs[0] == "api" {
		if segs[1] == "resolve-cache" {
			return parseResolveCache(segs[2:])
		}
		return parseAPI(segs[1:])
	}
	return parseResolve(segs)
}

func parseResolve(segs []string) (Route, error) {
	rt := Route{Kind: KindResolve, RepoType: "models"}
	if len(segs) > 0 && segs[0] != "models" && hubrepo.ValidRepoType(segs[0]) {
		rt.RepoType, segs = segs[0], segs[1:]
	}
	n := 0 // segments of the repo id
	switch {
	case len(segs) >= 5 && segs[2] == "resolve":
		n = 2
	case len(segs) >= 4 && segs[1] == "resolve":
		n = 1
	default:
		return Route{}, ErrUnknownRoute
	}
	return finish(rt, segs[:n], segs[n+1], segs[n+2:], true)
}

func parseResolveCache(segs []string) (Route, error) {
	if len(segs) < 1 || !hubrepo.ValidRepoType(segs[0]) {
		return Route{}, ErrUnknownRoute
	}
	rt := Route{Kind: KindResolveCache, RepoType: segs[0]}
	segs = segs[1:]
	n := 0
	switch {
	case len(segs) >= 4 && isCommitID(segs[2]):
		n = 2
	case len(segs) >= 3 && isCommitID(segs[1]):
		n = 1
	default:
		return Route{}, fmt.Errorf("%w: resolve-cache needs a 40-hex commit and a file", ErrBadRoute)
	}
	return finish(rt, segs[:n], segs[n], segs[n+1:], true)
}

func parseAPI(segs []string) (Route, error) {
	if len(segs) < 2 || !hubrepo.ValidRepoType(segs[0]) {
		return Route{}, ErrUnknownRoute
	}
	rt := Route{RepoType: segs[0]}
	segs = segs[1:]
	var repo, rest []string
	switch {
	case len(segs) <= 2:
		rt.Kind, repo = KindRepoInfo, segs
		return finish(rt, repo, "", nil, false)
	case apiOps[segs[2]] != 0:
		repo, rest = segs[:2], segs[2:]
	case apiOps[segs[1]] != 0:
		repo, rest = segs[:1], segs[1:]
	default:
		return Route{}, ErrUnknownRoute
	}
	rt.Kind = apiOps[rest[0]]
	rest = rest[1:]
	switch rt.Kind {
	case KindDiscussions:
		if len(rest) != 0 {
			return Route{}, ErrUnknownRoute
		}
		return finish(rt, repo, "", nil, false)
	case KindTree:
		if len(rest) == 0 {
			return Route{}, fmt.Errorf("%w: tree needs a revision", ErrBadRoute)
		}
		return finish(rt, repo, rest[0], rest[1:], false)
	default: // revision, paths-info, xet-read-token, commits: exactly one revision
		if len(rest) != 1 {
			return Route{}, fmt.Errorf("%w: %s needs exactly one revision segment", ErrBadRoute, rt.Kind)
		}
		return finish(rt, repo, rest[0], nil, false)
	}
}

// finish checks the repo id, revision and path and fills them in.
func finish(rt Route, repo []string, rev string, path []string, needPath bool) (Route, error) {
	rt.RepoID = strings.Join(repo, "/")
	if err := hubrepo.CheckRepoID(rt.RepoID); err != nil {
		return Route{}, fmt.Errorf("%w: %v", ErrBadRoute, err)
	}
	if rt.Kind != KindRepoInfo && rt.Kind != KindDiscussions || rev != "" {
		if err := CheckRevision(rev); err != nil {
			return Route{}, err
		}
	}
	rt.Rev = rev
	// A tree sub-path arrives as one segment with %2F (quote(safe="")), a
	// file path as several; both decode to the same slash-separated path.
	rt.Path = strings.Join(path, "/")
	if rt.Kind == KindTree {
		rt.Path = strings.Trim(rt.Path, "/")
	}
	if needPath && rt.Path == "" {
		return Route{}, fmt.Errorf("%w: no file path", ErrBadRoute)
	}
	if err := hubrepo.CheckPath(rt.Path); err != nil {
		return Route{}, fmt.Errorf("%w: %v", ErrBadRoute, err)
	}
	return rt, nil
}

// MaxRevisionLen caps a revision name.
const MaxRevisionLen = 256

// CheckRevision accepts a branch, tag, "refs/pr/N" or commit id: printable,
// no "..", no empty segment, no backslash or control characters.
func CheckRevision(rev string) error {
	if rev == "" || len(rev) > MaxRevisionLen {
		return fmt.Errorf("%w: revision length %d not in 1..%d", ErrBadRoute, len(rev), MaxRevisionLen)
	}
	for _, seg := range strings.Split(rev, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%w: revision %q has an empty, \".\" or \"..\" part", ErrBadRoute, rev)
		}
	}
	for _, c := range rev {
		if c < 0x20 || c == 0x7f || c == '\\' || c == ' ' || c == '~' || c == '^' || c == ':' {
			return fmt.Errorf("%w: revision %q has a character git forbids", ErrBadRoute, rev)
		}
	}
	return nil
}

func isCommitID(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
