package guard

import (
	"fmt"
	"path/filepath"
)

// HookKind says how start-up reaches the guard.
type HookKind string

const (
	// HookEdit: the stdlib dir already has a sitecustomize.py (Debian's
	// symlink to /etc/python3.X/sitecustomize.py included); the block goes
	// into the file it resolves to.
	HookEdit HookKind = "edit-sitecustomize"
	// HookCreate: no stdlib-dir sitecustomize; we create one that also runs
	// the next sitecustomize on sys.path (one in site-packages, if any).
	HookCreate HookKind = "create-sitecustomize"
	// HookPth: a venv; a .pth file in its site-packages reaches that venv only.
	HookPth HookKind = "venv-pth"
)

// PthName is the venv hook file. No leading dot: recent Pythons skip hidden .pth files.
const PthName = "safehub-guard.pth"

// Layout is where an install puts things, derived from an Interp.
type Layout struct {
	Kind HookKind
	// HookFile is the file that carries the hook, symlinks resolved (the one
	// edited); HookImportPath is the same file as start-up imports it (its
	// .pyc lives next to this path). Both are the .pth file for HookPth.
	HookFile       string
	HookImportPath string
	// RootDir is <prefix>/lib/safehub-guard (or /usr/local/lib/safehub-guard
	// for a /usr interpreter); GuardDir, one per Python X.Y, holds the
	// package and the manifest, outside sys.path.
	RootDir  string
	GuardDir string
}

// PackageDir is where the safehub_guard package goes.
func (l Layout) PackageDir() string { return filepath.Join(l.GuardDir, PackageName) }

// ManifestPath is the install record.
func (l Layout) ManifestPath() string { return filepath.Join(l.GuardDir, "manifest.json") }

// PlanLayout decides where an install into in goes. realpath resolves
// symlinks (filepath.EvalSymlinks in production; tests may pass their own).
func PlanLayout(in *Interp, realpath func(string) (string, error)) (Layout, error) {
	var l Layout
	ver := "python" + in.VersionString()
	if in.IsVenv() {
		l.Kind = HookPth
		l.HookFile = filepath.Join(in.SitePackages, PthName)
		l.HookImportPath = l.HookFile
		l.RootDir = filepath.Join(in.Prefix, "lib", "safehub-guard")
		l.GuardDir = filepath.Join(l.RootDir, ver)
		return l, nil
	}
	// Debian and friends: keep out of /usr/lib, which belongs to the package manager.
	if filepath.Clean(in.BasePrefix) == "/usr" {
		l.RootDir = "/usr/local/lib/safehub-guard"
	} else {
		l.RootDir = filepath.Join(in.BasePrefix, "lib", "safehub-guard")
	}
	l.GuardDir = filepath.Join(l.RootDir, ver)
	stdlibSC := filepath.Join(in.StdlibDir, "sitecustomize.py")
	l.HookImportPath = stdlibSC
	if in.Sitecustomize != "" && filepath.Clean(in.Sitecustomize) == stdlibSC {
		real, err := realpath(stdlibSC)
		if err != nil {
			return l, fmt.Errorf("resolve %s: %w", stdlibSC, err)
		}
		l.Kind = HookEdit
		l.HookFile = real
		return l, nil
	}
	l.Kind = HookCreate
	l.HookFile = stdlibSC
	return l, nil
}

// pycPaths lists the byte-code files the interpreter reads for source, at
// optimisation levels 0, 1 and 2 (PEP 3147 / PEP 488 names).
func pycPaths(source, cacheTag string) []string {
	dir, base := filepath.Split(source)
	stem := base[:len(base)-len(filepath.Ext(base))]
	cache := filepath.Join(dir, "__pycache__")
	return []string{
		filepath.Join(cache, stem+"."+cacheTag+".pyc"),
		filepath.Join(cache, stem+"."+cacheTag+".opt-1.pyc"),
		filepath.Join(cache, stem+"."+cacheTag+".opt-2.pyc"),
	}
}
