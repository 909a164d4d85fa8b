// Package hubsim is a Hugging Face Hub simulator for safehub's tests. It
// serves a folder of repositories (laid out as package hubrepo reads them)
// the way huggingface.co does, with its redirects, CDN, Xet hints and error
// shapes (hub-protocol.md §6–§8, checklist §17), on three listeners:
//
//	hub  (default 127.0.0.2): /resolve, /api/..., and the admin routes /_sim/...
//	cdn  (default 127.0.0.3): LFS bytes behind presigned-looking URLs, Range, faults
//	cas  (default 127.0.0.4): a Xet CAS stub that only logs and refuses
//
// The hub and CDN listen on different IP addresses so that the CDN is on a
// different host name, as on the real Hub (clients treat same-host redirects
// differently, huggingface_hub #4942).
//
// Per-repo behaviour comes from <repos>/hubsim.json (see Settings).
//
// Admin routes on the hub listener:
//
//	GET  /_sim/log     JSON array of LogEntry for every listener, oldest first
//	POST /_sim/reset   clears the log
//	POST /_sim/move-branch?repo=models/org/m&branch=main&to=feature/x
//	                   points branch at the folder of branch "to" ("@repo"
//	                   names the repo's own folder); both commits stay
//	                   resolvable by id. Answers {"commit": "<new sha>"}.
package hubsim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/safehub/safehub/internal/hubrepo"
)

// Config configures a simulator.
type Config struct {
	ReposDir string
	// Listen addresses; empty means 127.0.0.2:0, 127.0.0.3:0, 127.0.0.4:0.
	HubAddr, CDNAddr, CASAddr string
	// PageSize is the tree page size (default 50, small so paging is exercised).
	PageSize int
	// Settings replaces <ReposDir>/hubsim.json when not nil.
	Settings Settings
	// Logger receives server errors; nil discards them.
	Logger *slog.Logger
}

// Sim is a running simulator.
type Sim struct {
	HubURL, CDNURL, CASURL string

	root     *hubrepo.Root
	settings Settings
	pageSize int
	log      requestLog
	servers  []*http.Server

	mu        sync.Mutex
	moved     map[string]string // "{type}/{id}\x00branch" → folder ("" = repo folder)
	failCount map[string]int    // requests failed so far per repo key
	blobs     map[string]blob   // sha256 → file, for the CDN
}

// blob is what the CDN needs to serve an LFS file.
type blob struct {
	snap  *hubrepo.Snapshot
	file  hubrepo.File
	fault string
	stall time.Duration
}

// Start loads the settings, opens the three listeners and serves until Close.
func Start(cfg Config) (*Sim, error) {
	root, err := hubrepo.Open(cfg.ReposDir, hubrepo.WithSnapshotTTL(0))
	if err != nil {
		return nil, err
	}
	settings := cfg.Settings
	if settings == nil {
		if settings, err = LoadSettings(root.Dir()); err != nil {
			return nil, err
		}
	} else if err := settings.Validate(); err != nil {
		return nil, err
	}
	s := &Sim{root: root, settings: settings, pageSize: cfg.PageSize, moved: map[string]string{},
		failCount: map[string]int{}, blobs: map[string]blob{}}
	if s.pageSize <= 0 {
		s.pageSize = 50
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	addrs := []string{or(cfg.HubAddr, "127.0.0.2:0"), or(cfg.CDNAddr, "127.0.0.3:0"), or(cfg.CASAddr, "127.0.0.4:0")}
	var lns []net.Listener
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, fmt.Errorf("hubsim: listen %s: %w", a, err)
		}
		lns = append(lns, ln)
	}
	s.HubURL, s.CDNURL, s.CASURL = "http://"+lns[0].Addr().String(), "http://"+lns[1].Addr().String(), "http://"+lns[2].Addr().String()
	handlers := []http.Handler{
		s.log.logged("hub", http.HandlerFunc(s.serveHub)),
		s.log.logged("cdn", http.HandlerFunc(s.serveCDN)),
		s.log.logged("cas", http.HandlerFunc(s.serveCAS)),
	}
	for i, ln := range lns {
		srv := &http.Server{Handler: handlers[i], ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
		s.servers = append(s.servers, srv)
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("hubsim: serve", "err", err)
			}
		}()
	}
	return s, nil
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Close stops all listeners, waiting up to 5 s for requests in flight.
func (s *Sim) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	for _, srv := range s.servers {
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, srv.Close())
		}
	}
	return errors.Join(errs...)
}

// Log returns the requests seen so far, oldest first.
func (s *Sim) Log() []LogEntry { return s.log.snapshot() }

// ResetLog clears the request log.
func (s *Sim) ResetLog() { s.log.reset() }

// MoveBranch points branch of repo ("{type}/{id}") at the folder of branch
// to ("@repo" for the repo's own folder) and returns the branch's new commit.
func (s *Sim) MoveBranch(repoKey, branch, to string) (string, error) {
	typ, id, _ := splitKey(repoKey)
	repo, err := s.root.Repo(typ, id)
	if err != nil {
		return "", err
	}
	folder, err := s.branchFolder(repoKey, to, true)
	if err != nil {
		return "", err
	}
	snap, err := s.snapshotAt(repo, folder)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.moved[repoKey+"\x00"+branch] = folder
	s.mu.Unlock()
	return snap.Commit, nil
}

// branchFolder returns the folder of a branch ("" for the repo's own), or
// ErrRevisionNotFound. With configured, moves are ignored.
func (s *Sim) branchFolder(repoKey, branch string, configured bool) (string, error) {
	if !configured {
		s.mu.Lock()
		f, ok := s.moved[repoKey+"\x00"+branch]
		s.mu.Unlock()
		if ok {
			return f, nil
		}
	}
	if branch == "main" || branch == "@repo" {
		return "", nil
	}
	if rs := s.settings[repoKey]; rs != nil {
		if f, ok := rs.Branches[branch]; ok {
			return f, nil
		}
	}
	return "", fmt.Errorf("%w: %s", hubrepo.ErrRevisionNotFound, branch)
}

func (s *Sim) snapshotAt(repo *hubrepo.Repo, folder string) (*hubrepo.Snapshot, error) {
	if folder == "" {
		return repo.Snapshot()
	}
	return repo.SnapshotOf(folder)
}

// resolveRevision finds the snapshot for a branch name or a commit id of any
// of the repo's folders.
func (s *Sim) resolveRevision(repoKey string, repo *hubrepo.Repo, rev string) (*hubrepo.Snapshot, error) {
	if folder, err := s.branchFolder(repoKey, rev, false); err == nil {
		return s.snapshotAt(repo, folder)
	}
	if len(rev) != 40 {
		return nil, hubrepo.ErrRevisionNotFound
	}
	folders := []string{""}
	if rs := s.settings[repoKey]; rs != nil {
		for _, f := range rs.Branches {
			folders = append(folders, f)
		}
	}
	for _, f := range folders {
		if snap, err := s.snapshotAt(repo, f); err == nil && snap.Commit == rev {
			return snap, nil
		}
	}
	return nil, hubrepo.ErrRevisionNotFound
}

func splitKey(key string) (typ, id string, ok bool) {
	for i := 0; i < len(key); i++ {
		if key[i] == '/' {
			return key[:i], key[i+1:], true
		}
	}
	return "", "", false
}
