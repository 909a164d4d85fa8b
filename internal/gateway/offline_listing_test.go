package gateway_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// snapshot_download offline: the repo info, the recursive tree and the
// files of a public repo, all seen once online, answer while the upstream
// is gone, across a restart; a gated repo's listing does not.
func TestOfflineListingsForSnapshotDownload(t *testing.T) {
	sim := startRevSim(t)
	dir := t.TempDir()
	g1, gw, c1 := cachedGateway(t, sim.HubURL, dir, nil)
	info := "/api/models/org/pub/revision/main"
	_, onlineInfo := mustGet(t, "GET", gw.URL+info, nil, 200)
	resp, _ := mustGet(t, "GET", gw.URL+"/org/pub/resolve/main/model.safetensors", nil, 200)
	waitStored(t, c1, resp)
	commit := resp.Header.Get("X-Repo-Commit")
	tree := "/api/models/org/pub/tree/" + commit + "?recursive=true&expand=false"
	_, onlineTree := mustGet(t, "GET", gw.URL+tree, nil, 200)
	gatedTree := "/api/models/org/gated/tree/main?recursive=true"
	mustGet(t, "GET", gw.URL+gatedTree, map[string]string{"Authorization": "Bearer hf_ok"}, 200)
	gw.Close()
	g1.Close()
	c1.Close()
	sim.Close()

	_, gw2, _ := cachedGateway(t, sim.HubURL, dir, nil)
	for p, want := range map[string][]byte{info: onlineInfo, tree: onlineTree} {
		resp, body := mustGet(t, "GET", gw2.URL+p, nil, 200)
		if !bytes.Equal(body, want) {
			t.Errorf("offline %s differs from the online answer:\n%s\n%s", p, body, want)
		}
		if !strings.Contains(resp.Header.Get("X-Hf-Warning"), "unreachable") {
			t.Errorf("offline %s without a warning", p)
		}
	}
	if _, body := mustGet(t, "GET", gw2.URL+"/org/pub/resolve/"+commit+"/model.safetensors", nil, 200); !bytes.Equal(body, revFiles["models/org/pub/model.safetensors"]) {
		t.Error("offline file by commit: wrong bytes")
	}
	resp, _, err := call(t, "GET", gw2.URL+gatedTree, map[string]string{"Authorization": "Bearer hf_ok"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == http.StatusOK {
		t.Error("a gated repo's listing was served offline")
	}
	resp, _, err = call(t, "GET", gw2.URL+"/api/models/org/pub/tree/main?recursive=false", nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode < 500 || resp.Header.Get("X-Error-Message") == "" {
		t.Errorf("a listing never seen online: %d %q", resp.StatusCode, resp.Header.Get("X-Error-Message"))
	}
}
