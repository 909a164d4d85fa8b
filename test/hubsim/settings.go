package hubsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/safehub/safehub/internal/hubrepo"
)

// SettingsFile is the optional per-repo settings file in the repos folder.
const SettingsFile = "hubsim.json"

// Settings maps "{type}/{id}" (e.g. "models/org/m", "datasets/org/d",
// "models/gpt2") to that repository's simulated behaviour.
type Settings map[string]*RepoSettings

// RepoSettings is the simulated behaviour of one repository. Every field is
// optional; an absent entry is a public repository served from its folder.
type RepoSettings struct {
	// Gated is "auto" or "manual": repo info stays readable, every other
	// route needs a token from Tokens (401 GatedRepo without a token, 403
	// GatedRepo with a wrong one).
	Gated string `json:"gated,omitempty"`
	// Private hides the repo from anyone without a token from Tokens:
	// 401 RepoNotFound anonymously, 404 RepoNotFound with a wrong token.
	Private bool `json:"private,omitempty"`
	// Tokens are the bearer tokens accepted for a gated or private repo.
	Tokens []string `json:"tokens,omitempty"`
	// RenamedTo makes every request for this repo a relative 307 to the same
	// URL under the new id ("org/new-name"); the old folder need not exist.
	RenamedTo string `json:"renamed_to,omitempty"`
	// Branches maps extra branch names ("feature/x", "refs/pr/1", "v2") to
	// folders relative to the repos folder, which must lie outside the
	// models/datasets/spaces/kernels folders (e.g. "_revisions/m-v2").
	// "main" is always the repo's own folder unless moved (see MoveBranch).
	Branches map[string]string `json:"branches,omitempty"`
	// DeclaredSizes overrides the size announced for LFS files (in
	// X-Linked-Size, tree, paths-info, siblings): e.g. 60000000000 to test
	// the 50 GB limit without a 60 GB file. The CDN still sends the real bytes.
	DeclaredSizes map[string]int64 `json:"declared_sizes,omitempty"`
	// CDNFaults makes the CDN misbehave for an LFS file on a full GET (no
	// Range): "short" (announces the full length, sends half, ends the
	// response), "die" (sends half, then resets the connection), "corrupt"
	// (right length, wrong bytes; applies to ranges too), "stall" (sends
	// half, then waits StallMillis before the rest).
	CDNFaults map[string]string `json:"cdn_faults,omitempty"`
	// StallMillis is the pause of a "stall" fault (default 15000).
	StallMillis int `json:"stall_ms,omitempty"`
	// Fail makes requests for this repo fail with a chosen status.
	Fail *FailSettings `json:"fail,omitempty"`
}

// FailSettings describes an injected error response.
type FailSettings struct {
	Status int `json:"status"`
	// Code is sent as X-Error-Code; empty sends none (a code-less error).
	Code string `json:"code,omitempty"`
	// Message is sent as X-Error-Message and {"error": …}; empty sends no
	// X-Error-Message and a plain-text body.
	Message string `json:"message,omitempty"`
	// RetryAfter, in seconds, is sent as Retry-After when above 0.
	RetryAfter int `json:"retry_after,omitempty"`
	// Times limits the failure to the first N matching requests (0: always).
	Times int `json:"times,omitempty"`
	// Files limits the failure to resolve requests for these globs
	// (path.Match on the file path); empty fails every route of the repo.
	Files []string `json:"files,omitempty"`
}

// CDN fault names.
const (
	FaultShort   = "short"
	FaultDie     = "die"
	FaultCorrupt = "corrupt"
	FaultStall   = "stall"
)

// LoadSettings reads dir/hubsim.json; a missing file means no settings.
// Unknown keys are errors, so a misspelt setting does not silently do nothing.
func LoadSettings(dir string) (Settings, error) {
	b, err := os.ReadFile(filepath.Join(dir, SettingsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return Settings{}, nil
	} else if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var s Settings
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%s: %w", SettingsFile, err)
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", SettingsFile, err)
	}
	return s, nil
}

// Validate checks keys and values.
func (s Settings) Validate() error {
	for key, rs := range s {
		typ, id, ok := strings.Cut(key, "/")
		if !ok || !hubrepo.ValidRepoType(typ) || hubrepo.CheckRepoID(id) != nil {
			return fmt.Errorf("key %q is not {models|datasets|spaces|kernels}/{repo id}", key)
		}
		if rs == nil {
			return fmt.Errorf("%s: null settings", key)
		}
		if rs.Gated != "" && rs.Gated != "auto" && rs.Gated != "manual" {
			return fmt.Errorf("%s: gated must be \"auto\" or \"manual\", not %q", key, rs.Gated)
		}
		if rs.RenamedTo != "" && hubrepo.CheckRepoID(rs.RenamedTo) != nil {
			return fmt.Errorf("%s: renamed_to %q is not a repo id", key, rs.RenamedTo)
		}
		for b, dir := range rs.Branches {
			if b == "main" {
				return fmt.Errorf("%s: branch main is the repo folder itself; use move-branch to move it", key)
			}
			if err := hubrepo.CheckPath(dir); err != nil || dir == "" {
				return fmt.Errorf("%s: branch %q: folder %q must be a relative path", key, b, dir)
			}
			if first, _, _ := strings.Cut(dir, "/"); hubrepo.ValidRepoType(first) {
				return fmt.Errorf("%s: branch %q: folder %q must be outside the repo type folders", key, b, dir)
			}
		}
		for f, fault := range rs.CDNFaults {
			switch fault {
			case FaultShort, FaultDie, FaultCorrupt, FaultStall:
			default:
				return fmt.Errorf("%s: cdn_faults[%q]: unknown fault %q", key, f, fault)
			}
		}
		if rs.Fail != nil {
			if rs.Fail.Status < 400 || rs.Fail.Status > 599 {
				return fmt.Errorf("%s: fail.status %d is not an error status", key, rs.Fail.Status)
			}
			for _, g := range rs.Fail.Files {
				if _, err := path.Match(g, ""); err != nil {
					return fmt.Errorf("%s: fail.files: bad glob %q", key, g)
				}
			}
		}
	}
	return nil
}

// accepts reports whether the Authorization header carries one of the tokens.
func (rs *RepoSettings) accepts(authorization string) bool {
	tok, ok := strings.CutPrefix(authorization, "Bearer ")
	if !ok {
		return false
	}
	for _, t := range rs.Tokens {
		if t == tok {
			return true
		}
	}
	return false
}
