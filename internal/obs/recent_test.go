package obs

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/safehub/safehub/internal/gateway"
)

func refusal(i int) gateway.Event {
	return gateway.Event{
		Time: time.Unix(int64(1000+i), 0), Route: "resolve", Status: 404, Decision: "refuse",
		RepoType: "model", Repo: "org/m", File: fmt.Sprintf("f%d.bin", i), Rule: "default:pickle-names",
		Reason: "pickle-based weights can run code when loaded", TokenHash: "abcd",
	}
}

func TestRecentKeepsTheLastRefusalsNewestFirst(t *testing.T) {
	r := NewRecent(3)
	r.Observe(gateway.Event{Route: "resolve", Status: 200, Decision: "allow", Repo: "org/m", File: "config.json"})
	for i := range 5 {
		r.Observe(refusal(i))
	}
	got := r.Refusals()
	var files []string
	for _, f := range got {
		files = append(files, f.File)
	}
	if strings.Join(files, " ") != "f4.bin f3.bin f2.bin" {
		t.Errorf("refusals = %v, want the last three newest first", files)
	}
	if got[0].Reason == "" || got[0].TokenHash != "abcd" || got[0].Audit {
		t.Errorf("refusal row lost fields: %+v", got[0])
	}
}

func TestRecentBeforeTheRingFills(t *testing.T) {
	r := NewRecent(10)
	r.Observe(refusal(1))
	r.Observe(gateway.Event{Decision: "audit-refuse", Status: 200, Repo: "org/m", File: "x.pt", Rule: "default:pickle-names"})
	got := r.Refusals()
	if len(got) != 2 || got[0].File != "x.pt" || !got[0].Audit || got[1].File != "f1.bin" {
		t.Errorf("refusals = %+v", got)
	}
	if tot := r.Totals(); tot.Refused != 1 || tot.AuditRefused != 1 || tot.Requests != 2 {
		t.Errorf("totals = %+v", tot)
	}
}

func TestRecentTopReposByRequestsThenName(t *testing.T) {
	r := NewRecent(0)
	for repo, n := range map[string]int{"b/two": 2, "a/two": 2, "c/one": 1, "d/five": 5} {
		for range n {
			r.Observe(gateway.Event{RepoType: "model", Repo: repo, Status: 200, Decision: "allow", Bytes: 10})
		}
	}
	r.Observe(gateway.Event{RepoType: "dataset", Repo: "d/five", Status: 404, Decision: "refuse"})
	r.Observe(gateway.Event{Route: "api", Status: 200}) // about no repo: not in the table
	top := r.TopRepos(4)
	var got []string
	for _, rc := range top {
		got = append(got, fmt.Sprintf("%s:%s=%d", rc.RepoType, rc.Repo, rc.Requests))
	}
	if want := "model:d/five=5 model:a/two=2 model:b/two=2 model:c/one=1"; strings.Join(got, " ") != want {
		t.Errorf("top repos = %v\nwant %s", got, want)
	}
	if top[0].Bytes != 50 {
		t.Errorf("bytes for d/five = %d, want 50", top[0].Bytes)
	}
	all := r.TopRepos(100)
	if len(all) != 5 || all[4].RepoType != "dataset" || all[4].Refused != 1 {
		t.Errorf("a dataset with the same id must be its own row with its refusal: %+v", all)
	}
}

func TestRecentBoundsTheRepoTable(t *testing.T) {
	r := NewRecent(0)
	for i := range maxTrackedRepos + 25 {
		r.Observe(gateway.Event{Repo: fmt.Sprintf("org/m%d", i), Status: 200})
	}
	if n := len(r.TopRepos(maxTrackedRepos * 2)); n != maxTrackedRepos {
		t.Errorf("tracked repos = %d, want the cap %d", n, maxTrackedRepos)
	}
	if tot := r.Totals(); tot.OtherRepoRequests != 25 || tot.Requests != maxTrackedRepos+25 {
		t.Errorf("totals = %+v", tot)
	}
}

func TestRecentClipsLongTextWithoutBreakingCharacters(t *testing.T) {
	r := NewRecent(1)
	ev := refusal(1)
	ev.Reason = strings.Repeat("é", maxTextLen) // 2 bytes each: the cut falls mid-character
	r.Observe(ev)
	got := r.Refusals()[0].Reason
	if len(got) > maxTextLen+len("…") || !utf8.ValidString(got) || !strings.HasSuffix(got, "…") {
		t.Errorf("clipped reason: %d bytes, valid UTF-8 %v", len(got), utf8.ValidString(got))
	}
}
