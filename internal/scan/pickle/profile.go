package pickle

import (
	"fmt"
	"sort"
	"strings"

	"github.com/safehub/safehub/internal/scan/finding"
)

// Profile is an exact allowlist plus typed-target rules (scanner-notes.md
// section 4). Profiles are immutable after LoadProfile and safe to share.
type Profile struct {
	Name    string
	allowed map[string]bool
	// notes are informational messages attached when a listed global is
	// used (e.g. numpy globals that default weights_only refuses).
	notes map[string]string
	t     *tables
}

// ProfileNames lists the built-in profiles, default first.
func ProfileNames() []string { return []string{"torch-weights-only", "torch-numpy", "joblib"} }

const numpyNote = "needs numpy globals; fails under default weights_only"

// joblibExtra are the inert names a numeric joblib dump uses besides the
// numpy reconstruction globals: the array placeholder class that joblib's
// unpickler replaces by the array read from the raw bytes after it.
var joblibExtra = []string{
	"joblib.numpy_pickle.NumpyArrayWrapper",
	"collections.OrderedDict",
	"collections.Counter",
	"_codecs.encode",
	"builtins.set",
	"builtins.complex",
	"builtins.bytearray",
}

// LoadProfile returns a built-in profile: "torch-weights-only" (default;
// torch's weights_only allowlist), "torch-numpy" (adds
// numpy_tolerant_additions) or "joblib" (numpy reconstruction plus joblib's
// array wrapper). Profiles containing a never_allow name are refused.
func LoadProfile(name string) (*Profile, error) {
	t, err := loadTables()
	if err != nil {
		return nil, err
	}
	p := &Profile{Name: name, allowed: map[string]bool{}, notes: map[string]string{}, t: t}
	switch name {
	case "", "torch-weights-only":
		p.Name = "torch-weights-only"
		p.add(t.torchAllowed...)
	case "torch-numpy":
		p.add(t.torchAllowed...)
		p.add(t.numpyAdditions...)
		for _, n := range t.numpyAdditions {
			p.notes[n] = numpyNote
		}
	case "joblib":
		p.add(joblibExtra...)
		p.add(t.numpyAdditions...)
	default:
		return nil, fmt.Errorf("pickle: unknown profile %q (known: %s)", name, strings.Join(ProfileNames(), ", "))
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Profile) add(names ...string) {
	for _, n := range names {
		p.allowed[n] = true
	}
}

// validate refuses a profile that would allow a loader or trampoline, or a
// name from a module torch never allows, or a name the deny-list matches.
func (p *Profile) validate() error {
	var bad []string
	for n := range p.allowed {
		if p.t.neverAllow[n] || p.t.torchBlocked[strings.SplitN(n, ".", 2)[0]] || p.denied(n) {
			bad = append(bad, n)
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return fmt.Errorf("pickle: profile %q allows names that must never be allowed: %s", p.Name, strings.Join(bad, ", "))
	}
	return nil
}

// Allows reports whether path is on the profile's exact allowlist.
func (p *Profile) Allows(path string) bool { return p.allowed[path] }

// AllowedNames returns the sorted allowlist (for tests and reports).
func (p *Profile) AllowedNames() []string {
	out := make([]string, 0, len(p.allowed))
	for n := range p.allowed {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

var defaultProfileVal = func() func() *Profile {
	var p *Profile
	return func() *Profile {
		if p == nil {
			var err error
			p, err = LoadProfile("torch-weights-only")
			if err != nil {
				panic(err) // embedded data defect, covered by tests
			}
		}
		return p
	}
}()

func defaultProfile() *Profile { return defaultProfileVal() }

// denied applies the deny rules of scanner-notes.md section 3 to one
// canonical path: any dotted prefix in the deny paths, or any component
// after the first in the deny components or shaped like a dunder.
func (p *Profile) denied(path string) bool {
	t := p.t
	first := true
	for i := 0; i <= len(path); i++ {
		if i < len(path) && path[i] != '.' {
			continue
		}
		if t.denyPaths[path[:i]] {
			return true
		}
		if !first {
			start := strings.LastIndexByte(path[:i], '.') + 1
			comp := path[start:i]
			if t.denyComponents[comp] || isDunder(comp) {
				return true
			}
		}
		first = false
	}
	return false
}

func isDunder(s string) bool {
	return len(s) > 4 && strings.HasPrefix(s, "__") && strings.HasSuffix(s, "__")
}

// decision is the grade of one imported global.
type decision struct {
	path    string // canonical path reported (the mapped one when it differs)
	verdict finding.Verdict
	reason  string
	node    *container // the kGlobal value's payload, made once per scan
}

// classify grades a (module, name) pair as GLOBAL, INST or STACK_GLOBAL
// would resolve it. Both the raw pair and the _compat_pickle-mapped pair are
// checked whatever the protocol claims, since loaders disagree on when the
// mapping applies (pickle: protocol < 3; torch weights_only: always).
func (p *Profile) classify(module, name string) decision {
	raw := module + "." + name
	mm, mn := p.t.mapPair(module, name)
	mapped := mm + "." + mn
	if p.denied(raw) {
		if mapped != raw {
			return decision{path: raw, verdict: finding.Unsafe, reason: "denied global " + raw + " (Python 3 name " + mapped + ")"}
		}
		return decision{path: raw, verdict: finding.Unsafe, reason: "denied global " + raw}
	}
	if mapped != raw && p.denied(mapped) {
		return decision{path: mapped, verdict: finding.Unsafe, reason: "denied global " + raw + " (Python 3 name " + mapped + ")"}
	}
	if mapped == raw {
		if p.allowed[raw] {
			return decision{path: raw, verdict: finding.Safe}
		}
		return decision{path: raw, verdict: finding.Unknown, reason: "global " + raw + " is not in profile " + p.Name}
	}
	// The pair was renamed. The loader imports either the raw Python-2 name
	// (which only exists in Python 3 when it is allowed too) or the mapped one.
	rawHarmless := p.allowed[raw] || p.t.isPy2Only(module)
	if p.allowed[mapped] && rawHarmless {
		return decision{path: mapped, verdict: finding.Safe}
	}
	return decision{path: mapped, verdict: finding.Unknown, reason: "global " + raw + " (Python 3 name " + mapped + ") is not in profile " + p.Name}
}

// mapPair applies _compat_pickle's NAME_MAPPING, then IMPORT_MAPPING.
func (t *tables) mapPair(module, name string) (string, string) {
	if to, ok := t.nameMapping[pair{module, name}]; ok {
		return to.module, to.name
	}
	if to, ok := t.importMapping[module]; ok {
		return to, name
	}
	return module, name
}

// isPy2Only reports whether module is a Python-2 module name that no
// longer exists in Python 3, so importing it raw fails without running code.
// Mapped names that are still real Python 3 modules (dbm, test.test_support)
// do not count.
func (t *tables) isPy2Only(module string) bool {
	switch module {
	case "dbm", "test.test_support":
		return false
	}
	_, ok := t.importMapping[module]
	if !ok {
		for k := range t.nameMapping {
			if k.module == module {
				return true
			}
		}
	}
	return ok
}
