package audit

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/safehub/safehub/internal/gateway"
)

// fileEvent is a refused file request whose File carries a sequence number.
func fileEvent(seq int) gateway.Event {
	return gateway.Event{
		Time:   time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC).Add(time.Duration(seq) * time.Second),
		Client: "10.0.0.5:40000", TokenHash: "1a2b3c4d5e6f7081", Method: "GET", Path: "/org/m/resolve/main/x",
		Status: 404, Route: "resolve", RepoType: "model", Repo: "org/m", Revision: "main",
		File: fmt.Sprintf("f-%06d.bin", seq), Decision: "refuse", Rule: "name:*.bin",
		Reason: "pickle-based weights can run code when loaded",
	}
}

// readLines returns every line of a file and fails the test on a line that
// is not a whole record.
func readLines(t *testing.T, name string) []Record {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Fatalf("%s does not end with a newline: a line was split", name)
	}
	var out []Record
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		rec, err := ParseLine(sc.Bytes())
		if err != nil {
			t.Fatalf("%s: line %q: %v", name, sc.Text(), err)
		}
		out = append(out, rec)
	}
	return out
}

func seqOf(t *testing.T, rec Record) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscanf(rec.File, "f-%06d.bin", &n); err != nil {
		t.Fatalf("record %+v has no sequence number", rec)
	}
	return n
}

func TestRotationBoundsSizeAndFileCountAndKeepsLinesWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	const maxSize, maxFiles, events = 4096, 3, 400
	l, err := Open(path, maxSize, maxFiles)
	if err != nil {
		t.Fatal(err)
	}
	for i := range events {
		l.Observe(fileEvent(i))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(RotatedName(path, maxFiles)); err == nil {
		t.Fatalf("%s exists: more than %d files kept", RotatedName(path, maxFiles), maxFiles)
	}
	files, err := Files(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != maxFiles {
		t.Fatalf("files %v, want %d", files, maxFiles)
	}
	var seqs []int
	for _, f := range files {
		st, _ := os.Stat(f)
		if st.Size() > maxSize {
			t.Errorf("%s is %d bytes, over max size %d", f, st.Size(), maxSize)
		}
		if st.Size() < maxSize/2 && f != path {
			t.Errorf("rotated %s is only %d bytes: rotated too early", f, st.Size())
		}
		if st.Mode().Perm()&0o007 != 0 {
			t.Errorf("%s is world-accessible: %v", f, st.Mode())
		}
		for _, rec := range readLines(t, f) {
			seqs = append(seqs, seqOf(t, rec))
		}
	}
	// Oldest file first: the kept records are the newest ones, in order,
	// without a gap, ending with the last event.
	if seqs[len(seqs)-1] != events-1 {
		t.Fatalf("last record %d, want %d", seqs[len(seqs)-1], events-1)
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			t.Fatalf("records out of order or missing at %d: %d then %d", i, seqs[i-1], seqs[i])
		}
	}
	if st := l.Stats(); st.Written != events || st.Dropped != 0 || st.WriteErrors != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestLineLongerThanMaxSizeGetsAFileOfItsOwn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(path, minMaxSize, 5)
	if err != nil {
		t.Fatal(err)
	}
	big := fileEvent(1)
	big.Reason = strings.Repeat("r", 5000) // clipped to maxField, still a long line
	big.Repo = strings.Repeat("o", 2000) + "/m"
	big.Revision = strings.Repeat("v", 2000)
	big.Commit = strings.Repeat("c", 2000)
	l.Observe(fileEvent(0))
	l.Observe(big)
	l.Observe(fileEvent(2))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := Files(path)
	if len(files) != 3 {
		t.Fatalf("files %v, want 3 (small, big alone, small)", files)
	}
	mid := readLines(t, files[1])
	if len(mid) != 1 || len(mid[0].Reason) != maxField+3 || !strings.HasSuffix(mid[0].Reason, "...") {
		t.Fatalf("middle file: %d records, reason %d bytes", len(mid), len(mid[0].Reason))
	}
}

func TestConcurrentObserversLoseNothingWhileTheQueueHasRoom(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	const writers, each = 16, 400
	l, err := Open(path, 64<<10, 50, WithQueue(writers*each))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				l.Observe(fileEvent(w*each + i))
			}
		}()
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	files, _ := Files(path)
	for _, f := range files {
		for _, rec := range readLines(t, f) {
			n := seqOf(t, rec)
			if seen[n] {
				t.Fatalf("record %d written twice", n)
			}
			seen[n] = true
		}
	}
	if len(seen) != writers*each {
		t.Fatalf("%d records on disk, want %d (stats %+v)", len(seen), writers*each, l.Stats())
	}
}

func TestFullQueueDropsWithoutBlockingAndLogsTheGap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	out, err := openRotator(path, 1<<20, 2)
	if err != nil {
		t.Fatal(err)
	}
	l := newLog(out, WithQueue(4)) // writer not started: a stalled disk
	start := time.Now()
	for i := range 10 {
		l.Observe(fileEvent(i))
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Observe blocked for %v with the writer stalled", d)
	}
	if st := l.Stats(); st.Dropped != 6 {
		t.Fatalf("dropped %d, want 6", st.Dropped)
	}
	go l.run() // the disk recovers
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	recs := readLines(t, path)
	if len(recs) != 5 {
		t.Fatalf("%d lines, want 4 records and one gap marker: %+v", len(recs), recs)
	}
	gap := recs[4]
	if gap.Decision != DecisionDropped || gap.Dropped != 6 {
		t.Fatalf("gap marker %+v", gap)
	}
	if !strings.Contains(Pretty(gap), "6 events were not logged") {
		t.Errorf("pretty gap: %s", Pretty(gap))
	}
	l.Observe(fileEvent(99)) // after Close: counted, not a panic
	if l.Stats().Dropped != 7 {
		t.Errorf("event after Close not counted as dropped")
	}
}

func TestOpenRejectsBadSettingsWithAHint(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		path     string
		size     int64
		files    int
		wantText string
	}{
		{filepath.Join(dir, "a.log"), 100, 3, "too small"},
		{filepath.Join(dir, "a.log"), 0, 1, "at least 2"},
		{filepath.Join(dir, "no/such/dir/a.log"), 0, 0, "folder exists"},
		{dir, 0, 0, "audit log"},
		{"", 0, 0, "no path"},
	} {
		l, err := Open(tc.path, tc.size, tc.files)
		if err == nil {
			l.Close()
			t.Errorf("Open(%q, %d, %d) succeeded", tc.path, tc.size, tc.files)
			continue
		}
		if !strings.Contains(err.Error(), tc.wantText) {
			t.Errorf("Open(%q): %v, want it to mention %q", tc.path, err, tc.wantText)
		}
	}
}

func TestOnlyDecisionsAreLogged(t *testing.T) {
	for _, tc := range []struct {
		ev   gateway.Event
		want bool
	}{
		{gateway.Event{Route: "resolve", Decision: "allow"}, true},
		{gateway.Event{Route: "resolve-cache", Decision: "refuse"}, true},
		{gateway.Event{Route: "tree", Status: 200}, true},
		{gateway.Event{Route: "paths-info", Status: 200}, true},
		{gateway.Event{Route: "repo-info", Decision: "upstream-error"}, true},
		{gateway.Event{Route: "xet-token", Decision: "refuse", Rule: "xet-disabled"}, true},
		{gateway.Event{Route: "git", Decision: "refuse", Rule: "git-disabled"}, true},
		{gateway.Event{Route: "unknown", Decision: "bad-request"}, true},
		{gateway.Event{Route: "telemetry", Status: 200}, false},
		{gateway.Event{Route: "api", Status: 200}, false},
		{gateway.Event{Route: "repo-api", Status: 200}, false},
	} {
		if got := Wanted(tc.ev); got != tc.want {
			t.Errorf("Wanted(%+v) = %v, want %v", tc.ev, got, tc.want)
		}
	}
	if d := FromEvent(gateway.Event{Route: "tree", Status: 200}).Decision; d != DecisionAllow {
		t.Errorf("served listing recorded as %q", d)
	}
	if d := FromEvent(gateway.Event{Route: "tree", Status: 500}).Decision; d != DecisionError {
		t.Errorf("failed listing recorded as %q", d)
	}
}

func TestObserveRacingCloseNeitherPanicsNorLosesCount(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(path, 0, 0, WithQueue(64))
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 500
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				l.Observe(fileEvent(w*each + i))
			}
		}()
	}
	time.Sleep(time.Millisecond)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	st := l.Stats()
	lines := readLines(t, path)
	var onDisk int64
	for _, rec := range lines {
		if rec.Decision != DecisionDropped {
			onDisk++
		}
	}
	if st.Written != int64(len(lines)) {
		t.Errorf("stats say %d lines written, %d on disk", st.Written, len(lines))
	}
	if onDisk+st.Dropped != writers*each {
		t.Fatalf("on disk %d + dropped %d != %d observed", onDisk, st.Dropped, writers*each)
	}
	if err := l.Close(); err == nil {
		t.Error("second Close did not say it was already closed")
	}
}
