package pickle

import (
	"bytes"
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/safehub/safehub/internal/scan/finding"
)

// framed wraps protocol-4 opcodes in FRAMEs of about 64 KiB, as CPython's
// pickler does, splitting only between opcodes (the caller passes them).
func framed(ops [][]byte) []byte {
	out := pk{}.proto(4)
	var cur []byte
	flush := func() {
		if len(cur) > 0 {
			out = out.frame(uint64(len(cur))).raw(cur)
			cur = cur[:0]
		}
	}
	for _, o := range ops {
		if len(cur)+len(o) > 64<<10 {
			flush()
		}
		cur = append(cur, o...)
	}
	flush()
	return out
}

// denseList is pickle.dumps([i % 65536 for i in range(n)], 4) in shape.
func denseList(n int) []byte {
	ops := [][]byte{{opEMPTY_LIST, opMEMOIZE}}
	for i := 0; i < n; i += 1000 {
		batch := pk{}.mark()
		for j := i; j < i+1000 && j < n; j++ {
			if v := j % 65536; v < 256 {
				batch = batch.int1(byte(v))
			} else {
				batch = batch.op(opBININT2, byte(v), byte(v>>8))
			}
		}
		ops = append(ops, batch.op(opAPPENDS))
	}
	ops = append(ops, []byte{opSTOP})
	return framed(ops)
}

// denseDict is pickle.dumps({"key%d" % i: float(i) for i in range(n)}, 4) in shape.
func denseDict(n int) []byte {
	ops := [][]byte{{opEMPTY_DICT, opMEMOIZE}}
	for i := 0; i < n; i += 1000 {
		batch := pk{}.mark()
		for j := i; j < i+1000 && j < n; j++ {
			batch = batch.str(fmt.Sprintf("key%d", j)).memoize().op(opBINFLOAT, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f)
		}
		ops = append(ops, batch.op(opSETITEMS))
	}
	ops = append(ops, []byte{opSTOP})
	return framed(ops)
}

// stateDict is a torch data.pkl of n tensors (protocol 2, BINPUT memo).
func stateDict(n int) []byte {
	p := pk{}.proto(2).global("collections", "OrderedDict").binput(0).emptyTuple().reduce().binput(1).mark()
	for i := 0; i < n; i++ {
		key := fmt.Sprintf("%d", i)
		p = p.str(fmt.Sprintf("layers.%d.weight", i)).
			raw(rebuild(pk{}.storagePID("FloatStorage", key, 16), 0, 16, 1))
		if i%1000 == 999 {
			p = p.op(opSETITEMS).mark()
		}
	}
	return p.op(opSETITEMS).stop()
}

func benchScan(b *testing.B, data []byte, opts Options) {
	b.Helper()
	r := bytes.NewReader(data)
	res := ScanStreams(context.Background(), r, 0, int64(len(data)), opts)
	if res.Verdict != finding.Safe || !res.Complete {
		b.Fatalf("benchmark input not safe: %v%s", res.Verdict, describe(res))
	}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		ScanStreams(context.Background(), r, 0, int64(len(data)), opts)
	}
	// The build machine is shared, so wall-clock MB/s understates the
	// scanner; MB per CPU-second (this process, GC included) is the
	// per-core figure the design targets.
	if cpu := (cpuTime() - cpu0).Seconds(); cpu > 0 {
		b.ReportMetric(float64(len(data))*float64(b.N)/1e6/cpu, "MB/cpu-s")
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkScanDenseList(b *testing.B) { benchScan(b, denseList(1_000_000), Options{}) }
func BenchmarkScanDenseDict(b *testing.B) { benchScan(b, denseDict(5000), Options{}) }
func BenchmarkScanStateDict(b *testing.B) {
	benchScan(b, stateDict(5000), Options{Context: TorchZip})
}
func BenchmarkScanRealStateDict(b *testing.B) {
	benchScan(b, readTestdata(b, "torch_state_dict.data.pkl"), Options{Context: TorchZip})
}
