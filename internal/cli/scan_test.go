package cli

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func scanMain(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(append([]string{"scan"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// evilPickle is pickle.dumps of a __reduce__ calling os.system (never loaded).
const evilPickle = "\x80\x02cposix\nsystem\nq\x00X\x0a\x00\x00\x00echo pwnedq\x01\x85q\x02Rq\x03."

func safetensorsFile() []byte {
	hdr := `{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(hdr)))
	return append(append(b, hdr...), make([]byte, 8)...)
}

func mustWrite(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustLink(t *testing.T, target, p string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

// hfCache lays out a Hugging Face cache: two snapshots share one
// safetensors blob; one snapshot also has a pickle named .bin.
func hfCache(t *testing.T) string {
	root := t.TempDir()
	repo := filepath.Join(root, "models--org--model")
	mustWrite(t, filepath.Join(repo, "blobs", "aaaa"), safetensorsFile())
	mustWrite(t, filepath.Join(repo, "blobs", "bbbb"), []byte(evilPickle))
	mustWrite(t, filepath.Join(repo, "refs", "main"), []byte("rev1"))
	mustLink(t, "../../blobs/aaaa", filepath.Join(repo, "snapshots", "rev1", "model.safetensors"))
	mustLink(t, "../../blobs/bbbb", filepath.Join(repo, "snapshots", "rev1", "pytorch_model.bin"))
	mustLink(t, "../../blobs/aaaa", filepath.Join(repo, "snapshots", "rev2", "model.safetensors"))
	return root
}

func TestScanHFCacheText(t *testing.T) {
	root := hfCache(t)
	code, out, errs := scanMain(t, root)
	if code != ExitFindings || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := map[string]string{
		"snapshots/rev1/model.safetensors": "safe",
		"snapshots/rev2/model.safetensors": "safe",
		"snapshots/rev1/pytorch_model.bin": "unsafe",
		"refs/main":                        "safe",
	}
	if len(lines) != len(want) {
		t.Fatalf("want %d lines (blobs reported by their snapshot paths), got:\n%s", len(want), out)
	}
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) < 3 {
			t.Fatalf("bad line %q", l)
		}
		rel := strings.TrimPrefix(f[2], filepath.Join(root, "models--org--model")+"/")
		if want[rel] != f[0] {
			t.Errorf("line %q: verdict %s, want %q", l, f[0], want[rel])
		}
		if rel == "snapshots/rev1/pytorch_model.bin" && !strings.Contains(l, "pickle") || strings.Contains(l, "/blobs/") {
			t.Errorf("line %q", l)
		}
	}
}

func TestScanBlobScannedOnce(t *testing.T) {
	items, errs := collectScanItems([]string{hfCache(t)})
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	for _, it := range items {
		if strings.HasSuffix(it.real, "aaaa") && len(it.paths) != 2 {
			t.Errorf("shared blob: paths %v", it.paths)
		}
	}
	if len(items) != 3 {
		t.Errorf("%d items, want 3 (two blobs and refs/main)", len(items))
	}
}

func TestScanJSON(t *testing.T) {
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "model.safetensors"), []byte(evilPickle))
	code, out, _ := scanMain(t, "--json", dir)
	if code != ExitFindings {
		t.Fatalf("exit %d", code)
	}
	var rows []struct {
		Path, Format, Verdict, Reason string
		Findings                      []struct {
			Callable, Reason, Verdict string
			Offset                    int64
		}
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if len(rows) != 1 || rows[0].Format != "pickle" || rows[0].Verdict != "unsafe" || rows[0].Reason != "it is a pickle, not safetensors" {
		t.Fatalf("rows %+v", rows)
	}
	found := false
	for _, f := range rows[0].Findings {
		found = found || (f.Verdict == "unsafe" && strings.HasSuffix(f.Callable, ".system"))
	}
	if !found {
		t.Errorf("no unsafe finding naming system: %+v", rows[0].Findings)
	}
}

func TestScanExitCodes(t *testing.T) {
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "m.safetensors"), safetensorsFile())
	mustWrite(t, filepath.Join(dir, "config.json"), []byte(`{"a": 1}`))
	if code, out, errs := scanMain(t, dir); code != ExitOK || errs != "" || strings.Count(out, "\n") != 2 {
		t.Errorf("all safe: exit %d, out %q, err %q", code, out, errs)
	}
	if code, _, errs := scanMain(t, filepath.Join(dir, "missing")); code != ExitError || errs == "" {
		t.Errorf("missing file: exit %d, err %q", code, errs)
	}
	if code, _, _ := scanMain(t); code != ExitError {
		t.Errorf("no arguments: exit %d", code)
	}
	if code, _, errs := scanMain(t, "--profile", "nonsense", dir); code != ExitError || !strings.Contains(errs, "nonsense") {
		t.Errorf("bad profile: exit %d, err %q", code, errs)
	}
	if code, _, _ := scanMain(t, "--policy", filepath.Join(dir, "nope.yaml"), dir); code != ExitError {
		t.Errorf("missing policy: exit %d", code)
	}
	// Output is only results when piped: no progress bar on a buffer.
	if _, out, errs := scanMain(t, "--json", dir); !strings.HasPrefix(out, "[") || errs != "" {
		t.Errorf("json out %q err %q", out, errs)
	}
}

// A symlinked directory argument (a cache moved to a data disk) is walked.
func TestScanSymlinkedDirectoryArgument(t *testing.T) {
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "real", "m.pkl"), []byte(evilPickle))
	mustLink(t, filepath.Join(dir, "real"), filepath.Join(dir, "link"))
	code, out, _ := scanMain(t, filepath.Join(dir, "link"))
	if code != ExitFindings || !strings.Contains(out, "unsafe") || !strings.Contains(out, filepath.Join(dir, "link", "m.pkl")) {
		t.Fatalf("exit %d, out %q", code, out)
	}
}
