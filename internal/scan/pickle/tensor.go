package pickle

import (
	"fmt"
	"math/bits"
	"strings"

	"github.com/safehub/safehub/internal/scan/finding"
)

// storageElemSize is the element size of a torch storage class (0 unknown).
func storageElemSize(class string) int {
	name := class[strings.LastIndexByte(class, '.')+1:]
	switch strings.TrimSuffix(name, "Storage") {
	case "Untyped", "Char", "Byte", "Bool", "QInt8", "QUInt8", "QUInt4x2", "QUInt2x4":
		return 1
	case "Half", "BFloat16", "Short":
		return 2
	case "Float", "Int", "QInt32":
		return 4
	case "Double", "Long", "ComplexFloat":
		return 8
	case "ComplexDouble":
		return 16
	}
	return 0
}

// checkTensor verifies that a _rebuild_tensor* view stays inside its
// storage: offset + sum((size_i-1)*stride_i) < numel (scanner-notes.md 4).
// A view past its storage reads or writes memory it does not own.
func (m *machine) checkTensor(callee string, args *container) {
	switch callee {
	case "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_qtensor":
	case "torch._utils._rebuild_tensor_v3":
	default:
		return
	}
	a := value{k: kTuple, c: args}
	st := a.item(0)
	if st.k != kStorage || st.c == nil || st.c.storage == nil || st.c.storage.numel < 0 {
		return // no numel known (plain pickle, legacy int id): nothing to compare
	}
	info := st.c.storage
	if callee == "torch._utils._rebuild_tensor_v3" && storageElemSize(info.class) == 1 &&
		strings.HasSuffix(info.class, "UntypedStorage") {
		return // v3 views an untyped (byte-counted) storage through another dtype
	}
	op := opNames[m.op]
	offV, sizeV, strideV := a.item(1), a.item(2), a.item(3)
	if offV.k != kInt || offV.big || sizeV.k != kTuple || strideV.k != kTuple ||
		sizeV.itemCount() != strideV.itemCount() || sizeV.itemCount() > int64(len(sizeV.c.items)) ||
		strideV.itemCount() > int64(len(strideV.c.items)) {
		m.add(finding.Unknown, callee, "tensor geometry cannot be checked against its storage", op)
		return
	}
	lo, hi := offV.i, offV.i
	overflow := false
	for i := range sizeV.c.items {
		sz, sd := sizeV.c.items[i], strideV.c.items[i]
		if sz.k != kInt || sd.k != kInt || sz.big || sd.big || sz.i < 0 {
			m.add(finding.Unknown, callee, "tensor geometry cannot be checked against its storage", op)
			return
		}
		if sz.i == 0 {
			return // an empty tensor touches no element
		}
		span, ok := mulCheck(sz.i-1, sd.i)
		if !ok {
			overflow = true
			break
		}
		if span < 0 {
			lo, ok = addCheck(lo, span)
		} else {
			hi, ok = addCheck(hi, span)
		}
		if !ok {
			overflow = true
			break
		}
	}
	if overflow || lo < 0 || hi >= info.numel {
		m.add(finding.Unsafe, callee, fmt.Sprintf(
			"evasion: tensor view outside its storage (storage %q holds %d elements; view reaches [%d, %d])",
			info.key, info.numel, lo, hi), op)
	}
}

func mulCheck(a, b int64) (int64, bool) {
	neg := (a < 0) != (b < 0)
	ua, ub := uint64(abs64(a)), uint64(abs64(b))
	hi, lo := bits.Mul64(ua, ub)
	if hi != 0 || lo > 1<<62 {
		return 0, false
	}
	if neg {
		return -int64(lo), true
	}
	return int64(lo), true
}

func addCheck(a, b int64) (int64, bool) {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		return 0, false
	}
	return s, true
}

func abs64(x int64) int64 {
	if x < 0 {
		if x == -1<<63 {
			return 1<<63 - 1
		}
		return -x
	}
	return x
}
