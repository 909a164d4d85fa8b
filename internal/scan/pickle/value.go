package pickle

// kind is the symbolic type of a stack value. The machine never builds the
// Python object graph; it keeps only what grading needs.
type kind uint8

const (
	kMissing kind = iota // memo hole (never on the stack)
	kNone
	kBool
	kInt   // i holds the value unless big is set
	kFloat // value not kept
	kStr   // text at [i, i+n) of the input (or in c.data), encoding enc
	kBytes // bytes at [i, i+n) of the input (or in c.data)
	kTuple
	kList
	kDict
	kSet
	kFrozenSet
	kGlobal  // c.path is the canonical path, allowed says whether the profile allows it
	kObj     // result of calling c.path; c.args / c.state hold what was passed
	kStorage // torch storage from a persistent id; c.storage holds the details
	kUnknown // anything the emulation cannot know (EXT codes, buffers, ...)
)

var kindNames = [...]string{"missing", "None", "bool", "int", "float", "str", "bytes", "tuple", "list", "dict",
	"set", "frozenset", "global", "object", "storage", "unknown"}

func (k kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "?"
}

// Text encodings of kStr values, so names can be decoded only when needed.
const (
	encUTF8       uint8 = iota // BINUNICODE family; also raw BINSTRING bytes
	encEscaped                 // STRING: quoted Python escapes (quotes included in the range)
	encRawUnicode              // UNICODE: raw-unicode-escape
	encMemory                  // c.data holds the decoded bytes
)

type value struct {
	k       kind
	enc     uint8
	big     bool // kInt out of int64 range
	allowed bool // kGlobal / kObj: callee allowed by the profile
	i       int64
	n       int64
	c       *container
}

// path is the dotted callable path of a kGlobal, or the callee of a kObj.
func (v value) path() string {
	if v.c == nil {
		return ""
	}
	return v.c.path
}

// container holds the capped contents of a tuple/list/dict/set, or the
// details of an object, storage or in-memory bytes. Pointers give Python's
// sharing semantics: a list reached through the memo is the same list.
type container struct {
	items   []value // capped at Limits.MaxContainerItems (dicts: 2x, key/value pairs)
	count   int64   // true number of items (pairs for dicts)
	args    *container
	state   *container
	storage *storageInfo
	data    []byte // in-memory bytes (folded _codecs.encode, base64, ...)
	path    string // kGlobal / kObj: canonical callable path
}

type storageInfo struct {
	key, class string
	numel      int64 // -1 when unknown
}

func intValue(x int64) value { return value{k: kInt, i: x} }

// item returns the i-th kept item of a tuple-like value, or unknown.
func (v value) item(i int) value {
	if v.c == nil || i >= len(v.c.items) {
		return value{k: kUnknown}
	}
	return v.c.items[i]
}

// itemCount is the true number of items of a container value.
func (v value) itemCount() int64 {
	if v.c == nil {
		return 0
	}
	return v.c.count
}

// memo is the pickle memo: a dense slice while indices are compact, a map
// for sparse ones, so a hostile index cannot force a huge allocation.
type memo struct {
	dense  []value
	sparse map[uint64]value
	count  int
}

func (m *memo) put(idx uint64, v value) (added bool) {
	if idx < uint64(len(m.dense)) {
		if m.dense[idx].k == kMissing {
			m.count++
			added = true
		}
		m.dense[idx] = v
		return added
	}
	// Grow the dense slice only while it stays at most about twice the
	// number of entries, so sparse hostile indices cannot inflate it.
	if idx <= 2*uint64(m.count)+16 && m.sparse == nil {
		for uint64(len(m.dense)) < idx {
			m.dense = append(m.dense, value{})
		}
		m.dense = append(m.dense, v)
		m.count++
		return true
	}
	if m.sparse == nil {
		m.sparse = map[uint64]value{}
	}
	if _, ok := m.sparse[idx]; !ok {
		m.count++
		added = true
	}
	m.sparse[idx] = v
	return added
}

func (m *memo) get(idx uint64) (value, bool) {
	if idx < uint64(len(m.dense)) {
		v := m.dense[idx]
		return v, v.k != kMissing
	}
	v, ok := m.sparse[idx]
	return v, ok
}
