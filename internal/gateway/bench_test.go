package gateway_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/safehub/safehub/internal/cache"
	"github.com/safehub/safehub/internal/gateway"
	"github.com/safehub/safehub/internal/store/disk"
	"github.com/safehub/safehub/internal/upstream"
	"github.com/safehub/safehub/test/hubsim"
)

// BenchmarkStreamLFS measures a full GET of a 64 MiB safetensors file
// through the gateway (upstream HEAD, header scan from cache after the
// first round, CDN fetch, sha256 check). bench/gateway/bench.py compares
// the same path against nginx.
func BenchmarkStreamLFS(b *testing.B) {
	dir := b.TempDir()
	data := safetensorsBytes(16 << 20) // 64 MiB of F32
	writeFileTB(b, dir, "models/bench/big/model.safetensors", data)
	sim, err := hubsim.Start(hubsim.Config{ReposDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer sim.Close()
	up, _ := upstream.New(sim.HubURL, nil)
	g, _ := gateway.New(gateway.Config{Upstream: up})
	srv := httptest.NewServer(g)
	defer srv.Close()
	url := srv.URL + "/bench/big/resolve/main/model.safetensors"
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		resp, err := http.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || n != int64(len(data)) {
			b.Fatalf("got %d bytes, err %v", n, err)
		}
	}
}

// BenchmarkColdFill measures a full GET of a 64 MiB file that the cache
// has never seen: one upstream fetch staged, hashed, re-scanned and
// streamed to the client while it fills (a fresh cache each round).
func BenchmarkColdFill(b *testing.B) {
	dir := b.TempDir()
	data := safetensorsBytes(16 << 20)
	writeFileTB(b, dir, "models/bench/big/model.safetensors", data)
	sim, err := hubsim.Start(hubsim.Config{ReposDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer sim.Close()
	up, _ := upstream.New(sim.HubURL, nil)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		b.StopTimer()
		st, err := disk.Open(b.TempDir(), disk.Options{})
		if err != nil {
			b.Fatal(err)
		}
		c := cache.New(st, cache.Options{})
		g, _ := gateway.New(gateway.Config{Upstream: up, Cache: c})
		srv := httptest.NewServer(g)
		b.StartTimer()
		resp, err := http.Get(srv.URL + "/bench/big/resolve/main/model.safetensors")
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || n != int64(len(data)) {
			b.Fatalf("got %d bytes, err %v", n, err)
		}
		b.StopTimer()
		srv.Close()
		g.Close()
		c.Close()
		b.StartTimer()
	}
}
