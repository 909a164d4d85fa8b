package scan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/safehub/safehub/internal/scan/finding"
)

// Keras model configs (scanner-notes.md 6.7): the loader instantiates every
// object the config names, so the config is walked and every object with a
// class_name, module or registered_name is graded.

// maxKerasConfig bounds the decoded config (decoding costs ~10× its size).
const maxKerasConfig = 16 << 20

// kerasDeniedModules are modules whose functions a config could name to
// run commands or code (CVE-2025-1550). Others outside keras/tf: unknown.
var kerasDeniedModules = []string{
	"os", "posix", "nt", "subprocess", "builtins", "__builtin__", "sys", "shutil", "socket", "pty", "runpy",
	"importlib", "pickle", "_pickle", "dill", "marshal", "code", "codeop", "ctypes", "webbrowser", "pydoc",
	"commands", "platform", "multiprocessing", "asyncio", "torch", "numpy.load", "joblib",
}

func (s *scanner) scanKerasMember(t target, dir *zipDir, e *zipEntry, out *outcome) {
	r, size, fs := s.openMember(t, dir, e, true)
	out.add(fs...)
	if r == nil {
		return
	}
	if size > maxKerasConfig {
		out.add(t.note(finding.Unknown, 0, "keras config.json of %d bytes exceeds the %d-byte limit", size, maxKerasConfig))
		return
	}
	data, err := readAt(r, 0, size)
	if err != nil {
		out.add(t.note(finding.Unknown, 0, "cannot read keras config.json: %v", err))
		return
	}
	c := t.child(r, size, e.Name)
	s.checkKerasConfig(c, data, out)
}

// checkKerasConfig walks a JSON model config, iteratively.
func (s *scanner) checkKerasConfig(t target, data []byte, out *outcome) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		out.add(t.note(finding.Unknown, 0, "unparseable keras config: %v", err))
		return
	}
	stack := []any{root}
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		switch x := v.(type) {
		case []any:
			stack = append(stack, x...)
		case map[string]any:
			s.gradeKerasObject(t, x, out)
			for _, c := range x {
				stack = append(stack, c)
			}
		case string:
			if strings.Contains(x, "get_file") {
				out.add(t.note(finding.Unsafe, 0, "keras config references keras.utils.get_file (downloads at load time, CVE-2025-8747)"))
			}
			if strings.Contains(x, "enable_unsafe_deserialization") {
				out.add(t.note(finding.Unsafe, 0, "keras config calls enable_unsafe_deserialization (CVE-2025-9906)"))
			}
		}
	}
}

func (s *scanner) gradeKerasObject(t target, obj map[string]any, out *outcome) {
	class, _ := obj["class_name"].(string)
	module, _ := obj["module"].(string)
	registered, _ := obj["registered_name"].(string)
	switch class {
	case "Lambda":
		cfg, _ := obj["config"].(map[string]any)
		if lambdaHasBytecode(cfg) {
			out.add(t.note(finding.Unsafe, 0, "keras Lambda layer holds serialized Python bytecode (CVE-2024-3660)"))
		} else {
			out.add(t.note(finding.Unknown, 0, "keras Lambda layer calls a Python function"))
		}
	case "__lambda__":
		out.add(t.note(finding.Unsafe, 0, "keras config holds a serialized Python lambda (CVE-2024-3660)"))
	case "TorchModuleWrapper":
		out.add(t.note(finding.Unsafe, 0, "keras TorchModuleWrapper embeds a pickled torch module (CVE-2025-49655)"))
		s.scanTorchModuleWrapper(t, obj, out)
	}
	if module != "" && !kerasOwnModule(module) {
		if denied := deniedKerasModule(module); denied {
			out.add(finding.Finding{Verdict: finding.Unsafe, Member: t.member, Callable: module + "." + class,
				Reason: fmt.Sprintf("keras config names %s.%s (CVE-2025-1550 class)", module, class)})
		} else {
			out.add(finding.Finding{Verdict: finding.Unknown, Member: t.member, Callable: module + "." + class,
				Reason: fmt.Sprintf("keras config instantiates %s.%s from outside keras", module, class)})
		}
	}
	if registered != "" && module == "" && !strings.HasPrefix(registered, "keras") && class != registered {
		out.add(t.note(finding.Unknown, 0, "keras config uses the custom registered object %q", registered))
	}
}

func lambdaHasBytecode(cfg map[string]any) bool {
	if cfg == nil {
		return false
	}
	if ft, _ := cfg["function_type"].(string); ft == "lambda" {
		return true
	}
	switch f := cfg["function"].(type) {
	case []any: // Keras 2: [base64 marshal, defaults, closure]
		return len(f) > 0
	case string:
		return len(f) > 40 // base64 marshal, not a registered name
	case map[string]any:
		cn, _ := f["class_name"].(string)
		return cn == "__lambda__"
	}
	return false
}

func kerasOwnModule(m string) bool {
	for _, p := range []string{"keras", "tf_keras", "tensorflow", "keras_nlp", "keras_hub", "keras_cv"} {
		if m == p || strings.HasPrefix(m, p+".") {
			return true
		}
	}
	return false
}

func deniedKerasModule(m string) bool {
	for _, d := range kerasDeniedModules {
		if m == d || strings.HasPrefix(m, d+".") {
			return true
		}
	}
	return false
}
