package obs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/safehub/safehub/internal/cache"
	"github.com/safehub/safehub/internal/gateway"
	"github.com/safehub/safehub/internal/mirror"
	"github.com/safehub/safehub/internal/policy"
	"github.com/safehub/safehub/internal/store"
	"github.com/safehub/safehub/internal/store/disk"
	"github.com/safehub/safehub/internal/upstream"
)

// stackPolicy is a small admin policy, so the page has rules to list.
const stackPolicy = `rules:
  - name: block-known-bad
    action: deny
    repos: ["evil-org/*"]
    reason: "this repo is blocked on this server"
`

// maliciousPickle is a protocol-2 pickle that would call os.system; it is
// only ever bytes on disk and on the wire, never unpickled.
var maliciousPickle = []byte("\x80\x02cposix\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03.")

// stack is the real thing end to end: a mirror folder served as a Hub, the
// gateway with a policy file, the verified cache on a disk store, and a
// Monitor observing every request, plus the admin handler over them.
type stack struct {
	gw      *httptest.Server
	monitor *Monitor
	admin   *Admin
	cache   *cache.Cache
	st      *disk.Disk
	st8     []byte // the safetensors file's bytes
}

func newStack(t testing.TB) *stack {
	t.Helper()
	dir := t.TempDir()
	s := &stack{st8: safetensorsBytes(50_000)}
	for rel, data := range map[string][]byte{
		"models/acme/bert-base/model.safetensors": s.st8,
		"models/acme/bert-base/config.json":       []byte(`{"hidden_size": 8}`),
		"models/acme/bert-base/pytorch_model.bin": maliciousPickle,
		"models/lab/tiny-llm/tokenizer.model":     maliciousPickle, // a pickle under an innocent name
		"models/lab/tiny-llm/config.json":         []byte(`{}`),
		"models/evil-org/backdoor/config.json":    []byte(`{}`),
		"datasets/lab/corpus/data.pkl":            maliciousPickle,
	} {
		p := filepath.Join(dir, "mirror", filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	h, err := mirror.New(filepath.Join(dir, "mirror"))
	if err != nil {
		t.Fatal(err)
	}
	up, err := upstream.New("http://mirror.invalid", upstream.HandlerTransport(h))
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Parse([]byte(stackPolicy), "/etc/safehub/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s.st, err = disk.Open(filepath.Join(dir, "store"), disk.Options{}); err != nil {
		t.Fatal(err)
	}
	s.cache = cache.New(s.st, cache.Options{MaxBytes: 10 << 30})
	t.Cleanup(func() { s.cache.Close() })
	s.monitor = NewMonitor(0)
	g, err := gateway.New(gateway.Config{Upstream: up, Policy: pol, Cache: s.cache, Observers: []gateway.Observer{s.monitor}})
	if err != nil {
		t.Fatal(err)
	}
	s.gw = httptest.NewServer(g)
	t.Cleanup(s.gw.Close)
	s.admin, err = NewAdmin(AdminConfig{
		Monitor: s.monitor,
		Cache: CacheInfo{
			Stats:    s.cache.Stats,
			Usage:    func(ctx context.Context) (int64, error) { return store.Usage(ctx, s.st) },
			MaxBytes: 10 << 30,
		},
		Policy:       pol,
		Upstream:     UpstreamProbe(up),
		UpstreamName: "folder /srv/hub-mirror",
		Version:      "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// get asks the gateway for path with an optional token and returns the
// status, reading the body to the end so the Event is complete.
func (s *stack) get(t testing.TB, path, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.gw.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// traffic is a morning on a shared server: downloads, a repeat download
// served from the cache, and refusals of three kinds.
func (s *stack) traffic(t testing.TB) {
	t.Helper()
	for _, c := range []struct {
		path, token string
		want        int
	}{
		{"/acme/bert-base/resolve/main/model.safetensors", "hf_alice", 200},
	} {
		if got := s.get(t, c.path, c.token); got != c.want {
			t.Fatalf("GET %s: %d, want %d", c.path, got, c.want)
		}
	}
	s.waitCommitted(t, s.st8) // so the repeat below is a hit, not a join of the fill
	for _, c := range []struct {
		path, token string
		want        int
	}{
		{"/api/models/acme/bert-base", "hf_alice", 200},
		{"/acme/bert-base/resolve/main/config.json", "hf_alice", 200},
		{"/acme/bert-base/resolve/main/model.safetensors", "hf_bob", 200}, // cache hit
		{"/acme/bert-base/resolve/main/pytorch_model.bin", "hf_alice", 404},
		{"/lab/tiny-llm/resolve/main/tokenizer.model", "hf_bob", 404},
		{"/lab/tiny-llm/resolve/main/config.json", "", 200},
		{"/evil-org/backdoor/resolve/main/config.json", "", 403},
		{"/datasets/lab/corpus/resolve/main/data.pkl", "hf_carol", 404},
	} {
		if got := s.get(t, c.path, c.token); got != c.want {
			t.Fatalf("GET %s: %d, want %d", c.path, got, c.want)
		}
	}
}

// waitCommitted waits until the cache holds data: the first client's
// download ends as the last byte is sent, the commit follows just after.
func (s *stack) waitCommitted(t testing.TB, data []byte) {
	t.Helper()
	sum := sha256.Sum256(data)
	d, err := store.ParseDigest(hex.EncodeToString(sum[:]))
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if _, err := s.cache.Lookup(t.Context(), d); err == nil {
			return
		}
	}
	t.Fatal("the downloaded file never reached the cache")
}

func safetensorsBytes(n int) []byte {
	hdr := fmt.Sprintf(`{"w":{"dtype":"F32","shape":[%d],"data_offsets":[0,%d]}}`, n, 4*n)
	for len(hdr)%8 != 0 {
		hdr += " "
	}
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(hdr)))
	b.WriteString(hdr)
	for i := 0; i < 4*n; i++ {
		b.WriteByte(byte(i * 7))
	}
	return b.Bytes()
}
