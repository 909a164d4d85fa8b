// Package mirror serves a folder of repositories (see package hubrepo) as the
// Hugging Face Hub does from a client's point of view, but without any
// redirect: resolve answers 200 with full metadata and the bytes themselves.
//
// It has no policy and no authentication: the gateway wraps it and decides.
// Routes: HEAD/GET /{p}{repo}/resolve/{rev}/{path} (and the resolve-cache
// form), GET /api/{t}/{repo}[/revision/{rev}], GET /api/{t}/{repo}/tree/{rev}
// [/{path}], POST /api/{t}/{repo}/paths-info/{rev}, GET .../commits/{rev} and
// .../discussions. A revision is "main" or the snapshot's commit id.
package mirror

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/safehub/safehub/internal/hubrepo"
)

// DefaultBranch is the only branch a mirror folder has.
const DefaultBranch = "main"

// DefaultPageSize is the tree page size, as on the Hub without expand.
const DefaultPageSize = 1000

// Mirror is an http.Handler serving a hubrepo.Root. It is safe for concurrent use.
type Mirror struct {
	root       *hubrepo.Root
	pageSize   int
	ttl        time.Duration
	digestFile string
	warmCtx    context.Context
	warmDone   func(error)
}

// Option configures a Mirror.
type Option func(*Mirror)

// WithPageSize sets the number of entries per tree page (minimum 1).
func WithPageSize(n int) Option {
	return func(m *Mirror) {
		if n > 0 {
			m.pageSize = n
		}
	}
}

// WithSnapshotTTL sets how long a folder's snapshot is reused before the
// folder is walked again (see hubrepo.WithSnapshotTTL).
func WithSnapshotTTL(d time.Duration) Option { return func(m *Mirror) { m.ttl = d } }

// WithDigestFile keeps file digests in path across restarts (see
// hubrepo.WithDigestFile); put it in the gateway's cache folder.
func WithDigestFile(path string) Option { return func(m *Mirror) { m.digestFile = path } }

// WithWarmup hashes every repository in a background goroutine right after
// New, so that the first HEAD of a big file does not wait for hashing (a
// client gives HEAD 10 s). The goroutine stops between repositories when ctx
// is done; done (may be nil) is called with its result.
func WithWarmup(ctx context.Context, done func(error)) Option {
	return func(m *Mirror) { m.warmCtx, m.warmDone = ctx, done }
}

// New returns a handler serving the repositories under dir. Until the
// folder's files are hashed (lazily, on a repository's first request, or in
// the background with WithWarmup) that first request waits for the hashing.
func New(dir string, opts ...Option) (http.Handler, error) {
	m := &Mirror{pageSize: DefaultPageSize, ttl: hubrepo.DefaultSnapshotTTL}
	for _, o := range opts {
		o(m)
	}
	ropts := []hubrepo.Option{hubrepo.WithSnapshotTTL(m.ttl)}
	if m.digestFile != "" {
		ropts = append(ropts, hubrepo.WithDigestFile(m.digestFile))
	}
	root, err := hubrepo.Open(dir, ropts...)
	if err != nil {
		return nil, err
	}
	m.root = root
	if m.warmCtx != nil {
		go func() {
			err := root.Warm(m.warmCtx)
			if m.warmDone != nil {
				m.warmDone(err)
			}
		}()
	}
	return m, nil
}

var _ http.Handler = (*Mirror)(nil)

func (m *Mirror) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, err := ParseRoute(r.URL.EscapedPath())
	if err != nil {
		WriteRouteError(w, r, err)
		return
	}
	if !methodAllowed(rt.Kind, r.Method) {
		w.Header().Set("Allow", allowed(rt.Kind))
		WriteError(w, r, http.StatusMethodNotAllowed, "MethodNotAllowed", r.Method+" is not allowed on "+rt.Kind.String(), "")
		return
	}
	repo, err := m.root.Repo(rt.RepoType, rt.RepoID)
	if err != nil {
		WriteRepoNotFound(w, r)
		return
	}
	snap, err := repo.Snapshot()
	if err != nil {
		WriteError(w, r, http.StatusInternalServerError, "", "cannot read repository: "+err.Error(), "")
		return
	}
	if rt.Rev != "" && rt.Rev != DefaultBranch && rt.Rev != snap.Commit {
		WriteRevisionNotFound(w, r, rt.Rev)
		return
	}
	switch rt.Kind {
	case KindResolve, KindResolveCache:
		f, err := snap.File(rt.Path)
		if err != nil {
			WriteEntryNotFound(w, r, snap.Commit)
			return
		}
		ServeFile(w, r, snap, f)
	case KindRepoInfo:
		WriteJSON(w, r, RepoInfo(snap, InfoOptions{Blobs: r.URL.Query().Get("blobs") == "true"}))
	case KindTree:
		ServeTree(w, r, snap, rt.Path, m.pageSize, RequestBaseURL(r), nil)
	case KindPathsInfo:
		ServePathsInfo(w, r, snap, nil)
	case KindCommits:
		WriteJSON(w, r, CommitList(snap))
	case KindDiscussions:
		WriteJSON(w, r, DiscussionList())
	case KindXetReadToken:
		WriteError(w, r, http.StatusNotFound, CodeEntryNotFound, "a local mirror has no Xet storage", snap.Commit)
	default:
		WriteRouteError(w, r, errors.New("unhandled route"))
	}
}

func methodAllowed(k Kind, method string) bool {
	switch k {
	case KindResolve, KindResolveCache:
		return method == http.MethodGet || method == http.MethodHead
	case KindPathsInfo:
		return method == http.MethodPost
	}
	return method == http.MethodGet
}

func allowed(k Kind) string {
	switch k {
	case KindResolve, KindResolveCache:
		return "GET, HEAD"
	case KindPathsInfo:
		return "POST"
	}
	return "GET"
}

// RequestBaseURL is the origin the client used ("http://host:port"), from
// which absolute Link URLs are built.
func RequestBaseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
