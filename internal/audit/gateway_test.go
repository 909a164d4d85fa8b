package audit_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/safehub/safehub/internal/audit"
	"github.com/safehub/safehub/internal/gateway"
	"github.com/safehub/safehub/internal/upstream"
	"github.com/safehub/safehub/test/hubsim"
)

func safetensors(n int) []byte {
	hdr := fmt.Sprintf(`{"w":{"dtype":"F32","shape":[%d],"data_offsets":[0,%d]}}`, n, 4*n)
	for len(hdr)%8 != 0 {
		hdr += " "
	}
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(hdr)))
	b.WriteString(hdr)
	b.Write(make([]byte, 4*n))
	return b.Bytes()
}

// A real gateway in front of the Hub simulator writes its decisions to the
// audit log; the client's token is never on disk, only its hash.
func TestGatewayDecisionsReachTheLogWithoutTheToken(t *testing.T) {
	repos := t.TempDir()
	for rel, data := range map[string][]byte{
		"models/org/m/model.safetensors": safetensors(64),
		// Refused by name, so its bytes are never fetched or read.
		"models/org/m/pytorch_model.bin": []byte("not fetched: refused by name"),
	} {
		p := filepath.Join(repos, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sim, err := hubsim.Start(hubsim.Config{ReposDir: repos})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	up, err := upstream.New(sim.HubURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(t.TempDir(), "audit.log")
	l, err := audit.Open(logPath, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(gateway.Config{Upstream: up, Observers: []gateway.Observer{l}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	defer srv.Close()

	const token = "hf_AuditTokenMustNeverBeWritten"
	for _, rq := range [][2]string{
		{"GET", "/org/m/resolve/main/model.safetensors"},
		{"HEAD", "/org/m/resolve/main/pytorch_model.bin"},
		{"GET", "/api/models/org/m/tree/main"},
		{"POST", "/api/telemetry/examples"},
	} {
		req, _ := http.NewRequest(rq[0], srv.URL+rq[1], nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	srv.Close() // every handler has returned, so every event was observed
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{token, "AuditTokenMustNeverBeWritten"} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Fatalf("the audit log holds the token:\n%s", raw)
		}
	}
	var recs []audit.Record
	if _, err := audit.Each(logPath, audit.Filter{}, func(r audit.Record, _ []byte) error {
		recs = append(recs, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("%d records for 3 logged requests and 1 telemetry ping:\n%s", len(recs), raw)
	}
	wantHash := gateway.TokenHash("Bearer " + token)
	for _, r := range recs {
		if r.TokenHash != wantHash {
			t.Errorf("record %+v: token hash %q, want %q", r, r.TokenHash, wantHash)
		}
		if r.Client == "" || r.Repo != "org/m" || r.RepoType != "model" || r.Status == 0 {
			t.Errorf("record lacks request details: %+v", r)
		}
	}
	ok, refused, listing := recs[0], recs[1], recs[2]
	if ok.Decision != "allow" || ok.Verdict != "safe" || ok.Format != "safetensors" || ok.Bytes == 0 || ok.File != "model.safetensors" {
		t.Errorf("allowed file: %+v", ok)
	}
	if refused.Decision != "refuse" || refused.Rule == "" || refused.Status != 404 || refused.File != "pytorch_model.bin" {
		t.Errorf("refused file: %+v", refused)
	}
	if listing.Route != "tree" || listing.Decision != "allow" || listing.Status != 200 {
		t.Errorf("listing: %+v", listing)
	}
	if p := audit.Pretty(refused); !strings.Contains(p, "refuse") || !strings.Contains(p, "org/m@main pytorch_model.bin") || strings.Contains(p, token) {
		t.Errorf("pretty line: %s", p)
	}
}
