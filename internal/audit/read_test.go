package audit

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/safehub/safehub/internal/humanize"
)

func day(d, h int) time.Time { return time.Date(2026, 11, d, h, 0, 0, 0, time.UTC) }

func rec(t time.Time, decision, repoType, repo, file, rule string, bytes int64) Record {
	return Record{Time: t, Decision: decision, RepoType: repoType, Repo: repo, File: file, Rule: rule,
		Route: "resolve", Bytes: bytes, Status: 404, Client: "10.0.0.1:1", Method: "GET"}
}

// sampleLog writes a log of three days over three files (oldest in .2), with
// a damaged line and a gap marker, and returns its path and the records by
// file, oldest first.
func sampleLog(t *testing.T) (string, [][]Record) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.log")
	var d1, d2, d3 []Record
	for range 3 {
		d1 = append(d1, rec(day(24, 9), "refuse", "model", "org/a", "pytorch_model.bin", "name:*.bin", 0))
	}
	d1 = append(d1, rec(day(24, 10), "refuse", "model", "org/a", "model.safetensors", "content:unsafe", 0))
	d1 = append(d1, rec(day(24, 11), "allow", "model", "org/a", "config.json", "", 100))
	d1 = append(d1, rec(day(24, 12), "allow", "model", "org/a", "config.json", "", 100))
	d2 = append(d2, rec(day(25, 1), "audit-refuse", "dataset", "org/d", "train.pkl", "name:*.pkl", 50))
	d2 = append(d2, Record{Time: day(25, 2), Decision: DecisionDropped, Dropped: 5})
	d2 = append(d2, rec(day(25, 3), "audit-refuse", "dataset", "org/d", "train.pkl", "name:*.pkl", 50))
	d2 = append(d2, rec(day(25, 4), "refuse", "model", "org/b", "w.pt", "name:*.pt", 0))
	d2 = append(d2, rec(day(25, 5), "upstream-error", "model", "org/b", "x.json", "", 0))
	d3 = append(d3, rec(day(26, 1), "refuse", "model", "org/a", "pytorch_model.bin", "name:*.bin", 0))
	xet := rec(day(26, 2), "refuse", "model", "org/c", "", "xet-disabled", 0)
	xet.Route = "xet-token"
	d3 = append(d3, xet)
	write := func(name string, recs []Record, junk string) {
		var b strings.Builder
		for i, r := range recs {
			line, _ := json.Marshal(r)
			b.Write(line)
			b.WriteByte('\n')
			if i == 0 {
				b.WriteString(junk)
			}
		}
		if err := os.WriteFile(name, []byte(b.String()), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	write(RotatedName(path, 2), d1, "")
	write(RotatedName(path, 1), d2, "{\"time\":\"2026-11-25T01:00:00Z\",\"decis\n"+strings.Repeat("x", maxLine+10)+"\n")
	write(path, d3, "")
	return path, [][]Record{d1, d2, d3}
}

func TestEachReadsRotatedFilesOldestFirstAndSkipsDamage(t *testing.T) {
	path, parts := sampleLog(t)
	var got []Record
	skipped, err := Each(path, Filter{}, func(r Record, line []byte) error {
		if !json.Valid(line) {
			t.Errorf("line handed out is not the JSON as written: %q", line)
		}
		got = append(got, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := append(append(append([]Record{}, parts[0]...), parts[1]...), parts[2]...)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("records:\n got %+v\nwant %+v", got, want)
	}
	if skipped != 2 {
		t.Errorf("skipped %d damaged lines, want 2 (a cut line and an over-long one)", skipped)
	}
}

func TestSummaryGroupsRefusalsByRuleRepoDayAndFile(t *testing.T) {
	path, _ := sampleLog(t)
	s := NewSummarizer(time.Time{}, 2)
	if _, err := Each(path, Filter{}, func(r Record, _ []byte) error { s.Add(r); return nil }); err != nil {
		t.Fatal(err)
	}
	sum := s.Summary()
	if sum.Events != 12 || sum.Allowed != 2 || sum.Refused != 7 || sum.AuditRefused != 2 || sum.Errors != 1 ||
		sum.BytesServed != 300 || sum.Dropped != 5 {
		t.Fatalf("totals: %+v", sum)
	}
	if !sum.First.Equal(day(24, 9)) || !sum.Last.Equal(day(26, 2)) {
		t.Errorf("range %v .. %v", sum.First, sum.Last)
	}
	wantRules := []Count{{"name:*.bin", 4, 0}, {"name:*.pkl", 0, 2}, {"content:unsafe", 1, 0}, {"name:*.pt", 1, 0}, {"xet-disabled", 1, 0}}
	if !reflect.DeepEqual(sum.ByRule, wantRules) {
		t.Errorf("by rule:\n got %+v\nwant %+v", sum.ByRule, wantRules)
	}
	wantRepos := []Count{{"org/a", 5, 0}, {"datasets/org/d", 0, 2}}
	if !reflect.DeepEqual(sum.ByRepo, wantRepos) || sum.MoreRepos != 2 {
		t.Errorf("by repo (top 2): %+v, %d more", sum.ByRepo, sum.MoreRepos)
	}
	wantDays := []DayCount{{"2026-11-24", 6, 4, 0}, {"2026-11-25", 4, 1, 2}, {"2026-11-26", 2, 2, 0}}
	if !reflect.DeepEqual(sum.ByDay, wantDays) {
		t.Errorf("by day:\n got %+v\nwant %+v", sum.ByDay, wantDays)
	}
	if len(sum.TopFiles) != 2 || sum.TopFiles[0].File != "pytorch_model.bin" || sum.TopFiles[0].Refused != 4 ||
		sum.TopFiles[1].Repo != "datasets/org/d" || sum.TopFiles[1].AuditRefused != 2 || sum.MoreFiles != 2 {
		t.Errorf("top files: %+v, %d more", sum.TopFiles, sum.MoreFiles)
	}

	// --since: only the last two days.
	since := day(25, 0)
	s = NewSummarizer(since, 10)
	Each(path, Filter{Since: since}, func(r Record, _ []byte) error { s.Add(r); return nil })
	sum = s.Summary()
	if sum.Events != 6 || sum.Refused != 3 || sum.AuditRefused != 2 || len(sum.ByDay) != 2 || sum.ByRepo[0].Key != "datasets/org/d" {
		t.Errorf("since %v: %+v", since, sum)
	}
}

func TestLastSpansRotatedFilesAndFilters(t *testing.T) {
	path, parts := sampleLog(t)
	got, offset, err := Last(path, 4, Filter{RefusedOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	if offset != st.Size() {
		t.Errorf("offset %d, want the current file's size %d", offset, st.Size())
	}
	var files []string
	for _, e := range got {
		files = append(files, e.Record.Time.Format("02T15")+" "+e.Record.File)
	}
	want := []string{"25T03 train.pkl", "25T04 w.pt", "26T01 pytorch_model.bin", "26T02 "}
	if !reflect.DeepEqual(files, want) {
		t.Errorf("last 4 refused: %q, want %q", files, want)
	}
	all, _, _ := Last(path, 1000, Filter{})
	if n := len(parts[0]) + len(parts[1]) + len(parts[2]); len(all) != n {
		t.Errorf("last 1000 gave %d of %d records", len(all), n)
	}
	if _, _, err := Last(filepath.Join(t.TempDir(), "none.log"), 5, Filter{}); err == nil || !strings.Contains(err.Error(), "--audit-log") {
		t.Errorf("missing log: %v", err)
	}
}

func TestFollowSeesNewLinesAcrossRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(path, minMaxSize, 20)
	if err != nil {
		t.Fatal(err)
	}
	l.Observe(fileEvent(0))
	waitFor(t, func() bool { st, err := os.Stat(path); return err == nil && st.Size() > 0 })
	_, offset, err := Last(path, 10, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		mu   sync.Mutex
		seen []int
	)
	done := make(chan error, 1)
	go func() {
		done <- Follow(ctx, path, offset, Filter{}, 5*time.Millisecond, func(e Entry) error {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, seqOf(t, e.Record))
			return nil
		})
	}()
	const more = 60 // about 3 rotations at 4 KiB
	for i := 1; i <= more; i++ {
		l.Observe(fileEvent(i))
		if i%10 == 0 {
			time.Sleep(20 * time.Millisecond) // let the follower catch each file before it rotates on
		}
	}
	l.Close()
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) >= more })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	files, _ := Files(path)
	if len(files) < 3 {
		t.Fatalf("the log did not rotate (%v): the test proves nothing", files)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, n := range seen {
		if n != i+1 {
			t.Fatalf("followed %v, want 1..%d in order", seen, more)
		}
	}
	if len(seen) != more {
		t.Fatalf("followed %d records, want %d", len(seen), more)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPrettyEscapesControlCharacters(t *testing.T) {
	r := rec(day(26, 1), "refuse", "model", "org/a", "evil\nname.bin", "name:*.bin", 0)
	r.Reason = "line1\nline2"
	p := Pretty(r)
	if strings.Contains(p, "\n") {
		t.Fatalf("pretty line holds a newline: %q", p)
	}
	if !strings.HasPrefix(p, "2026-11-26 01:00:00Z refuse       404 GET org/a evil\\nname.bin  rule=name:*.bin") {
		t.Errorf("pretty: %s", p)
	}
	if got := humanize.Bytes(3 << 20); got != "3.0 MiB" {
		t.Errorf("HumanBytes: %s", got)
	}
}

func TestParseSince(t *testing.T) {
	now := day(26, 12)
	for in, want := range map[string]time.Time{
		"24h": day(25, 12), "7d": day(19, 12), "1d12h": day(25, 0), "90m": now.Add(-90 * time.Minute),
		"2026-11-25": day(25, 0), "2026-11-25T08:00:00Z": day(25, 8),
	} {
		got, err := ParseSince(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "d", "-1d", "yesterday", "5x", "-3h"} {
		if _, err := ParseSince(bad, now); err == nil || !strings.Contains(err.Error(), "7d") {
			t.Errorf("ParseSince(%q): %v", bad, err)
		}
	}
}
