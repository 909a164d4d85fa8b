package setup

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/safehub/safehub/internal/guard"
)

// Target is a system interpreter setup installs the guard into.
type Target struct {
	Path   string // as found (e.g. <root>/usr/bin/python3.11)
	Interp *guard.Interp
	Layout guard.Layout
	// Preexisting: the guard was installed before setup ran, so undo leaves it.
	Preexisting bool
}

// Unreached is an interpreter setup saw but does not install into: user-
// owned environments (conda, uv, pyenv, venvs) belong to their owners.
type Unreached struct {
	Path   string
	Reason string
}

// Command is what the admin (or the environment's owner) runs to cover it.
func (u Unreached) Command() string {
	return "safehub guard install --python " + shellWord(u.Path)
}

// systemDirs hold the interpreters setup installs into.
var systemDirs = []string{"/usr/bin", "/usr/local/bin"}

// otherGlobs are the usual homes of interpreters that setup lists but does
// not touch. Kept short: each glob is one readdir per home folder.
var otherGlobs = []string{
	"/opt/conda/bin/python3", "/opt/conda/envs/*/bin/python3",
	"/opt/*conda*/bin/python3", "/opt/*conda*/envs/*/bin/python3",
	"/root/.pyenv/versions/*/bin/python3", "/home/*/.pyenv/versions/*/bin/python3",
	"/root/miniconda3/bin/python3", "/home/*/miniconda3/bin/python3", "/home/*/anaconda3/bin/python3",
	"/home/*/miniforge3/bin/python3", "/home/*/.conda/envs/*/bin/python3",
	"/root/.local/share/uv/python/*/bin/python3", "/home/*/.local/share/uv/python/*/bin/python3",
}

// interpName matches python3 and python3.X, not python3-config or python3.11-dbg-config.
var interpName = regexp.MustCompile(`^python3(\.\d+)?$`)

// findSystem lists the interpreters in <root>/usr/bin and <root>/usr/local/bin,
// one per real binary.
func findSystem(root string) []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range systemDirs {
		entries, err := os.ReadDir(filepath.Join(root, d))
		if err != nil {
			continue
		}
		for _, e := range entries {
			if !interpName.MatchString(e.Name()) {
				continue
			}
			p := filepath.Join(root, d, e.Name())
			real, err := filepath.EvalSymlinks(p)
			if err != nil || seen[real] {
				continue
			}
			if st, err := os.Stat(real); err != nil || !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
				continue
			}
			seen[real] = true
			out = append(out, p)
		}
	}
	return out
}

// findOthers lists interpreters on PATH (each PATH folder taken under
// root) and in the usual conda/pyenv/uv places, minus the system ones.
// pyenv's shims are scripts that pick a version per user, so its versions
// folder is listed instead.
func findOthers(root, pathEnv string, system []string) []Unreached {
	skip := map[string]bool{}
	for _, s := range system {
		if real, err := filepath.EvalSymlinks(s); err == nil {
			skip[real] = true
		}
	}
	for _, d := range systemDirs {
		skip["dir:"+filepath.Join(root, d)] = true
	}
	var out []Unreached
	add := func(p, reason string) {
		real, err := filepath.EvalSymlinks(p)
		if err != nil || skip[real] {
			return
		}
		if st, err := os.Stat(real); err != nil || !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
			return
		}
		skip[real] = true
		out = append(out, Unreached{Path: p, Reason: reason})
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" || !filepath.IsAbs(dir) || strings.Contains(dir, "shims") {
			continue
		}
		d := filepath.Join(root, dir)
		if skip["dir:"+d] {
			continue
		}
		for _, name := range []string{"python3", "python"} {
			add(filepath.Join(d, name), kindOf(dir)+" on PATH")
		}
	}
	for _, g := range otherGlobs {
		matches, _ := filepath.Glob(filepath.Join(root, g))
		sort.Strings(matches)
		for _, m := range matches {
			add(m, kindOf(strings.TrimPrefix(m, root)))
		}
	}
	return out
}

// kindOf names the kind of environment a path belongs to, for the listing.
func kindOf(p string) string {
	switch {
	case strings.Contains(p, "conda") || strings.Contains(p, "miniforge"):
		return "conda environment"
	case strings.Contains(p, ".pyenv"):
		return "pyenv interpreter"
	case strings.Contains(p, "/uv/"):
		return "uv-managed interpreter"
	case strings.Contains(p, "venv"):
		return "virtual environment"
	}
	return "interpreter"
}

// probeTarget asks one interpreter about itself and where the guard would go.
func probeTarget(ctx context.Context, path string) (*Target, error) {
	x, err := guard.NewInstaller(ctx, path, nil)
	if err != nil {
		return nil, err
	}
	t := &Target{Path: path, Interp: x.Interp, Layout: x.Layout}
	if _, err := os.Stat(x.Layout.ManifestPath()); err == nil {
		t.Preexisting = true
	}
	return t, nil
}
