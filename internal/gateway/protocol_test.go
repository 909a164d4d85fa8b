package gateway_test

// Hub protocol shapes through the gateway: renamed and private repos,
// revisions with encoded slashes and commit ids, a branch that moves,
// hostile upstream answers (huge JSON, Link headers, redirects), tokens
// kept off the CDN and CAS, header-safe messages, and the local mirror
// served in process.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/safehub/safehub/internal/gateway"
	"github.com/safehub/safehub/internal/mirror"
	"github.com/safehub/safehub/internal/policy"
	"github.com/safehub/safehub/internal/upstream"
	"github.com/safehub/safehub/test/hubsim"
)

func TestRenamedRepoIsFollowedOnResolve(t *testing.T) {
	st := safetensorsBytes(5000)
	files := map[string][]byte{
		"models/org/m/config.json":       []byte(`{"renamed":true}`),
		"models/org/m/model.safetensors": st,
	}
	sim, gw := startSim(t, files, hubsim.Settings{"models/org/old": {RenamedTo: "org/m"}})
	for f, want := range map[string][]byte{"config.json": files["models/org/m/config.json"], "model.safetensors": st} {
		head, _, err := call(t, "HEAD", gw.URL+"/org/old/resolve/main/"+f, map[string]string{"Authorization": "Bearer hf_tok"})
		if err != nil || head.StatusCode != 200 || head.Header.Get("Location") != "" {
			t.Fatalf("HEAD %s via old name: %v %d Location %q", f, err, statusOf(head), head.Header.Get("Location"))
		}
		resp, body, err := call(t, "GET", gw.URL+"/org/old/resolve/main/"+f, map[string]string{"Authorization": "Bearer hf_tok"})
		if err != nil || resp.StatusCode != 200 || !bytes.Equal(body, want) {
			t.Errorf("GET %s via old name: %v %d, %d bytes", f, err, statusOf(resp), len(body))
		}
	}
	// The rename hop kept the token (same host); the CDN never saw it.
	sawRenamed := false
	for _, l := range sim.Log() {
		if l.Listener == "hub" && strings.HasPrefix(l.Path, "/org/m/") && l.Auth {
			sawRenamed = true
		}
		if l.Listener != "hub" && l.Auth {
			t.Errorf("token sent to %s: %s", l.Listener, l.Path)
		}
	}
	if !sawRenamed {
		t.Error("the request under the new name did not carry the user's token")
	}
}

// Regression (found in review, fixed): relayJSON and fetchRepoInfo do not follow the Hub's relative 307 for
// a renamed repo: they relay a bare 307 without Location (ErrorFrom keeps
// no Location), so repo info, tree and paths-info break, and a refused file
// in a renamed repo answers 307 instead of 404 EntryNotFound.
func TestRegression_RenamedRepoAPICallsRelayBare307(t *testing.T) {
	files := map[string][]byte{
		"models/org/m/config.json":       []byte(`{}`),
		"models/org/m/model.safetensors": safetensorsBytes(10),
		"models/org/m/pytorch_model.bin": maliciousPickle,
	}
	_, gw := startSim(t, files, hubsim.Settings{"models/org/old": {RenamedTo: "org/m"}})
	for _, p := range []string{"/api/models/org/old", "/api/models/org/old/revision/main", "/api/models/org/old/tree/main"} {
		resp, body, err := call(t, "GET", gw.URL+p, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || bytes.Contains(body, []byte("pytorch_model.bin")) {
			t.Errorf("%s: %d (Location %q), want the renamed repo's filtered answer", p, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	resp, _, err := call(t, "GET", gw.URL+"/org/old/resolve/main/pytorch_model.bin", nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 404 || resp.Header.Get("X-Error-Code") != "EntryNotFound" {
		t.Errorf("refused file in a renamed repo: %d %q, want 404 EntryNotFound", resp.StatusCode, resp.Header.Get("X-Error-Code"))
	}
}

func TestPrivateRepoKeepsRepoNotFound(t *testing.T) {
	files := map[string][]byte{
		"models/org/p/config.json":       []byte(`{"private":1}`),
		"models/org/p/pytorch_model.bin": maliciousPickle,
	}
	_, gw := startSim(t, files, hubsim.Settings{"models/org/p": {Private: true, Tokens: []string{"hf_ok"}}})
	for _, p := range []string{
		"/org/p/resolve/main/config.json",
		"/org/p/resolve/main/pytorch_model.bin", // refused by name, yet must not reveal the repo
		"/api/models/org/p",
		"/api/models/org/p/tree/main",
	} {
		for auth, status := range map[string]int{"": 401, "Bearer hf_wrong": 404} {
			hdr := map[string]string{}
			if auth != "" {
				hdr["Authorization"] = auth
			}
			resp, body, err := call(t, "GET", gw.URL+p, hdr)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != status || resp.Header.Get("X-Error-Code") != "RepoNotFound" {
				t.Errorf("%s auth %q: %d %q, want %d RepoNotFound", p, auth, resp.StatusCode, resp.Header.Get("X-Error-Code"), status)
			}
			if bytes.Contains(body, []byte("pytorch_model")) || strings.Contains(resp.Header.Get("X-Error-Message"), "safetensors") {
				t.Errorf("%s auth %q: the answer reveals the private repo's files", p, auth)
			}
		}
	}
	resp, body, err := call(t, "GET", gw.URL+"/org/p/resolve/main/config.json", map[string]string{"Authorization": "Bearer hf_ok"})
	if err != nil || resp.StatusCode != 200 || string(body) != `{"private":1}` {
		t.Errorf("good token: %v %d %q", err, statusOf(resp), body)
	}
	resp, _, _ = call(t, "GET", gw.URL+"/org/p/resolve/main/pytorch_model.bin", map[string]string{"Authorization": "Bearer hf_ok"})
	if resp == nil || resp.StatusCode != 404 || resp.Header.Get("X-Error-Code") != "EntryNotFound" {
		t.Errorf("refused file with a good token: %d, want 404 EntryNotFound", statusOf(resp))
	}
}

func TestRevisionWithEncodedSlashAndCommitID(t *testing.T) {
	files := map[string][]byte{
		"models/org/m/config.json":         []byte(`{"rev":"main"}`),
		"_revisions/pr1/config.json":       []byte(`{"rev":"pr1"}`),
		"_revisions/pr1/model.safetensors": safetensorsBytes(64),
	}
	sim, gw := startSim(t, files, hubsim.Settings{"models/org/m": {Branches: map[string]string{"refs/pr/1": "_revisions/pr1"}}})
	resp, body, err := call(t, "GET", gw.URL+"/org/m/resolve/refs%2Fpr%2F1/config.json", nil)
	if err != nil || resp.StatusCode != 200 || string(body) != `{"rev":"pr1"}` {
		t.Fatalf("refs/pr/1: %v %d %q", err, statusOf(resp), body)
	}
	commit := resp.Header.Get("X-Repo-Commit")
	upstreamAsked := false
	for _, l := range sim.Log() {
		if l.Listener == "hub" && strings.Contains(l.Path, "/resolve/refs%2Fpr%2F1/") {
			upstreamAsked = true
		}
		if strings.Contains(l.Path, "/resolve/refs/pr/1/") {
			t.Errorf("revision sent upstream with raw slashes: %s", l.Path)
		}
	}
	if !upstreamAsked {
		t.Error("the upstream was never asked for refs%2Fpr%2F1")
	}
	// The commit id names the same files.
	for f, want := range map[string][]byte{"config.json": files["_revisions/pr1/config.json"], "model.safetensors": files["_revisions/pr1/model.safetensors"]} {
		resp, body, err = call(t, "GET", gw.URL+"/org/m/resolve/"+commit+"/"+f, nil)
		if err != nil || resp.StatusCode != 200 || !bytes.Equal(body, want) || resp.Header.Get("X-Repo-Commit") != commit {
			t.Errorf("%s at commit %s: %v %d, %d bytes", f, commit, err, statusOf(resp), len(body))
		}
	}
	resp, body, _ = call(t, "GET", gw.URL+"/api/models/org/m/tree/refs%2Fpr%2F1", nil)
	if resp == nil || resp.StatusCode != 200 || !bytes.Contains(body, []byte("model.safetensors")) {
		t.Errorf("tree at refs/pr/1: %d %s", statusOf(resp), body)
	}
	resp, _, _ = call(t, "GET", gw.URL+"/org/m/resolve/refs%2Fpr%2F2/config.json", nil)
	if resp == nil || resp.StatusCode != 404 || resp.Header.Get("X-Error-Code") != "RevisionNotFound" {
		t.Errorf("unknown revision: %d %q, want 404 RevisionNotFound", statusOf(resp), resp.Header.Get("X-Error-Code"))
	}
}

func TestMovingBranchEachAnswerIsConsistent(t *testing.T) {
	files := map[string][]byte{
		"models/org/m/config.json":        []byte(`{"v":1}`),
		"models/org/m/model.safetensors":  safetensorsBytes(100),
		"_revisions/v2/config.json":       []byte(`{"v":2,"longer":true}`),
		"_revisions/v2/model.safetensors": safetensorsBytes(200),
	}
	sim, gw := startSim(t, files, hubsim.Settings{"models/org/m": {Branches: map[string]string{"v2": "_revisions/v2"}}})
	get := func(rev, f string) (string, []byte) {
		t.Helper()
		head, _, err := call(t, "HEAD", gw.URL+"/org/m/resolve/"+rev+"/"+f, nil)
		if err != nil || head.StatusCode != 200 {
			t.Fatalf("HEAD %s@%s: %v %d", f, rev, err, statusOf(head))
		}
		resp, body, err := call(t, "GET", gw.URL+"/org/m/resolve/"+rev+"/"+f, nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s@%s: %v %d", f, rev, err, statusOf(resp))
		}
		if resp.Header.Get("Content-Length") != fmt.Sprint(len(body)) {
			t.Errorf("%s@%s: Content-Length %s for %d bytes", f, rev, resp.Header.Get("Content-Length"), len(body))
		}
		return resp.Header.Get("X-Repo-Commit"), body
	}
	c1, b1 := get("main", "config.json")
	if !bytes.Equal(b1, files["models/org/m/config.json"]) {
		t.Fatalf("main before the move: %q", b1)
	}
	c2, err := sim.MoveBranch("models/org/m", "main", "v2")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"config.json", "model.safetensors"} {
		c, b := get("main", f)
		if c != c2 || !bytes.Equal(b, files["_revisions/v2/"+f]) {
			t.Errorf("main after the move, %s: commit %s (want %s), %d bytes", f, c, c2, len(b))
		}
		c, b = get(c1, f)
		if c != c1 || !bytes.Equal(b, files["models/org/m/"+f]) {
			t.Errorf("old commit after the move, %s: commit %s, %d bytes", f, c, len(b))
		}
	}
}

// pinnedUpstream serves one git file the way a branch that moves between
// the gateway's own requests looks: at the commit id the file is always the
// pickle (whose blob id the ETag names); on the branch name, range reads
// see a harmless text of the same size and whole GETs see the pickle.
type pinnedUpstream struct {
	commit   string
	pickle   []byte
	benign   []byte
	byBranch atomic.Int32 // byte requests (GET) that named the branch
}

func (u *pinnedUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"org/m","sha":%q,"siblings":[{"rfilename":"notes.txt"}]}`, u.commit)
		return
	}
	var onBranch bool
	switch r.URL.Path {
	case "/org/m/resolve/main/notes.txt":
		onBranch = true
	case "/org/m/resolve/" + u.commit + "/notes.txt":
	default:
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("X-Repo-Commit", u.commit)
	h.Set("ETag", `"`+gitBlobID(u.pickle)+`"`)
	h.Set("Content-Type", "text/plain")
	content := u.pickle
	if r.Method == http.MethodGet && onBranch {
		u.byBranch.Add(1)
		if r.Header.Get("Range") != "" {
			content = u.benign
		}
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(content))
}

// Regression (found in review, fixed): for a file the upstream answers 200 on resolve (shape B: git files
// of gated, private or one-segment repos; every file of a local mirror),
// FileMeta.byteURL keeps the branch name, so the content check reads the
// branch's bytes at scan time while the verdict is cached under the digest
// resolved earlier. A branch moved during the check gets a pickle a "safe"
// verdict, and the digest-verified download then serves it. Fix: pin the
// byte URL to the resolved commit (rev → X-Repo-Commit) in ResolveMeta.
func TestRegression_ScanAndDownloadReadTheBranchNotTheCommit(t *testing.T) {
	pickle := append([]byte(nil), maliciousPickle...)
	benign := bytes.Repeat([]byte("x"), len(pickle))
	up := &pinnedUpstream{commit: strings.Repeat("c", 40), pickle: pickle, benign: benign}
	srv := httptest.NewServer(up)
	defer srv.Close()
	gw := gatewayOver(t, srv.URL)
	resp, body, err := call(t, "GET", gw.URL+"/org/m/resolve/main/notes.txt", nil)
	if err == nil && resp.StatusCode == 200 && bytes.Equal(body, pickle) {
		t.Error("a pickle was served as a complete 200: it was checked on other bytes than those sent")
	}
	if n := up.byBranch.Load(); n > 0 {
		t.Errorf("%d byte requests named the branch instead of the resolved commit %s", n, up.commit)
	}
}

func TestTokenNeverReachesCDNOrCAS(t *testing.T) {
	files := map[string][]byte{
		"models/org/m/config.json":        []byte(`{}`),
		"models/org/m/model.safetensors":  safetensorsBytes(50_000),
		"models/org/m/pytorch_model.bin":  maliciousPickle,
		"models/org/m/sneaky.safetensors": maliciousPickle,
	}
	sim, gw := startSim(t, files, nil)
	auth := map[string]string{"Authorization": "Bearer hf_secret"}
	for _, f := range []string{"config.json", "model.safetensors", "pytorch_model.bin", "sneaky.safetensors"} {
		for _, method := range []string{"HEAD", "GET"} {
			call(t, method, gw.URL+"/org/m/resolve/main/"+f, auth)
		}
		call(t, "GET", gw.URL+"/org/m/resolve/main/"+f, map[string]string{"Authorization": "Bearer hf_secret", "Range": "bytes=3-40"})
	}
	call(t, "GET", gw.URL+"/api/models/org/m/xet-read-token/main", auth)
	cdn := 0
	for _, l := range sim.Log() {
		switch l.Listener {
		case "cas":
			t.Errorf("CAS contacted: %s %s", l.Method, l.Path)
		case "cdn":
			cdn++
			if l.Auth {
				t.Errorf("token sent to the CDN: %s %s", l.Method, l.Path)
			}
		case "hub":
			if strings.Contains(l.Path, "xet-read-token") {
				t.Errorf("xet-read-token passed upstream: %s", l.Path)
			}
		}
	}
	if cdn == 0 {
		t.Error("no CDN request at all: the test did not exercise the CDN path")
	}
}

// Every message the gateway makes is printable ASCII on one line, whatever
// the file name (hubapi rejects control characters, so the hostile part left
// is non-ASCII text).
func TestErrorMessagesStayASCIIForUnicodeNames(t *testing.T) {
	names := []string{"模型.bin", "données/poids.pt", "e\u0301\u202e.pkl", "huge\u2028.safetensors"}
	files := map[string][]byte{"models/org/m/model.safetensors": safetensorsBytes(10)}
	for _, n := range names {
		files["models/org/m/"+n] = maliciousPickle
	}
	_, gw := startSim(t, files, hubsim.Settings{"models/org/m": {DeclaredSizes: map[string]int64{"huge\u2028.safetensors": 60_000_000_000}}})
	for _, n := range append(names, "absent-ñ.json") {
		p := "/org/m/resolve/main/" + (&url.URL{Path: n}).EscapedPath()
		for _, method := range []string{"HEAD", "GET"} {
			resp, _, err := call(t, method, gw.URL+p, nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 404 {
				t.Errorf("%s %s: %d, want 404", method, n, resp.StatusCode)
			}
			assertErrorShape(t, method+" "+n, resp)
			assertASCII(t, method+" "+n+" X-Hf-Warning", resp.Header.Get("X-Hf-Warning"))
		}
	}
}

// Regression (minor) (found in review, fixed): an upstream's own X-Error-Message is relayed byte for byte,
// unlike the gateway's messages, so non-ASCII text reaches the client.
func TestRegression_RelayedUpstreamMessageIsNotMadeASCII(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Error-Code", "EntryNotFound")
		w.Header().Set("X-Error-Message", "Entry not found: modèle.json")
		w.Header().Set("X-Repo-Commit", strings.Repeat("d", 40))
		w.WriteHeader(404)
	}))
	defer up.Close()
	gw := gatewayOver(t, up.URL)
	resp, _, err := call(t, "GET", gw.URL+"/org/m/resolve/main/config.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 404 || resp.Header.Get("X-Error-Code") != "EntryNotFound" {
		t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("X-Error-Code"))
	}
	assertASCII(t, "relayed X-Error-Message", resp.Header.Get("X-Error-Message"))
}

func TestHugeAndHostileJSONFromUpstream(t *testing.T) {
	bodies := map[string]func(w http.ResponseWriter){
		// One byte over the limit of a whole 64 MiB, streamed in chunks.
		"/api/models/org/huge": func(w http.ResponseWriter) {
			chunk := bytes.Repeat([]byte(" "), 1<<20)
			w.Write([]byte("["))
			for i := 0; i <= upstream.MaxJSONBody>>20; i++ {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
			w.Write([]byte("]"))
		},
		"/api/models/org/deep":    func(w http.ResponseWriter) { w.Write(bytes.Repeat([]byte("["), 200_000)) },
		"/api/models/org/garbage": func(w http.ResponseWriter) { w.Write([]byte("\x00\xff<html>")) },
		"/api/models/org/cut":     func(w http.ResponseWriter) { w.Write([]byte(`{"siblings":[{"rfilename":"a.bin"}`)) },
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := bodies[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		f(w)
	}))
	defer up.Close()
	gw := gatewayOver(t, up.URL)
	for p := range bodies {
		start := time.Now()
		resp, body, err := call(t, "GET", gw.URL+p, nil)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if resp.StatusCode != http.StatusBadGateway {
			t.Errorf("%s: %d, want 502", p, resp.StatusCode)
		}
		if len(body) > 4096 {
			t.Errorf("%s: %d-byte error body", p, len(body))
		}
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("%s: took %v", p, d)
		}
		assertErrorShape(t, p, resp)
	}
}

func TestHostileLinkHeadersNeverLeaveTheGateway(t *testing.T) {
	var upURL string
	links := []string{
		`<https://evil.example/api/models/org/m/tree/main?cursor=2>; rel="next"`,
		`<//evil.example/api/models/org/m/tree/main?cursor=2>; rel="next"`,
		`<javascript:alert(1)>; rel="next"`,
		`<{UP}/api/models/org/m/xet-read-token/main>; rel="xet-auth", <http://127.0.0.4:1/v1/reconstructions/x>; rel="xet-reconstruction-info"`,
		`<{UP}/api/models/org/m/tree/main?cursor=3>; rel="xet-auth"; title=">", <https://evil.example/p>; rel="next"`,
		`<{UP}/a,b>; rel="next", <https://evil.example/c>; rel="next"`,
		`<<<>>>; rel="next"`,
		`>; rel="next", <`,
		`<{UP}/api/models/org/m/tree/main?cursor=4>; rel="next"; foo="<bar"`,
		strings.Repeat(`<x>,`, 5000) + `<{UP}/api/models/org/m/tree/main?cursor=5>; rel="next"`,
		`<http://user:pass@{HOST}/api/models/org/m/tree/main?cursor=6>; rel="next"`,
	}
	var idx atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l := strings.ReplaceAll(links[idx.Load()], "{UP}", upURL)
		l = strings.ReplaceAll(l, "{HOST}", strings.TrimPrefix(upURL, "http://"))
		w.Header().Set("Link", l)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`[{"type":"file","path":"config.json","oid":"0000000000000000000000000000000000000000","size":2}]`))
	}))
	defer up.Close()
	upURL = up.URL
	gw := gatewayOver(t, up.URL)
	for i := range links {
		idx.Store(int32(i))
		resp, _, err := call(t, "GET", gw.URL+"/api/models/org/m/tree/main", nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("link %d: %v %d", i, err, statusOf(resp))
		}
		got := resp.Header.Values("Link")
		for _, l := range got {
			for _, part := range strings.Split(l, ", <") {
				u := part[strings.Index(part, "<")+1 : strings.Index(part, ">")]
				if !strings.HasPrefix(u, gw.URL+"/") {
					t.Errorf("link %d: %q points off the gateway (%q)", i, u, l)
				}
				if strings.Contains(u, "xet-") || strings.Contains(u, "reconstructions") || strings.Contains(u, "pass@") {
					t.Errorf("link %d: relayed %q", i, u)
				}
			}
			if strings.Contains(l, "xet") {
				t.Errorf("link %d: xet relation relayed: %q", i, l)
			}
		}
	}
	// The ordinary case still works: the next page moves to the gateway.
	links = append(links, `<{UP}/api/models/org/m/tree/main?cursor=7>; rel="next"`)
	idx.Store(int32(len(links) - 1))
	resp, _, _ := call(t, "GET", gw.URL+"/api/models/org/m/tree/main", nil)
	if want := "<" + gw.URL + `/api/models/org/m/tree/main?cursor=7>; rel="next"`; resp == nil || resp.Header.Get("Link") != want {
		t.Errorf("plain next link: %q, want %q", resp.Header.Get("Link"), want)
	}
}

func TestRedirectHazards(t *testing.T) {
	var secretSeen atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			secretSeen.Add(1)
		}
		// A mirror-style target with full metadata.
		w.Header().Set("X-Repo-Commit", strings.Repeat("e", 40))
		w.Header().Set("ETag", `"`+gitBlobID([]byte(`{}`))+`"`)
		http.ServeContent(w, r, "", time.Time{}, strings.NewReader(`{}`))
	}))
	defer other.Close()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/loop.json"):
			w.Header().Set("Location", r.URL.Path)
			w.WriteHeader(307)
		case strings.HasSuffix(r.URL.Path, "/file.json"):
			w.Header().Set("Location", "file:///etc/passwd")
			w.WriteHeader(302)
		case strings.HasSuffix(r.URL.Path, "/noloc.json"):
			w.WriteHeader(302)
		case strings.HasSuffix(r.URL.Path, "/away.json"):
			w.Header().Set("Location", other.URL+"/x/away.json")
			w.WriteHeader(308)
		default:
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"sha":"` + strings.Repeat("e", 40) + `","siblings":[]}`))
		}
	}))
	defer up.Close()
	gw := gatewayOver(t, up.URL)
	auth := map[string]string{"Authorization": "Bearer hf_secret"}
	for _, f := range []string{"loop.json", "file.json", "noloc.json"} {
		start := time.Now()
		resp, _, err := call(t, "GET", gw.URL+"/org/m/resolve/main/"+f, auth)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusBadGateway || resp.Header.Get("Location") != "" {
			t.Errorf("%s: %d Location %q, want 502 and no Location", f, resp.StatusCode, resp.Header.Get("Location"))
		}
		if time.Since(start) > 5*time.Second {
			t.Errorf("%s: took %v", f, time.Since(start))
		}
		assertErrorShape(t, f, resp)
	}
	resp, body, err := call(t, "GET", gw.URL+"/org/m/resolve/main/away.json", auth)
	if err != nil || resp.StatusCode != 200 || string(body) != `{}` || resp.Header.Get("Location") != "" {
		t.Errorf("absolute redirect to another host: %v %d %q", err, statusOf(resp), body)
	}
	if n := secretSeen.Load(); n > 0 {
		t.Errorf("the user's token went to another host %d times", n)
	}
}

// The local mirror runs in process (HandlerTransport): files stream with
// full metadata, HEAD has no body, refusals and listings work as upstream.
func TestLocalMirrorThroughHandlerTransport(t *testing.T) {
	dir := t.TempDir()
	st := safetensorsBytes(600_000) // 2.4 MB: many pipe writes
	writeFile(t, dir, "models/org/m/model.safetensors", st)
	writeFile(t, dir, "models/org/m/config.json", []byte(`{"mirror":true}`))
	writeFile(t, dir, "models/org/m/pytorch_model.bin", maliciousPickle)
	writeFile(t, dir, "models/org/m/tokenizer.model", maliciousPickle)
	for i := 0; i < 4; i++ {
		writeFile(t, dir, fmt.Sprintf("models/org/m/ckpt/step%d.pt", i), maliciousPickle)
	}
	h, err := mirror.New(dir, mirror.WithPageSize(2))
	if err != nil {
		t.Fatal(err)
	}
	up, err := upstream.New("http://mirror.invalid", upstream.HandlerTransport(h))
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(gateway.Config{Upstream: up})
	if err != nil {
		t.Fatal(err)
	}
	gw := httptest.NewServer(g)
	defer gw.Close()
	head, _, err := call(t, "HEAD", gw.URL+"/org/m/resolve/main/model.safetensors", nil)
	if err != nil || head.StatusCode != 200 || head.Header.Get("X-Linked-Size") != fmt.Sprint(len(st)) || len(head.Header.Get("X-Repo-Commit")) != 40 {
		t.Fatalf("HEAD: %v %d %v", err, statusOf(head), head.Header)
	}
	resp, body, err := call(t, "GET", gw.URL+"/org/m/resolve/main/model.safetensors", nil)
	if err != nil || resp.StatusCode != 200 || !bytes.Equal(body, st) {
		t.Fatalf("GET: %v %d, %d bytes", err, statusOf(resp), len(body))
	}
	resp, body, _ = call(t, "GET", gw.URL+"/org/m/resolve/main/model.safetensors", map[string]string{"Range": "bytes=10-19"})
	if resp == nil || resp.StatusCode != 206 || !bytes.Equal(body, st[10:20]) {
		t.Errorf("range: %d %d bytes", statusOf(resp), len(body))
	}
	for _, f := range []string{"pytorch_model.bin", "tokenizer.model"} {
		resp, _, _ = call(t, "GET", gw.URL+"/org/m/resolve/main/"+f, nil)
		if resp == nil || resp.StatusCode != 404 || resp.Header.Get("X-Error-Code") != "EntryNotFound" {
			t.Errorf("%s from the mirror: %d, want 404 EntryNotFound", f, statusOf(resp))
		}
	}
	_, body, _ = call(t, "GET", gw.URL+"/api/models/org/m/revision/main", nil)
	var info struct {
		Siblings []struct{ Rfilename string } `json:"siblings"`
	}
	if err := json.Unmarshal(body, &info); err != nil || len(info.Siblings) == 0 {
		t.Fatalf("mirror repo info: %v %s", err, body)
	}
	for _, s := range info.Siblings {
		if s.Rfilename == "pytorch_model.bin" {
			t.Error("mirror siblings list the refused .bin")
		}
	}
	// Tree pages come back through the gateway with next links on its
	// origin, and the refused checkpoints are on none of them.
	next, files := "/api/models/org/m/tree/main?recursive=true", 0
	for pages := 0; next != ""; pages++ {
		if pages > 20 {
			t.Fatal("mirror paging does not end")
		}
		resp, body, err := call(t, "GET", gw.URL+next, nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("tree page %d: %v %d", pages, err, statusOf(resp))
		}
		if bytes.Contains(body, []byte(".pt\"")) || bytes.Contains(body, []byte("pytorch_model.bin")) {
			t.Errorf("tree page %d lists refused files: %s", pages, body)
		}
		files += bytes.Count(body, []byte(`"type":"file"`))
		next = ""
		if l := resp.Header.Get("Link"); l != "" {
			if !strings.HasPrefix(l, "<"+gw.URL+"/") {
				t.Fatalf("mirror next link %q is not on the gateway", l)
			}
			next = strings.TrimPrefix(l[1:strings.Index(l, ">")], gw.URL)
		}
	}
	// model.safetensors and config.json; tokenizer.model was refused by
	// content above, so the listing hides it too.
	if files != 2 {
		t.Errorf("mirror tree listed %d files, want 2", files)
	}
}

// Regression (low) (found in review, fixed): repo rules are checked against the name in the request only.
// The upstream's rename redirect (shape D) is then followed to a repo the
// policy may refuse, e.g. a repo transferred out of an allowed org, or old
// names of a blocked one. ResolveMeta should report the repo it ended at
// and the gateway re-ask the policy (or refuse cross-repo redirects).
func TestRegression_RenameRedirectBypassesRepoRule(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "models/evil-org/m/config.json", []byte(`{"evil":true}`))
	sim, err := hubsim.Start(hubsim.Config{ReposDir: dir, Settings: hubsim.Settings{"models/org/alias": {RenamedTo: "evil-org/m"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	pol, err := policy.Parse([]byte("rules:\n  - name: block-evil\n    action: deny\n    repos: [\"evil-org/*\"]\n    reason: blocked here\n"), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	up, _ := upstream.New(sim.HubURL, nil)
	g, _ := gateway.New(gateway.Config{Upstream: up, Policy: pol})
	gw := httptest.NewServer(g)
	defer gw.Close()
	resp, _, err := call(t, "GET", gw.URL+"/evil-org/m/resolve/main/config.json", nil)
	if err != nil || resp.StatusCode != 403 {
		t.Fatalf("direct request to the blocked repo: %v %d, want 403", err, statusOf(resp))
	}
	resp, body, err := call(t, "GET", gw.URL+"/org/alias/resolve/main/config.json", nil)
	if err == nil && resp.StatusCode == 200 {
		t.Errorf("blocked repo served through its old name: %q", body)
	}
}
