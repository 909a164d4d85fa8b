package obs

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/safehub/safehub/internal/gateway"
)

// FuzzStatusPageRendersClientText feeds client-controlled text (repo ids,
// file paths, reasons quoting them) through the ring buffer and the page:
// it must always render, and never carry a client's markup through.
func FuzzStatusPageRendersClientText(f *testing.F) {
	for _, seed := range [][3]string{
		{"org/m", "pytorch_model.bin", "pickle-based weights can run code when loaded"},
		{"org/<b>x</b>", "<script>alert(1)</script>", `"><img src=x onerror=alert(1)>`},
		{"a/b", strings.Repeat("é", 400), "\x00\xff\xfe"},
		{"", "", ""},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	mon := NewMonitor(4)
	a, err := NewAdmin(AdminConfig{Monitor: mon})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, repo, file, reason string) {
		mon.Observe(gateway.Event{Time: time.Now(), Decision: "refuse", Status: 404, RepoType: "model",
			Repo: repo, File: file, Reason: reason, Rule: file})
		resp, body := fetch(t, a, "GET", "/")
		if resp.StatusCode != 200 {
			t.Fatalf("status page = %d", resp.StatusCode)
		}
		for _, s := range []string{repo, file, reason} {
			if strings.ContainsAny(s, "<>") && strings.Contains(body, s) {
				t.Fatalf("client text %q reached the page unescaped", s)
			}
		}
		if !utf8.ValidString(body) {
			t.Fatal("page is not valid UTF-8")
		}
	})
}
