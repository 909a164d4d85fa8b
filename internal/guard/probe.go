package guard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Interp is what the installer needs to know about a Python interpreter.
// Probe fills it by asking the interpreter; tests may build one by hand.
type Interp struct {
	Executable string `json:"executable"` // sys.executable: the real binary, not a pyenv shim
	Version    [2]int `json:"version"`    // major, minor
	CacheTag   string `json:"cache_tag"`  // sys.implementation.cache_tag, e.g. cpython-311
	Prefix     string `json:"prefix"`
	BasePrefix string `json:"base_prefix"`
	// StdlibDir is the directory of os.py, as it appears on sys.path.
	StdlibDir string `json:"stdlib"`
	// SitePackages is the venv's site-packages (venvs only).
	SitePackages string `json:"site_packages"`
	// Sitecustomize is the sitecustomize.py that start-up imports (as found
	// on sys.path, symlinks not resolved), or "" when there is none.
	Sitecustomize string `json:"sitecustomize"`
	Conda         bool   `json:"conda"`
}

// IsVenv reports whether the interpreter runs inside a virtual environment.
func (in *Interp) IsVenv() bool { return in.Prefix != in.BasePrefix }

// VersionString is "3.11"-style.
func (in *Interp) VersionString() string { return fmt.Sprintf("%d.%d", in.Version[0], in.Version[1]) }

// probeScript runs under -I (no PYTHON* variables, no user site, no cwd on
// sys.path) and -B (probing must not leave byte-code behind).
const probeScript = `
import sys, os, json, site
import importlib.machinery as m
spec = m.PathFinder.find_spec("sitecustomize", sys.path)
venv = sys.prefix != sys.base_prefix
sp = ""
if venv:
    for p in site.getsitepackages():
        if p.startswith(sys.prefix + os.sep) and os.path.isdir(p):
            sp = p
            break
print(json.dumps(dict(
    executable=sys.executable, version=list(sys.version_info[:2]),
    cache_tag=sys.implementation.cache_tag, prefix=sys.prefix, base_prefix=sys.base_prefix,
    stdlib=os.path.dirname(os.__file__), site_packages=sp,
    sitecustomize=(spec.origin if spec is not None and spec.origin else ""),
    conda=os.path.isdir(os.path.join(sys.prefix, "conda-meta")))))
`

// ErrUnsupportedPython is returned for interpreters the guard cannot protect.
var ErrUnsupportedPython = errors.New("unsupported Python")

// Probe asks python (a path or a name looked up on PATH) about itself.
func Probe(ctx context.Context, python string) (*Interp, error) {
	exe, err := exec.LookPath(python)
	if err != nil {
		return nil, fmt.Errorf("find python %q: %w", python, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, exe, "-I", "-B", "-c", probeScript)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("probe %s: %w: %s", exe, err, strings.TrimSpace(stderr.String()))
	}
	// Start-up hooks may print; the JSON is the last line.
	out := strings.TrimSpace(stdout.String())
	if i := strings.LastIndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	}
	var in Interp
	if err := json.Unmarshal([]byte(out), &in); err != nil {
		return nil, fmt.Errorf("probe %s: unexpected output %q: %w", exe, out, err)
	}
	if in.Version[0] != 3 || in.Version[1] < 8 {
		return nil, fmt.Errorf("%w: %s is Python %s; the guard needs 3.8+ (audit hooks)", ErrUnsupportedPython, exe, in.VersionString())
	}
	if !strings.HasPrefix(in.CacheTag, "cpython-") {
		return nil, fmt.Errorf("%w: %s is %s; only CPython is supported", ErrUnsupportedPython, exe, in.CacheTag)
	}
	for _, p := range []string{in.Executable, in.Prefix, in.BasePrefix, in.StdlibDir} {
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("probe %s: path %q is not absolute", exe, p)
		}
	}
	if in.IsVenv() && in.SitePackages == "" {
		return nil, fmt.Errorf("probe %s: a venv without a site-packages directory", exe)
	}
	return &in, nil
}
