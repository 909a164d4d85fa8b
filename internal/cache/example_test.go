package cache_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"

	"github.com/safehub/safehub/internal/cache"
	"github.com/safehub/safehub/internal/store"
	"github.com/safehub/safehub/internal/store/disk"
)

// Example shows the gateway's GET path over the cache: parse the digest
// the upstream announced, Open (hit, join or start a fill), then stream
// with WriteRange and cut the connection on any error.
func Example() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	st, _ := disk.Open(dir, disk.Options{})
	c := cache.New(st, cache.Options{MaxBytes: 10 << 30})
	defer c.Close()

	content := bytes.Repeat([]byte("weights "), 100_000)
	sum := sha256.Sum256(content)
	etag := hex.EncodeToString(sum[:]) // X-Linked-Etag from the upstream's HEAD
	fetches := 0
	source := func(ctx context.Context) (io.ReadCloser, error) { // g.up.FetchBytes(ctx, meta, auth, "")
		fetches++
		return io.NopCloser(bytes.NewReader(content)), nil
	}
	scan := func(ctx context.Context, r io.ReaderAt, size int64) error { return nil } // scan.Scan + policy

	handler := func(w http.ResponseWriter, r *http.Request) {
		d, err := store.ParseDigest(etag)
		if err != nil { // an etag of no known scheme: stream uncached, as today
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		rd, err := c.Open(r.Context(), d, int64(len(content)), source, scan)
		if errors.Is(err, cache.ErrRefused) {
			http.Error(w, "refused", http.StatusNotFound)
			return
		} else if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer rd.Close()
		w.Header().Set("Content-Length", strconv.FormatInt(rd.Size(), 10))
		w.WriteHeader(http.StatusOK)
		if _, err := cache.WriteRange(w, rd, 0, rd.Size()); err != nil {
			panic(http.ErrAbortHandler) // the client sees a cut transfer, never a short file
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(handler))
	defer srv.Close()
	for range 2 {
		resp, err := http.Get(srv.URL)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, bytes.Equal(body, content))
	}
	fmt.Println("upstream fetches:", fetches)
	// Output:
	// 200 true
	// 200 true
	// upstream fetches: 1
}
