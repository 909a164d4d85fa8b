package hubsim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/safehub/safehub/internal/hubrepo"
	"github.com/safehub/safehub/internal/mirror"
)

// serveHub answers the hub listener: admin routes, then Hub routes.
func (s *Sim) serveHub(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_sim/") {
		s.serveAdmin(w, r)
		return
	}
	if r.URL.Path == "/api/whoami-v2" {
		s.serveWhoami(w, r)
		return
	}
	rt, err := mirror.ParseRoute(r.URL.EscapedPath())
	if err != nil {
		mirror.WriteRouteError(w, r, err)
		return
	}
	key := rt.RepoType + "/" + rt.RepoID
	rs := s.settings[key]
	if rs == nil {
		rs = &RepoSettings{}
	}
	if rs.RenamedTo != "" {
		s.redirectRenamed(w, r, rt, rs.RenamedTo)
		return
	}
	repo, err := s.root.Repo(rt.RepoType, rt.RepoID)
	if err != nil {
		mirror.WriteRepoNotFound(w, r)
		return
	}
	auth := r.Header.Get("Authorization")
	if rs.Private && !rs.accepts(auth) {
		mirror.WriteRepoNotFound(w, r)
		return
	}
	metadataOnly := rt.Kind == mirror.KindRepoInfo || rt.Kind == mirror.KindCommits || rt.Kind == mirror.KindDiscussions
	if rs.Gated != "" && !metadataOnly && !rs.accepts(auth) {
		s.writeGated(w, r, rt, auth != "")
		return
	}
	if s.injectFailure(w, r, key, rs, rt) {
		return
	}
	rev := rt.Rev
	if rev == "" {
		rev = "main"
	}
	snap, err := s.resolveRevision(key, repo, rev)
	if err != nil {
		mirror.WriteRevisionNotFound(w, r, rev)
		return
	}
	switch rt.Kind {
	case mirror.KindResolve, mirror.KindResolveCache:
		s.serveResolve(w, r, rt, rs, snap)
	case mirror.KindRepoInfo:
		if r.Method != http.MethodGet {
			methodNotAllowed(w, r)
			return
		}
		gated := any(false)
		if rs.Gated != "" {
			gated = rs.Gated
		}
		info := mirror.RepoInfo(snap, mirror.InfoOptions{Blobs: r.URL.Query().Get("blobs") == "true",
			Private: rs.Private, Gated: gated})
		if sibs, ok := info["siblings"].([]mirror.Sibling); ok {
			for i := range sibs {
				if n, ok := rs.DeclaredSizes[sibs[i].RFilename]; ok && sibs[i].Size != nil {
					sibs[i].Size = &n
					if sibs[i].LFS != nil {
						sibs[i].LFS.Size = n
					}
				}
			}
		}
		mirror.WriteJSON(w, r, info)
	case mirror.KindTree:
		if r.Method != http.MethodGet {
			methodNotAllowed(w, r)
			return
		}
		mirror.ServeTree(w, r, snap, rt.Path, s.pageSize, s.HubURL, s.decorate(rs))
	case mirror.KindPathsInfo:
		if r.Method != http.MethodPost {
			methodNotAllowed(w, r)
			return
		}
		mirror.ServePathsInfo(w, r, snap, s.decorate(rs))
	case mirror.KindXetReadToken:
		s.serveXetToken(w, r)
	case mirror.KindCommits:
		mirror.WriteJSON(w, r, mirror.CommitList(snap))
	case mirror.KindDiscussions:
		mirror.WriteJSON(w, r, mirror.DiscussionList())
	default:
		mirror.WriteRouteError(w, r, mirror.ErrUnknownRoute)
	}
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	mirror.WriteError(w, r, http.StatusMethodNotAllowed, "MethodNotAllowed", r.Method+" not allowed here", "")
}

// serveResolve answers a resolve or resolve-cache request in the shapes of
// hub-protocol.md §6.1: C (302 to the CDN) for LFS files; A (relative 307 to
// resolve-cache) for git files of public namespaced repos; B (200) otherwise
// and on the resolve-cache route itself.
func (s *Sim) serveResolve(w http.ResponseWriter, r *http.Request, rt mirror.Route, rs *RepoSettings, snap *hubrepo.Snapshot) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, r)
		return
	}
	f, err := snap.File(rt.Path)
	if err != nil {
		mirror.WriteEntryNotFound(w, r, snap.Commit)
		return
	}
	switch {
	case f.LFS != nil:
		s.redirectToCDN(w, r, rt, rs, snap, f)
	case rt.Kind == mirror.KindResolve && rs.Gated == "" && !rs.Private && strings.Contains(rt.RepoID, "/") && f.Size > 0:
		// Shape A. The query names the original URL and the etag, like the Hub's.
		orig := "/" + prefix(rt.RepoType) + rt.RepoID + "/resolve/" + url.PathEscape(rt.Rev) + "/" + escapePath(rt.Path)
		loc := "/api/resolve-cache/" + rt.RepoType + "/" + rt.RepoID + "/" + snap.Commit + "/" + escapePath(rt.Path) +
			"?" + url.QueryEscape(orig) + "=&etag=" + url.QueryEscape(`"`+f.BlobID+`"`)
		// No metadata on the 307 itself: the target carries it.
		w.Header().Set("Location", loc)
		w.WriteHeader(http.StatusTemporaryRedirect)
	default:
		mirror.ServeFile(w, r, snap, f)
	}
}

// redirectToCDN is shape C: a 302 to the CDN listener carrying all metadata
// and the Xet hints on the redirect itself.
func (s *Sim) redirectToCDN(w http.ResponseWriter, r *http.Request, rt mirror.Route, rs *RepoSettings, snap *hubrepo.Snapshot, f hubrepo.File) {
	sum := f.LFS.SHA256
	size := f.LFS.Size
	if n, ok := rs.DeclaredSizes[f.Path]; ok {
		size = n
	}
	stall := time.Duration(rs.StallMillis) * time.Millisecond
	if stall <= 0 {
		stall = 15 * time.Second
	}
	s.mu.Lock()
	s.blobs[sum] = blob{snap: snap, file: f, fault: rs.CDNFaults[f.Path], stall: stall}
	s.mu.Unlock()

	expires := time.Now().Add(time.Hour).Unix()
	sig := sha256.Sum256([]byte(sum + strconv.FormatInt(expires, 10)))
	loc := fmt.Sprintf("%s/repos/%s/%s/%s?response-content-disposition=%s&Expires=%d&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=%s",
		s.CDNURL, sum[:2], sum[2:4], sum, url.QueryEscape(`inline; filename="`+path.Base(f.Path)+`"`), expires, hex.EncodeToString(sig[:]))
	xet := xetHash(sum)
	h := w.Header()
	h.Set("Location", loc)
	h.Set("X-Repo-Commit", snap.Commit)
	h.Set("X-Linked-Etag", `"`+sum+`"`)
	h.Set("X-Linked-Size", strconv.FormatInt(size, 10))
	h.Set("ETag", `"`+sum+`"`)
	h.Set("X-Xet-Hash", xet)
	h.Set("Link", fmt.Sprintf(`<%s/api/%s/%s/xet-read-token/%s>; rel="xet-auth", <%s/v1/reconstructions/%s>; rel="xet-reconstruction-info"`,
		s.HubURL, rt.RepoType, rt.RepoID, snap.Commit, s.CASURL, xet))
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusFound)
}

// redirectRenamed is shape D: a relative 307 to the same URL under the new id.
func (s *Sim) redirectRenamed(w http.ResponseWriter, r *http.Request, rt mirror.Route, newID string) {
	p := r.URL.EscapedPath()
	old := "/" + prefix(rt.RepoType) + rt.RepoID + "/"
	repl := "/" + prefix(rt.RepoType) + newID + "/"
	if strings.HasPrefix(p, "/api/") {
		old, repl = "/api/"+rt.RepoType+"/"+rt.RepoID, "/api/"+rt.RepoType+"/"+newID
	}
	loc := strings.Replace(p, old, repl, 1)
	if r.URL.RawQuery != "" {
		loc += "?" + r.URL.RawQuery
	}
	w.Header().Set("Location", loc)
	w.WriteHeader(http.StatusTemporaryRedirect)
}

func (s *Sim) writeGated(w http.ResponseWriter, r *http.Request, rt mirror.Route, hasToken bool) {
	kind := strings.TrimSuffix(rt.RepoType, "s")
	if hasToken {
		mirror.WriteError(w, r, http.StatusForbidden, mirror.CodeGatedRepo, fmt.Sprintf(
			"Access to %s %s is restricted and you are not in the authorized list. Visit %s/%s to ask for access.",
			kind, rt.RepoID, s.HubURL, rt.RepoID), "")
		return
	}
	mirror.WriteError(w, r, http.StatusUnauthorized, mirror.CodeGatedRepo, fmt.Sprintf(
		"Access to %s %s is restricted. You must have access to it and be authenticated to access it. Please log in.",
		kind, rt.RepoID), "")
}

// injectFailure answers with the repo's configured failure, if it applies.
func (s *Sim) injectFailure(w http.ResponseWriter, r *http.Request, key string, rs *RepoSettings, rt mirror.Route) bool {
	f := rs.Fail
	if f == nil {
		return false
	}
	if len(f.Files) > 0 {
		if rt.Kind != mirror.KindResolve && rt.Kind != mirror.KindResolveCache {
			return false
		}
		match := false
		for _, g := range f.Files {
			if ok, _ := path.Match(g, rt.Path); ok {
				match = true
			}
		}
		if !match {
			return false
		}
	}
	s.mu.Lock()
	n := s.failCount[key]
	if f.Times > 0 && n >= f.Times {
		s.mu.Unlock()
		return false
	}
	s.failCount[key] = n + 1
	s.mu.Unlock()
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
	}
	if f.Message != "" {
		mirror.WriteError(w, r, f.Status, f.Code, f.Message, "")
		return true
	}
	if f.Code != "" {
		w.Header().Set("X-Error-Code", f.Code)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(f.Status)
	if r.Method != http.MethodHead {
		fmt.Fprintln(w, http.StatusText(f.Status))
	}
	return true
}

// decorate adds what the Hub adds to tree and paths-info entries: xetHash
// on LFS files, and declared sizes.
func (s *Sim) decorate(rs *RepoSettings) mirror.Decorate {
	return func(es []mirror.TreeEntry) {
		for i := range es {
			if es[i].LFS == nil {
				continue
			}
			es[i].XetHash = xetHash(es[i].LFS.OID)
			if n, ok := rs.DeclaredSizes[es[i].Path]; ok {
				es[i].Size, es[i].LFS.Size = n, n
			}
		}
	}
}

// serveXetToken answers like the Hub: JSON and the same values in headers.
func (s *Sim) serveXetToken(w http.ResponseWriter, r *http.Request) {
	exp := time.Now().Add(time.Hour).Unix()
	tok := "xet_hubsim_" + strconv.FormatInt(exp, 10)
	h := w.Header()
	h.Set("X-Xet-Cas-Url", s.CASURL)
	h.Set("X-Xet-Access-Token", tok)
	h.Set("X-Xet-Token-Expiration", strconv.FormatInt(exp, 10))
	mirror.WriteJSON(w, r, map[string]any{"accessToken": tok, "exp": exp, "casUrl": s.CASURL})
}

// xetHash makes a stable fake Xet hash for an LFS sha256.
func xetHash(sha256Hex string) string {
	h := sha256.Sum256([]byte("xet:" + sha256Hex))
	return hex.EncodeToString(h[:])
}

func prefix(repoType string) string {
	if repoType == "models" {
		return ""
	}
	return repoType + "/"
}

// escapePath escapes a file path like Python's quote(path): '/' kept.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// serveWhoami accepts any bearer token starting with "hf_" as user "hubsim",
// and answers others with the Hub's 401 message for a bad token.
func (s *Sim) serveWhoami(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || !strings.HasPrefix(tok, "hf_") {
		mirror.WriteError(w, r, http.StatusUnauthorized, "", "Invalid credentials in Authorization header", "")
		return
	}
	mirror.WriteJSON(w, r, map[string]any{"type": "user", "id": "000000000000000000000001", "name": "hubsim",
		"fullname": "Hub simulator", "orgs": []any{}, "auth": map[string]any{"type": "access_token",
			"accessToken": map[string]string{"displayName": "hubsim", "role": "read"}}})
}
