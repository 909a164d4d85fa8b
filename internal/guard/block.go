package guard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
)

// The marked block that starts the guard. Its first line carries "+nl" when
// the installer had to add a newline to an original that lacked a final one,
// so that stripping it gives back the original bytes exactly.
const (
	blockBegin      = "# >>> safehub guard >>>"
	blockBeginJoint = "# >>> safehub guard >>> +nl"
	blockEnd        = "# <<< safehub guard <<<"
	blockNote       = " (written by `safehub guard install`; `safehub guard uninstall` removes it)"
)

// pyString renders s as a Python string literal (JSON strings are valid ones).
func pyString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// bootCode is the Python that loads the package from guardDir and starts
// it. It loads __init__.py by location instead of through sys.path: no path
// entry to add and remove, no directory scan (later lazy submodule imports
// use the package's __path__). It never raises: an error in sitecustomize
// would also skip whatever else it does (Debian's apport hook).
func bootCode(guardDir, mode string, chain bool) string {
	pkg := filepath.Join(guardDir, PackageName)
	var b strings.Builder
	fmt.Fprintf(&b, `try:
    import sys as _sg_sys
    _sg = _sg_sys.modules.get("safehub_guard")
    if _sg is None:
        _sg_spec = _sg_sys.modules["_frozen_importlib_external"].spec_from_file_location(
            "safehub_guard", %[1]s, submodule_search_locations=[%[2]s])
        _sg = _sg_sys.modules["_frozen_importlib"].module_from_spec(_sg_spec)
        _sg_sys.modules["safehub_guard"] = _sg
        try:
            _sg_spec.loader.exec_module(_sg)
        except BaseException:
            del _sg_sys.modules["safehub_guard"]
            raise
    _sg._boot(%[3]s)
except Exception:
    pass
`, pyString(filepath.Join(pkg, "__init__.py")), pyString(pkg), pyString(mode))
	if chain {
		// Run the next sitecustomize on sys.path as site.py would have, had
		// ours not shadowed it. importlib's frozen modules are already
		// loaded, so this imports nothing new.
		b.WriteString(`try:
    import sys as _sg_sys, os as _sg_os
    _sg_here = _sg_os.path.dirname(_sg_os.path.realpath(__file__))
    _sg_path = [p for p in _sg_sys.path if _sg_os.path.realpath(p or ".") != _sg_here]
    _sg_spec = _sg_sys.modules["_frozen_importlib_external"].PathFinder.find_spec("sitecustomize", _sg_path)
    if _sg_spec is not None and _sg_spec.loader is not None:
        _sg_self = _sg_sys.modules.get("sitecustomize")
        _sg_mod = _sg_sys.modules["_frozen_importlib"].module_from_spec(_sg_spec)
        _sg_sys.modules["sitecustomize"] = _sg_mod
        try:
            _sg_spec.loader.exec_module(_sg_mod)
        except Exception as _sg_err:
            _sg_sys.stderr.write("Error in sitecustomize; set PYTHONVERBOSE for traceback:\n%s: %s\n" % (type(_sg_err).__name__, _sg_err))
        finally:
            _sg_sys.modules["sitecustomize"] = _sg_self
except Exception:
    pass
`)
	}
	return b.String()
}

// sitecustomizeBlock is the marked block appended to (or making up) a sitecustomize.py.
func sitecustomizeBlock(guardDir, mode string, chain bool) string {
	return blockBegin + blockNote + "\n" + bootCode(guardDir, mode, chain) + blockEnd + "\n"
}

// pthLine is the one-line .pth hook for a venv: site.py execs lines that
// start with "import".
func pthLine(guardDir, mode string) string {
	return "import sys; exec(" + pyString(bootCode(guardDir, mode, false)) + ")\n"
}

// A block put before these would break the file: `from __future__` imports
// must come first, and a coding declaration must stay in the first two lines.
var (
	futureImport = regexp.MustCompile(`(?m)^[ \t]*from[ \t]+__future__[ \t]+import`)
	codingCookie = regexp.MustCompile(`^[ \t\f]*#.*?coding[:=][ \t]*[-\w.]+`)
)

// insertBlock puts block at the top of orig, so that an error in the rest of
// a sitecustomize (apport's hook failing, say) cannot keep the guard from
// starting; where that would break the file, it goes at the end instead.
func insertBlock(orig []byte, block string) []byte {
	lines := bytes.SplitN(orig, []byte("\n"), 3)
	mustAppend := futureImport.Match(orig)
	for i := 0; i < len(lines) && i < 2; i++ {
		mustAppend = mustAppend || codingCookie.Match(lines[i])
	}
	if mustAppend {
		return appendBlock(orig, block)
	}
	return append([]byte(block), orig...)
}

// appendBlock returns orig with block (which starts with blockBegin) after it.
func appendBlock(orig []byte, block string) []byte {
	out := append([]byte(nil), orig...)
	if len(orig) > 0 && orig[len(orig)-1] != '\n' {
		out = append(out, '\n')
		block = blockBeginJoint + strings.TrimPrefix(block, blockBegin)
	}
	return append(out, block...)
}

// stripBlock removes every marked block from content and reports whether it
// found one. A begin marker without an end marker is left alone (found is
// false): cutting to the end of the file could destroy someone else's code.
func stripBlock(content []byte) (out []byte, found bool) {
	out = content
	for {
		start := lineIndex(out, blockBegin)
		if start < 0 {
			return out, found
		}
		rel := lineIndex(out[start:], blockEnd)
		if rel < 0 {
			return out, found
		}
		end := start + rel + len(blockEnd)
		if end < len(out) && out[end] == '\n' {
			end++
		}
		cut := start
		if bytes.HasPrefix(out[start:], []byte(blockBeginJoint)) && cut > 0 && out[cut-1] == '\n' {
			cut-- // the newline appendBlock added
		}
		out = append(append([]byte(nil), out[:cut]...), out[end:]...)
		found = true
	}
}

// lineIndex returns the index of the first line of b that starts with
// prefix, or -1.
func lineIndex(b []byte, prefix string) int {
	for i := 0; i <= len(b); {
		if bytes.HasPrefix(b[i:], []byte(prefix)) {
			return i
		}
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
	}
	return -1
}
