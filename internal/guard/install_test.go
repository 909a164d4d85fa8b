package guard

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// realPython returns python3 for byte-compiling (the .pyc format is the
// interpreter's own, so there is nothing to fake).
func realPython(t *testing.T) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("these tests byte-compile with a real python3; install one (apt-get install python3): %v", err)
	}
	return py
}

// fakeBase lays out a Debian-like base interpreter under a temp dir: the
// stdlib sitecustomize.py is a symlink to etc/python3.11/sitecustomize.py,
// with an existing timestamp .pyc next to it.
func fakeBase(t *testing.T) (*Interp, string) {
	t.Helper()
	root := t.TempDir()
	stdlib := filepath.Join(root, "lib", "python3.11")
	etc := filepath.Join(root, "etc", "python3.11")
	for _, d := range []string{filepath.Join(stdlib, "__pycache__"), etc} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(etc, "sitecustomize.py"), "# apport hook\ntry:\n    import apport_python_hook\nexcept ImportError:\n    pass")
	if err := os.Symlink(filepath.Join(etc, "sitecustomize.py"), filepath.Join(stdlib, "sitecustomize.py")); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(stdlib, "__pycache__", "sitecustomize.cpython-311.pyc"), "old pyc bytes")
	in := &Interp{
		Executable: realPython(t), Version: [2]int{3, 11}, CacheTag: "cpython-311",
		Prefix: root, BasePrefix: root, StdlibDir: stdlib,
		Sitecustomize: filepath.Join(stdlib, "sitecustomize.py"),
	}
	return in, root
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// tree maps every path under root to its type, mode, content hash (or link
// target) and modification time.
func tree(t *testing.T, root string) map[string]string {
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
		out[p] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func diffTrees(a, b map[string]string) []string {
	var d []string
	for k, v := range a {
		if b[k] != v {
			d = append(d, k+": "+v+" => "+b[k])
		}
	}
	for k, v := range b {
		if _, ok := a[k]; !ok {
			d = append(d, k+": (absent) => "+v)
		}
	}
	return d
}

func newTestInstaller(t *testing.T, in *Interp) *Installer {
	t.Helper()
	l, err := PlanLayout(in, filepath.EvalSymlinks)
	if err != nil {
		t.Fatal(err)
	}
	return &Installer{Interp: in, Layout: l, Compile: PythonCompiler}
}

func TestInstallAppendsToDebianSitecustomizeAndUninstallRestoresExactly(t *testing.T) {
	in, root := fakeBase(t)
	x := newTestInstaller(t, in)
	if x.Layout.Kind != HookEdit || !strings.HasSuffix(x.Layout.HookFile, "etc/python3.11/sitecustomize.py") {
		t.Fatalf("layout: %+v", x.Layout)
	}
	before := tree(t, root)
	ctx := context.Background()
	if err := x.Install(ctx, "warn"); err != nil {
		t.Fatal(err)
	}
	sc, _ := os.ReadFile(x.Layout.HookFile)
	if !strings.HasPrefix(string(sc), blockBegin) || !strings.HasSuffix(string(sc), "\n# apport hook\ntry:\n    import apport_python_hook\nexcept ImportError:\n    pass") ||
		!strings.Contains(string(sc), `_sg._boot("warn")`) {
		t.Fatalf("sitecustomize after install:\n%s", sc)
	}
	if fi, err := os.Lstat(filepath.Join(in.StdlibDir, "sitecustomize.py")); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("the stdlib symlink must stay a symlink: %v %v", fi, err)
	}
	for _, p := range append(pycPaths(filepath.Join(in.StdlibDir, "sitecustomize.py"), "cpython-311"),
		filepath.Join(x.Layout.PackageDir(), "__init__.py"),
		filepath.Join(x.Layout.PackageDir(), "__pycache__", "__init__.cpython-311.opt-2.pyc")) {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("missing after install: %v", err)
		}
	}
	once := tree(t, root)
	if err := x.Install(ctx, "warn"); err != nil {
		t.Fatal(err)
	}
	if d := diffTrees(once, tree(t, root)); len(d) > 0 {
		t.Errorf("second install changed files:\n%s", strings.Join(d, "\n"))
	}
	if err := x.Uninstall(ctx); err != nil {
		t.Fatal(err)
	}
	if d := diffTrees(before, tree(t, root)); len(d) > 0 {
		t.Errorf("uninstall left traces:\n%s", strings.Join(d, "\n"))
	}
	if err := x.Uninstall(ctx); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("second uninstall: %v, want ErrNotInstalled", err)
	}
}

func TestInstallCreatesChainingSitecustomizeWhenNoneInStdlib(t *testing.T) {
	in, root := fakeBase(t)
	os.Remove(filepath.Join(in.StdlibDir, "sitecustomize.py"))
	in.Sitecustomize = filepath.Join(root, "site-packages", "sitecustomize.py")
	x := newTestInstaller(t, in)
	if x.Layout.Kind != HookCreate {
		t.Fatalf("kind %s", x.Layout.Kind)
	}
	before := tree(t, root)
	if err := x.Install(context.Background(), "block"); err != nil {
		t.Fatal(err)
	}
	sc, _ := os.ReadFile(filepath.Join(in.StdlibDir, "sitecustomize.py"))
	if !strings.HasPrefix(string(sc), blockBegin) || !strings.Contains(string(sc), "PathFinder.find_spec(\"sitecustomize\"") {
		t.Fatalf("created sitecustomize:\n%s", sc)
	}
	if err := x.Uninstall(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := diffTrees(before, tree(t, root)); len(d) > 0 {
		t.Errorf("uninstall left traces:\n%s", strings.Join(d, "\n"))
	}
}

func TestUninstallKeepsOthersChangesToSitecustomize(t *testing.T) {
	in, _ := fakeBase(t)
	x := newTestInstaller(t, in)
	ctx := context.Background()
	if err := x.Install(ctx, "block"); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(x.Layout.HookFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("import admin_extra\n")
	f.Close()
	if err := x.Uninstall(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(x.Layout.HookFile)
	if strings.Contains(string(got), "safehub") || !strings.Contains(string(got), "import admin_extra") ||
		!strings.HasPrefix(string(got), "# apport hook\n") {
		t.Fatalf("after uninstall:\n%s", got)
	}
}

func TestVenvInstallUsesPthInSitePackages(t *testing.T) {
	root := t.TempDir()
	sp := filepath.Join(root, "venv", "lib", "python3.11", "site-packages")
	if err := os.MkdirAll(sp, 0o755); err != nil {
		t.Fatal(err)
	}
	in := &Interp{Executable: realPython(t), Version: [2]int{3, 11}, CacheTag: "cpython-311",
		Prefix: filepath.Join(root, "venv"), BasePrefix: "/usr", StdlibDir: "/usr/lib/python3.11", SitePackages: sp}
	x := newTestInstaller(t, in)
	if x.Layout.Kind != HookPth || x.Layout.HookFile != filepath.Join(sp, PthName) ||
		!strings.HasPrefix(x.Layout.GuardDir, filepath.Join(root, "venv")) {
		t.Fatalf("layout: %+v", x.Layout)
	}
	before := tree(t, root)
	if err := x.Install(context.Background(), "audit"); err != nil {
		t.Fatal(err)
	}
	pth, err := os.ReadFile(x.Layout.HookFile)
	if err != nil || !strings.HasPrefix(string(pth), "import sys; exec(") || !strings.Contains(string(pth), `\"audit\"`) {
		t.Fatalf(".pth: %q %v", pth, err)
	}
	if err := x.Uninstall(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := diffTrees(before, tree(t, root)); len(d) > 0 {
		t.Errorf("uninstall left traces:\n%s", strings.Join(d, "\n"))
	}
}

func TestInstallRefusesGroupWritableParentAndBadMode(t *testing.T) {
	in, root := fakeBase(t)
	x := newTestInstaller(t, in)
	if err := x.Install(context.Background(), "off"); err == nil {
		t.Fatal("mode off must be refused (use uninstall)")
	}
	if err := os.Chmod(filepath.Join(root, "lib"), 0o777); err != nil {
		t.Fatal(err)
	}
	err := x.Install(context.Background(), "block")
	if !errors.Is(err, ErrInsecureDir) {
		t.Fatalf("got %v, want ErrInsecureDir", err)
	}
	if _, err := os.Stat(x.Layout.GuardDir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("nothing may be written after a refusal: %v", err)
	}
}

func TestProbeRealPython(t *testing.T) {
	in, err := Probe(context.Background(), realPython(t))
	if err != nil {
		t.Fatal(err)
	}
	if in.Version[0] != 3 || !strings.HasPrefix(in.CacheTag, "cpython-3") || !filepath.IsAbs(in.StdlibDir) {
		t.Fatalf("probe: %+v", in)
	}
	if _, err := Probe(context.Background(), "/nonexistent/python3"); err == nil {
		t.Fatal("probing a missing interpreter must fail")
	}
}
