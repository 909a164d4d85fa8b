package gateway

import (
	"encoding/json"

	"github.com/safehub/safehub/internal/hubapi"
)

// stripXet removes every "xetHash" key anywhere in a JSON value. A client
// that caches a tree listing with Xet hashes later downloads that commit
// straight from Xet storage without asking the gateway (hub-protocol.md 7).
// It walks with an explicit stack: upstream JSON depth is not ours to trust.
func stripXet(v any) any {
	stack := []any{v}
	for len(stack) > 0 {
		cur := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		switch x := cur.(type) {
		case map[string]any:
			delete(x, "xetHash")
			for _, c := range x {
				stack = append(stack, c)
			}
		case []any:
			stack = append(stack, x...)
		}
	}
	return v
}

// filterRepoInfo removes refused files from "siblings" of one repo info
// object, or of each object in a list of them (list endpoints).
func (g *Gateway) filterRepoInfo(v any, t hubapi.RepoType, repo string) any {
	switch x := v.(type) {
	case map[string]any:
		id := repo
		if s, ok := x["id"].(string); ok && s != "" && repo == "" {
			id = s
		}
		if sibs, ok := x["siblings"].([]any); ok {
			x["siblings"] = g.keepFiles(sibs, t, id, "rfilename")
		}
	case []any:
		for _, e := range x {
			g.filterRepoInfo(e, t, "")
		}
	}
	return v
}

// filterEntries removes refused files from a tree page or a paths-info
// answer (arrays of {"type","path","oid","lfs"} objects). Folders stay.
func (g *Gateway) filterEntries(v any, t hubapi.RepoType, repo string) any {
	arr, ok := v.([]any)
	if !ok {
		return v
	}
	return g.keepFiles(arr, t, repo, "path")
}

func (g *Gateway) keepFiles(items []any, t hubapi.RepoType, repo, key string) []any {
	out := make([]any, 0, len(items))
	for _, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			continue
		}
		if typ, _ := m["type"].(string); typ == "directory" {
			out = append(out, it)
			continue
		}
		name, _ := m[key].(string)
		if name == "" || g.hidden(t, repo, name, m) {
			continue
		}
		out = append(out, it)
	}
	return out
}

// hidden reports whether a listed file would be refused: by repo or name
// policy, or by a content verdict already known for its blob.
func (g *Gateway) hidden(t hubapi.RepoType, repo, name string, entry map[string]any) bool {
	if d := g.pol.File(repoType(t), repo, name); !d.Allow {
		return true
	}
	// Files the client cannot fetch without Xet would abort a snapshot.
	if entrySize(entry) > MaxClientFileSize {
		return true
	}
	for _, digest := range entryDigests(entry) {
		if g.verdicts.isRefused(digest, name) {
			return true
		}
	}
	return false
}

// entryDigests returns the blob ids a listing entry names: the LFS sha256
// ("lfs": {"oid"|"sha256"}) and the git oid / blobId.
func entryDigests(m map[string]any) []string {
	var out []string
	if lfs, ok := m["lfs"].(map[string]any); ok {
		for _, k := range []string{"oid", "sha256"} {
			if s, ok := lfs[k].(string); ok {
				out = append(out, s)
			}
		}
	}
	for _, k := range []string{"oid", "blobId"} {
		if s, ok := m[k].(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// entrySize is the size a listing entry declares ("size", or the LFS size).
func entrySize(m map[string]any) int64 {
	var n int64
	for _, v := range []any{m["size"], lfsField(m, "size")} {
		if num, ok := v.(json.Number); ok {
			if x, err := num.Int64(); err == nil && x > n {
				n = x
			}
		}
	}
	return n
}

func lfsField(m map[string]any, k string) any {
	if lfs, ok := m["lfs"].(map[string]any); ok {
		return lfs[k]
	}
	return nil
}
