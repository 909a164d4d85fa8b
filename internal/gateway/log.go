package gateway

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/safehub/safehub/internal/hubapi"
	"github.com/safehub/safehub/internal/policy"
)

// requestLog collects what one request decided, for its single log line.
// It never holds the Authorization header or anything derived from it.
type requestLog struct {
	start    time.Time
	route    hubapi.Route
	decision string // allow, refuse, audit-refuse, upstream-error, aborted, bad-request
	rule     string
	reason   string
	verdict  string
	format   string
	commit   string
	cache    string // hit, fill, bypass, offline; "" when the cache was not used
	bytes    int64
	last     policy.Decision
	scanTime time.Duration
	upTime   time.Duration
}

// statusWriter records the status code for the log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection (write deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (g *Gateway) logRequest(w *statusWriter, r *http.Request, rec *requestLog) {
	status := w.status
	if r.Context().Err() != nil && status == 0 {
		status = 499 // the client went away before an answer
	}
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("path", truncate(r.URL.EscapedPath(), 512)),
		slog.Int("status", status),
		slog.String("client", r.RemoteAddr),
		slog.Int64("dur_ms", time.Since(rec.start).Milliseconds()),
	}
	if rt := rec.route; rt.Repo != "" {
		attrs = append(attrs,
			slog.String("repo_type", string(rt.Type)),
			slog.String("repo", rt.Repo),
			slog.String("revision", rt.Rev),
		)
		if rt.Path != "" {
			attrs = append(attrs, slog.String("file", rt.Path))
		}
	}
	for _, kv := range [][2]string{
		{"decision", rec.decision}, {"rule", rec.rule}, {"reason", rec.reason},
		{"verdict", rec.verdict}, {"format", rec.format}, {"commit", rec.commit}, {"cache", rec.cache},
	} {
		if kv[1] != "" {
			attrs = append(attrs, slog.String(kv[0], kv[1]))
		}
	}
	if rec.bytes > 0 {
		attrs = append(attrs, slog.Int64("bytes", rec.bytes))
	}
	if len(g.observers) > 0 {
		ev := Event{
			Time: rec.start, Duration: time.Since(rec.start), Client: r.RemoteAddr,
			TokenHash: TokenHash(r.Header.Get("Authorization")), Method: r.Method,
			Path: truncate(r.URL.EscapedPath(), 512), Status: status, Route: rec.route.Kind.String(),
			RepoType: string(rec.route.Type), Repo: rec.route.Repo, Revision: rec.route.Rev,
			File: rec.route.Path, Commit: rec.commit, Decision: rec.decision, Rule: rec.rule,
			Reason: rec.reason, Verdict: rec.verdict, Format: rec.format, Cache: rec.cache,
			Bytes: rec.bytes, ScanTime: rec.scanTime, UpstreamTime: rec.upTime,
		}
		if rec.route.Repo == "" {
			ev.RepoType = ""
		}
		for _, o := range g.observers {
			o.Observe(ev)
		}
	}
	level := slog.LevelInfo // refusals and 404s are normal traffic
	if status >= 500 || rec.decision == "aborted" {
		level = slog.LevelWarn
	}
	g.log.LogAttrs(r.Context(), level, "request", attrs...)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
