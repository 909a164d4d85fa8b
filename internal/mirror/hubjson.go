package mirror

import (
	"crypto/sha1"
	"encoding/hex"
	"strings"
	"time"

	"github.com/safehub/safehub/internal/hubrepo"
)

// The JSON shapes of hub-protocol.md §11. Field names and omission rules
// follow the Hub: siblings carry "sha256" inside "lfs", tree entries "oid".

// TreeLFS is the "lfs" object of a tree or paths-info entry.
type TreeLFS struct {
	OID         string `json:"oid"`
	Size        int64  `json:"size"`
	PointerSize int    `json:"pointerSize"`
}

// LastCommit is added to tree entries with expand=true.
type LastCommit struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Date  string `json:"date"`
}

// SecurityFileStatus is added to tree entries with expand=true.
type SecurityFileStatus struct {
	Status           string `json:"status"`
	AVScan           any    `json:"avScan"`
	PickleImportScan any    `json:"pickleImportScan"`
}

// TreeEntry is one item of a tree page or paths-info answer.
type TreeEntry struct {
	Type               string              `json:"type"`
	OID                string              `json:"oid"`
	Size               int64               `json:"size"`
	Path               string              `json:"path"`
	LFS                *TreeLFS            `json:"lfs,omitempty"`
	XetHash            string              `json:"xetHash,omitempty"`
	LastCommit         *LastCommit         `json:"lastCommit,omitempty"`
	SecurityFileStatus *SecurityFileStatus `json:"securityFileStatus,omitempty"`
}

// TreeEntries converts snapshot entries; expand adds lastCommit and, for
// files, securityFileStatus, as the Hub does.
func TreeEntries(s *hubrepo.Snapshot, es []hubrepo.Entry, expand bool) []TreeEntry {
	out := make([]TreeEntry, 0, len(es))
	for _, e := range es {
		te := TreeEntry{Type: e.Type, OID: e.OID, Size: e.Size, Path: e.Path}
		if e.LFS != nil {
			te.LFS = &TreeLFS{OID: e.LFS.SHA256, Size: e.LFS.Size, PointerSize: e.LFS.PointerSize}
		}
		if expand {
			te.LastCommit = &LastCommit{ID: s.Commit, Title: "Snapshot of the mirror folder", Date: hubTime(s.LastModified)}
			if e.Type == hubrepo.TypeFile {
				te.SecurityFileStatus = &SecurityFileStatus{Status: "unscanned"}
			}
		}
		out = append(out, te)
	}
	return out
}

// SiblingLFS is the "lfs" object of a sibling (note: "sha256", not "oid").
type SiblingLFS struct {
	SHA256      string `json:"sha256"`
	Size        int64  `json:"size"`
	PointerSize int    `json:"pointerSize"`
}

// Sibling is one file of a repo info's "siblings".
type Sibling struct {
	RFilename string      `json:"rfilename"`
	Size      *int64      `json:"size,omitempty"`
	BlobID    string      `json:"blobId,omitempty"`
	LFS       *SiblingLFS `json:"lfs,omitempty"`
}

// Siblings lists every file; blobs adds size, blobId and lfs (blobs=true).
func Siblings(s *hubrepo.Snapshot, blobs bool) []Sibling {
	out := make([]Sibling, 0, len(s.Files))
	for _, f := range s.Files {
		sb := Sibling{RFilename: f.Path}
		if blobs {
			size := f.Size
			sb.Size, sb.BlobID = &size, f.BlobID
			if f.LFS != nil {
				sb.LFS = &SiblingLFS{SHA256: f.LFS.SHA256, Size: f.LFS.Size, PointerSize: f.LFS.PointerSize}
			}
		}
		out = append(out, sb)
	}
	return out
}

// InfoOptions are the repo-level facts of a repo info answer that the folder
// itself does not say.
type InfoOptions struct {
	Blobs   bool // blobs=true: siblings with sizes and hashes
	Private bool
	Gated   any // false, "auto" or "manual"
}

// RepoInfo builds the answer of GET /api/{t}/{repo}[/revision/{rev}] for a
// snapshot. The keys huggingface_hub reads (id, sha, siblings, private,
// gated, disabled, lastModified) are always present.
func RepoInfo(s *hubrepo.Snapshot, o InfoOptions) map[string]any {
	gated := o.Gated
	if gated == nil {
		gated = false
	}
	author := ""
	if i := strings.IndexByte(s.RepoID, '/'); i >= 0 {
		author = s.RepoID[:i]
	}
	var used int64
	for _, f := range s.Files {
		used += f.Size
	}
	info := map[string]any{
		"_id":          pseudoObjectID(s.RepoType + "/" + s.RepoID),
		"id":           s.RepoID,
		"author":       author,
		"sha":          s.Commit,
		"private":      o.Private,
		"gated":        gated,
		"disabled":     false,
		"lastModified": hubTime(s.LastModified),
		"createdAt":    hubTime(s.LastModified),
		"likes":        0,
		"tags":         []string{},
		"siblings":     Siblings(s, o.Blobs),
		"usedStorage":  used,
	}
	switch s.RepoType {
	case "models":
		info["modelId"] = s.RepoID
		info["downloads"] = 0
		if _, err := s.File("model.safetensors"); err == nil {
			info["tags"] = []string{"safetensors"}
		}
	case "datasets":
		info["downloads"] = 0
	case "spaces":
		info["sdk"] = "static"
	}
	return info
}

// CommitList is the answer of GET /api/{t}/{repo}/commits/{rev}: the
// snapshot is the only commit a folder has.
func CommitList(s *hubrepo.Snapshot) []map[string]any {
	return []map[string]any{{
		"id": s.Commit, "title": "Snapshot of the mirror folder", "message": "",
		"authors": []map[string]string{{"user": "safehub"}}, "date": hubTime(s.LastModified),
	}}
}

// DiscussionList is an empty discussions page.
func DiscussionList() map[string]any {
	return map[string]any{"discussions": []any{}, "count": 0, "start": 0, "numClosedDiscussions": 0}
}

// hubTime formats like the Hub: millisecond precision, UTC, "Z".
func hubTime(t time.Time) string {
	if t.IsZero() {
		t = time.Unix(0, 0)
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// pseudoObjectID makes a stable 24-hex "_id" (the Hub's is a MongoDB id).
func pseudoObjectID(key string) string {
	h := sha1.Sum([]byte(key))
	return hex.EncodeToString(h[:12])
}
