// Package guard installs, removes and checks safehub's Python tripwire
// (the safehub_guard package embedded here) in a Python interpreter.
//
// A base interpreter gets a marked block in its stdlib-dir sitecustomize.py
// (Debian's /etc/python3.X/sitecustomize.py through its symlink), so that the
// interpreter and every venv made from it afterwards start the guard; a venv
// gets a safehub-guard.pth file in its own site-packages. Every file written
// or changed is recorded, with the original bytes, in a manifest next to the
// package, so uninstall restores exactly what was there.
package guard

import (
	"embed"
	"io/fs"
	"path"
	"sort"
)

//go:embed python/safehub_guard/*.py
var pythonFS embed.FS

// PackageName is the import name of the embedded Python package.
const PackageName = "safehub_guard"

// packageFiles returns the embedded package as file name -> contents, sorted
// by name so installs are deterministic.
func packageFiles() ([]string, map[string][]byte, error) {
	dir := path.Join("python", PackageName)
	entries, err := fs.ReadDir(pythonFS, dir)
	if err != nil {
		return nil, nil, err
	}
	names := make([]string, 0, len(entries))
	files := make(map[string][]byte, len(entries))
	for _, e := range entries {
		b, err := fs.ReadFile(pythonFS, path.Join(dir, e.Name()))
		if err != nil {
			return nil, nil, err
		}
		names = append(names, e.Name())
		files[e.Name()] = b
	}
	sort.Strings(names)
	return names, files, nil
}
