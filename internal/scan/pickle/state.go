package pickle

import (
	"fmt"
	"sync"

	"github.com/safehub/safehub/internal/scan/finding"
)

// scratch holds the large per-stream buffers, reused across scans so that
// scanning many files does not churn the garbage collector.
type scratch struct {
	buf   []byte
	stack []value
	dense []value
}

var scratchPool = sync.Pool{New: func() any { return &scratch{buf: make([]byte, windowSize)} }}

// maxPooled caps the slices kept for reuse, so one huge pickle does not pin
// its memo in memory after the scan.
const maxPooled = 1 << 16

func (m *machine) release() {
	s := m.scratch
	if s == nil {
		return
	}
	m.scratch = nil
	s.stack, s.dense = nil, nil
	if cap(m.stack) <= maxPooled {
		s.stack = m.stack[:cap(m.stack)]
		clear(s.stack) // drop references to containers
		s.stack = s.stack[:0]
	}
	if cap(m.memo.dense) <= maxPooled {
		s.dense = m.memo.dense[:cap(m.memo.dense)]
		clear(s.dense)
		s.dense = s.dense[:0]
	}
	m.stack, m.memo.dense = nil, nil
	scratchPool.Put(s)
}

// --- stack helpers ---

func (m *machine) markBase() int {
	if len(m.marks) == 0 {
		return 0
	}
	return m.marks[len(m.marks)-1]
}

func (m *machine) push(v value) {
	if len(m.stack)+len(m.marks) >= m.lim.MaxStackItems {
		m.fail(finding.Unknown, fmt.Sprintf("limit hit: more than %d stack items", m.lim.MaxStackItems))
		return
	}
	m.stack = append(m.stack, v)
}

func (m *machine) pop() (value, bool) {
	if len(m.stack) <= m.markBase() {
		m.fail(finding.Unknown, "unpickling stack underflow")
		return value{}, false
	}
	v := m.stack[len(m.stack)-1]
	m.stack = m.stack[:len(m.stack)-1]
	return v, true
}

func (m *machine) top() *value {
	if len(m.stack) <= m.markBase() {
		m.fail(finding.Unknown, "unpickling stack underflow")
		return nil
	}
	return &m.stack[len(m.stack)-1]
}

// popMark returns the items above the last MARK and removes the MARK. The
// slice aliases the stack and is valid until the next push.
func (m *machine) popMark() ([]value, bool) {
	if len(m.marks) == 0 {
		m.fail(finding.Unknown, "could not find MARK")
		return nil, false
	}
	base := m.marks[len(m.marks)-1]
	m.marks = m.marks[:len(m.marks)-1]
	items := m.stack[base:]
	m.stack = m.stack[:base]
	return items, true
}

// newContainer copies up to the per-value cap of items.
func (m *machine) newContainer(k kind, items []value) value {
	keep := m.lim.MaxContainerItems
	if k == kDict {
		keep *= 2
	}
	if len(items) < keep {
		keep = len(items)
	}
	var c *container
	if keep <= 4 {
		// Small tuples dominate real pickles: one allocation for both.
		sc := &smallContainer{}
		c = &sc.c
		c.items = append(sc.arr[:0:keep], items[:keep]...)
	} else {
		c = &container{items: append(make([]value, 0, keep), items[:keep]...)}
	}
	c.count = int64(len(items))
	if k == kDict {
		c.count /= 2
	}
	return value{k: k, c: c}
}

type smallContainer struct {
	c   container
	arr [4]value
}

// extend appends to a native container, keeping the cap.
func (m *machine) extend(c *container, items []value, pairs bool) {
	keep := m.lim.MaxContainerItems
	n := int64(len(items))
	if pairs {
		keep *= 2
		n /= 2
	}
	c.count += n
	if room := keep - len(c.items); room > 0 {
		if room > len(items) {
			room = len(items)
		}
		c.items = append(c.items, items[:room]...)
	}
}
