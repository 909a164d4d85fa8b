package store

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// Algo names how a blob's digest is computed.
type Algo string

const (
	// SHA256 is the sha256 of the content: the Hub's X-Linked-Etag of LFS/Xet files.
	SHA256 Algo = "sha256"
	// GitSHA1 is git's blob id, sha1("blob <size>\x00" + content): the Hub's
	// ETag of plain git files. Its keys say "sha1" as git users expect.
	GitSHA1 Algo = "sha1"
)

// hexLen is the length of a digest in hex, per algorithm.
func (a Algo) hexLen() int {
	switch a {
	case SHA256:
		return 64
	case GitSHA1:
		return 40
	}
	return 0
}

// Digest names a blob by its content.
type Digest struct {
	Algo Algo
	Hex  string // lower-case
}

// ParseDigest reads an etag-like digest as the Hub sends it: 64 hex digits
// are a sha256, 40 a git blob id. Quotes, a W/ prefix and upper case are
// accepted; anything else is an error wrapping ErrInvalidKey.
func ParseDigest(etag string) (Digest, error) {
	s := strings.TrimPrefix(strings.TrimSpace(etag), "W/")
	s = strings.ToLower(strings.Trim(s, `"`))
	for _, a := range []Algo{SHA256, GitSHA1} {
		if len(s) == a.hexLen() && isLowerHex(s) {
			return Digest{Algo: a, Hex: s}, nil
		}
	}
	return Digest{}, fmt.Errorf("%w: %q is not a sha256 or git sha1 digest", ErrInvalidKey, truncate(etag))
}

// Valid reports whether d is a well-formed digest.
func (d Digest) Valid() bool {
	return d.Algo.hexLen() != 0 && len(d.Hex) == d.Algo.hexLen() && isLowerHex(d.Hex)
}

// Key is the store key of d: blobs/<algo>/<first two hex>/<hex>. The
// two-digit fan-out keeps directories small on disk.
func (d Digest) Key() string { return "blobs/" + string(d.Algo) + "/" + d.Hex[:2] + "/" + d.Hex }

func (d Digest) String() string { return string(d.Algo) + ":" + d.Hex }

// NewHash returns the hash that yields d.Hex for the content of a blob of
// size bytes (git's blob id hashes a header naming the size first).
func (d Digest) NewHash(size int64) hash.Hash {
	if d.Algo == GitSHA1 {
		h := sha1.New()
		h.Write([]byte("blob " + strconv.FormatInt(size, 10) + "\x00"))
		return h
	}
	return sha256.New()
}

// Matches reports whether a finished hash from NewHash names d.
func (d Digest) Matches(h hash.Hash) bool { return hex.EncodeToString(h.Sum(nil)) == d.Hex }

// ParseKey is the inverse of Digest.Key. It is the one place where keys are
// checked: exactly blobs/<algo>/<hh>/<hex>, lower-case hex, nothing else
// (so no "..", separators or escapes can reach a backend).
func ParseKey(key string) (Digest, error) {
	parts := strings.Split(key, "/")
	if len(parts) == 4 && parts[0] == "blobs" {
		d := Digest{Algo: Algo(parts[1]), Hex: parts[3]}
		if d.Valid() && parts[2] == d.Hex[:2] {
			return d, nil
		}
	}
	return Digest{}, fmt.Errorf("%w: %q", ErrInvalidKey, truncate(key))
}

// CheckKey returns nil for a valid key and an error wrapping ErrInvalidKey otherwise.
func CheckKey(key string) error {
	_, err := ParseKey(key)
	return err
}

// CheckSum checks Put's sum argument against the key it is stored under.
func CheckSum(key, sum string) error {
	d, err := ParseKey(key)
	if err != nil {
		return err
	}
	if sum != "" && sum != d.Hex {
		return fmt.Errorf("%w: sum %q does not match key %q", ErrInvalidKey, truncate(sum), key)
	}
	return nil
}

// CheckPrefix accepts List prefixes: "" or a leading part of a valid key.
func CheckPrefix(prefix string) error {
	for _, c := range prefix {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '/') || len(prefix) > 100 {
			return fmt.Errorf("%w: prefix %q", ErrInvalidKey, truncate(prefix))
		}
	}
	if strings.Contains(prefix, "//") || strings.HasPrefix(prefix, "/") {
		return fmt.Errorf("%w: prefix %q", ErrInvalidKey, truncate(prefix))
	}
	return nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// truncate keeps hostile input out of error messages beyond a readable length.
func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
