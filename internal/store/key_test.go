package store

import (
	"errors"
	"strings"
	"testing"
)

const hex64 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

func TestParseDigest(t *testing.T) {
	for in, want := range map[string]Digest{
		`"` + hex64 + `"`:                     {SHA256, hex64},
		"W/\"" + strings.ToUpper(hex64) + `"`: {SHA256, hex64},
		strings.Repeat("ab", 20):              {GitSHA1, strings.Repeat("ab", 20)},
	} {
		got, err := ParseDigest(in)
		if err != nil || got != want {
			t.Errorf("ParseDigest(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "abc", hex64 + "0", strings.Repeat("g", 64), "../" + hex64[3:]} {
		if _, err := ParseDigest(in); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ParseDigest(%q) = %v, want ErrInvalidKey", in, err)
		}
	}
}

func TestKeyRoundTrip(t *testing.T) {
	d := Digest{SHA256, hex64}
	if got := d.Key(); got != "blobs/sha256/9f/"+hex64 {
		t.Fatalf("Key = %s", got)
	}
	back, err := ParseKey(d.Key())
	if err != nil || back != d {
		t.Fatalf("ParseKey(Key) = %v, %v", back, err)
	}
}

func TestGitBlobHash(t *testing.T) {
	// `printf 'hello\n' | git hash-object --stdin`
	d, _ := ParseDigest("ce013625030ba8dba906f756967f9e9ca394464a")
	h := d.NewHash(6)
	h.Write([]byte("hello\n"))
	if !d.Matches(h) {
		t.Fatal("git blob id of \"hello\\n\" does not match")
	}
	s, _ := ParseDigest("5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03")
	h = s.NewHash(6)
	h.Write([]byte("hello\n"))
	if !s.Matches(h) {
		t.Fatal("sha256 of \"hello\\n\" does not match")
	}
}

// FuzzKeys checks that whatever text arrives as an etag or key, a key that
// passes is exactly the canonical key of its digest: no other shape (and
// so no path trick) can reach a backend.
func FuzzKeys(f *testing.F) {
	for _, s := range []string{hex64, `"` + hex64 + `"`, "blobs/sha256/9f/" + hex64, "blobs/sha1/ab/" + strings.Repeat("ab", 20),
		"blobs/sha256/../" + hex64, "W/\"x\"", "", "blobs/sha256/9f/" + hex64 + "/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, err := ParseKey(s); err == nil {
			if d.Key() != s || !d.Valid() {
				t.Fatalf("ParseKey(%q) accepted a non-canonical key (%s)", s, d.Key())
			}
		}
		if d, err := ParseDigest(s); err == nil {
			if k, err := ParseKey(d.Key()); err != nil || k != d {
				t.Fatalf("ParseDigest(%q) gave a digest whose key does not parse back", s)
			}
		}
		_ = CheckPrefix(s)
	})
}
