package hubrepo

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"syscall"
)

// digests are the content hashes of one file. Only the one a file needs is
// computed (sha256 for LFS files, the git blob id for others), since hashing
// dominates the cost of a first snapshot; either may be empty.
type digests struct {
	blobSHA1 string // git blob id of the content: sha1("blob <len>\0" + content)
	sha256   string // hex sha256 of the content
}

func (d digests) has(lfs bool) bool {
	if lfs {
		return d.sha256 != ""
	}
	return d.blobSHA1 != ""
}

// merge fills d's empty digests from o.
func (d digests) merge(o digests) digests {
	if d.blobSHA1 == "" {
		d.blobSHA1 = o.blobSHA1
	}
	if d.sha256 == "" {
		d.sha256 = o.sha256
	}
	return d
}

// callKey identifies one hashing job: a file version and which digest.
type callKey struct {
	fileKey
	lfs bool
}

// fileKey identifies one version of a file on disk. A rewrite that keeps
// size and mtime but changes the inode (editors' write-then-rename) is seen,
// and so is an in-place rewrite with the mtime set back (rsync --inplace,
// cp -p, touch -d): those change the ctime, which no one can set back.
type fileKey struct {
	path  string
	size  int64
	mtime int64
	ino   uint64
	ctime int64
}

func keyOf(abs string, fi os.FileInfo) fileKey {
	k := fileKey{path: abs, size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		k.ino = st.Ino
		k.ctime = st.Ctim.Sec*1e9 + st.Ctim.Nsec
	}
	return k
}

// hashCache memoizes digests per file path, for the file's current key
// only (a changed file replaces its entry, so the map stays as large as the
// mirror), and makes concurrent requests for the same file version wait for
// one reader instead of hashing it twice.
type hashCache struct {
	mu      sync.Mutex
	done    map[string]memo // by absolute path
	pending map[callKey]*hashCall
	persist *digestFile // nil: memory only
}

type memo struct {
	key fileKey
	d   digests
}

type hashCall struct {
	wait chan struct{}
	d    digests
	err  error
}

func newHashCache() *hashCache {
	return &hashCache{done: map[string]memo{}, pending: map[callKey]*hashCall{}}
}

// get returns the digests of the file at abs, whose stat result is fi, with
// at least the sha256 (lfs) or the git blob id (!lfs) filled in.
func (c *hashCache) get(abs string, fi os.FileInfo, lfs bool) (digests, error) {
	k := keyOf(abs, fi)
	ck := callKey{k, lfs}
	c.mu.Lock()
	if m, ok := c.done[abs]; ok && m.key == k && m.d.has(lfs) {
		c.mu.Unlock()
		return m.d, nil
	}
	if call, ok := c.pending[ck]; ok {
		c.mu.Unlock()
		<-call.wait
		return call.d, call.err
	}
	call := &hashCall{wait: make(chan struct{})}
	c.pending[ck] = call
	c.mu.Unlock()

	call.d, call.err = hashFile(abs, fi, lfs)

	c.mu.Lock()
	delete(c.pending, ck)
	persist := c.persist
	var m memo
	if call.err == nil {
		m = memo{key: k, d: call.d}
		if old, ok := c.done[abs]; ok && old.key == k {
			m.d = m.d.merge(old.d)
		}
		c.done[abs] = m
	}
	c.mu.Unlock()
	if persist != nil && call.err == nil {
		persist.add(m)
	}
	close(call.wait)
	return call.d, call.err
}

// hashFile reads the file once, computing the sha256 (lfs) or the git blob
// id, and fails if the file's size or mtime changed meanwhile (the digest
// would describe nothing).
func hashFile(abs string, fi os.FileInfo, lfs bool) (digests, error) {
	f, err := os.Open(abs)
	if err != nil {
		return digests{}, err
	}
	defer f.Close()
	h := sha1.New()
	if lfs {
		h = sha256.New()
	} else {
		io.WriteString(h, "blob "+strconv.FormatInt(fi.Size(), 10)+"\x00")
	}
	n, err := io.Copy(h, f)
	if err != nil {
		return digests{}, fmt.Errorf("hash %s: %w", abs, err)
	}
	after, err := f.Stat()
	if err != nil {
		return digests{}, err
	}
	if n != fi.Size() || after.Size() != fi.Size() || !after.ModTime().Equal(fi.ModTime()) {
		return digests{}, fmt.Errorf("hash %s: %w", abs, ErrChanged)
	}
	if lfs {
		return digests{sha256: hex.EncodeToString(h.Sum(nil))}, nil
	}
	return digests{blobSHA1: hex.EncodeToString(h.Sum(nil))}, nil
}

// GitBlobID returns the git blob id of content, as `git hash-object` does.
func GitBlobID(content []byte) string {
	h := sha1.New()
	io.WriteString(h, "blob "+strconv.Itoa(len(content))+"\x00")
	h.Write(content)
	return hex.EncodeToString(h.Sum(nil))
}

// LFSPointer returns the git-lfs pointer file that the Hub's git stores for
// an LFS file with this sha256 and size.
func LFSPointer(sha256Hex string, size int64) []byte {
	return []byte("version https://git-lfs.github.com/spec/v1\noid sha256:" + sha256Hex +
		"\nsize " + strconv.FormatInt(size, 10) + "\n")
}
