package hubsim

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/safehub/safehub/internal/mirror"
)

// serveCDN answers GET/HEAD /repos/xx/yy/{sha256}?…X-Amz-Signature=… for LFS
// files the hub has redirected to. Like S3 it wants a signature and answers
// errors without Hub headers.
func (s *Sim) serveCDN(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "MethodNotAllowed", http.StatusMethodNotAllowed)
		return
	}
	segs := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if len(segs) != 4 || segs[0] != "repos" || r.URL.Query().Get("X-Amz-Signature") == "" {
		http.Error(w, "AccessDenied", http.StatusForbidden)
		return
	}
	s.mu.Lock()
	b, ok := s.blobs[segs[3]]
	s.mu.Unlock()
	if !ok {
		http.Error(w, "NoSuchKey", http.StatusNotFound)
		return
	}
	fh, err := b.snap.Open(b.file)
	if err != nil {
		http.Error(w, "NoSuchKey: "+err.Error(), http.StatusNotFound)
		return
	}
	defer fh.Close()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("ETag", `"`+b.file.LFS.SHA256+`"`)
	h.Set("Accept-Ranges", "bytes")
	h.Set("Cache-Control", "public, max-age=604800, immutable")

	var content io.ReadSeeker = fh
	if b.fault == FaultCorrupt {
		content = flipped{fh}
	}
	if r.Method == http.MethodGet && r.Header.Get("Range") == "" && b.fault != "" && b.fault != FaultCorrupt {
		s.serveFaulty(w, r, fh, b)
		return
	}
	http.ServeContent(w, r, "", b.file.ModTime, content)
}

// serveFaulty sends the first half of the file under a full Content-Length,
// then misbehaves as configured.
func (s *Sim) serveFaulty(w http.ResponseWriter, r *http.Request, fh io.Reader, b blob) {
	size := b.file.Size
	half := size / 2
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	w.WriteHeader(http.StatusOK)
	if _, err := io.CopyN(w, fh, half); err != nil {
		return
	}
	rc := http.NewResponseController(w)
	rc.Flush()
	switch b.fault {
	case FaultShort:
		return // the server closes the connection: fewer bytes than announced
	case FaultDie:
		panic(http.ErrAbortHandler) // connection reset mid-body
	case FaultStall:
		select {
		case <-time.After(b.stall):
		case <-r.Context().Done():
			return
		}
		io.Copy(w, fh)
	}
}

// flipped inverts every byte: same length, wrong content.
type flipped struct{ rs io.ReadSeeker }

func (f flipped) Read(p []byte) (int, error) {
	n, err := f.rs.Read(p)
	for i := range p[:n] {
		p[i] ^= 0xff
	}
	return n, err
}

func (f flipped) Seek(off int64, whence int) (int64, error) { return f.rs.Seek(off, whence) }

// serveCAS is the Xet CAS stub: any contact is logged (by the wrapper) and
// refused, since a gateway test that reaches it has let a client bypass it.
func (s *Sim) serveCAS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	json.NewEncoder(w).Encode(map[string]string{"error": "hubsim CAS stub: Xet transfers are not simulated"})
}

// serveAdmin answers /_sim/log, /_sim/reset and /_sim/move-branch.
func (s *Sim) serveAdmin(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/_sim/log" && r.Method == http.MethodGet:
		mirror.WriteJSON(w, r, s.Log())
	case r.URL.Path == "/_sim/reset" && r.Method == http.MethodPost:
		s.ResetLog()
		mirror.WriteJSON(w, r, map[string]bool{"ok": true})
	case r.URL.Path == "/_sim/move-branch" && r.Method == http.MethodPost:
		q := r.URL.Query()
		branch := q.Get("branch")
		if branch == "" {
			branch = "main"
		}
		commit, err := s.MoveBranch(q.Get("repo"), branch, q.Get("to"))
		if err != nil {
			mirror.WriteError(w, r, http.StatusBadRequest, "BadRequest", "move-branch: "+err.Error(), "")
			return
		}
		mirror.WriteJSON(w, r, map[string]string{"commit": commit})
	default:
		mirror.WriteError(w, r, http.StatusNotFound, "RouteNotFound",
			"hubsim admin routes: GET /_sim/log, POST /_sim/reset, POST /_sim/move-branch?repo=&branch=&to=", "")
	}
}
