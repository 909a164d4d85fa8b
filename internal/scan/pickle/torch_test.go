package pickle

import (
	"testing"

	"github.com/safehub/safehub/internal/scan/finding"
)

// storagePID pushes the persistent id torch.save writes for a storage and
// loads it with BINPERSID.
func (p pk) storagePID(class, key string, numel byte) pk {
	return p.mark().str("storage").global("torch", class).str(key).str("cpu").int1(numel).tuple().op(opBINPERSID)
}

// rebuild emits torch._utils._rebuild_tensor_v2(storage, offset, (size,), (stride,), False, OrderedDict()).
func rebuild(storage pk, offset, size, stride byte) pk {
	return pk{}.global("torch._utils", "_rebuild_tensor_v2").mark().raw(storage).
		int1(offset).int1(size).tuple1().int1(stride).tuple1().op(opNEWFALSE).
		global("collections", "OrderedDict").emptyTuple().reduce().tuple().reduce()
}

func TestTensorBoundsAndTypedTargets(t *testing.T) {
	st := pk{}.storagePID("FloatStorage", "0", 4)
	cases := []bypassCase{
		{"39 view larger than storage", pk{}.proto(2).raw(rebuild(st, 0, 10, 1)).stop(), "", TorchZip, finding.Unsafe, "tensor view outside its storage"},
		{"39 offset past storage", pk{}.proto(2).raw(rebuild(st, 4, 1, 1)).stop(), "", TorchZip, finding.Unsafe, "tensor view outside its storage"},
		{"39 stride past storage", pk{}.proto(2).raw(rebuild(st, 0, 2, 4)).stop(), "", TorchZip, finding.Unsafe, "tensor view outside its storage"},
		{"39 negative view inside storage", pk{}.proto(2).raw(rebuild(st, 0, 4, 1)).stop(), "", TorchZip, finding.Safe, ""},
		{"39 negative empty tensor", pk{}.proto(2).raw(rebuild(st, 9, 0, 1)).stop(), "", TorchZip, finding.Safe, ""},
		{"39 SETITEM on a tensor", pk{}.proto(2).raw(rebuild(st, 0, 4, 1)).int1(0).int1(1).op(opSETITEM).stop(), "", TorchZip, finding.Unsafe, "CVE-2026-24747"},
		{"39 SETITEM on a storage", pk{}.proto(2).raw(st).int1(0).int1(1).op(opSETITEM).stop(), "", TorchZip, finding.Unsafe, "torch storage"},
		{"39 APPENDS on a dtype global", pk{}.proto(2).global("torch", "float32").mark().int1(1).op(opAPPENDS).stop(), "", TorchZip, finding.Unsafe, "not a container"},
		{"39 negative SETITEM on OrderedDict", pk{}.proto(2).global("collections", "OrderedDict").emptyTuple().reduce().str("w").raw(rebuild(st, 0, 4, 1)).op(opSETITEM).stop(), "", TorchZip, finding.Safe, ""},
		{"persistent id of the wrong shape", pk{}.proto(2).str("storage").tuple1().op(opBINPERSID).stop(), "", TorchZip, finding.Unknown, "persistent id"},
		{"legacy int persistent id", pk{}.proto(2).int1(3).op(opBINPERSID).stop(), "", TorchLegacy, finding.Safe, ""},
		{"legacy module persistent id returns the class", pk{}.proto(2).mark().str("module").global("mylib", "Net").str("net.py").str("src").tuple().op(opBINPERSID).emptyTuple().reduce().stop(), "", TorchLegacy, finding.Unknown, "mylib.Net"},
	}
	runBypassCases(t, cases)
}

func TestStorageRefs(t *testing.T) {
	data := pk{}.proto(2).mark().
		raw(rebuild(pk{}.storagePID("HalfStorage", "k1", 6), 0, 6, 1)).
		raw(rebuild(pk{}.storagePID("HalfStorage", "k1", 6), 0, 3, 2)).
		raw(rebuild(pk{}.storagePID("LongStorage", "k2", 2), 0, 2, 1)).
		op(opLIST).stop()
	res := scanBytes(t, data, Options{Context: TorchZip})
	if res.Verdict != finding.Safe {
		t.Fatalf("verdict %v%s", res.Verdict, describe(res))
	}
	want := []StorageRef{{Key: "k1", Class: "torch.HalfStorage", ElemSize: 2, Numel: 6}, {Key: "k2", Class: "torch.LongStorage", ElemSize: 8, Numel: 2}}
	if len(res.Storages) != len(want) || res.Storages[0] != want[0] || res.Storages[1] != want[1] {
		t.Fatalf("storages %+v, want %+v", res.Storages, want)
	}
}

func TestIndirectRebuildAndCodecs(t *testing.T) {
	st := pk{}.storagePID("FloatStorage", "0", 4)
	// Built explicitly: _rebuild_from_type_v2(_rebuild_tensor_v2, Tensor, (storage, 0, (n,), (1,), False, None), {})
	build := func(size byte) pk {
		return pk{}.proto(2).global("torch._tensor", "_rebuild_from_type_v2").mark().
			global("torch._utils", "_rebuild_tensor_v2").global("torch", "Tensor").
			mark().raw(st).int1(0).int1(size).tuple1().int1(1).tuple1().op(opNEWFALSE).none().tuple().
			emptyDict().tuple().reduce().stop()
	}
	cases := []bypassCase{
		{"view outside storage through _rebuild_from_type_v2", build(9), "", TorchZip, finding.Unsafe, "tensor view outside its storage"},
		{"negative view inside storage through _rebuild_from_type_v2", build(4), "", TorchZip, finding.Safe, ""},
		{"utf-8 _codecs.encode of a pickle to a loader", pk{}.proto(2).global("pickle", "loads").
			global("_codecs", "encode").binunicode("cos\nsystem\n(S'id'\ntR.").str("utf-8").op(opTUPLE2).reduce().
			tuple1().reduce().stop(), "", Plain, finding.Unsafe, "pickle.loads → os.system"},
	}
	runBypassCases(t, cases)
}
