package setup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/safehub/safehub/internal/config"
)

// snapshotTree maps every path under root to its type, mode and content
// hash (or link target): two equal snapshots mean nothing changed.
func snapshotTree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		st, err := os.Lstat(p)
		if err != nil {
			return err
		}
		v := st.Mode().String()
		switch {
		case st.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			v += " -> " + target
		case st.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			sum := sha256.Sum256(b)
			v += " " + hex.EncodeToString(sum[:8]) + " " + st.ModTime().String()
		}
		out[strings.TrimPrefix(p, root)] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func diffTrees(t *testing.T, before, after map[string]string) {
	t.Helper()
	for k, v := range before {
		if after[k] != v {
			t.Errorf("changed or gone: %s\n  before %s\n  after  %s", k, v, after[k])
		}
	}
	for k, v := range after {
		if _, ok := before[k]; !ok {
			t.Errorf("left behind: %s (%s)", k, v)
		}
	}
}

func mkfile(t *testing.T, path, content string, perm fs.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), perm); err != nil {
		t.Fatal(err)
	}
}

// opts are options for a root without interpreters: the file part alone.
func opts(root string) Options {
	return Options{Root: root, PathEnv: "/nonexistent-path-dir", Binary: "/usr/local/bin/safehub"}
}

func TestPlanChangesNothing(t *testing.T) {
	root := t.TempDir()
	before := snapshotTree(t, root)
	p, err := NewPlan(context.Background(), opts(root))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	p.Print(&out, false)
	diffTrees(t, before, snapshotTree(t, root))
	for _, want := range []string{"write /etc/profile.d/safehub.sh", "write /etc/safehub/config.yaml",
		"write /etc/systemd/system/safehub.service", "HF_ENDPOINT=http://127.0.0.1:8080",
		"no python3 in", "Nothing was changed. Run again with --apply", "/usr/local/bin/safehub does not exist yet"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("plan lacks %q:\n%s", want, out.String())
		}
	}
}

func TestApplyWritesFilesAndUndoRestores(t *testing.T) {
	root := t.TempDir()
	// What an admin had before: an old profile script (to be restored) and
	// an unrelated file in profile.d (to be left alone).
	mkfile(t, filepath.Join(root, ProfilePath), "export HF_ENDPOINT=http://old:1\n", 0o640)
	mkfile(t, filepath.Join(root, "etc/profile.d/other.sh"), "echo hi\n", 0o644)
	before := snapshotTree(t, root)

	o := opts(root)
	o.Listen, o.Endpoint = "0.0.0.0:8080", "http://gpu01.lab:8080"
	p, err := NewPlan(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	if err := p.Apply(context.Background(), &log); err != nil {
		t.Fatal(err)
	}
	profile := read(t, filepath.Join(root, ProfilePath))
	for _, want := range []string{"export HF_ENDPOINT='http://gpu01.lab:8080'", "export HF_HUB_DISABLE_XET=1", "export DISABLE_SAFETENSORS_CONVERSION=1"} {
		if !strings.Contains(profile, want) {
			t.Errorf("profile lacks %q:\n%s", want, profile)
		}
	}
	// The profile script must be valid sh that sets what it says.
	out, err := exec.Command("sh", "-c", ". "+filepath.Join(root, ProfilePath)+" && echo $HF_ENDPOINT $HF_HUB_DISABLE_XET $DISABLE_SAFETENSORS_CONVERSION").Output()
	if err != nil || strings.TrimSpace(string(out)) != "http://gpu01.lab:8080 1 1" {
		t.Errorf("sourcing the profile gave %q, %v", out, err)
	}
	cfg, err := config.Load(filepath.Join(root, ConfigPath))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "0.0.0.0:8080" || cfg.CacheDir != ServiceCacheDir || cfg.AuditLog.Path != ServiceAuditLog || cfg.AdminListen != DefaultAdmin {
		t.Errorf("config: %+v", cfg)
	}
	unit := read(t, filepath.Join(root, UnitPath))
	for _, want := range []string{"ExecStart=/usr/local/bin/safehub serve --config /etc/safehub/config.yaml",
		"DynamicUser=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "NoNewPrivileges=yes",
		"CacheDirectory=safehub", "SystemCallFilter=@system-service", "CapabilityBoundingSet=\n"} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q", want)
		}
	}
	if st, err := os.Stat(manifestFile(root)); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("manifest: %v %v", st, err)
	}

	// Applying again converges, and keeps the first run's originals.
	p2, err := NewPlan(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if err := p2.Apply(context.Background(), &log); err != nil {
		t.Fatal(err)
	}
	// The admin edits the config after setup: undo must not lose the edit.
	cfgPath := filepath.Join(root, ConfigPath)
	mkfile(t, cfgPath, read(t, cfgPath)+"cache_max: 100G\n", 0o644)

	log.Reset()
	if err := Undo(context.Background(), root, &log); err != nil {
		t.Fatal(err)
	}
	if got := read(t, cfgPath+EditedSuffix); !strings.Contains(got, "cache_max: 100G") {
		t.Errorf("the admin's edit was not kept aside: %q", got)
	}
	// Undo leaves the folder that still holds the kept edit; once the admin
	// has dealt with it, nothing of setup remains.
	if err := os.Remove(cfgPath + EditedSuffix); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Dir(cfgPath)); err != nil {
		t.Fatal(err)
	}
	// The restored profile has its old bytes and mode.
	diffTrees(t, stripTimes(before), stripTimes(snapshotTree(t, root)))
	if !strings.Contains(log.String(), "restored /etc/profile.d/safehub.sh") {
		t.Errorf("undo log: %s", log.String())
	}
	if err := Undo(context.Background(), root, &log); !errors.Is(err, ErrNothingToUndo) {
		t.Errorf("second undo: %v", err)
	}
}

// stripTimes drops modification times: a restored file is rewritten.
func stripTimes(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if i := strings.Index(v, " 20"); i > 0 && !strings.Contains(v, "->") {
			v = v[:i]
		}
		out[k] = v
	}
	return out
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestExistingConfigIsKept(t *testing.T) {
	root := t.TempDir()
	mine := "listen: 127.0.0.1:7000\nupstrem: x\n"
	mkfile(t, filepath.Join(root, ConfigPath), mine, 0o644)
	p, err := NewPlan(context.Background(), opts(root))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	p.Print(&out, true)
	if !strings.Contains(out.String(), "keep  /etc/safehub/config.yaml") || !strings.Contains(out.String(), `unknown key "upstrem"`) {
		t.Errorf("plan should keep the config and warn about it:\n%s", out.String())
	}
	if err := p.Apply(context.Background(), &out); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(root, ConfigPath)); got != mine {
		t.Errorf("config overwritten: %q", got)
	}
	if err := Undo(context.Background(), root, &out); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(root, ConfigPath)); got != mine {
		t.Errorf("undo touched the admin's config: %q", got)
	}
}

func TestUndoRefusesForeignManifestPaths(t *testing.T) {
	root := t.TempDir()
	m := &manifest{Version: manifestVersion, Files: []fileRecord{{Path: "/etc/passwd", Existed: true, Original: []byte("x")}}}
	if err := os.MkdirAll(filepath.Dir(manifestFile(root)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := m.save(root); err != nil {
		t.Fatal(err)
	}
	err := Undo(context.Background(), root, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "setup never writes") {
		t.Fatalf("a manifest naming /etc/passwd was acted on: %v", err)
	}
}

func TestPrivilegedPortGetsOnlyBindCapability(t *testing.T) {
	u := unitFile("/usr/local/bin/safehub", "0.0.0.0:80")
	if !strings.Contains(u, "CapabilityBoundingSet=CAP_NET_BIND_SERVICE\n") || !strings.Contains(u, "AmbientCapabilities=CAP_NET_BIND_SERVICE\n") {
		t.Errorf("port 80 without the bind capability:\n%s", u)
	}
	if u := unitFile("/usr/local/bin/safehub", "127.0.0.1:8080"); strings.Contains(u, "CAP_NET_BIND_SERVICE") {
		t.Error("port 8080 got a capability it does not need")
	}
}

// systemd itself reads the unit: no unknown or misspelt directive.
func TestUnitPassesSystemdAnalyze(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatalf("this test checks the unit with systemd-analyze; install it: apt-get install systemd (%v)", err)
	}
	for _, listen := range []string{"127.0.0.1:8080", "0.0.0.0:443"} {
		dir := t.TempDir()
		unit := filepath.Join(dir, "safehub.service")
		// ExecStart must name a file that exists for verify to pass.
		mkfile(t, unit, unitFile("/bin/true", listen), 0o644)
		out, err := exec.Command(sa, "verify", unit).CombinedOutput()
		if err != nil || strings.Contains(string(out), "Unknown") || strings.Contains(string(out), "ignoring") {
			t.Errorf("systemd-analyze verify (%s): %v\n%s", listen, err, out)
		}
	}
}

func TestEndpointFor(t *testing.T) {
	for in, want := range map[string]string{"0.0.0.0:8080": "http://127.0.0.1:8080", ":9000": "http://127.0.0.1:9000",
		"10.0.0.5:8080": "http://10.0.0.5:8080", "[::]:8080": "http://127.0.0.1:8080", "[::1]:8080": "http://[::1]:8080"} {
		if got := endpointFor(in); got != want {
			t.Errorf("endpointFor(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBadOptions(t *testing.T) {
	root := t.TempDir()
	for _, o := range []Options{
		{Root: root, Endpoint: "gpu01:8080"},
		{Root: root, Binary: "safehub"},
		{Root: root, GuardMode: "loud"},
		{Root: filepath.Join(root, "missing")},
		{Root: root, Listen: "8080"},
	} {
		if _, err := NewPlan(context.Background(), o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

// Interpreters setup does not own are listed with the command for each;
// system ones are not listed twice.
func TestUnreachedInterpretersListed(t *testing.T) {
	root := t.TempDir()
	exe := "#!/bin/sh\nexit 1\n"
	mkfile(t, filepath.Join(root, "opt/conda/bin/python3"), exe, 0o755)
	mkfile(t, filepath.Join(root, "home/ann/.local/share/uv/python/cpython-3.12/bin/python3"), exe, 0o755)
	mkfile(t, filepath.Join(root, "home/bob/tools/python3"), exe, 0o755)
	mkfile(t, filepath.Join(root, "home/bob/.pyenv/shims/python3"), exe, 0o755)
	mkfile(t, filepath.Join(root, "usr/bin/python3-config"), exe, 0o755)
	got := findOthers(root, "/home/bob/tools:/home/bob/.pyenv/shims:/usr/bin", nil)
	var paths []string
	for _, u := range got {
		paths = append(paths, strings.TrimPrefix(u.Path, root))
	}
	want := []string{"/home/bob/tools/python3", "/opt/conda/bin/python3", "/home/ann/.local/share/uv/python/cpython-3.12/bin/python3"}
	if !reflect.DeepEqual(paths, want) {
		t.Errorf("listed %v, want %v", paths, want)
	}
	if len(got) > 1 && (got[1].Reason != "conda environment" || got[1].Command() != "safehub guard install --python "+got[1].Path) {
		t.Errorf("conda entry: %+v %s", got[1], got[1].Command())
	}
	if s := findSystem(root); len(s) != 0 {
		t.Errorf("python3-config taken for an interpreter: %v", s)
	}
	if w := shellWord("/opt/my envs/python3"); w != "'/opt/my envs/python3'" {
		t.Errorf("shellWord = %s", w)
	}
}
