package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/safehub/safehub/internal/fsutil"
	"github.com/safehub/safehub/internal/hubapi"
)

// maxStashedListings bounds the stash, in memory or on disk: past it the
// oldest tenth is dropped.
const maxStashedListings = 10_000

// stashParams are the query parameters the Hub reads on repo-info and tree
// calls. A request with any other is not stashed: a key built from free
// query text would let anyone write one file per request.
var stashParams = []string{"blobs", "cursor", "expand", "limit", "recursive", "securityStatus"}

// listingStash keeps the last filtered answer of each repo-info and tree
// request, so that snapshot_download still works while the upstream is
// down (files come from the metadata index and the blob cache; listings
// from here). Only repos the upstream served without a token are ever
// answered from it. With a folder, answers survive restarts.
type listingStash struct {
	dir   string // "" keeps answers in memory only
	mu    sync.Mutex
	mem   map[string]stashedListing
	files int // on disk; -1 until counted
}

type stashedListing struct {
	Link string          `json:"link,omitempty"` // rewritten paging link, if any
	Body json.RawMessage `json:"body"`
}

func newListingStash(metaDir string) *listingStash {
	s := &listingStash{mem: map[string]stashedListing{}, files: -1}
	if metaDir != "" {
		s.dir = filepath.Join(metaDir, "listings")
	}
	return s
}

// stashKey names one listing request: kind, repo, revision, sub-path and
// the Hub's own query parameters in a canonical order (paging cursors and
// flags change the answer). ok is false for a query with other parameters.
func stashKey(rt hubapi.Route, rawQuery string) (key string, ok bool) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", false
	}
	names := make([]string, 0, len(q))
	for k := range q {
		if !slices.Contains(stashParams, k) {
			return "", false
		}
		names = append(names, k)
	}
	sort.Strings(names)
	var canon strings.Builder
	for _, k := range names {
		for _, v := range q[k] {
			canon.WriteString(url.QueryEscape(k) + "=" + url.QueryEscape(v) + "&")
		}
	}
	sum := sha256.Sum256([]byte(rt.Kind.String() + "\x00" + string(rt.Type) + "\x00" + rt.Repo + "\x00" + rt.Rev + "\x00" + rt.Path + "\x00" + canon.String()))
	return hex.EncodeToString(sum[:]), true
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
	path := filepath.Join(s.dir, key+".json")
	s.mu.Lock()
	defer s.mu.Unlock()
	_, statErr := os.Stat(path)
	if statErr != nil { // a new file: keep the count under the cap
		s.makeRoomLocked()
	}
	if fsutil.WriteAtomic(path, data, 0o600, nil) == nil && statErr != nil { // best effort
		s.files++
	}
}

// makeRoomLocked counts the stash files once, and past the cap removes
// the oldest tenth.
func (s *listingStash) makeRoomLocked() {
	if s.files >= 0 && s.files < maxStashedListings {
		return
	}
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return
	}
	s.files = len(ents)
	if s.files < maxStashedListings {
		return
	}
	type aged struct {
		name string
		mod  int64
	}
	var all []aged
	for _, e := range ents {
		if info, err := e.Info(); err == nil {
			all = append(all, aged{e.Name(), info.ModTime().UnixNano()})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].mod < all[j].mod })
	for _, a := range all[:len(all)/10+1] {
		if os.Remove(filepath.Join(s.dir, a.name)) == nil {
			s.files--
		}
	}
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
