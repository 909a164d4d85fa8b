package hubsim

import (
	"net/http"
	"strings"
	"sync"
	"time"
)

// LogEntry is one request seen by a listener, as returned by GET /_sim/log.
type LogEntry struct {
	Time     time.Time `json:"time"`
	Listener string    `json:"listener"` // "hub", "cdn" or "cas"
	Method   string    `json:"method"`
	Path     string    `json:"path"`  // raw, still escaped
	Query    string    `json:"query"` // raw
	Auth     bool      `json:"auth"`  // an Authorization header was present
	Token    string    `json:"token"` // its bearer token (test tokens only: this is a simulator)
	Range    string    `json:"range"`
	UA       string    `json:"ua"`
	Status   int       `json:"status"`
}

// maxLogEntries bounds the log; older entries are dropped first.
const maxLogEntries = 100_000

type requestLog struct {
	mu      sync.Mutex
	entries []LogEntry
}

func (l *requestLog) add(e LogEntry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.entries) >= maxLogEntries {
		l.entries = append(l.entries[:0], l.entries[len(l.entries)/2:]...)
	}
	l.entries = append(l.entries, e)
}

func (l *requestLog) snapshot() []LogEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]LogEntry{}, l.entries...)
}

func (l *requestLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = nil
}

// logged wraps a listener's handler so that every request is recorded once
// it has been answered (with its status). Requests to /_sim/ are not logged.
func (l *requestLog) logged(listener string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if listener == "hub" && len(r.URL.Path) >= 6 && r.URL.Path[:6] == "/_sim/" {
			next.ServeHTTP(w, r)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		e := LogEntry{Time: time.Now().UTC(), Listener: listener, Method: r.Method, Path: r.URL.EscapedPath(),
			Query: r.URL.RawQuery, Auth: r.Header.Get("Authorization") != "", Range: r.Header.Get("Range"),
			UA: r.Header.Get("User-Agent")}
		e.Token, _ = strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		defer func() {
			e.Status = sw.status
			if e.Status == 0 {
				e.Status = http.StatusOK
			}
			l.add(e)
		}()
		next.ServeHTTP(sw, r)
	})
}

// statusWriter records the status; Unwrap keeps Flush and friends reachable
// through http.ResponseController.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
