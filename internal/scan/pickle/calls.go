package pickle

import (
	"fmt"
	"strings"

	"github.com/safehub/safehub/internal/scan/finding"
)

// maxNameLine bounds GLOBAL/INST lines kept in memory; longer names are
// refused (unknown) rather than truncated, so a long name cannot hide.
const maxNameLine = 4096

// maxCachedGlobals bounds the per-stream classification cache; past it,
// names are classified again on each use (slower, never unbounded).
const maxCachedGlobals = 1 << 16

// maxStorages bounds the storages one stream may declare; past it the zip
// layer could not check them all, so the stream is unknown.
const maxStorages = 1 << 20

// twoLines reads the "module\nname\n" argument of GLOBAL and INST.
func (m *machine) twoLines() (string, string, bool) {
	var parts [2]string
	for i := range parts {
		b, _, n, short, ok := m.w.line()
		if !ok {
			m.failTrunc()
			return "", "", false
		}
		if short || n > maxNameLine {
			m.fail(finding.Unknown, fmt.Sprintf("%s name longer than %d bytes", opNames[m.op], maxNameLine))
			return "", "", false
		}
		parts[i] = string(b)
	}
	return parts[0], parts[1], true
}

func (m *machine) stackGlobal() {
	name, ok := m.pop()
	if !ok {
		return
	}
	mod, ok := m.pop()
	if !ok {
		return
	}
	if mod.k != kStr || name.k != kStr {
		m.fail(finding.Unknown, fmt.Sprintf("STACK_GLOBAL requires str operands, got %s and %s", mod.k, name.k))
		return
	}
	limit := int64(max(m.lim.MaxInlineString, 1))
	ms, ok1 := m.text(mod, limit)
	ns, ok2 := m.text(name, limit)
	if !ok1 || !ok2 {
		m.fail(finding.Unknown, fmt.Sprintf("STACK_GLOBAL operand longer than %d bytes or undecodable", limit))
		return
	}
	m.push(m.global(ms, ns))
}

// global resolves a module/name pair like find_class and records it: an
// import runs module code even if nothing is ever called, so every
// non-allowed import is a finding.
func (m *machine) global(module, name string) value {
	if m.classCache == nil {
		m.classCache = map[pair]decision{}
		m.globals = map[string]bool{}
	}
	d, ok := m.classCache[pair{module, name}]
	if !ok {
		d = m.prof.classify(module, name)
		d.node = &container{path: d.path} // shared by every use of this global; never mutated
		if len(m.classCache) < maxCachedGlobals {
			m.classCache[pair{module, name}] = d
		}
		if len(m.globals) < 10000 {
			m.globals[d.path] = true
		}
	}
	op := opNames[m.op]
	if d.verdict != finding.Safe {
		m.add(d.verdict, d.path, "imports "+d.reason, op)
	} else if note := m.prof.notes[d.path]; note != "" {
		m.add(finding.Safe, d.path, note, op)
	}
	return value{k: kGlobal, allowed: d.verdict == finding.Safe, enc: uint8(d.verdict), c: d.node}
}

// grade is the verdict a non-allowed callee carries (at least unknown).
func grade(v value) finding.Verdict {
	if v.k == kGlobal || v.k == kObj {
		return finding.Worst(finding.Verdict(v.enc), finding.Unknown)
	}
	return finding.Unknown
}

// call records a call site (REDUCE, INST, OBJ, NEWOBJ, NEWOBJ_EX) and
// returns the symbolic result Obj(callee).
func (m *machine) call(callee, args value) value {
	op := opNames[m.op]
	var argc *container
	if args.k == kTuple || args.k == kList {
		argc = args.c
	}
	switch callee.k {
	case kGlobal:
		if !callee.allowed {
			m.add(grade(callee), callee.path(), "calls "+callee.path(), op)
		}
	case kObj:
		m.add(finding.Unknown, callee.path()+"()", "calls an object returned by "+callee.path(), op)
	case kStorage:
		m.add(finding.Unknown, "", "calls a storage object", op)
	default:
		m.add(finding.Unknown, "", "calls an unresolved "+callee.k.String()+" value", op)
	}
	if callee.k == kGlobal && callee.allowed {
		switch {
		case strings.HasPrefix(callee.path(), "torch._utils._rebuild_") && argc != nil:
			m.checkTensor(callee.path(), argc)
		case callee.path() == "torch._tensor._rebuild_from_type_v2" && argc != nil:
			m.indirectCall(callee.path(), argc)
		case callee.path() == "_codecs.encode" && argc != nil:
			// Protocol <= 2 stores bytes as _codecs.encode(str, "latin1"):
			// the result is those bytes, sniffed like BINBYTES.
			if res, ok := m.codecsEncode(argc); ok {
				return res
			}
		}
	}
	m.sniffArgs(callee, args)
	if res, ok := m.bytesResult(callee, argc); ok {
		return res
	}
	path := callee.path()
	if callee.k != kGlobal {
		path = "unresolved"
		if callee.k == kObj {
			path = callee.path() + "()"
		}
	}
	return value{k: kObj, allowed: callee.k == kGlobal && callee.allowed, enc: uint8(grade(callee)),
		c: &container{args: argc, path: path}}
}

// build handles BUILD: __setstate__ or a __dict__/slot update on the target.
func (m *machine) build(t *value, state value) {
	op := "BUILD"
	m.sniffArgs(*t, value{k: kTuple, c: &container{items: []value{state}, count: 1}})
	switch t.k {
	case kObj:
		if t.c != nil && t.c.state == nil && (state.k == kTuple || state.k == kDict) {
			t.c.state = state.c
		}
		if !t.allowed {
			m.add(grade(*t), t.path()+".__setstate__", "BUILD on an object made by "+t.path(), op)
			// joblib replaces its wrapper after BUILD whatever the profile says.
		}
		if m.opts.Context == Joblib && t.path() == joblibWrapper {
			m.joblibArray(t, state)
		}
	case kGlobal:
		m.add(finding.Unsafe, t.path(), "evasion: BUILD sets attributes of the module or class "+t.path(), op)
	case kStorage:
		m.add(finding.Unknown, "", "BUILD on a torch storage", op)
	default:
		m.add(finding.Unknown, "", "BUILD on a "+t.k.String()+" (the loader raises or weights_only refuses)", op)
	}
}

var dictLike = map[string]bool{"collections.OrderedDict": true, "collections.Counter": true}

// mutate handles APPEND(S), SETITEM(S) and ADDITEMS on target t.
func (m *machine) mutate(t *value, items []value) {
	op := opNames[m.op]
	pairs := m.op == opSETITEM || m.op == opSETITEMS
	var native kind
	var method string
	switch m.op {
	case opAPPEND:
		native, method = kList, ".append"
	case opAPPENDS:
		native, method = kList, ".extend"
	case opSETITEM, opSETITEMS:
		native, method = kDict, ".__setitem__"
	default:
		native, method = kSet, ".add"
	}
	switch {
	case t.k == native:
		m.extend(t.c, items, pairs)
	case t.k == kObj && t.allowed && pairs && dictLike[t.path()]:
		if t.c.state == nil {
			t.c.state = &container{}
		}
		m.extend(t.c.state, items, true)
	case t.k == kObj && t.allowed && native == kSet && t.path() == "builtins.set":
	case t.k == kObj && t.allowed && (dictLike[t.path()] || t.path() == "builtins.set" || t.path() == "builtins.bytearray"):
		m.add(finding.Unknown, t.path()+method, op+" on a "+t.path()+" (the loader raises or weights_only refuses)", op)
	case t.k == kObj && t.allowed, t.k == kStorage:
		what := "a torch storage"
		if t.k == kObj {
			what = "an object made by " + t.path()
		}
		m.add(finding.Unsafe, t.path()+method, "evasion: "+op+" on "+what+", which is not a container (CVE-2026-24747 class)", op)
	case t.k == kObj:
		m.add(grade(*t), t.path()+method, op+" calls "+t.path()+method, op)
	case t.k == kGlobal && t.allowed:
		m.add(finding.Unsafe, t.path()+method, "evasion: "+op+" on the global "+t.path()+", which is not a container", op)
	case t.k == kGlobal:
		m.add(grade(*t), t.path()+method, op+" calls "+t.path()+method, op)
	case t.k == kUnknown:
		m.add(finding.Unknown, "", op+" on an unresolved value", op)
	default:
		m.fail(finding.Unknown, op+" on a "+t.k.String()+" (the loader raises here)")
	}
}

// persistent handles PERSID/BINPERSID according to the loader (2.3).
func (m *machine) persistent(pid value, text bool) value {
	op := opNames[m.op]
	switch m.opts.Context {
	case TorchZip:
		if !text && pid.k == kTuple && pid.itemCount() == 5 {
			if v, ok := m.storagePID(pid, pid.item(4)); ok {
				return v
			}
		}
		m.add(finding.Unknown, "", "persistent id is not a (\"storage\", class, key, location, numel) tuple", op)
	case TorchLegacy:
		if !text && pid.k == kInt {
			return value{k: kStorage, c: &container{storage: &storageInfo{numel: -1}}}
		}
		if !text && pid.k == kTuple && pid.itemCount() >= 2 {
			kindText, _ := m.text(pid.item(0), 16)
			switch {
			case kindText == "storage" && pid.itemCount() == 6:
				if v, ok := m.storagePID(pid, pid.item(4)); ok {
					return v
				}
			case kindText == "module" && pid.itemCount() == 4 && pid.item(1).k == kGlobal:
				return pid.item(1) // torch returns the class itself
			}
		}
		m.add(finding.Unknown, "", "persistent id is not an int or a (\"storage\"|\"module\", ...) tuple", op)
	default:
		m.add(finding.Unknown, "", "persistent id outside a torch context (plain pickle.load raises here)", op)
	}
	return value{k: kUnknown}
}

// storagePID validates ("storage", class, key, location, numel[, view]) and
// records the storage for the zip layer's size check.
func (m *machine) storagePID(pid, numelV value) (value, bool) {
	kindText, ok := m.text(pid.item(0), 16)
	if !ok || kindText != "storage" {
		return value{}, false
	}
	cls := pid.item(1)
	key, ok := m.text(pid.item(2), int64(max(m.lim.MaxInlineString, 1)))
	if !ok || cls.k != kGlobal {
		return value{}, false
	}
	if numelV.k != kInt || numelV.big || numelV.i < 0 {
		return value{}, false
	}
	info := &storageInfo{key: key, class: cls.path(), numel: numelV.i}
	if m.storageIdx == nil {
		m.storageIdx = map[string]bool{}
	}
	if !m.storageIdx[key] {
		if len(m.res.Storages) >= maxStorages {
			m.add(finding.Unknown, "", fmt.Sprintf("limit hit: more than %d storages", maxStorages), opNames[m.op])
			return value{k: kStorage, c: &container{storage: info}}, true
		}
		m.storageIdx[key] = true
		m.res.Storages = append(m.res.Storages, StorageRef{Key: key, Class: cls.path(), ElemSize: storageElemSize(cls.path()), Numel: numelV.i})
	}
	return value{k: kStorage, c: &container{storage: info}}, true
}

// indirectCall handles torch._tensor._rebuild_from_type_v2(func, type,
// args, state), which calls func(*args) itself: the inner call gets the
// same checks as a REDUCE (tensor bounds included).
func (m *machine) indirectCall(outer string, argc *container) {
	a := value{k: kTuple, c: argc}
	fn, inner := a.item(0), a.item(2)
	op := opNames[m.op]
	switch {
	case fn.k != kGlobal:
		m.add(finding.Unknown, outer, outer+" calls an unresolved "+fn.k.String()+" value", op)
	case !fn.allowed:
		m.add(grade(fn), fn.path(), "calls "+fn.path()+" through "+outer, op)
	case strings.HasPrefix(fn.path(), "torch._utils._rebuild_") && inner.k == kTuple && inner.c != nil:
		m.checkTensor(fn.path(), inner.c)
	}
}

// codecsEncode models _codecs.encode(s, encoding) for the encodings that
// turn a str into bytes a loader could be handed.
func (m *machine) codecsEncode(argc *container) (value, bool) {
	a := value{k: kTuple, c: argc}
	s := a.item(0)
	if s.k != kStr {
		return value{}, false
	}
	enc := "utf-8"
	if argc.count >= 2 {
		e, ok := m.text(a.item(1), 32)
		if !ok {
			return value{}, false
		}
		enc = strings.ReplaceAll(strings.ToLower(e), "_", "-")
	}
	switch enc {
	case "latin1", "latin-1", "iso-8859-1", "iso8859-1", "l1", "8859", "cp819":
		return value{k: kBytes, enc: encFolded, n: s.n, c: &container{items: []value{s}}}, true
	case "utf-8", "utf8", "u8":
		if s.enc == encUTF8 && s.c == nil {
			return value{k: kBytes, i: s.i, n: s.n}, true // the stored text is the UTF-8 bytes
		}
	}
	return value{}, false
}
