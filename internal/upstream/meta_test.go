package upstream_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/safehub/safehub/internal/upstream"
)

// Metadata rebuilt from the gateway's index has no byte location: fetching
// with it must fail clearly, never dereference nil or go somewhere else.
func TestFetchBytesWithoutSourceIsAClearError(t *testing.T) {
	c, err := upstream.New("http://127.0.0.1:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	m := &upstream.FileMeta{Repo: "org/m", Commit: "0123456789012345678901234567890123456789", Size: 3}
	if m.HasSource() {
		t.Fatal("a FileMeta built by hand claims a byte location")
	}
	_, err = c.FetchBytes(context.Background(), m, "", "")
	var ue *upstream.Error
	if !errors.As(err, &ue) || ue.Status != http.StatusBadGateway {
		t.Fatalf("FetchBytes without a source: %v, want a 502 *upstream.Error", err)
	}
}
