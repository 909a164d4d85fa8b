package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/safehub/safehub/internal/store"
	"github.com/safehub/safehub/internal/store/disk"
	"github.com/safehub/safehub/test/hubsim"
)

// serveChildEnv makes the test binary act as the safehub binary (see
// TestMain), so the crash test can SIGKILL a real serve process without a
// separate go build.
const serveChildEnv = "SAFEHUB_CLI_TEST_AS_SAFEHUB"

func TestMain(m *testing.M) {
	if os.Getenv(serveChildEnv) == "1" {
		os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func cacheMain(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(append([]string{"cache"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// cacheWithBlobs makes a cache dir whose store holds one blob per size,
// last used i hours ago for the i-th (so blob 0 is the most recent).
// It returns the dir and the blobs' keys in that order.
func cacheWithBlobs(t *testing.T, sizes ...int) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	st, err := disk.Open(filepath.Join(dir, "store"), disk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var keys []string
	for i, n := range sizes {
		content := bytes.Repeat([]byte{byte(i + 1)}, n)
		sum := sha256.Sum256(content)
		key := store.Digest{Algo: store.SHA256, Hex: hex.EncodeToString(sum[:])}.Key()
		if err := st.Put(t.Context(), key, bytes.NewReader(content), int64(n), ""); err != nil {
			t.Fatal(err)
		}
		used := now.Add(-time.Duration(i) * time.Hour)
		if err := os.Chtimes(filepath.Join(st.Root(), filepath.FromSlash(key)), used, used); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, key)
	}
	return dir, keys
}

func lsJSON(t *testing.T, dir string) cacheListing {
	t.Helper()
	code, out, errs := cacheMain(t, "ls", "--json", "--cache-dir", dir)
	if code != ExitOK {
		t.Fatalf("cache ls: exit %d: %s", code, errs)
	}
	var l cacheListing
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatalf("cache ls --json: %v\n%s", err, out)
	}
	return l
}

func keysOf(l cacheListing) []string {
	var ks []string
	for _, b := range l.Blobs {
		ks = append(ks, b.Key)
	}
	return ks
}

func TestCacheLsOrderAndTotal(t *testing.T) {
	dir, keys := cacheWithBlobs(t, 1000, 2000, 3000)
	l := lsJSON(t, dir)
	if l.Count != 3 || l.TotalBytes != 6000 {
		t.Fatalf("count %d total %d, want 3 and 6000", l.Count, l.TotalBytes)
	}
	want := []string{keys[2], keys[1], keys[0]} // least recently used first
	if got := keysOf(l); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("order %v, want %v", got, want)
	}
	if !strings.HasPrefix(l.Blobs[0].Digest, "sha256:") || l.Blobs[0].Size != 3000 {
		t.Fatalf("first blob %+v", l.Blobs[0])
	}

	code, out, _ := cacheMain(t, "ls", "--cache-dir", dir)
	if code != ExitOK || !strings.Contains(out, "3 blobs, 5.9 KiB (6000 bytes)") || !strings.Contains(out, "DIGEST") {
		t.Fatalf("exit %d, table:\n%s", code, out)
	}
	// Listing is not a use: the order must not change.
	if got := keysOf(lsJSON(t, dir)); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("ls changed the LRU order: %v", got)
	}
}

func TestCacheLsMissingDirSaysWhatToDo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "typo")
	code, _, errs := cacheMain(t, "ls", "--cache-dir", dir)
	if code != ExitError || !strings.Contains(errs, "--cache-dir that 'safehub serve' uses") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ls created %s (err %v)", dir, err)
	}
}

func TestCachePruneMaxRemovesLeastRecentlyUsed(t *testing.T) {
	dir, keys := cacheWithBlobs(t, 1000, 1000, 1000, 1000)
	code, out, errs := cacheMain(t, "prune", "--cache-dir", dir, "--max", "2500", "--dry-run")
	if code != ExitOK || !strings.Contains(out, "would remove 2 blobs") || !strings.Contains(out, "nothing was removed") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errs)
	}
	if l := lsJSON(t, dir); l.Count != 4 {
		t.Fatalf("dry run removed blobs: %d left", l.Count)
	}
	code, out, errs = cacheMain(t, "prune", "--cache-dir", dir, "--max", "2500")
	if code != ExitOK || !strings.Contains(out, "removed 2 blobs, 2.0 KiB; 2 blobs, 2.0 KiB remain") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	want := []string{keys[1], keys[0]} // the two used most recently stay
	if got := keysOf(lsJSON(t, dir)); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("left %v, want %v", got, want)
	}
}

func TestCachePruneOlderThanAndAll(t *testing.T) {
	dir, keys := cacheWithBlobs(t, 10, 10, 10, 10) // used 0, 1, 2, 3 hours ago
	if code, out, errs := cacheMain(t, "prune", "--cache-dir", dir, "--older-than", "90m"); code != ExitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if got := keysOf(lsJSON(t, dir)); strings.Join(got, ",") != keys[1]+","+keys[0] {
		t.Fatalf("after --older-than 90m: %v", got)
	}
	if code, out, errs := cacheMain(t, "prune", "--cache-dir", dir, "--all"); code != ExitOK || !strings.Contains(out, "removed 2 blobs") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if l := lsJSON(t, dir); l.Count != 0 || l.TotalBytes != 0 {
		t.Fatalf("after --all: %+v", l)
	}
}

func TestCachePruneFlagErrors(t *testing.T) {
	dir, _ := cacheWithBlobs(t, 10)
	for _, tc := range []struct{ args, want string }{
		{"", "--max SIZE, --older-than DURATION or --all"},
		{"--all --max 1G", "give it alone"},
		{"--max lots", "is not a size"},
		{"--max ", "is not a size"},
		{"--older-than 3 days", "unknown command \"days\""}, // cobra: stray argument
		{"--older-than 3x", "not a duration"},
		{"--older-than -1d", "not a duration"},
	} {
		args := append([]string{"prune", "--cache-dir", dir}, strings.Fields(tc.args)...)
		if strings.HasSuffix(tc.args, " ") {
			args = append(args, "")
		}
		code, _, errs := cacheMain(t, args...)
		if code != ExitError || !strings.Contains(errs, tc.want) {
			t.Errorf("%q: exit %d, stderr %q, want %q", tc.args, code, errs, tc.want)
		}
	}
	if l := lsJSON(t, dir); l.Count != 1 {
		t.Fatalf("a refused prune removed blobs: %d left", l.Count)
	}
}

func TestParseAge(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"30d": 30 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, "36h": 36 * time.Hour, "90m": 90 * time.Minute, "0d": 0,
	} {
		if got, err := parseAge(in); err != nil || got != want {
			t.Errorf("parseAge(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "1.5d", "99999999999d", "-2h", "soon"} {
		if _, err := parseAge(in); err == nil {
			t.Errorf("parseAge(%q) accepted", in)
		}
	}
}

// TestCachePruneLeavesFillsAndReadersAlone plays the part of a running
// serve: a blob being staged must survive prune (and ls), and still
// commit; a reader of a pruned blob must read all of it.
func TestCachePruneLeavesFillsAndReadersAlone(t *testing.T) {
	dir, keys := cacheWithBlobs(t, 4096)
	serveSide, err := disk.Open(filepath.Join(dir, "store"), disk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rc, _, err := serveSide.Get(t.Context(), keys[0])
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	fillBytes := []byte("a blob still being filled")
	stg, err := serveSide.Stage(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer stg.Close()
	if _, err := stg.Write(fillBytes); err != nil {
		t.Fatal(err)
	}

	if code, out, errs := cacheMain(t, "prune", "--cache-dir", dir, "--all"); code != ExitOK || !strings.Contains(out, "removed 1 blobs") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if b, err := io.ReadAll(rc); err != nil || len(b) != 4096 {
		t.Fatalf("reader of a pruned blob got %d bytes, %v", len(b), err)
	}
	sum := sha256.Sum256(fillBytes)
	key := store.Digest{Algo: store.SHA256, Hex: hex.EncodeToString(sum[:])}.Key()
	if err := stg.Commit(t.Context(), key, int64(len(fillBytes)), ""); err != nil {
		t.Fatalf("a fill staged before prune could not commit: %v", err)
	}
	if l := lsJSON(t, dir); l.Count != 1 || l.Blobs[0].Key != key {
		t.Fatalf("after commit: %+v", l)
	}
}

// serveProc is a `safehub serve` child process (this test binary, acting
// as safehub through TestMain).
type serveProc struct {
	cmd  *exec.Cmd
	addr string
	mu   sync.Mutex
	logs bytes.Buffer
}

// startServe runs serve on a free port and waits until it listens.
func startServe(t *testing.T, upstream, cacheDir string) *serveProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "serve", "--listen", "127.0.0.1:0", "--upstream", upstream, "--cache-dir", cacheDir)
	cmd.Env = append(os.Environ(), serveChildEnv+"=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProc{cmd: cmd}
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("serve log:\n%s", p.log())
		}
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Bytes()
			p.mu.Lock()
			p.logs.Write(line)
			p.logs.WriteByte('\n')
			p.mu.Unlock()
			var rec struct{ Msg, Listen string }
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "safehub serving" {
				ready <- rec.Listen
			}
		}
	}()
	select {
	case p.addr = <-ready:
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not start within 30s:\n%s", p.log())
	}
	return p
}

func (p *serveProc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// kill sends SIGKILL (no chance to clean up, as in a crash) and reaps.
func (p *serveProc) kill() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		_ = p.cmd.Wait()
	}
}

// lfsSafetensors is a valid safetensors file of size bytes whose tensor
// bytes vary, so a wrong or shifted byte changes the digest.
func lfsSafetensors(size int) []byte {
	hdr := fmt.Sprintf(`{"w":{"dtype":"U8","shape":[%d],"data_offsets":[0,%d]}}`, 0, 0)
	for body := size - 8 - len(hdr); ; body-- {
		hdr = fmt.Sprintf(`{"w":{"dtype":"U8","shape":[%d],"data_offsets":[0,%d]}}`, body, body)
		if 8+len(hdr)+body == size {
			b := binary.LittleEndian.AppendUint64(make([]byte, 0, size), uint64(len(hdr)))
			b = append(b, hdr...)
			for i := 0; i < body; i++ {
				b = append(b, byte(i*7+i>>9))
			}
			return b
		}
	}
}

func fullCDNGets(sim *hubsim.Sim) int {
	n := 0
	for _, e := range sim.Log() {
		if e.Listener == "cdn" && e.Method == http.MethodGet && e.Range == "" {
			n++
		}
	}
	return n
}

// TestServeKilledDuringFill is issue 5 point 6: a real serve process is
// SIGKILLed while a blob is half staged; after a restart the cache is
// consistent (nothing published, staging cleaned) and the next request
// completes with the right bytes.
func TestServeKilledDuringFill(t *testing.T) {
	const size = 8 << 20
	content := lfsSafetensors(size)
	want := sha256.Sum256(content)
	repos := t.TempDir()
	repo := filepath.Join(repos, "models", "org", "crash")
	if err := os.MkdirAll(repo, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "model.safetensors"), content, 0o644); err != nil {
		t.Fatal(err)
	}
	// The CDN sends half, then pauses 5 s: the moment to kill the gateway
	// (a wide window, so a loaded machine still kills mid-fill).
	sim, err := hubsim.Start(hubsim.Config{ReposDir: repos, Settings: hubsim.Settings{
		"models/org/crash": {CDNFaults: map[string]string{"model.safetensors": "stall"}, StallMillis: 5000},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	cacheDir := t.TempDir()
	staging := filepath.Join(cacheDir, "store", "staging")
	client := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 60 * time.Second}

	gw := startServe(t, sim.HubURL, cacheDir)
	url := "http://" + gw.addr + "/org/crash/resolve/main/model.safetensors"
	type result struct {
		n   int
		err error
	}
	first := make(chan result, 1)
	go func() {
		resp, err := client.Get(url)
		if err != nil {
			first <- result{0, err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		first <- result{len(b), err}
	}()
	part := waitForStaged(t, staging, size/2)
	gw.kill()
	r := <-first
	if r.err == nil {
		t.Fatalf("the client of a killed fill got a clean end after %d of %d bytes", r.n, size)
	}
	if _, err := os.Stat(part); err != nil {
		t.Fatalf("the killed fill left no staging file to clean (was the kill mid-fill?): %v", err)
	}
	// Nothing half-written is visible, and ls leaves a possibly live fill alone.
	if l := lsJSON(t, cacheDir); l.Count != 0 {
		t.Fatalf("after the kill the cache lists %+v", l.Blobs)
	}
	if _, err := os.Stat(part); err != nil {
		t.Fatalf("cache ls removed a staging file: %v", err)
	}

	gw = startServe(t, sim.HubURL, cacheDir)
	if ents, err := os.ReadDir(staging); err != nil || len(ents) != 0 {
		t.Fatalf("staging after restart: %v, %v", ents, err)
	}
	url = "http://" + gw.addr + "/org/crash/resolve/main/model.safetensors"
	for i, wantFull := range []int{2, 2} { // a fill, then a hit from disk
		resp, err := client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || sha256.Sum256(b) != want {
			t.Fatalf("request %d after restart: status %d, %d bytes, err %v, sha256 ok %v",
				i, resp.StatusCode, len(b), err, sha256.Sum256(b) == want)
		}
		if got := fullCDNGets(sim); got != wantFull {
			t.Fatalf("after request %d: %d full CDN fetches, want %d", i, got, wantFull)
		}
	}
	// The commit (fsync, link) may end just after the last byte went out.
	l := lsJSON(t, cacheDir)
	for end := time.Now().Add(10 * time.Second); l.Count == 0 && time.Now().Before(end); l = lsJSON(t, cacheDir) {
		time.Sleep(20 * time.Millisecond)
	}
	if l.Count != 1 || l.Blobs[0].Digest != "sha256:"+hex.EncodeToString(want[:]) || l.Blobs[0].Size != size {
		t.Fatalf("cache after restart: %+v", l)
	}
}

// waitForStaged waits until a staging file holds at least n bytes and
// returns its path.
func waitForStaged(t *testing.T, staging string, n int64) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		ents, _ := os.ReadDir(staging)
		for _, e := range ents {
			if fi, err := e.Info(); err == nil && fi.Size() >= n {
				return filepath.Join(staging, e.Name())
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no staging file in %s reached %d bytes within 30s", staging, n)
	return ""
}
