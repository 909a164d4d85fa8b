package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/safehub/safehub/internal/hubapi"
	"github.com/safehub/safehub/internal/upstream"
)

const maxPathsInfoForm = 1 << 20

// serveRepoInfo relays /api/{t}/{repo}[/revision/{rev}] with refused files
// removed from siblings and every Xet hash removed.
func (g *Gateway) serveRepoInfo(w http.ResponseWriter, r *http.Request, rt hubapi.Route, rec *requestLog) {
	if !g.allowed(g.pol.Repo(repoType(rt.Type), rt.Repo), rec) {
		g.refuseRepo(w, rec.last)
		return
	}
	g.relayJSON(w, r, rec, rt, upstream.Request{
		Method:   http.MethodGet,
		Path:     hubapi.RepoInfoPath(rt.Type, rt.Repo, rt.Rev),
		RawQuery: r.URL.RawQuery,
	}, g.filterRepoInfo)
}

// serveListing relays tree pages and paths-info answers, filtered.
func (g *Gateway) serveListing(w http.ResponseWriter, r *http.Request, rt hubapi.Route, rec *requestLog) {
	if !g.allowed(g.pol.Repo(repoType(rt.Type), rt.Repo), rec) {
		g.refuseRepo(w, rec.last)
		return
	}
	req := upstream.Request{Method: http.MethodGet, RawQuery: r.URL.RawQuery}
	if rt.Kind == hubapi.KindTree {
		req.Path = hubapi.TreePath(rt.Type, rt.Repo, rt.Rev, rt.Path)
	} else {
		form, err := io.ReadAll(io.LimitReader(r.Body, maxPathsInfoForm+1))
		if err != nil || len(form) > maxPathsInfoForm {
			writeError(w, http.StatusRequestEntityTooLarge, "", "safehub: paths-info form too large or unreadable", "")
			return
		}
		req.Method = http.MethodPost
		req.Path = hubapi.PathsInfoPath(rt.Type, rt.Repo, rt.Rev)
		req.Body = bytes.NewReader(form)
		req.Header = http.Header{"Content-Type": {r.Header.Get("Content-Type")}}
	}
	g.relayJSON(w, r, rec, rt, req, g.filterEntries)
}

// jsonFilter removes what a client must not see from an upstream answer
// about repo (of type t).
type jsonFilter func(v any, t hubapi.RepoType, repo string) any

// relayJSON sends req upstream with the client's token and answers with the
// JSON body passed through filter. Redirects on the upstream (renamed
// repos) are followed, and the repo that finally answered is judged by the
// policy again. The body is re-encoded, so Content-Length is recomputed and
// the upstream's ETag and X-Total-Count (which describe the unfiltered
// body) are dropped.
func (g *Gateway) relayJSON(w http.ResponseWriter, r *http.Request, rec *requestLog, rt hubapi.Route, req upstream.Request, filter jsonFilter) {
	req.Auth = r.Header.Get("Authorization")
	req.Header = mergeHeaders(req.Header, clientHeaders(r))
	ctx, cancel := context.WithTimeout(r.Context(), upstream.APITimeout)
	defer cancel()
	resp, final, err := g.up.DoFollow(ctx, req)
	if err == nil && resp.StatusCode >= 300 {
		err = g.up.ErrorFrom(resp)
	}
	if err != nil {
		rec.decision = "upstream-error"
		if unreachable(err) && g.serveStashedListing(w, r, rt, rec) {
			return
		}
		writeUpstreamError(w, err)
		return
	}
	if frt, ok := answeredRoute(req.Method, final); ok && frt.Repo != "" && (frt.Repo != rt.Repo || frt.Type != rt.Type) {
		rt.Type, rt.Repo = frt.Type, frt.Repo
		if !g.allowed(g.pol.Repo(repoType(rt.Type), rt.Repo), rec) {
			resp.Body.Close()
			g.refuseRepo(w, rec.last)
			return
		}
	}
	defer resp.Body.Close()
	v, err := decodeJSON(resp.Body)
	if err != nil {
		rec.decision = "upstream-error"
		writeError(w, http.StatusBadGateway, "", "safehub: "+err.Error(), "")
		return
	}
	out, err := encodeJSON(filter(stripXet(v), rt.Type, rt.Repo))
	if err != nil {
		writeError(w, http.StatusInternalServerError, "", "safehub: re-encoding a listing failed", "")
		return
	}
	copyAPIHeaders(w.Header(), resp.Header, g.up.Base(), origin(r))
	// Only public repos' listings are ever served offline, so only those are
	// kept. A repo's own info says whether it is public, whoever asked.
	if rt.Kind == hubapi.KindRepoInfo {
		if public, known := publicFromInfo(v); known {
			g.index.setPublic(rt.Type, rt.Repo, public)
		}
	}
	if public, _ := g.index.publicness(rt.Type, rt.Repo); public && stashable(rt, r) {
		if key, ok := stashKey(rt, r.URL.RawQuery); ok {
			g.listings.put(key, stashedListing{Link: w.Header().Get("Link"), Body: out})
		}
	}
	writeJSON(w, r, resp.StatusCode, out, rec)
}

func writeJSON(w http.ResponseWriter, r *http.Request, status int, out []byte, rec *requestLog) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(status)
	rec.bytes = int64(len(out))
	if r.Method != http.MethodHead {
		w.Write(out)
	}
}

// stashable: the listings snapshot_download needs offline.
func stashable(rt hubapi.Route, r *http.Request) bool {
	return r.Method == http.MethodGet && (rt.Kind == hubapi.KindRepoInfo || rt.Kind == hubapi.KindTree)
}

// publicFromInfo reads a repo info answer: public means neither private
// nor gated. known is false when the answer does not say.
func publicFromInfo(v any) (public, known bool) {
	info, ok := v.(map[string]any)
	if !ok {
		return false, false
	}
	private, gated := info["private"], info["gated"]
	return private == false && gated == false, private != nil && gated != nil
}

// serveStashedListing answers a repo-info or tree request from the last
// answer the upstream gave, while the upstream is unreachable, for repos
// the upstream served without a token only. It reports whether it did.
func (g *Gateway) serveStashedListing(w http.ResponseWriter, r *http.Request, rt hubapi.Route, rec *requestLog) bool {
	if !stashable(rt, r) {
		return false
	}
	if public, _ := g.index.publicness(rt.Type, rt.Repo); !public {
		return false
	}
	key, ok := stashKey(rt, r.URL.RawQuery)
	if !ok {
		return false
	}
	l, ok := g.listings.get(key)
	if !ok {
		return false
	}
	rec.decision, rec.cache = "allow", "offline"
	if l.Link != "" {
		w.Header().Set("Link", l.Link)
	}
	w.Header().Set("X-Hf-Warning", "safehub: the upstream is unreachable; this listing is the gateway's last copy")
	writeJSON(w, r, http.StatusOK, l.Body, rec)
	return true
}

func mergeHeaders(a, b http.Header) http.Header {
	out := a.Clone()
	if out == nil {
		out = http.Header{}
	}
	for k, vs := range b {
		out[k] = vs
	}
	return out
}

// answeredRoute parses the escaped path that finally answered an API call.
func answeredRoute(method, escapedPath string) (hubapi.Route, bool) {
	u := &url.URL{RawPath: escapedPath}
	var err error
	if u.Path, err = url.PathUnescape(escapedPath); err != nil {
		return hubapi.Route{}, false
	}
	rt, err := hubapi.Parse(method, u)
	return rt, err == nil
}

var errTooLarge = errors.New("upstream JSON answer is larger than the gateway accepts")

// decodeJSON reads at most upstream.MaxJSONBody bytes; numbers stay exact.
func decodeJSON(r io.Reader) (any, error) {
	data, err := io.ReadAll(io.LimitReader(r, upstream.MaxJSONBody+1))
	if err != nil {
		return nil, errors.New("reading upstream answer: " + err.Error())
	}
	if len(data) > upstream.MaxJSONBody {
		return nil, errTooLarge
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, errors.New("upstream answered malformed JSON")
	}
	return v, nil
}

func encodeJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// repoInfo is what a refusal needs to know about a repo at a revision.
type repoInfo struct {
	sha   string
	files []string
}

// fetchRepoInfo reads the commit and file names of a repo at rt.Rev with
// the user's token.
func (g *Gateway) fetchRepoInfo(ctx context.Context, rt hubapi.Route, auth string) (*repoInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, upstream.APITimeout)
	defer cancel()
	resp, _, err := g.up.DoFollow(ctx, upstream.Request{Method: http.MethodGet, Path: hubapi.RepoInfoPath(rt.Type, rt.Repo, rt.Rev), Auth: auth})
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		return nil, g.up.ErrorFrom(resp)
	}
	defer resp.Body.Close()
	v, err := decodeJSON(resp.Body)
	if err != nil {
		return nil, &upstream.Error{Status: http.StatusBadGateway, Msg: err.Error()}
	}
	obj, _ := v.(map[string]any)
	info := &repoInfo{}
	info.sha, _ = obj["sha"].(string)
	sibs, _ := obj["siblings"].([]any)
	for _, s := range sibs {
		if m, ok := s.(map[string]any); ok {
			if f, ok := m["rfilename"].(string); ok {
				info.files = append(info.files, f)
			}
		}
	}
	return info, nil
}
