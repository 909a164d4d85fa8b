package scan

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/safehub/safehub/internal/scan/finding"
)

// Fuzz targets for every parser of untrusted bytes. Short runs:
//   go test ./internal/scan -run '^$' -fuzz FuzzZipDir -fuzztime 20s

func seedFixtures(f *testing.F) {
	paths, _ := filepath.Glob("testdata/*")
	for _, p := range paths {
		if filepath.Ext(p) == ".py" {
			continue
		}
		if b, err := os.ReadFile(p); err == nil && len(b) < 16<<10 {
			f.Add(b)
		}
	}
}

func FuzzZipDir(f *testing.F) {
	seedFixtures(f)
	f.Add(zipBytes(f, zipMember{Name: "a/data.pkl", Data: evilP2}, zipMember{Name: "a/b", Data: []byte("x"), Deflate: true}))
	f.Add([]byte("PK\x05\x06" + string(make([]byte, 18))))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir, err := readZipDir(bytes.NewReader(b), int64(len(b)), 1000)
		// Differential: an archive Go's strict reader opens cleanly is one
		// ours opens too, with the same members.
		if zr, zerr := zip.NewReader(bytes.NewReader(b), int64(len(b))); zerr == nil && len(zr.File) <= 1000 && len(zr.Comment) == 0 {
			if err != nil {
				t.Fatalf("archive/zip opens it, readZipDir says %v", err)
			}
			if len(dir.Anomalies) == 0 {
				if len(zr.File) != len(dir.Entries) {
					t.Fatalf("%d members, archive/zip sees %d", len(dir.Entries), len(zr.File))
				}
				for i, f := range zr.File {
					if f.Name != dir.Entries[i].Name || f.UncompressedSize64 != dir.Entries[i].Size {
						t.Fatalf("member %d: %q/%d vs archive/zip %q/%d", i, dir.Entries[i].Name, dir.Entries[i].Size, f.Name, f.UncompressedSize64)
					}
				}
			}
		}
		if err != nil {
			return
		}
		if len(dir.Entries) > 1000 {
			t.Fatalf("%d entries past the limit", len(dir.Entries))
		}
		for i := range dir.Entries {
			off, head, _, err := dir.memberData(&dir.Entries[i], 64)
			if err == nil && (off < 0 || off > int64(len(b)) || len(head) > 64) {
				t.Fatalf("data offset %d / head %d outside a %d-byte file", off, len(head), len(b))
			}
		}
	})
}

func FuzzTar(f *testing.F) {
	seedFixtures(f)
	f.Add(tarBytes(tarEntry{Name: "pickle", Data: evilP2}, tarEntry{Name: "l", Typ: '2', Link: "../x"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		n := 0
		_ = walkTar(bytes.NewReader(b), int64(len(b)), 100, func(m tarMember) bool {
			n++
			if m.DataOff < 0 || m.Size < 0 || m.DataOff+m.Size > int64(len(b)) {
				t.Fatalf("member %q data [%d,+%d) outside a %d-byte file", m.Name, m.DataOff, m.Size, len(b))
			}
			return true
		})
		if n > 100 {
			t.Fatalf("%d members past the limit", n)
		}
		// Differential: regular members Go's archive/tar reads cleanly are
		// members walkTar reports with the same names and sizes.
		tr := tar.NewReader(bytes.NewReader(b))
		var goNames []string
		for len(goNames) < 50 {
			h, err := tr.Next()
			if err != nil {
				if err != io.EOF {
					return
				}
				break
			}
			if h.Typeflag == tar.TypeReg {
				goNames = append(goNames, fmt.Sprintf("%s/%d", h.Name, h.Size))
			}
		}
		if len(goNames) == 0 || len(goNames) >= 50 {
			return
		}
		var ours []string
		_ = walkTar(bytes.NewReader(b), int64(len(b)), 100, func(m tarMember) bool {
			if m.Type == '0' || m.Type == 0 {
				ours = append(ours, fmt.Sprintf("%s/%d", m.Name, m.Size))
			}
			return true
		})
		// tarfile (which walkTar follows) joins the ustar prefix even
		// without the ustar magic; Go does not: compare name suffixes.
		if len(ours) != len(goNames) {
			t.Fatalf("walkTar %q, archive/tar %q", ours, goNames)
		}
		for i := range ours {
			if !strings.HasSuffix(ours[i], goNames[i]) {
				t.Fatalf("walkTar %q, archive/tar %q", ours, goNames)
			}
		}
	})
}

func FuzzSafetensorsHeader(f *testing.F) {
	f.Add([]byte(stGood), uint16(18))
	f.Add([]byte(`{"__metadata__":{"a":"b"}}`), uint16(0))
	f.Add([]byte(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{}}`), uint16(1))
	f.Fuzz(func(t *testing.T, hdr []byte, data uint16) {
		err := validateSafetensorsHeader(hdr, int64(len(hdr))+8+int64(data))
		if err == nil && !json.Valid(bytes.TrimRight(hdr, " ")) {
			t.Fatalf("accepted a header encoding/json rejects: %q", hdr)
		}
		// Through the whole scanner too: never an error, never a panic.
		b := binary.LittleEndian.AppendUint64(nil, uint64(len(hdr)))
		b = append(append(b, hdr...), make([]byte, data)...)
		if _, err := Scan(context.Background(), bytes.NewReader(b), int64(len(b)), Options{}); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzNpyHeader(f *testing.F) {
	f.Add(npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", nil))
	f.Add(npyBytes("{'descr': [('a', '<i4'), ('b', 'O')], 'fortran_order': True, 'shape': (1L,), }", nil))
	f.Add(npyBytes("{'descr': [[[[[[('a', '<i4')]]]]]], 'fortran_order': True, 'shape': (), }", nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseNpyHeader(b, int64(len(b)))
		if err == nil && (h.DataOff > int64(len(b)) || h.DataOff < 10) {
			t.Fatalf("data offset %d in a %d-byte file", h.DataOff, len(b))
		}
	})
}

func FuzzGGUF(f *testing.F) {
	f.Add(ggufBytes([2]string{"tokenizer.chat_template", "{{ messages }}"}))
	f.Add(ggufBytes([2]string{"general.name", "x"}, [2]string{"tokenizer.chat_template.rag", "{{ x.__class__ }}"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		tm, err := parseGGUF(bytes.NewReader(b), int64(len(b)))
		if err == nil {
			for _, x := range tm {
				checkChatTemplate(x.Text)
			}
		}
	})
}

// FuzzScan runs the whole dispatcher: it must return, without error, a
// verdict that every non-safe grade explains with a finding.
func FuzzScan(f *testing.F) {
	seedFixtures(f)
	f.Add([]byte(evilP0))
	f.Add(ggufBytes([2]string{"a", "b"}))
	f.Add(gz(tarBytes(tarEntry{Name: "x", Data: evilP2})))
	f.Add(onnxBytes("../x"))
	f.Add([]byte("\x08\x01\x12\x10\x0a\x0e\x0a\x01n\x12\x08ReadFile"))
	f.Add(npyBytes("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", evilP2))
	f.Add(lz4Frame(0x20, 0x40, -1, lz4Stored(evilP2)))
	f.Add(zipBytes(f, zipMember{Name: "config.json", Data: []byte(`{"class_name":"TorchModuleWrapper","config":{"module":"` +
		base64.StdEncoding.EncodeToString(evilP2) + `"}}`)}))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Scan(context.Background(), bytes.NewReader(b), int64(len(b)), Options{NameHint: "x.bin", WallTime: 10 * time.Second, MaxInflate: 8 << 20})
		if err != nil {
			t.Fatal(err)
		}
		worst := finding.Safe
		for _, x := range r.Findings {
			worst = finding.Worst(worst, x.Verdict)
		}
		if worst != r.Verdict {
			t.Fatalf("verdict %s but worst finding %s", r.Verdict, worst)
		}
	})
}
