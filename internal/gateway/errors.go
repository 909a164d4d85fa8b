package gateway

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/safehub/safehub/internal/upstream"
)

// writeError answers in the Hub's error shape: X-Error-Code picks the
// exception huggingface_hub raises, X-Error-Message goes into its text, and
// X-Repo-Commit (for EntryNotFound) lets the client record the miss.
func writeError(w http.ResponseWriter, status int, code, msg, commit string) {
	h := w.Header()
	stripFileHeaders(h)
	if code != "" {
		h.Set("X-Error-Code", code)
	}
	h.Set("X-Error-Message", headerSafe(msg))
	if commit != "" {
		h.Set("X-Repo-Commit", commit)
	}
	body, _ := json.Marshal(map[string]string{"error": msg})
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// writeUpstreamError relays an upstream failure. Hub error responses keep
// their status and error headers, so gated and private repos raise
// GatedRepoError or RepositoryNotFoundError, not a connection error.
func writeUpstreamError(w http.ResponseWriter, err error) {
	var ue *upstream.Error
	if !errors.As(err, &ue) {
		writeError(w, http.StatusBadGateway, "", "safehub: upstream error: "+err.Error(), "")
		return
	}
	if ue.Header == nil { // a transport failure, not an HTTP answer
		status := ue.Status
		if status == 499 { // the client is gone; nobody reads this
			status = http.StatusServiceUnavailable
		}
		writeError(w, status, "", "safehub: "+ue.Msg, "")
		return
	}
	h := w.Header()
	stripFileHeaders(h)
	for k, vs := range ue.Header {
		h[k] = vs
	}
	if h.Get("X-Error-Message") == "" && ue.Status >= 500 {
		h.Set("X-Error-Message", "safehub: upstream answered "+strconv.Itoa(ue.Status))
	}
	h.Set("Content-Length", strconv.Itoa(len(ue.Body)))
	w.WriteHeader(ue.Status)
	w.Write(ue.Body)
}

// headerSafe keeps a message printable ASCII on one line, so user-derived
// text (file names) can never split or corrupt a header.
func headerSafe(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\r' || r == '\n' || r == '\t':
			b.WriteByte(' ')
		case r < 0x20 || r == 0x7f:
		case r > 0x7e:
			b.WriteByte('?')
		default:
			b.WriteRune(r)
		}
		if b.Len() >= 1024 {
			break
		}
	}
	return b.String()
}
