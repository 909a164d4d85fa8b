package gateway

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/safehub/safehub/internal/hubapi"
	"github.com/safehub/safehub/internal/upstream"
)

var (
	testCommit = strings.Repeat("c", 40)
	testSHA256 = strings.Repeat("e", 64)
)

func TestMetaIndexSurvivesRestartTornLinesAndJunk(t *testing.T) {
	dir := t.TempDir()
	ix, err := openMetaIndex(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := &upstream.FileMeta{Type: hubapi.Model, Repo: "org/m", Commit: testCommit, ETag: testSHA256, LinkedETag: testSHA256, Size: 42, ContentType: "application/octet-stream"}
	ix.putFile(m, "w.safetensors")
	ix.putRev(hubapi.Model, "org/m", "main", testCommit, time.Unix(1000, 0))
	ix.setPublic(hubapi.Model, "org/m", true)
	ix.setPublic(hubapi.Model, "org/gated", false)
	ix.close()
	// A crash mid-append, and lines a broken or hostile writer left.
	f, _ := os.OpenFile(filepath.Join(dir, indexFileName), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"k":"file","type":"model","repo":"org/x","commit":"` + testCommit + `","path":"a\r\nX-Evil: 1","etag":"` + testSHA256 + `"}` + "\n")
	f.WriteString(`{"k":"file","type":"model","repo":"org/y","commit":"../../etc","path":"p","etag":"` + testSHA256 + `"}` + "\n")
	f.WriteString(`{"k":"repo","type":"model","repo":"org/gated","public":tr`)
	f.Close()

	ix2, err := openMetaIndex(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ix2.close()
	got, ok := ix2.file(hubapi.Model, "org/m", testCommit, "w.safetensors")
	if !ok || got.Size != 42 || got.LinkedETag != testSHA256 || got.ContentType != "application/octet-stream" {
		t.Errorf("file after restart: %+v %v", got, ok)
	}
	if rv, ok := ix2.rev(hubapi.Model, "org/m", "main"); !ok || rv.Commit != testCommit || rv.At.Unix() != 1000 {
		t.Errorf("rev after restart: %+v %v", rv, ok)
	}
	if p, known := ix2.publicness(hubapi.Model, "org/m"); !p || !known {
		t.Error("public mark lost")
	}
	if p, known := ix2.publicness(hubapi.Model, "org/gated"); p || !known {
		t.Error("the torn line changed the gated repo's mark")
	}
	if _, ok := ix2.file(hubapi.Model, "org/x", testCommit, "a\r\nX-Evil: 1"); ok {
		t.Error("a path with CR/LF was loaded")
	}
	if len(ix2.files) != 1 {
		t.Errorf("%d file entries, want 1", len(ix2.files))
	}
}

func TestMetaIndexCompactsOnOpen(t *testing.T) {
	dir := t.TempDir()
	ix, err := openMetaIndex(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A branch moving back and forth writes a line per move.
	other := strings.Repeat("d", 40)
	for i := 0; i < 3000; i++ {
		c := testCommit
		if i%2 == 1 {
			c = other
		}
		ix.putRev(hubapi.Model, "org/m", "main", c, time.Unix(int64(i), 0))
	}
	ix.close()
	ix2, err := openMetaIndex(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ix2.close()
	b, _ := os.ReadFile(filepath.Join(dir, indexFileName))
	if n := strings.Count(string(b), "\n"); n != 1 {
		t.Errorf("%d lines after compaction, want 1", n)
	}
	if rv, _ := ix2.rev(hubapi.Model, "org/m", "main"); rv.Commit != other {
		t.Errorf("compaction kept %q, want the last commit", rv.Commit)
	}
}

func FuzzParseIndexLine(f *testing.F) {
	f.Add([]byte(`{"k":"file","type":"model","repo":"org/m","commit":"` + testCommit + `","path":"a/b.bin","etag":"` + testSHA256 + `","size":3}`))
	f.Add([]byte(`{"k":"rev","type":"dataset","repo":"o/d","rev":"refs/pr/1","commit":"` + testCommit + `","at":5}`))
	f.Add([]byte(`{"k":"repo","type":"space","repo":"o/s","public":true}`))
	f.Add([]byte(`{"k":"file","size":-1}`))
	f.Add([]byte(`[1,2,{"k":`))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, ok := parseIndexLine(b)
		if !ok {
			return
		}
		if !validText(l.Repo) || !validText(l.Path) || !validText(l.Rev) || l.Size < 0 {
			t.Fatalf("accepted an invalid line: %+v", l)
		}
		if l.K == "file" && (!isCommit(l.Commit) || !hexLen(l.ETag, 32, 128)) {
			t.Fatalf("accepted a file line with a bad commit or etag: %+v", l)
		}
		ix := &metaIndex{files: map[fileKey]fileRec{}, revs: map[revKey]revRec{}, public: map[repoKey]bool{}}
		ix.apply(l) // must not panic
	})
}
