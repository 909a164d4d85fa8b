package gateway

import (
	"log/slog"
	"net/http"
	"time"
)

// HTTP server limits for the gateway's listener, shared by `safehub serve`
// and the hostile-input tests so both exercise the same settings.
const (
	// MaxHeaderBytes bounds the request line and headers together: a Hub
	// URL with a long file name and a token fit many times over; more is
	// an attack or a broken client (431).
	MaxHeaderBytes = 64 << 10
	// ReadHeaderTimeout cuts clients that trickle their headers.
	ReadHeaderTimeout = 10 * time.Second
	// ReadTimeout bounds reading a request (bodies are small paths-info forms).
	ReadTimeout = 60 * time.Second
	// ServerIdleTimeout closes idle keep-alive connections.
	ServerIdleTimeout = 120 * time.Second
)

// NewServer returns the http.Server the gateway should listen with. It has
// no WriteTimeout: that would cut multi-GB downloads; every write to a
// client has its own deadline in the gateway instead. log may be nil.
func NewServer(h http.Handler, log *slog.Logger) *http.Server {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		IdleTimeout:       ServerIdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
	if log != nil {
		srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	}
	return srv
}
