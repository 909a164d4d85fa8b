package gateway_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/safehub/safehub/internal/gateway"
	"github.com/safehub/safehub/internal/upstream"
	"github.com/safehub/safehub/test/hubsim"
)

type recorder struct {
	mu     sync.Mutex
	events []gateway.Event
}

func (r *recorder) Observe(e gateway.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func TestObserversGetOneEventPerRequestWithoutTheToken(t *testing.T) {
	dir := t.TempDir()
	writeFileTB(t, dir, "models/org/m/model.safetensors", safetensorsBytes(10))
	writeFileTB(t, dir, "models/org/m/pytorch_model.bin", maliciousPickle)
	sim, err := hubsim.Start(hubsim.Config{ReposDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	up, _ := upstream.New(sim.HubURL, nil)
	rec := &recorder{}
	g, _ := gateway.New(gateway.Config{Upstream: up, Observers: []gateway.Observer{rec}})
	srv := httptest.NewServer(g)
	defer srv.Close()
	e := &env{gw: srv}
	const token = "hf_supersecret_token"
	e.do(t, "GET", "/org/m/resolve/main/model.safetensors", map[string]string{"Authorization": "Bearer " + token})
	e.do(t, "HEAD", "/org/m/resolve/main/pytorch_model.bin", nil)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.events) != 2 {
		t.Fatalf("%d events for 2 requests", len(rec.events))
	}
	ok, refused := rec.events[0], rec.events[1]
	if ok.Decision != "allow" || ok.Verdict != "safe" || ok.Format != "safetensors" || ok.Bytes == 0 || ok.TokenHash == "" {
		t.Errorf("allowed event: %+v", ok)
	}
	if refused.Decision != "refuse" || refused.Rule == "" || refused.Status != 404 || refused.TokenHash != "" {
		t.Errorf("refused event: %+v", refused)
	}
	for _, ev := range rec.events {
		b, _ := json.Marshal(ev)
		if strings.Contains(string(b), token) || strings.Contains(string(b), "supersecret") {
			t.Fatalf("event carries the token: %s", b)
		}
	}
}
