package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"

	"github.com/safehub/safehub/internal/fsutil"
	"github.com/safehub/safehub/internal/hubapi"
)

// maxStashedListings bounds the in-memory stash (no MetaDir).
const maxStashedListings = 10_000

// listingStash keeps the last filtered answer of each repo-info and tree
// request, so that snapshot_download still works while the upstream is
// down (files come from the metadata index and the blob cache; listings
// from here). Only repos the upstream served without a token are ever
// answered from it. With a folder, answers survive restarts.
type listingStash struct {
	dir string // "" keeps answers in memory only
	mu  sync.Mutex
	mem map[string]stashedListing
}

type stashedListing struct {
	Link string          `json:"link,omitempty"` // rewritten paging link, if any
	Body json.RawMessage `json:"body"`
}

func newListingStash(metaDir string) *listingStash {
	s := &listingStash{mem: map[string]stashedListing{}}
	if metaDir != "" {
		s.dir = filepath.Join(metaDir, "listings")
	}
	return s
}

// stashKey names one listing request: kind, repo, revision, sub-path and
// the query (paging cursors and flags change the answer).
func stashKey(rt hubapi.Route, rawQuery string) string {
	sum := sha256.Sum256([]byte(rt.Kind.String() + "\x00" + string(rt.Type) + "\x00" + rt.Repo + "\x00" + rt.Rev + "\x00" + rt.Path + "\x00" + rawQuery))
	return hex.EncodeToString(sum[:])
}

func (s *listingStash) put(key string, l stashedListing) {
	if s.dir == "" {
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, ok := s.mem[key]; !ok && len(s.mem) >= maxStashedListings {
			for k := range s.mem { // drop an arbitrary one: a stash, not a cache
				delete(s.mem, k)
				break
			}
		}
		s.mem[key] = l
		return
	}
	data, err := json.Marshal(l)
	if err != nil || os.MkdirAll(s.dir, 0o700) != nil {
		return
	}
	_ = fsutil.WriteAtomic(filepath.Join(s.dir, key+".json"), data, 0o600, nil) // best effort
}

func (s *listingStash) get(key string) (stashedListing, bool) {
	if s.dir == "" {
		s.mu.Lock()
		defer s.mu.Unlock()
		l, ok := s.mem[key]
		return l, ok
	}
	var l stashedListing
	data, err := os.ReadFile(filepath.Join(s.dir, key+".json"))
	if err != nil || json.Unmarshal(data, &l) != nil || len(l.Body) == 0 {
		return l, false
	}
	return l, true
}
