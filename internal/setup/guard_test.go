package setup

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/safehub/safehub/internal/guard"
)

// baseCopy builds a throw-away copy of Debian's /usr/bin/python3 at
// <root>/usr with test/guard/pyenvs.py (the guard tests' helper): a real
// base interpreter whose stdlib dir, sitecustomize and guard folder all
// live under root, so installing into it never touches the real system.
func baseCopy(t *testing.T, root string) string {
	t.Helper()
	const sys = "/usr/bin/python3"
	if _, err := os.Stat(sys); err != nil {
		t.Fatalf("this test copies Debian's %s as a throw-away interpreter; install it: apt-get install python3 (%v)", sys, err)
	}
	helper, err := filepath.Abs("../../test/guard/pyenvs.py")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sys, helper, filepath.Join(root, "usr")).CombinedOutput()
	if err != nil {
		t.Fatalf("make the interpreter copy: %v\n%s", err, out)
	}
	py := strings.TrimSpace(string(out))
	if want := filepath.Join(root, "usr", "bin", "python3"); py != want {
		t.Fatalf("copy at %q, want %q", py, want)
	}
	return py
}

// The whole setup against a temporary root holding a real interpreter:
// the guard is installed and in force, and undo leaves the tree as it was.
func TestApplyInstallsGuardAndUndoRemovesIt(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	py := baseCopy(t, root)
	before := snapshotTree(t, root)

	o := opts(root)
	p, err := NewPlan(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Guards) != 1 || p.Guards[0].Path != py || len(p.Failed) != 0 {
		t.Fatalf("want exactly %s planned (python3 and python3.11 are one binary); got %+v failed %+v", py, p.Guards, p.Failed)
	}
	var out bytes.Buffer
	p.Print(&out, false)
	if !strings.Contains(out.String(), "install the guard (mode block) into:\n    "+py+" (Python 3.") {
		t.Errorf("plan does not list the interpreter:\n%s", out.String())
	}
	if err := p.Apply(ctx, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	x, err := guard.NewInstaller(ctx, py, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := x.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Active || st.Mode != "block" {
		t.Fatalf("guard not in force after setup: %+v", st)
	}
	if !strings.HasPrefix(x.Layout.GuardDir, root) {
		t.Fatalf("guard went outside the root: %s", x.Layout.GuardDir)
	}

	// Apply again: converges, and the guard's record still says setup put it there.
	p2, err := NewPlan(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if p2.Guards[0].Preexisting {
		t.Fatal("the second run took setup's own guard for one that was there before")
	}
	if err := p2.Apply(ctx, &out); err != nil {
		t.Fatal(err)
	}

	out.Reset()
	if err := Undo(ctx, root, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	st, err = x.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Active {
		t.Fatal("guard still active after undo")
	}
	diffTrees(t, before, snapshotTree(t, root))
}

// A guard the admin installed before setup stays after undo.
func TestUndoLeavesPreexistingGuard(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	py := baseCopy(t, root)
	x, err := guard.NewInstaller(ctx, py, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Install(ctx, "warn"); err != nil {
		t.Fatal(err)
	}
	p, err := NewPlan(ctx, opts(root))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Guards) != 1 || !p.Guards[0].Preexisting {
		t.Fatalf("want the installed guard seen as preexisting: %+v", p.Guards)
	}
	var out bytes.Buffer
	if err := p.Apply(ctx, &out); err != nil {
		t.Fatal(err)
	}
	if err := Undo(ctx, root, &out); err != nil {
		t.Fatal(err)
	}
	st, err := x.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Active {
		t.Fatalf("undo removed a guard that was there before setup:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "it was there before setup") {
		t.Errorf("undo did not say why it left the guard:\n%s", out.String())
	}
}
