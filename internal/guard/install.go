package guard

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/safehub/safehub/internal/fsutil"
)

// Modes accepted by --mode (SAFEHUB_GUARD=off exists too, but an install
// that does nothing is an uninstall).
var Modes = []string{"block", "warn", "audit"}

// ErrNotInstalled is returned by Uninstall when there is nothing to remove.
var ErrNotInstalled = errors.New("safehub guard is not installed")

// Installer installs into one interpreter.
type Installer struct {
	Interp  *Interp
	Layout  Layout
	Compile Compiler  // PythonCompiler unless a test says otherwise
	Log     io.Writer // progress notes for the user; may be nil
}

// NewInstaller probes python and plans the layout.
func NewInstaller(ctx context.Context, python string, log io.Writer) (*Installer, error) {
	in, err := Probe(ctx, python)
	if err != nil {
		return nil, err
	}
	l, err := PlanLayout(in, filepath.EvalSymlinks)
	if err != nil {
		return nil, err
	}
	return &Installer{Interp: in, Layout: l, Compile: PythonCompiler, Log: log}, nil
}

func (x *Installer) logf(format string, args ...any) {
	if x.Log != nil {
		fmt.Fprintf(x.Log, format+"\n", args...)
	}
}

func validMode(mode string) bool {
	for _, m := range Modes {
		if m == mode {
			return true
		}
	}
	return false
}

// Install writes the package and the hook, byte-compiles them, and records
// it all in the manifest. Running it again converges on the same files
// (a changed --mode or a newer embedded package is applied; originals stay
// those from before the first install).
func (x *Installer) Install(ctx context.Context, mode string) error {
	if !validMode(mode) {
		return fmt.Errorf("mode %q: want one of %s", mode, strings.Join(Modes, ", "))
	}
	l, in := x.Layout, x.Interp
	// A base install runs in every user's Python, so nobody else may be able
	// to swap its files. A venv's guard is as exposed as the venv itself
	// (root may install into a user's venv), so it gets no such check.
	if l.Kind != HookPth {
		if err := checkSecureDir(l.GuardDir); err != nil {
			return err
		}
	}
	m, err := loadManifest(l.ManifestPath())
	switch {
	case errors.Is(err, fs.ErrNotExist):
		m = &Manifest{Version: manifestVersion}
	case err != nil:
		return err
	}
	m.Python, m.Kind, m.Mode, m.HookFile = in.Executable, l.Kind, mode, l.HookFile

	names, files, err := packageFiles()
	if err != nil {
		return err
	}
	// Phase 1: directories, and the state of every file before we touch it.
	if err := fsutil.MkdirAllRecorded(l.PackageDir(), &m.CreatedDir); err != nil {
		return fmt.Errorf("create %s: %w", l.PackageDir(), err)
	}
	var jobs []compileJob
	var targets []string
	for _, n := range names {
		p := filepath.Join(l.PackageDir(), n)
		targets = append(targets, p)
		jobs = append(jobs, jobsFor(p, in.CacheTag)...)
	}
	targets = append(targets, l.HookFile)
	if l.Kind != HookPth {
		jobs = append(jobs, jobsFor(l.HookImportPath, in.CacheTag)...)
	}
	for _, j := range jobs {
		if err := fsutil.MkdirAllRecorded(filepath.Dir(j.Pyc), &m.CreatedDir); err != nil {
			return err
		}
		targets = append(targets, j.Pyc)
	}
	for _, t := range targets {
		if err := m.remember(t); err != nil {
			return err
		}
	}
	if err := m.save(l.ManifestPath()); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}

	// Phase 2: write.
	for _, n := range names {
		if err := writeIfChanged(filepath.Join(l.PackageDir(), n), files[n]); err != nil {
			return err
		}
	}
	if err := x.writeHook(m, mode); err != nil {
		return err
	}
	if err := x.Compile(ctx, in.Executable, jobs); err != nil {
		return err
	}
	if err := m.save(l.ManifestPath()); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	x.logf("installed safehub guard (mode %s) for %s (Python %s)", mode, in.Executable, in.VersionString())
	x.logf("  hook:    %s (%s)", l.HookFile, l.Kind)
	x.logf("  package: %s", l.PackageDir())
	return nil
}

func (x *Installer) writeHook(m *Manifest, mode string) error {
	l := x.Layout
	rec := m.record(l.HookFile)
	if l.Kind == HookPth {
		return writeIfChanged(l.HookFile, []byte(pthLine(l.GuardDir, mode)))
	}
	cur, err := os.ReadFile(l.HookFile)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	base, _ := stripBlock(cur)
	if !rec.Created && !bytes.Equal(base, rec.Original) {
		// The file changed since the first install (a Python package
		// upgrade replaced it, say): what is there now, without our block,
		// is what uninstall must leave.
		fresh, err := snapshot(l.HookFile)
		if err != nil {
			return err
		}
		fresh.Original = base
		*rec = fresh
		x.logf("note: %s changed since the guard was installed; keeping its new contents", l.HookFile)
	}
	block := sitecustomizeBlock(l.GuardDir, mode, l.Kind == HookCreate)
	return writeIfChanged(l.HookFile, insertBlock(base, block))
}

// writeIfChanged writes data (mode 0644 for new files) unless path holds it already.
func writeIfChanged(path string, data []byte) error {
	if cur, err := os.ReadFile(path); err == nil && bytes.Equal(cur, data) {
		return nil
	}
	return writeFileAtomic(path, data, 0o644)
}

// Uninstall removes what Install wrote and restores what it changed.
func (x *Installer) Uninstall(ctx context.Context) error {
	l := x.Layout
	m, err := loadManifest(l.ManifestPath())
	if errors.Is(err, fs.ErrNotExist) {
		return x.uninstallWithoutManifest()
	}
	if err != nil {
		return err
	}
	var errs []error
	for i := len(m.Files) - 1; i >= 0; i-- {
		rec := m.Files[i]
		if rec.Path == m.HookFile && m.Kind != HookPth {
			errs = append(errs, x.unhook(rec))
			continue
		}
		errs = append(errs, undoFile(rec))
	}
	if err := errors.Join(errs...); err != nil {
		return err // keep the manifest: a second run can finish the job
	}
	if err := os.Remove(l.ManifestPath()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for i := len(m.CreatedDir) - 1; i >= 0; i-- {
		d := m.CreatedDir[i]
		if d == l.GuardDir || strings.HasPrefix(d, l.GuardDir+string(filepath.Separator)) {
			// Ours alone: also drop byte-code another Python may have left.
			errs = append(errs, os.RemoveAll(d))
			continue
		}
		if err := os.Remove(d); err != nil && !errors.Is(err, fs.ErrNotExist) {
			x.logf("note: left %s in place (%v)", d, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	x.logf("removed safehub guard from %s", x.Interp.Executable)
	return nil
}

// undoFile deletes a file we created or restores one we changed.
func undoFile(rec FileRecord) error {
	if rec.Created {
		if err := os.Remove(rec.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	return restoreFile(rec)
}

// unhook takes our block out of the sitecustomize. If nothing else changed
// the file, the original bytes and metadata come back exactly; otherwise
// only the block goes, and the other changes stay.
func (x *Installer) unhook(rec FileRecord) error {
	cur, err := os.ReadFile(rec.Path)
	if errors.Is(err, fs.ErrNotExist) {
		if !rec.Created {
			x.logf("note: %s is gone; not recreating it", rec.Path)
		}
		return nil
	}
	if err != nil {
		return err
	}
	base, _ := stripBlock(cur)
	switch {
	case rec.Created && len(bytes.TrimSpace(base)) == 0:
		return os.Remove(rec.Path)
	case rec.Created:
		x.logf("note: %s has other code now; removed only the safehub block", rec.Path)
		return writeFileAtomic(rec.Path, base, 0o644)
	case bytes.Equal(base, rec.Original):
		return restoreFile(rec)
	default:
		x.logf("note: %s changed since install; removed only the safehub block", rec.Path)
		return writeFileAtomic(rec.Path, base, rec.Perm)
	}
}

// uninstallWithoutManifest handles a lost manifest: take a block out of the
// hook file if one is there, and say so.
func (x *Installer) uninstallWithoutManifest() error {
	l := x.Layout
	cur, err := os.ReadFile(l.HookFile)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return ErrNotInstalled
		}
		return err
	}
	if l.Kind == HookPth {
		if err := os.Remove(l.HookFile); err != nil {
			return err
		}
	} else {
		base, found := stripBlock(cur)
		if !found {
			return ErrNotInstalled
		}
		if err := writeFileAtomic(l.HookFile, base, 0o644); err != nil {
			return err
		}
	}
	x.logf("no manifest at %s: removed the hook from %s only", l.ManifestPath(), l.HookFile)
	return os.RemoveAll(l.GuardDir)
}
