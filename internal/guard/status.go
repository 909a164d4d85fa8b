package guard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"time"
)

// statusScript reports whether the guard started in this process.
const statusScript = `
import sys, json
g = sys.modules.get("safehub_guard")
if g is None:
    r = (False, "safehub_guard was not loaded at start-up")
else:
    r = g.status()
print(json.dumps({"active": bool(r[0]), "detail": str(r[1]), "torch_imported": "torch" in sys.modules}))
`

// Check is one start-up variant that status tries.
type Check struct {
	Name     string // e.g. "python -I"
	Active   bool
	Detail   string // the mode when active, the reason otherwise
	Expected bool   // false for variants the guard cannot cover (-S)
}

// Status is the outcome of `safehub guard status`.
type Status struct {
	Active bool
	Reason string // why not, when !Active
	Mode   string
	Checks []Check
}

// Status runs the interpreter the ways users do and reports whether the
// guard is in force in each.
func (x *Installer) Status(ctx context.Context) (*Status, error) {
	py := x.Interp.Executable
	variants := []struct {
		name     string
		args     []string
		expected bool
	}{
		{"python", nil, true},
		{"python -I", []string{"-I"}, true},
		{"python -s", []string{"-s"}, true},
		{"python -E", []string{"-E"}, true},
		{"python -S", []string{"-S"}, false},
	}
	st := &Status{Active: true}
	for _, v := range variants {
		c, err := runCheck(ctx, py, v.args)
		if err != nil {
			return nil, err
		}
		c.Name, c.Expected = v.name, v.expected
		st.Checks = append(st.Checks, c)
	}
	if !x.Interp.IsVenv() {
		c, err := venvCheck(ctx, py)
		if err != nil {
			return nil, err
		}
		st.Checks = append(st.Checks, c)
	}
	for _, c := range st.Checks {
		if c.Expected && !c.Active {
			st.Active = false
			if st.Reason == "" {
				st.Reason = c.Name + ": " + c.Detail
			}
		}
	}
	if st.Checks[0].Active {
		st.Mode = st.Checks[0].Detail
	}
	if !st.Active {
		if _, err := os.Stat(x.Layout.ManifestPath()); err == nil {
			cur, _ := os.ReadFile(x.Layout.HookFile)
			if _, found := stripBlock(cur); !found && x.Layout.Kind != HookPth {
				st.Reason += fmt.Sprintf(" (installed, but the block is missing from %s: a Python upgrade may have replaced it; run `safehub guard install` again)", x.Layout.HookFile)
			}
		} else if errors.Is(err, fs.ErrNotExist) {
			st.Reason += " (safehub guard is not installed in this interpreter)"
		}
	}
	return st, nil
}

func runCheck(ctx context.Context, python string, flags []string) (Check, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, python, append(append([]string{"-B"}, flags...), "-c", statusScript)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Dir = os.TempDir() // not a directory with a stray sitecustomize or safehub_guard
	if err := cmd.Run(); err != nil {
		return Check{}, fmt.Errorf("run %s %s: %w: %s", python, strings.Join(flags, " "), err, strings.TrimSpace(stderr.String()))
	}
	out := strings.TrimSpace(stdout.String())
	if i := strings.LastIndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	}
	var r struct {
		Active        bool   `json:"active"`
		Detail        string `json:"detail"`
		TorchImported bool   `json:"torch_imported"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		return Check{}, fmt.Errorf("status of %s: unexpected output %q", python, out)
	}
	c := Check{Active: r.Active, Detail: r.Detail}
	if r.TorchImported {
		// The guard must never import torch; something in start-up did.
		c.Detail += " (torch is imported at start-up: every Python start pays for it)"
	}
	return c, nil
}

// venvCheck makes a throw-away venv from python and checks the guard there:
// venvs made after the install must inherit it.
func venvCheck(ctx context.Context, python string) (Check, error) {
	c := Check{Name: "new venv", Expected: true}
	dir, err := os.MkdirTemp("", "safehub-guard-status-")
	if err != nil {
		return c, err
	}
	defer os.RemoveAll(dir)
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, python, "-I", "-B", "-m", "venv", "--without-pip", dir+"/venv")
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		c.Expected = false
		c.Detail = "not checked: `python -m venv` failed (" + firstLine(stderr.String()) + ")"
		return c, nil
	}
	r, err := runCheck(ctx, dir+"/venv/bin/python", nil)
	if err != nil {
		return c, err
	}
	c.Active, c.Detail = r.Active, r.Detail
	return c, nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
