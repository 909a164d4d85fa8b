// Package audit writes safehub's audit log, one JSON line per decision the
// gateway made, and reads it back for 'safehub audit tail|summary'.
//
// What is logged: every file request (resolve, resolve-cache; HEAD and GET),
// every listing (repo info, tree, paths-info), and any other request the
// gateway refused or could not parse (Xet token and git routes, bad URLs).
// Telemetry pings and the read-only pass-through API calls (whoami, model
// lists, commits, refs) are left out: they decide nothing about files, and
// huggingface_hub sends them constantly, so they would drown the refusals.
//
// The log never holds a token: the gateway hands over only Event.TokenHash,
// a short one-way fingerprint that tells one user's requests from another's.
package audit

import (
	"time"

	"github.com/safehub/safehub/internal/gateway"
)

// Decisions as written in the log. The gateway's own words are kept; a
// listing the gateway served (filtered) has no decision of its own and is
// written as DecisionAllow.
const (
	DecisionAllow       = "allow"
	DecisionRefuse      = "refuse"
	DecisionAuditRefuse = "audit-refuse" // audit mode: would have been refused, was served
	DecisionError       = "error"        // an answer of 400 or more with no decision recorded
	DecisionDropped     = "dropped"      // not a request: Dropped events were lost (queue full)
)

// maxField bounds every string field so one line stays small whatever a
// client puts in its URL; longer values end in "...".
const maxField = 1024

// Record is one line of the audit log. Field names are the log's format:
// scripts parse them, so they only ever gain fields.
type Record struct {
	Time       time.Time `json:"time"`
	Client     string    `json:"client,omitempty"`
	TokenHash  string    `json:"token_hash,omitempty"`
	Method     string    `json:"method,omitempty"`
	Route      string    `json:"route,omitempty"`
	RepoType   string    `json:"repo_type,omitempty"`
	Repo       string    `json:"repo,omitempty"`
	Revision   string    `json:"revision,omitempty"`
	File       string    `json:"file,omitempty"`
	Commit     string    `json:"commit,omitempty"`
	Decision   string    `json:"decision"`
	Rule       string    `json:"rule,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Verdict    string    `json:"verdict,omitempty"`
	Format     string    `json:"format,omitempty"`
	Status     int       `json:"status,omitempty"`
	Cache      string    `json:"cache,omitempty"`
	Bytes      int64     `json:"bytes"`
	DurMS      int64     `json:"dur_ms"`
	ScanMS     int64     `json:"scan_ms,omitempty"`
	UpstreamMS int64     `json:"upstream_ms,omitempty"`
	Dropped    int64     `json:"dropped,omitempty"` // only on DecisionDropped lines
}

// Refused reports whether the record is a refusal, real or (audit mode)
// one that would have happened.
func (r Record) Refused() bool {
	return r.Decision == DecisionRefuse || r.Decision == DecisionAuditRefuse
}

// Wanted reports whether an event belongs in the audit log (see the
// package comment for why).
func Wanted(ev gateway.Event) bool {
	switch ev.Route {
	case "resolve", "resolve-cache", "repo-info", "tree", "paths-info":
		return true
	case "telemetry":
		return false
	}
	switch ev.Decision {
	case "refuse", "audit-refuse", "bad-request":
		return true
	}
	return false
}

// FromEvent turns a gateway event into the record written for it.
func FromEvent(ev gateway.Event) Record {
	decision := ev.Decision
	if decision == "" {
		decision = DecisionAllow
		if ev.Status >= 400 {
			decision = DecisionError
		}
	}
	return Record{
		Time:       ev.Time.UTC(),
		Client:     clip(ev.Client),
		TokenHash:  clip(ev.TokenHash),
		Method:     clip(ev.Method),
		Route:      clip(ev.Route),
		RepoType:   clip(ev.RepoType),
		Repo:       clip(ev.Repo),
		Revision:   clip(ev.Revision),
		File:       clip(ev.File),
		Commit:     clip(ev.Commit),
		Decision:   clip(decision),
		Rule:       clip(ev.Rule),
		Reason:     clip(ev.Reason),
		Verdict:    clip(ev.Verdict),
		Format:     clip(ev.Format),
		Status:     ev.Status,
		Cache:      clip(ev.Cache),
		Bytes:      ev.Bytes,
		DurMS:      ev.Duration.Milliseconds(),
		ScanMS:     ev.ScanTime.Milliseconds(),
		UpstreamMS: ev.UpstreamTime.Milliseconds(),
	}
}

func clip(s string) string {
	if len(s) <= maxField {
		return s
	}
	// Cut on a rune boundary so the JSON stays valid UTF-8 text.
	cut := maxField
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "..."
}
