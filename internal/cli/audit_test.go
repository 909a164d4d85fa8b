package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/safehub/safehub/internal/audit"
	"github.com/safehub/safehub/internal/gateway"
)

func auditMain(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(append([]string{"audit"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// writeAuditLog writes records as the gateway's log would: older ones in
// the rotated file. Times are relative to now so --since can be tested.
func writeAuditLog(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.log")
	now := time.Now().UTC()
	r := func(ago time.Duration, decision, repo, file, rule string) audit.Record {
		return audit.Record{Time: now.Add(-ago), Decision: decision, Route: "resolve", RepoType: "model", Repo: repo,
			Revision: "main", File: file, Rule: rule, Status: 404, Method: "GET", Client: "10.0.0.7:5000", TokenHash: "00aa11bb22cc33dd"}
	}
	old := []audit.Record{
		r(72*time.Hour, "refuse", "org/old", "a.bin", "name:*.bin"),
		r(71*time.Hour, "allow", "org/old", "config.json", ""),
	}
	cur := []audit.Record{
		r(3*time.Hour, "refuse", "org/m", "pytorch_model.bin", "name:*.bin"),
		r(2*time.Hour, "allow", "org/m", "model.safetensors", ""),
		r(30*time.Minute, "audit-refuse", "org/m", "optimizer.pt", "name:*.pt"),
		r(10*time.Minute, "refuse", "org/m", "pytorch_model.bin", "name:*.bin"),
	}
	for name, recs := range map[string][]audit.Record{audit.RotatedName(path, 1): old, path: cur} {
		var b bytes.Buffer
		for _, rec := range recs {
			line, _ := json.Marshal(rec)
			b.Write(append(line, '\n'))
		}
		if err := os.WriteFile(name, b.Bytes(), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func TestAuditTailShowsLastDecisionsAcrossRotatedFiles(t *testing.T) {
	path := writeAuditLog(t)
	code, out, errs := auditMain(t, "tail", "--log", path, "-n", "5")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d lines, want 5:\n%s", len(lines), out)
	}
	if !strings.Contains(lines[0], "org/old@main config.json") || !strings.Contains(lines[4], "refuse       404 GET org/m@main pytorch_model.bin  rule=name:*.bin") {
		t.Errorf("tail -n 5:\n%s", out)
	}
	if !strings.Contains(lines[4], "client=10.0.0.7:5000 token=00aa11bb22cc33dd") {
		t.Errorf("no client and token hash: %s", lines[4])
	}

	t.Setenv("SAFEHUB_AUDIT_LOG", path) // the default when --log is not given
	code, out, _ = auditMain(t, "tail", "--refused", "--json")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	lines = strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("--refused: %d lines, want 4:\n%s", len(lines), out)
	}
	for _, l := range lines {
		var rec audit.Record
		if err := json.Unmarshal([]byte(l), &rec); err != nil || !rec.Refused() {
			t.Errorf("--json --refused line %q: %v", l, err)
		}
	}
}

func TestAuditSummaryCountsRefusals(t *testing.T) {
	path := writeAuditLog(t)
	code, out, errs := auditMain(t, "summary", "--log", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{
		"(2 files)",
		"6 decisions: 2 allowed, 3 refused, 1 would be refused (audit mode), 0 errors",
		"Refusals by rule", "      3       0  name:*.bin\n", "      0       1  name:*.pt\n",
		"Refusals by repo", "      2       1  org/m\n", "      1       0  org/old\n",
		"Most refused files", "      2       0  org/m: pytorch_model.bin\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = auditMain(t, "summary", "--log", path, "--since", "1d", "--json")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var sum audit.Summary
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	if sum.Events != 4 || sum.Refused != 2 || sum.AuditRefused != 1 || len(sum.ByRepo) != 1 || sum.ByRepo[0].Key != "org/m" {
		t.Errorf("--since 1d: %+v", sum)
	}
}

func TestAuditErrorsSayWhatToDo(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none.log")
	for _, args := range [][]string{
		{"tail", "--log", missing},
		{"summary", "--log", missing},
	} {
		code, _, errs := auditMain(t, args...)
		if code != ExitError || !strings.Contains(errs, "--audit-log") {
			t.Errorf("%v: exit %d, %q", args, code, errs)
		}
	}
	path := writeAuditLog(t)
	if code, _, errs := auditMain(t, "summary", "--log", path, "--since", "yesterday"); code != ExitError || !strings.Contains(errs, "7d") {
		t.Errorf("bad --since: exit %d, %q", code, errs)
	}
	if code, _, errs := auditMain(t, "tail", "--log", path, "-n", "-1"); code != ExitError || !strings.Contains(errs, "-n") {
		t.Errorf("bad -n: exit %d, %q", code, errs)
	}
	for _, sub := range []string{"tail", "summary"} {
		_, out, _ := auditMain(t, sub, "--help")
		if !strings.Contains(out, "Examples:") || !strings.Contains(out, "safehub audit "+sub) {
			t.Errorf("%s --help has no examples:\n%s", sub, out)
		}
	}
}

// lockedBuffer is written by the follower goroutine and read by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestAuditTailFollowPrintsNewRefusals(t *testing.T) {
	path := writeAuditLog(t)
	root := NewRootCmd()
	out := &lockedBuffer{}
	root.SetOut(out)
	root.SetErr(out)
	root.SetArgs([]string{"audit", "tail", "-f", "--refused", "-n", "1", "--log", path})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	waitOutput := func(want string) {
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(out.String(), want) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitOutput("pytorch_model.bin") // the last refusal already in the log

	l, err := audit.Open(path, 0, 0) // the gateway appending to the same log
	if err != nil {
		t.Fatal(err)
	}
	for i, decision := range []string{"allow", "refuse", "allow", "refuse"} {
		l.Observe(gateway.Event{Time: time.Now(), Route: "resolve", RepoType: "model", Repo: "org/new",
			Revision: "main", File: fmt.Sprintf("new-%d.bin", i), Decision: decision, Status: 404})
	}
	l.Close()
	waitOutput("new-3.bin")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "pytorch_model.bin") ||
		!strings.Contains(lines[1], "new-1.bin") || !strings.Contains(lines[2], "new-3.bin") {
		t.Errorf("tail -f --refused -n 1 printed:\n%s", out.String())
	}
}
