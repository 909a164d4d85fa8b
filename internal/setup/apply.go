package setup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/safehub/safehub/internal/fsutil"
	"github.com/safehub/safehub/internal/guard"
)

// EditedSuffix is added to a file changed by hand after setup wrote it,
// when undo puts the original back: the admin's edits are kept aside.
const EditedSuffix = ".safehub-setup-edited"

// Apply does what the plan says. The manifest is saved before each change,
// so an interrupted Apply can still be undone.
func (p *Plan) Apply(ctx context.Context, log io.Writer) error {
	m, root := p.manifest, p.Opts.Root
	if err := m.mkdirRecorded(filepath.Dir(manifestFile(root))); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(manifestFile(root)), err)
	}
	if err := os.Chmod(filepath.Dir(manifestFile(root)), 0o755); err != nil {
		return err
	}
	for _, f := range p.Files {
		if f.Keep {
			fmt.Fprintf(log, "kept     %s\n", f.Rel)
			continue
		}
		if err := m.mkdirRecorded(filepath.Dir(f.Path)); err != nil {
			return fmt.Errorf("create folder for %s: %w", f.Rel, err)
		}
		if err := resolvesUnder(root, filepath.Dir(f.Path)); err != nil {
			return fmt.Errorf("write %s: %w", f.Rel, err)
		}
		if f.SetAside {
			if err := os.Rename(f.Path, f.Path+EditedSuffix); err != nil {
				return fmt.Errorf("keep your edits of %s: %w", f.Rel, err)
			}
			fmt.Fprintf(log, "kept     your edits of %s as %s\n", f.Rel, f.Rel+EditedSuffix)
		}
		if err := m.remember(f.Path, f.Content); err != nil {
			return err
		}
		if err := m.save(root); err != nil {
			return fmt.Errorf("write %s: %w", ManifestPath, err)
		}
		if err := fsutil.WriteAtomic(f.Path, f.Content, 0o644, nil); err != nil {
			return fmt.Errorf("write %s: %w", f.Rel, err)
		}
		fmt.Fprintf(log, "wrote    %s\n", f.Rel)
	}
	var errs []error
	for _, t := range p.Guards {
		if m.guard(t.Interp.Executable) == nil {
			m.Guards = append(m.Guards, guardRecord{Python: t.Interp.Executable, Preexisting: t.Preexisting})
			if err := m.save(root); err != nil {
				return fmt.Errorf("write %s: %w", ManifestPath, err)
			}
		}
		x, err := guard.NewInstaller(ctx, t.Path, log)
		if err == nil {
			err = x.Install(ctx, p.Opts.GuardMode)
		}
		if err != nil {
			// One interpreter failing must not leave the others unprotected.
			errs = append(errs, fmt.Errorf("guard install into %s: %w (retry: safehub guard install --python %s)", t.Path, err, t.Path))
		}
	}
	if err := m.save(root); err != nil {
		return fmt.Errorf("write %s: %w", ManifestPath, err)
	}
	return errors.Join(errs...)
}

// ErrNothingToUndo means no setup.json was found under the root.
var ErrNothingToUndo = errors.New("nothing to undo")

// Undo reverses every recorded change: guards it installed are removed,
// files are restored (or removed if setup created them), created folders
// are removed when empty. A file edited since setup wrote it is kept
// beside the restored one with EditedSuffix.
func Undo(ctx context.Context, root string, log io.Writer) error {
	if root == "" {
		root = "/"
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	m, err := loadManifest(root)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s does not exist (was setup --apply run with this --root?)", ErrNothingToUndo, manifestFile(root))
	}
	if err != nil {
		return err
	}
	var errs []error
	var keptGuards []guardRecord
	for _, g := range m.Guards {
		if g.Preexisting {
			fmt.Fprintf(log, "left     the guard in %s (it was there before setup)\n", g.Python)
			continue
		}
		if err := uninstallGuard(ctx, g.Python, log); err != nil {
			errs = append(errs, err)
			keptGuards = append(keptGuards, g)
		}
	}
	var keptFiles []fileRecord
	for i := len(m.Files) - 1; i >= 0; i-- {
		if err := undoFile(m.Files[i], root, log); err != nil {
			errs = append(errs, err)
			keptFiles = append([]fileRecord{m.Files[i]}, keptFiles...)
		}
	}
	if len(errs) > 0 {
		// Keep what is left to do, so a second undo finishes the job.
		m.Guards, m.Files = keptGuards, keptFiles
		if err := m.save(root); err != nil {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	}
	if err := os.Remove(manifestFile(root)); err != nil {
		return err
	}
	for i := len(m.Dirs) - 1; i >= 0; i-- {
		// Only empty folders go: systemd or an admin may have put files there since.
		if err := os.Remove(m.Dirs[i]); err == nil {
			fmt.Fprintf(log, "removed  %s/\n", rel(root, m.Dirs[i]))
		}
	}
	return nil
}

func uninstallGuard(ctx context.Context, python string, log io.Writer) error {
	x, err := guard.NewInstaller(ctx, python, log)
	if err != nil {
		return fmt.Errorf("guard uninstall from %s: %w (once it runs again: safehub guard uninstall --python %s)", python, err, python)
	}
	err = x.Uninstall(ctx)
	if errors.Is(err, guard.ErrNotInstalled) {
		fmt.Fprintf(log, "guard    not installed in %s; nothing to remove\n", python)
		return nil
	}
	if err != nil {
		return fmt.Errorf("guard uninstall from %s: %w", python, err)
	}
	return nil
}

func undoFile(rec fileRecord, root string, log io.Writer) error {
	name := rel(root, rec.Path)
	if err := resolvesUnder(root, filepath.Dir(rec.Path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("undo %s: %w", name, err)
	}
	cur, err := os.ReadFile(rec.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		cur = nil
	case err != nil:
		return err
	case digest(cur) != rec.Written && !(rec.Existed && bytes.Equal(cur, rec.Original)):
		if err := os.Rename(rec.Path, rec.Path+EditedSuffix); err != nil {
			return err
		}
		fmt.Fprintf(log, "kept     your edits of %s as %s\n", name, name+EditedSuffix)
		cur = nil
	}
	if rec.Existed {
		if err := fsutil.WriteAtomic(rec.Path, rec.Original, rec.Perm, nil); err != nil {
			return fmt.Errorf("restore %s: %w", name, err)
		}
		fmt.Fprintf(log, "restored %s\n", name)
		return nil
	}
	if err := os.Remove(rec.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if cur != nil {
		fmt.Fprintf(log, "removed  %s\n", name)
	}
	return nil
}

func rel(root, p string) string {
	r, err := filepath.Rel(root, p)
	if err != nil {
		return p
	}
	return "/" + r
}

// resolvesUnder refuses a folder that leads outside root through a
// symlink: setup writes as root, and --root may be a tree someone else
// prepared.
func resolvesUnder(root, dir string) error {
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return err
	}
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	if !within(realRoot, realDir) {
		return fmt.Errorf("%s leads to %s, outside %s, through a symlink; refusing", dir, realDir, root)
	}
	return nil
}
