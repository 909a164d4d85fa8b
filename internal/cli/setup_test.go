package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// setup --apply then --undo through the command line, against a temporary root.
func TestSetupCommandApplyUndo(t *testing.T) {
	root := t.TempDir()
	t.Setenv("PATH", "/nonexistent-path-dir") // no interpreters to list from the real PATH
	code, out, errs := runMain(t, "setup", "--root", root, "--listen", "0.0.0.0:8080")
	if code != 0 || !strings.Contains(out, "Nothing was changed. Run again with --apply") {
		t.Fatalf("dry run: %d\n%s\n%s", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(root, "etc")); !os.IsNotExist(err) {
		t.Fatal("the dry run wrote files")
	}
	code, out, errs = runMain(t, "setup", "--root", root, "--apply", "--listen", "0.0.0.0:8080")
	if code != 0 || !strings.Contains(out, "systemctl enable --now safehub") {
		t.Fatalf("apply: %d\n%s\n%s", code, out, errs)
	}
	b, err := os.ReadFile(filepath.Join(root, "etc/profile.d/safehub.sh"))
	if err != nil || !strings.Contains(string(b), "HF_ENDPOINT='http://127.0.0.1:8080'") {
		t.Fatalf("profile: %q %v", b, err)
	}
	code, out, errs = runMain(t, "setup", "--root", root, "--undo")
	if code != 0 || !strings.Contains(out, "removed  /etc/profile.d/safehub.sh") {
		t.Fatalf("undo: %d\n%s\n%s", code, out, errs)
	}
	entries, _ := os.ReadDir(root)
	if len(entries) != 0 {
		t.Errorf("undo left %v under the root", entries)
	}
	code, _, errs = runMain(t, "setup", "--root", root, "--undo")
	if code != ExitError || !strings.Contains(errs, "nothing to undo") {
		t.Errorf("undo without a setup: %d %s", code, errs)
	}
}

func TestSetupCommandErrorsSayWhatToDo(t *testing.T) {
	root := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"setup", "--root", root, "--apply", "--undo"}, "nothing to undo"},
		{[]string{"setup", "--root", root, "--endpoint", "gpu01:8080"}, "e.g. http://gpu-server:8080"},
		{[]string{"setup", "--root", root, "--guard-mode", "loud"}, "want one of block, warn, audit"},
	} {
		code, _, errs := runMain(t, c.args...)
		if code != ExitError || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want %q", c.args, code, errs, c.want)
		}
	}
}
