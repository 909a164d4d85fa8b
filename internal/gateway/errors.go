package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/safehub/safehub/internal/hubapi"
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
	switch {
	case ue.Header == nil: // a transport failure, not an HTTP answer
		status := ue.Status
		if status == 499 { // the client is gone; nobody reads this
			status = http.StatusServiceUnavailable
		}
		writeError(w, status, "", "safehub: "+ue.Msg, "")
		return
	case ue.Foreign:
		// A CDN's 403 (an expired link) or 404 means nothing to a Hub
		// client and, code-less, would read as a network failure or a
		// missing file: it is the gateway's upstream that failed.
		writeError(w, http.StatusBadGateway, "", "safehub: the upstream's file storage answered "+strconv.Itoa(ue.Status)+" for this file", "")
		return
	}
	h := w.Header()
	stripFileHeaders(h)
	for k, vs := range ue.Header {
		h[k] = vs
	}
	if msg := h.Get("X-Error-Message"); msg != "" {
		h.Set("X-Error-Message", headerSafe(msg))
	} else {
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

// writeFileUpstreamError relays an upstream failure on a file route. A
// code-less 4xx from the Hub (hub-protocol.md section 8) is given the Hub's
// shape, because huggingface_hub reads a code-less 403 or 404 on a file as
// "check your connection": a missing file becomes EntryNotFound with the
// commit, a refusal becomes GatedRepo or RepoNotFound.
func (g *Gateway) writeFileUpstreamError(ctx context.Context, w http.ResponseWriter, rt hubapi.Route, auth string, err error) {
	var ue *upstream.Error
	if !errors.As(err, &ue) || ue.Header == nil || ue.Foreign || ue.Header.Get("X-Error-Code") != "" {
		writeUpstreamError(w, err)
		return
	}
	why := headerSafe(ue.Header.Get("X-Error-Message"))
	if why == "" {
		why = "no reason given"
	}
	switch ue.Status {
	case http.StatusNotFound:
		commit := ""
		if info, err := g.fetchRepoInfo(ctx, rt, auth); err == nil {
			commit = info.sha
		}
		writeError(w, http.StatusNotFound, "EntryNotFound", "safehub: the upstream has no "+rt.Path+" at "+rt.Rev+" ("+why+")", commit)
	case http.StatusForbidden:
		writeError(w, http.StatusForbidden, "GatedRepo", "safehub: the upstream refused access to "+rt.Repo+" (403: "+why+")", "")
	case http.StatusUnauthorized:
		writeError(w, http.StatusUnauthorized, "RepoNotFound", "safehub: the upstream needs a valid token for "+rt.Repo+" (401: "+why+")", "")
	default:
		writeUpstreamError(w, err)
	}
}
