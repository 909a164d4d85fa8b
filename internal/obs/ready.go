package obs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/safehub/safehub/internal/humanize"
	"github.com/safehub/safehub/internal/upstream"
)

const (
	// probeTTL is how long a probe's answer is reused: a load balancer
	// polling /readyz every second must not turn into a request per second
	// to the Hub.
	probeTTL = 5 * time.Second
	// probeTimeout bounds one probe; /readyz answers within it.
	probeTimeout = 3 * time.Second
)

// Probe reports whether something the gateway depends on answers; nil means
// it does. It must honour ctx's deadline.
type Probe func(ctx context.Context) error

// UpstreamProbe asks the upstream for /api/whoami-v2 without a token: a
// cheap call every Hub answers (401 without a token) and that the mirror
// answers in process. Any answer below 500 means the upstream is reachable;
// a transport error or a 5xx means it is not.
func UpstreamProbe(up *upstream.Client) Probe {
	return func(ctx context.Context) error {
		resp, err := up.Do(ctx, upstream.Request{Method: http.MethodGet, Path: "/api/whoami-v2"})
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
		if resp.StatusCode >= 500 {
			return fmt.Errorf("upstream answered %s", resp.Status)
		}
		return nil
	}
}

// CheckResult is one probe's latest answer.
type CheckResult struct {
	OK      bool
	Detail  string // "answered in 12ms", or the error
	Checked time.Time
}

// cachedProbe runs a Probe at most once per probeTTL; concurrent callers
// wait for the one run in flight.
type cachedProbe struct {
	probe Probe
	mu    sync.Mutex
	last  CheckResult
	onRun func(ok bool)
}

func (c *cachedProbe) get(ctx context.Context) CheckResult {
	if c == nil || c.probe == nil {
		return CheckResult{Detail: "not configured"}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.last.Checked.IsZero() && time.Since(c.last.Checked) < probeTTL {
		return c.last
	}
	// The probe runs on its own deadline, not the caller's: a /readyz
	// client that hangs up must not cache "context canceled" for everyone.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), probeTimeout)
	defer cancel()
	start := time.Now()
	err := runProbe(ctx, c.probe)
	took := roundDuration(time.Since(start))
	if err != nil {
		c.last = CheckResult{Detail: fmt.Sprintf("failing after %s: %v", took, err)}
	} else {
		c.last = CheckResult{OK: true, Detail: fmt.Sprintf("answered in %s", took)}
	}
	c.last.Checked = time.Now()
	if c.onRun != nil {
		c.onRun(c.last.OK)
	}
	return c.last
}

// roundDuration keeps probe times readable: "12ms", "1.5s", "<1ms".
func roundDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return "<1ms"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

// runProbe enforces the deadline even on a probe that ignores ctx, so
// /readyz itself never hangs. Such a probe's goroutine lingers until it
// returns; cachedProbe starts at most one per probeTTL.
func runProbe(ctx context.Context, p Probe) error {
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("probe panicked: %v", r)
			}
		}()
		done <- p(ctx)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("no answer within %s", probeTimeout)
		}
		return ctx.Err()
	}
}

// Readiness is the /readyz verdict with the reason for each part.
type Readiness struct {
	Ready    bool
	Upstream CheckResult
	Cache    CheckResult
}

// readiness decides: ready when the upstream answers, or when the cache
// holds blobs it can serve (an upstream outage then still serves what is
// cached). An empty or unreadable cache cannot serve anything.
func (a *Admin) readiness(ctx context.Context) Readiness {
	r := Readiness{Upstream: a.upstream.get(ctx)}
	switch {
	case a.cfg.Cache.Usage == nil:
		r.Cache = CheckResult{Detail: "no cache configured"}
	default:
		n, err := a.usage.get(ctx)
		switch {
		case err != nil:
			r.Cache = CheckResult{Detail: "unreadable: " + err.Error()}
		case n == 0:
			r.Cache = CheckResult{Detail: "empty: nothing to serve without the upstream"}
		default:
			r.Cache = CheckResult{OK: true, Detail: "holds " + humanize.Bytes(n)}
		}
	}
	r.Ready = r.Upstream.OK || r.Cache.OK
	return r
}
