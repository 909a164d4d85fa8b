package scan

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Benchmarks of whole-file scans:
//   go test ./internal/scan -run '^$' -bench ScanFile -benchtime 2s
// MB/s is over the file size; tensor bytes are never read, so it measures
// how cheap a verdict is, not a read speed.

func BenchmarkScanFileTorchZip(b *testing.B) {
	ms := fixtureMembers(b, readFixture(b, "torch_zip.pt"))
	for i := range ms {
		if strings.HasSuffix(ms[i].Name, "/data/0") {
			ms[i].Sparse = 256 << 20
		}
	}
	p := filepath.Join(b.TempDir(), "model.pt")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	if err := buildZip(&fileSink{f: f}, ms); err != nil {
		b.Fatal(err)
	}
	f.Close()
	benchScanFile(b, p)
}

func BenchmarkScanFileSafetensors(b *testing.B) {
	var hdr strings.Builder
	hdr.WriteString("{")
	const n, each = 400, 4096
	for i := range n {
		if i > 0 {
			hdr.WriteString(",")
		}
		fmt.Fprintf(&hdr, `"layers.%d.weight":{"dtype":"F32","shape":[32,32],"data_offsets":[%d,%d]}`, i, i*each, (i+1)*each)
	}
	hdr.WriteString("}")
	p := filepath.Join(b.TempDir(), "model.safetensors")
	if err := os.WriteFile(p, safetensorsBytes(hdr.String(), n*each), 0o644); err != nil {
		b.Fatal(err)
	}
	benchScanFile(b, p)
}

func benchScanFile(b *testing.B, p string) {
	st, err := os.Stat(p)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	b.ReportAllocs()
	for b.Loop() {
		r, err := ScanFile(context.Background(), p, Options{})
		if err != nil || r.Verdict != 0 {
			b.Fatalf("scan: %v %+v", err, r)
		}
	}
}
