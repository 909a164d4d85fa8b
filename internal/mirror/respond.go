package mirror

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/safehub/safehub/internal/hubrepo"
)

// Hub error codes (X-Error-Code values read by huggingface_hub).
const (
	CodeRepoNotFound     = "RepoNotFound"
	CodeRevisionNotFound = "RevisionNotFound"
	CodeEntryNotFound    = "EntryNotFound"
	CodeGatedRepo        = "GatedRepo"
)

// WriteError answers like the Hub: X-Error-Code (when code is not empty),
// X-Error-Message, X-Repo-Commit (when commit is not empty, as on
// EntryNotFound), and a JSON body {"error": message} except for HEAD.
func WriteError(w http.ResponseWriter, r *http.Request, status int, code, message, commit string) {
	h := w.Header()
	if code != "" {
		h.Set("X-Error-Code", code)
	}
	h.Set("X-Error-Message", message)
	if commit != "" {
		h.Set("X-Repo-Commit", commit)
	}
	body, _ := json.Marshal(map[string]string{"error": message})
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// WriteRepoNotFound answers as the Hub does for a missing (or hidden
// private) repo: 401 to an anonymous client, 404 to one that sent a token.
func WriteRepoNotFound(w http.ResponseWriter, r *http.Request) {
	status := http.StatusUnauthorized
	if r.Header.Get("Authorization") != "" {
		status = http.StatusNotFound
	}
	WriteError(w, r, status, CodeRepoNotFound,
		"Repository not found. Check that the repo id is correct and that you are authenticated if it is private or gated.", "")
}

// WriteRevisionNotFound answers 404 RevisionNotFound.
func WriteRevisionNotFound(w http.ResponseWriter, r *http.Request, rev string) {
	WriteError(w, r, http.StatusNotFound, CodeRevisionNotFound, "Invalid rev id: "+rev, "")
}

// WriteEntryNotFound answers 404 EntryNotFound with the commit.
func WriteEntryNotFound(w http.ResponseWriter, r *http.Request, commit string) {
	WriteError(w, r, http.StatusNotFound, CodeEntryNotFound, "Entry not found", commit)
}

// WriteRouteError answers a ParseRoute error: 400 for a malformed URL, 404
// with a code for a route we do not serve.
func WriteRouteError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, ErrBadRoute) {
		WriteError(w, r, http.StatusBadRequest, "BadRequest", err.Error(), "")
		return
	}
	WriteError(w, r, http.StatusNotFound, "RouteNotFound", "not a Hub route served here: "+r.Method+" "+r.URL.Path, "")
}

// WriteJSON answers 200 with v as JSON and an exact Content-Length.
func WriteJSON(w http.ResponseWriter, r *http.Request, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		WriteError(w, r, http.StatusInternalServerError, "", "encode JSON: "+err.Error(), "")
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// SetFileHeaders sets the metadata headers of a resolve answer for f:
// X-Repo-Commit, a quoted ETag (sha256 for LFS files, else the git blob id),
// X-Linked-Etag and X-Linked-Size for LFS files, Accept-Ranges.
func SetFileHeaders(h http.Header, commit string, f hubrepo.File) {
	h.Set("X-Repo-Commit", commit)
	h.Set("ETag", `"`+f.ETag()+`"`)
	if f.LFS != nil {
		h.Set("X-Linked-Etag", `"`+f.LFS.SHA256+`"`)
		h.Set("X-Linked-Size", strconv.FormatInt(f.LFS.Size, 10))
	}
	h.Set("Accept-Ranges", "bytes")
}

// ServeFile answers HEAD or GET for file f of snapshot s with 200 (or 206 /
// 416 for Range, 304 for a matching If-None-Match), through
// http.ServeContent, after setting the Hub's metadata headers.
func ServeFile(w http.ResponseWriter, r *http.Request, s *hubrepo.Snapshot, f hubrepo.File) {
	fh, err := s.Open(f)
	if err != nil {
		// The file changed or vanished after the snapshot was taken: the
		// metadata no longer matches, so refuse rather than serve other bytes.
		WriteError(w, r, http.StatusServiceUnavailable, "", "file changed on disk, retry: "+f.Path, "")
		return
	}
	defer fh.Close()
	SetFileHeaders(w.Header(), s.Commit, f)
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", contentType(f.Path))
	}
	http.ServeContent(w, r, "", f.ModTime.Truncate(time.Second), fh)
}

// contentType picks a type by extension without sniffing file bytes (a
// sniff would read the start of multi-GB files on every HEAD).
func contentType(p string) string {
	switch {
	case hasSuffix(p, ".json"):
		return "application/json"
	case hasSuffix(p, ".txt"), hasSuffix(p, ".md"), hasSuffix(p, ".py"), hasSuffix(p, ".csv"):
		return "text/plain; charset=utf-8"
	}
	return "application/octet-stream"
}

func hasSuffix(s, suf string) bool {
	return len(s) >= len(suf) && s[len(s)-len(suf):] == suf
}
