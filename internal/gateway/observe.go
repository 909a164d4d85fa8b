package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// Event is what one request decided, handed to every Observer after the
// answer is complete: the audit log and the metrics are built from it. It
// never holds the client's token, only a short hash that tells one token's
// requests from another's.
type Event struct {
	Time         time.Time     `json:"time"`
	Duration     time.Duration `json:"-"`
	Client       string        `json:"client"`
	TokenHash    string        `json:"token_hash,omitempty"`
	Method       string        `json:"method"`
	Path         string        `json:"path"`
	Status       int           `json:"status"`
	Route        string        `json:"route"` // hubapi.Kind: resolve, tree, repo-info, ...
	RepoType     string        `json:"repo_type,omitempty"`
	Repo         string        `json:"repo,omitempty"`
	Revision     string        `json:"revision,omitempty"`
	File         string        `json:"file,omitempty"`
	Commit       string        `json:"commit,omitempty"`
	Decision     string        `json:"decision,omitempty"` // allow, refuse, audit-refuse, upstream-error, aborted, bad-request
	Rule         string        `json:"rule,omitempty"`
	Reason       string        `json:"reason,omitempty"`
	Verdict      string        `json:"verdict,omitempty"`
	Format       string        `json:"format,omitempty"`
	Cache        string        `json:"cache,omitempty"` // hit, fill, bypass (not cached: disk full or range far ahead), offline (upstream down)
	Bytes        int64         `json:"bytes"`
	ScanTime     time.Duration `json:"-"` // time spent on the content check (near 0 for a cached verdict)
	UpstreamTime time.Duration `json:"-"` // time to the upstream's metadata answer
}

// Observer receives one Event per request. Observe must not block for
// long: it runs on the request's goroutine after the answer was sent.
type Observer interface {
	Observe(Event)
}

// TokenHash returns a short, stable fingerprint of an Authorization header
// ("" when there is none), for telling users apart in logs without ever
// writing the token.
func TokenHash(authorization string) string {
	tok := strings.TrimSpace(strings.TrimPrefix(authorization, "Bearer "))
	if tok == "" {
		return ""
	}
	sum := sha256.Sum256([]byte("safehub-token:" + tok))
	return hex.EncodeToString(sum[:8])
}
