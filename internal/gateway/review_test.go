package gateway_test

// Adversarial review (issue 5, points 4, 5 and 7): each TestReview_* test
// demonstrates one way a user gets what the upstream did not grant them.

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/safehub/safehub/internal/gateway"
	"github.com/safehub/safehub/test/hubsim"
)

var reviewFiles = map[string][]byte{
	"models/org/gated/README.md":         []byte("# gated model card\n"),
	"models/org/gated/model.safetensors": safetensorsBytes(20_000),
}

// cardExemptUpstream stands for the Hub's handling of gated repos: the
// model card (README.md) is readable by anyone, every other file needs an
// accepted token. hubsim gates every file, so the card is let through here
// with an accepted token, as the Hub does for anonymous callers.
type cardExemptUpstream struct{ proxy *httputil.ReverseProxy }

func (u *cardExemptUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasSuffix(r.URL.Path, "/README.md") {
		r.Header.Set("Authorization", "Bearer hf_ok")
	}
	u.proxy.ServeHTTP(w, r)
}

func startCardExemptHub(t *testing.T) (*hubsim.Sim, *httptest.Server) {
	t.Helper()
	dir := t.TempDir()
	for rel, data := range reviewFiles {
		writeFile(t, dir, rel, data)
	}
	sim, err := hubsim.Start(hubsim.Config{ReposDir: dir, Settings: hubsim.Settings{
		"models/org/gated": {Gated: "manual", Tokens: []string{"hf_ok"}}}})
	if err != nil {
		t.Fatalf("hubsim: %v", err)
	}
	t.Cleanup(func() { sim.Close() })
	target, _ := url.Parse(sim.HubURL)
	up := httptest.NewServer(&cardExemptUpstream{proxy: httputil.NewSingleHostReverseProxy(target)})
	t.Cleanup(up.Close)
	return sim, up
}

// An anonymous request for a gated repo's public model card makes the
// memo record "no token accepted for org/gated" (revisions.go remember:
// memoKey per repo, not per file), so for the next 60 s the cached weights
// of that gated repo are served to anyone, without asking the upstream.
func TestReview_GatedCardOpensCachedWeightsToAnonymous(t *testing.T) {
	_, up := startCardExemptHub(t)
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	_, gw, c := cachedGateway(t, up.URL, t.TempDir(), clk.now)
	weights := gw.URL + "/org/gated/resolve/main/model.safetensors"
	want := reviewFiles["models/org/gated/model.safetensors"]

	resp, _ := mustGet(t, "GET", weights, map[string]string{"Authorization": "Bearer hf_ok"}, 200)
	waitStored(t, c, resp)
	mustGet(t, "GET", weights, nil, 401) // the gate holds for anonymous callers

	mustGet(t, "GET", gw.URL+"/org/gated/resolve/main/README.md", nil, 200) // the public card
	clk.advance(time.Second)
	resp, body, err := call(t, "GET", weights, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == 200 || bytes.Contains(body, want[:64]) {
		t.Errorf("anonymous GET of gated weights after reading the card: %d, %d bytes; want 401 GatedRepo", resp.StatusCode, len(body))
	}
	// The same with a token the gate does not list (any Hub account).
	other := map[string]string{"Authorization": "Bearer hf_not_in_the_list"}
	mustGet(t, "GET", weights, other, 403)
	mustGet(t, "GET", gw.URL+"/org/gated/resolve/main/README.md", other, 200)
	resp, body, err = call(t, "GET", weights, other)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == 200 || bytes.Contains(body, want[:64]) {
		t.Errorf("GET of gated weights with an unlisted token after reading the card: %d, %d bytes; want 403 GatedRepo", resp.StatusCode, len(body))
	}
}

// The same card marks the whole gated repo public in the metadata index
// (setPublic on an anonymous success), so once the upstream is down the
// cached gated weights are served offline to anyone, for good.
func TestReview_GatedCardMakesRepoServedOffline(t *testing.T) {
	sim, up := startCardExemptHub(t)
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	_, gw, c := cachedGateway(t, up.URL, t.TempDir(), clk.now)
	weights := gw.URL + "/org/gated/resolve/main/model.safetensors"
	want := reviewFiles["models/org/gated/model.safetensors"]

	resp, _ := mustGet(t, "GET", weights, map[string]string{"Authorization": "Bearer hf_ok"}, 200)
	waitStored(t, c, resp)
	mustGet(t, "GET", gw.URL+"/org/gated/resolve/main/README.md", nil, 200)
	clk.advance(gateway.AuthMemoTTL + time.Second)
	sim.Close() // upstream unreachable
	up.Close()
	resp, body, err := call(t, "GET", weights, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == 200 || bytes.Contains(body, want[:64]) {
		t.Errorf("offline anonymous GET of gated weights: %d, %d bytes; want UpstreamUnreachable", resp.StatusCode, len(body))
	}
}

// The listing stash on disk has no bound (listingstash.go put: the
// maxStashedListings cap applies to the in-memory form only), and its key
// hashes the raw query string, which the caller chooses freely and the
// upstream ignores. Anyone can write one file per request under
// --cache-dir/meta/listings until the disk or its inodes run out.
func TestReview_ListingStashGrowsWithoutBoundOnDisk(t *testing.T) {
	sim := startRevSim(t)
	dir := t.TempDir()
	_, gw, _ := cachedGateway(t, sim.HubURL, dir, time.Now)
	const requests = 300
	for i := 0; i < requests; i++ {
		mustGet(t, "GET", fmt.Sprintf("%s/api/models/org/pub/tree/main?junk=%d", gw.URL, i), nil, 200)
	}
	ents, err := os.ReadDir(filepath.Join(dir, "meta", "listings"))
	if err != nil && !os.IsNotExist(err) { // no folder: nothing was stashed
		t.Fatal(err)
	}
	if len(ents) > 10 {
		t.Errorf("%d anonymous tree requests differing only in a junk query parameter left %d stashed files on disk; want a bounded stash keyed by the parameters the Hub reads", requests, len(ents))
	}
}

// No anonymous caller is needed: an authorized user's snapshot_download
// fetches README.md with a token, and probePublic (revisions.go) re-asks
// the upstream for that same path without a token. The card answers, so
// the whole gated repo is marked public and its cached weights are served
// offline to anyone.
func TestReview_PublicProbeOnCardMarksGatedRepoPublic(t *testing.T) {
	sim, up := startCardExemptHub(t)
	dir := t.TempDir()
	g1, gw, c1 := cachedGateway(t, up.URL, dir, nil)
	ok := map[string]string{"Authorization": "Bearer hf_ok"}
	weightsPath := "/org/gated/resolve/main/model.safetensors"
	want := reviewFiles["models/org/gated/model.safetensors"]

	mustGet(t, "GET", gw.URL+"/org/gated/resolve/main/README.md", ok, 200)
	resp, _ := mustGet(t, "GET", gw.URL+weightsPath, ok, 200)
	waitStored(t, c1, resp)
	gw.Close()
	g1.Close() // waits for the background public probe
	c1.Close()
	sim.Close() // upstream unreachable
	up.Close()

	_, gw2, _ := cachedGateway(t, up.URL, dir, nil) // a restart over the same cache dir
	resp, body, err := call(t, "GET", gw2.URL+weightsPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == 200 || bytes.Contains(body, want[:64]) {
		t.Errorf("offline anonymous GET of gated weights after an authorized user read the card: %d, %d bytes; want UpstreamUnreachable", resp.StatusCode, len(body))
	}
}
