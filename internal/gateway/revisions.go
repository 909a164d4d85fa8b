package gateway

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/safehub/safehub/internal/hubapi"
	"github.com/safehub/safehub/internal/upstream"
)

const (
	// BranchTTL is how long a branch (or tag) name is trusted to point at
	// the commit it last resolved to. A push shows up within this time.
	BranchTTL = 30 * time.Second
	// AuthMemoTTL is how long the upstream's acceptance of a token (or of
	// no token, for a public repo) for a repo is remembered. Revoking a
	// token or a gate takes effect within this time.
	AuthMemoTTL = 60 * time.Second
	maxAuthMemo = 100_000
	// publicProbeTimeout bounds the token-less check that tells whether a
	// repo first seen with a token is public (and so may be served offline).
	publicProbeTimeout = 15 * time.Second
)

// authMemo remembers, per (token hash, repo), when the upstream last
// accepted that token for that repo. The empty hash stands for requests
// without a token. Never the token itself.
type authMemo struct {
	mu sync.Mutex
	m  map[memoKey]time.Time
}

// memoKey is per file, not per repo: a gated repo's model card may be
// public while its weights are not, so the upstream serving one file to a
// token says nothing about another.
type memoKey struct {
	token string
	repo  repoKey
	path  string
}

func newAuthMemo() *authMemo { return &authMemo{m: map[memoKey]time.Time{}} }

func (a *authMemo) accepted(k memoKey, now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	at, ok := a.m[k]
	return ok && now.Sub(at) < AuthMemoTTL && !now.Before(at)
}

func (a *authMemo) put(k memoKey, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.m) >= maxAuthMemo {
		for old, at := range a.m { // drop the expired; if none, any one
			if now.Sub(at) >= AuthMemoTTL {
				delete(a.m, old)
			}
		}
		for old := range a.m {
			if len(a.m) < maxAuthMemo {
				break
			}
			delete(a.m, old)
		}
	}
	a.m[k] = now
}

func (a *authMemo) forget(k memoKey) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.m, k)
}

// recall answers a file's metadata without asking the upstream, when all
// of it is known: the upstream accepted this token for this repo within
// AuthMemoTTL, the revision is a commit or a branch resolved within
// BranchTTL, the file's metadata at that commit is indexed, and its blob
// is in the cache (an indexed meta knows no byte location, so an uncached
// blob needs the upstream anyway). It returns nil otherwise.
func (g *Gateway) recall(ctx context.Context, rt hubapi.Route, auth string) *upstream.FileMeta {
	if g.cache == nil {
		return nil
	}
	now := g.now()
	if !g.memo.accepted(memoKey{TokenHash(auth), repoKey{rt.Type, rt.Repo}, rt.Path}, now) {
		return nil
	}
	commit := rt.Rev
	if !isCommit(commit) {
		rv, ok := g.index.rev(rt.Type, rt.Repo, rt.Rev)
		if !ok || now.Sub(rv.At) >= BranchTTL || now.Before(rv.At) {
			return nil
		}
		commit = rv.Commit
	}
	m, ok := g.index.file(rt.Type, rt.Repo, commit, rt.Path)
	if !ok || !g.available(ctx, m) {
		return nil
	}
	return m
}

// available reports whether m's blob is stored or being filled (a client
// that just got the whole file may ask again before the fill's commit).
func (g *Gateway) available(ctx context.Context, m *upstream.FileMeta) bool {
	rd, err := g.openStored(ctx, m)
	if err != nil {
		return false
	}
	rd.Close()
	return true
}

// remember records what a successful upstream answer taught: the file's
// metadata at its commit, the branch's commit, and that the upstream
// accepted this token (or no token) for this repo.
func (g *Gateway) remember(rt hubapi.Route, m *upstream.FileMeta, auth string) {
	now := g.now()
	g.index.putFile(m, rt.Path)
	if m.Type == rt.Type && m.Repo == rt.Repo && rt.Rev != m.Commit {
		g.index.putRev(rt.Type, rt.Repo, rt.Rev, m.Commit, now)
	}
	g.memo.put(memoKey{TokenHash(auth), repoKey{m.Type, m.Repo}, rt.Path}, now)
	if _, known := g.index.publicness(m.Type, m.Repo); !known {
		g.probePublic(m.Type, m.Repo)
	}
}

// probePublic asks the upstream, without a token, whether a repo is
// public: only those may be served offline. It asks about the repo, never
// a file: a gated repo serves its model card to anyone. It runs once per
// repo at a time, in the background.
func (g *Gateway) probePublic(t hubapi.RepoType, repo string) {
	key := string(t) + "/" + repo
	g.probes.Add(1)
	go func() {
		defer g.probes.Done()
		g.probeFlight.Do(key, func() (any, error) {
			ctx, cancel := context.WithTimeout(g.base, publicProbeTimeout)
			defer cancel()
			if public, known := g.repoIsPublic(ctx, t, repo); known {
				g.index.setPublic(t, repo, public)
			}
			return nil, nil
		})
	}()
}

// repoIsPublic reads the repo's info anonymously: public means the upstream
// answers it without a token and says it is neither private nor gated.
// known is false when the upstream could not tell (down, odd answer).
func (g *Gateway) repoIsPublic(ctx context.Context, t hubapi.RepoType, repo string) (public, known bool) {
	resp, err := g.up.Do(ctx, upstream.Request{Method: http.MethodGet, Path: hubapi.RepoInfoPath(t, repo, "")})
	if err != nil {
		return false, false
	}
	if resp.StatusCode != http.StatusOK {
		return false, deniesAccess(g.up.ErrorFrom(resp))
	}
	defer resp.Body.Close()
	v, err := decodeJSON(resp.Body)
	if err != nil {
		return false, false
	}
	return publicFromInfo(v)
}

// learnDenial updates the memo and the public mark after an upstream
// refusal: a refused token is not remembered as accepted, and a repo that
// refuses anonymous requests is not public.
func (g *Gateway) learnDenial(rt hubapi.Route, auth string, err error) {
	if !deniesAccess(err) {
		return
	}
	g.memo.forget(memoKey{TokenHash(auth), repoKey{rt.Type, rt.Repo}, rt.Path})
	if auth == "" {
		g.index.setPublic(rt.Type, rt.Repo, false)
	}
}

// deniesAccess reports whether err is the Hub refusing access to a repo:
// 401 or 403, or a 404 that names the repo (not a missing file).
func deniesAccess(err error) bool {
	var ue *upstream.Error
	if !errors.As(err, &ue) || ue.Header == nil || ue.Foreign {
		return false
	}
	code := ue.Header.Get("X-Error-Code")
	switch ue.Status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return true
	case http.StatusNotFound:
		return code == "RepoNotFound" || code == "GatedRepo"
	}
	return false
}

// unreachable reports whether err means the upstream could not answer
// (a transport failure or a 5xx), as opposed to answering no (a 4xx).
func unreachable(err error) bool {
	var ue *upstream.Error
	if !errors.As(err, &ue) || ue.Foreign {
		return false
	}
	if ue.Header == nil {
		return ue.Status != 499 // 499: our client left, the upstream is fine
	}
	return ue.Status >= 500
}
