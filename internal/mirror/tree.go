package mirror

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/safehub/safehub/internal/hubrepo"
)

// Limits on paths-info requests.
const (
	MaxPathsInfoBody  = 1 << 20
	MaxPathsInfoPaths = 10_000
)

// Decorate lets a caller change entries before they are sent (the simulator
// adds xetHash and declared sizes). It may be nil.
type Decorate func([]TreeEntry)

// ServeTree answers GET /api/{t}/{repo}/tree/{rev}[/{dir}]: a JSON array of
// at most pageSize entries and, when more remain, Link: <abs URL>; rel="next"
// where the URL is baseURL + the request's own escaped path and query with
// an opaque cursor. A dir that is not a directory gets 404 EntryNotFound.
func ServeTree(w http.ResponseWriter, r *http.Request, s *hubrepo.Snapshot, dir string, pageSize int, baseURL string, dec Decorate) {
	q := r.URL.Query()
	entries, err := s.Entries(dir, truthy(q.Get("recursive")))
	if err != nil {
		WriteEntryNotFound(w, r, s.Commit)
		return
	}
	start := 0
	if c := q.Get("cursor"); c != "" {
		if start, err = decodeCursor(c); err != nil || start > len(entries) {
			WriteError(w, r, http.StatusBadRequest, "BadRequest", "invalid cursor", "")
			return
		}
	}
	end := min(start+pageSize, len(entries))
	page := TreeEntries(s, entries[start:end], truthy(q.Get("expand")))
	if dec != nil {
		dec(page)
	}
	if end < len(entries) {
		q.Set("cursor", encodeCursor(end))
		w.Header().Set("Link", fmt.Sprintf(`<%s%s?%s>; rel="next"`, baseURL, r.URL.EscapedPath(), q.Encode()))
	}
	WriteJSON(w, r, page)
}

// ServePathsInfo answers POST /api/{t}/{repo}/paths-info/{rev}: the body is
// a form (paths repeated, expand) as huggingface_hub sends it, or JSON
// {"paths": [...], "expand": bool}. Missing paths are left out.
func ServePathsInfo(w http.ResponseWriter, r *http.Request, s *hubrepo.Snapshot, dec Decorate) {
	paths, expand, err := readPathsInfo(w, r)
	if err != nil {
		WriteError(w, r, http.StatusBadRequest, "BadRequest", err.Error(), "")
		return
	}
	for _, p := range paths {
		if err := hubrepo.CheckPath(strings.Trim(p, "/")); err != nil {
			WriteError(w, r, http.StatusBadRequest, "BadRequest", err.Error(), "")
			return
		}
	}
	items := TreeEntries(s, s.PathsInfo(paths), expand)
	if dec != nil {
		dec(items)
	}
	WriteJSON(w, r, items)
}

func readPathsInfo(w http.ResponseWriter, r *http.Request) (paths []string, expand bool, err error) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxPathsInfoBody)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" {
		var body struct {
			Paths  []string `json:"paths"`
			Expand bool     `json:"expand"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			return nil, false, fmt.Errorf("paths-info: bad JSON body: %v", err)
		}
		paths, expand = body.Paths, body.Expand
	} else {
		if err := r.ParseForm(); err != nil {
			return nil, false, fmt.Errorf("paths-info: bad form body: %v", err)
		}
		paths, expand = r.PostForm["paths"], truthy(r.PostForm.Get("expand"))
	}
	if len(paths) > MaxPathsInfoPaths {
		return nil, false, fmt.Errorf("paths-info: more than %d paths", MaxPathsInfoPaths)
	}
	return paths, expand, nil
}

func truthy(v string) bool {
	switch strings.ToLower(v) {
	case "true", "1", "yes":
		return true
	}
	return false
}

// The cursor is opaque to clients, like the Hub's; it encodes an offset.
func encodeCursor(off int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("off:" + strconv.Itoa(off)))
}

func decodeCursor(c string) (int, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(b), "off:") {
		return 0, fmt.Errorf("invalid cursor")
	}
	n, err := strconv.Atoi(string(b[4:]))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid cursor")
	}
	return n, nil
}
