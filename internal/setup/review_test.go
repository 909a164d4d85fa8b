package setup

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// applyOnce plans and applies setup on root (files only, no interpreters).
func applyOnce(t *testing.T, root string) {
	t.Helper()
	p, err := NewPlan(context.Background(), opts(root))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Apply(context.Background(), io.Discard); err != nil {
		t.Fatal(err)
	}
}

// The admin guide tells admins to add `policy:` to /etc/safehub/config.yaml
// and, to upgrade, to rerun `setup --apply`. A rerun must not silently throw
// the admin's config away (the policy line would go, and with it the
// policy in force).
func TestReview_RerunApplyKeepsAdminEditsOfConfig(t *testing.T) {
	root := t.TempDir()
	applyOnce(t, root)
	cfg := filepath.Join(root, ConfigPath)
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	edited := string(b) + "policy: /etc/safehub/policy-reviewed.yaml\n"
	if err := os.WriteFile(cfg, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	applyOnce(t, root)
	now, _ := os.ReadFile(cfg)
	_, backupErr := os.Stat(cfg + EditedSuffix)
	if !strings.Contains(string(now), "policy-reviewed.yaml") && backupErr != nil {
		t.Errorf("second setup --apply overwrote the admin's edited %s and kept no copy of the edits", ConfigPath)
	}
}

// Same for the profile script: a second apply should at least keep the
// edits aside, as undo does.
func TestReview_RerunApplyKeepsAdminEditsOfProfile(t *testing.T) {
	root := t.TempDir()
	applyOnce(t, root)
	prof := filepath.Join(root, ProfilePath)
	if err := os.WriteFile(prof, []byte("export HF_ENDPOINT=http://gpu01:8080\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	applyOnce(t, root)
	now, _ := os.ReadFile(prof)
	_, backupErr := os.Stat(prof + EditedSuffix)
	if !strings.Contains(string(now), "gpu01") && backupErr != nil {
		t.Errorf("second setup --apply overwrote the admin's edited %s and kept no copy", ProfilePath)
	}
}

// Running apply twice and undoing once must leave the tree as it was.
func TestReviewApplyTwiceThenUndoRestores(t *testing.T) {
	root := t.TempDir()
	mkfile(t, filepath.Join(root, ProfilePath), "# admin's own\n", 0o640)
	before := snapshotTree(t, root)
	applyOnce(t, root)
	applyOnce(t, root)
	if err := Undo(context.Background(), root, io.Discard); err != nil {
		t.Fatal(err)
	}
	after := snapshotTree(t, root)
	// Restoring rewrites the file, so compare content and mode, not mtime.
	for k, v := range before {
		if strings.Fields(after[k])[0] != strings.Fields(v)[0] {
			t.Errorf("%s: mode %s before, %s after", k, v, after[k])
		}
	}
	got, _ := os.ReadFile(filepath.Join(root, ProfilePath))
	if string(got) != "# admin's own\n" {
		t.Errorf("profile not restored: %q", got)
	}
}

// The manifest is written 0600 and the files 0644.
func TestReviewModes(t *testing.T) {
	root := t.TempDir()
	applyOnce(t, root)
	for rel, want := range map[string]os.FileMode{ManifestPath: 0o600, ProfilePath: 0o644, ConfigPath: 0o644, UnitPath: 0o644} {
		st, err := os.Stat(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %o, want %o", rel, st.Mode().Perm(), want)
		}
	}
}

// A manifest entry pointing at a file setup never writes is refused.
func TestReviewUndoRefusesForeignPath(t *testing.T) {
	root := t.TempDir()
	applyOnce(t, root)
	mf := filepath.Join(root, ManifestPath)
	var m manifest
	b, _ := os.ReadFile(mf)
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m.Files[0].Path = filepath.Join(root, "etc/shadow")
	b, _ = json.Marshal(m)
	os.WriteFile(mf, b, 0o600)
	if err := Undo(context.Background(), root, io.Discard); err == nil || !strings.Contains(err.Error(), "never writes") {
		t.Errorf("undo with a foreign path: %v", err)
	}
}

// The manifest's guard entries are not validated: undo runs whatever
// "python" the manifest names (as root). Under --root the tree (and so the
// manifest) may belong to someone else. Undo should only act on guards
// for interpreters that exist under the root, or at least refuse a manifest
// that root does not own / that others can write.
func TestReview_UndoRunsAnyProgramNamedInManifest(t *testing.T) {
	root := t.TempDir()
	applyOnce(t, root)
	outside := t.TempDir()
	marker := filepath.Join(outside, "ran")
	prog := filepath.Join(outside, "not-python")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\ntouch "+marker+"\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	mf := filepath.Join(root, ManifestPath)
	var m manifest
	b, _ := os.ReadFile(mf)
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m.Guards = append(m.Guards, guardRecord{Python: prog})
	b, _ = json.Marshal(m)
	os.WriteFile(mf, b, 0o600)
	Undo(context.Background(), root, io.Discard)
	if _, err := os.Stat(marker); err == nil {
		t.Errorf("undo executed %s, named only by the manifest and outside --root %s", prog, root)
	}
}

// Under --root, a folder on the way to a file that is a symlink leading
// outside the root makes apply write outside the root.
func TestReview_ApplyFollowsSymlinkedFolderOutOfRoot(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "etc/profile.d")); err != nil {
		t.Fatal(err)
	}
	p, err := NewPlan(context.Background(), opts(root))
	if err != nil {
		t.Fatal(err)
	}
	p.Apply(context.Background(), io.Discard)
	if _, err := os.Stat(filepath.Join(outside, "safehub.sh")); err == nil {
		t.Errorf("apply under --root %s wrote %s/safehub.sh through a symlinked folder", root, outside)
	}
}

// A final-component symlink is refused, not followed.
func TestReviewApplyRefusesSymlinkedFile(t *testing.T) {
	root := t.TempDir()
	outside := filepath.Join(t.TempDir(), "target")
	os.WriteFile(outside, []byte("x"), 0o644)
	os.MkdirAll(filepath.Join(root, "etc/profile.d"), 0o755)
	os.Symlink(outside, filepath.Join(root, ProfilePath))
	p, err := NewPlan(context.Background(), opts(root))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Apply(context.Background(), io.Discard); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("apply over a symlink: %v", err)
	}
	if b, _ := os.ReadFile(outside); string(b) != "x" {
		t.Errorf("symlink target changed: %q", b)
	}
}
