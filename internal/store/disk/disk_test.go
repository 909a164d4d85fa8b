package disk_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/safehub/safehub/internal/store"
	"github.com/safehub/safehub/internal/store/disk"
	"github.com/safehub/safehub/internal/store/storetest"
)

func openAt(dir string) storetest.Opener {
	return func(t *testing.T) store.Store {
		d, err := disk.Open(dir, disk.Options{})
		if err != nil {
			t.Fatalf("disk.Open: %v", err)
		}
		return d
	}
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Opener { return openAt(t.TempDir()) })
}

func stagingEntries(t *testing.T, root string) []os.DirEntry {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(root, "staging"))
	if err != nil {
		t.Fatal(err)
	}
	return ents
}

func TestOpenCleansStaleStaging(t *testing.T) {
	root := t.TempDir()
	d, err := disk.Open(root, disk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := d.Stage(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	st.Write([]byte("half a blob")) // abandoned, as by a killed process
	if n := len(stagingEntries(t, root)); n != 1 {
		t.Fatalf("%d staging files, want 1", n)
	}
	if _, err := disk.Open(root, disk.Options{}); err != nil {
		t.Fatal(err)
	}
	if n := len(stagingEntries(t, root)); n != 0 {
		t.Fatalf("%d staging files after reopen, want 0", n)
	}
}

func TestStagingGraceKeepsLiveFiles(t *testing.T) {
	root := t.TempDir()
	d, _ := disk.Open(root, disk.Options{})
	live, _ := d.Stage(t.Context())
	defer live.Close()
	old, _ := d.Stage(t.Context())
	old.Write([]byte("x"))
	ents := stagingEntries(t, root)
	var oldName string
	for _, e := range ents {
		info, _ := e.Info()
		if info.Size() == 1 {
			oldName = filepath.Join(root, "staging", e.Name())
		}
	}
	past := time.Now().Add(-time.Hour)
	if err := os.Chtimes(oldName, past, past); err != nil {
		t.Fatal(err)
	}
	if _, err := disk.Open(root, disk.Options{StagingGrace: 10 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	if n := len(stagingEntries(t, root)); n != 1 {
		t.Fatalf("%d staging files, want only the live one kept", n)
	}
	if _, err := os.Stat(oldName); !os.IsNotExist(err) {
		t.Fatalf("the stale staging file survived: %v", err)
	}
}

// Get records use in the mtime, coarsely, so LRU order follows reads.
func TestGetMarksUsedForPrune(t *testing.T) {
	root := t.TempDir()
	d, _ := disk.Open(root, disk.Options{})
	a, b := storetest.NewBlob("a", 1000), storetest.NewBlob("b", 1000)
	for _, x := range []storetest.Blob{a, b} {
		if err := d.Put(t.Context(), x.Key, bytes.NewReader(x.Data), 1000, x.Sum); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-2 * time.Hour)
	os.Chtimes(filepath.Join(root, a.Key), past, past)
	os.Chtimes(filepath.Join(root, b.Key), past.Add(time.Hour), past.Add(time.Hour))
	rc, info, err := d.Get(t.Context(), a.Key) // a becomes the most recent
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if time.Since(info.LastUsed) > time.Minute {
		t.Fatalf("Get did not mark the blob used: LastUsed %v", info.LastUsed)
	}
	removed, err := store.Prune(t.Context(), d, 1000)
	if err != nil || len(removed) != 1 || removed[0].Key != b.Key {
		t.Fatalf("Prune = %v, %v; want b removed (a was read more recently)", removed, err)
	}
}

func TestUsageSurvivesReopen(t *testing.T) {
	root := t.TempDir()
	d, _ := disk.Open(root, disk.Options{})
	x := storetest.NewBlob("x", 12345)
	if err := d.Put(t.Context(), x.Key, bytes.NewReader(x.Data), 12345, ""); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "blobs", "README"), []byte("not a blob"), 0o644)
	d2, err := disk.Open(root, disk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := d2.Usage(t.Context()); u != 12345 {
		t.Fatalf("Usage after reopen = %d, want 12345 (foreign files not counted)", u)
	}
}
