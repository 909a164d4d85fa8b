// Package store holds verified blobs by content address. A Store is the
// contract every backend (local disk now, S3-compatible storage later)
// fulfils; storetest checks it. Keys are made and checked in this package
// only (key.go), so no backend ever turns untrusted text into a path.
package store

import (
	"context"
	"errors"
	"io"
	"iter"
	"time"
)

// Sentinel errors. Backends wrap them with context; callers test with errors.Is.
var (
	ErrNotFound     = errors.New("store: not found")
	ErrExists       = errors.New("store: already exists")
	ErrInvalidKey   = errors.New("store: invalid key")
	ErrSizeMismatch = errors.New("store: size mismatch")
)

// Info describes one stored blob.
type Info struct {
	Key      string
	Size     int64
	Sum      string    // hex digest of the content, in the algorithm the key names
	LastUsed time.Time // last Put or Get (at a backend-chosen granularity); drives LRU eviction
}

// Store is safe for concurrent use by any number of goroutines (and, for
// backends that say so, processes sharing one location).
//
// Every key must pass CheckKey; otherwise methods return an error wrapping
// ErrInvalidKey and touch nothing.
type Store interface {
	// Get opens key for reading and marks it used. It returns ErrNotFound
	// for a missing key. The caller closes the reader. Backends whose
	// reader also implements io.ReaderAt (disk returns an *os.File) let
	// callers serve ranges without reading from the start.
	Get(ctx context.Context, key string) (io.ReadCloser, Info, error)
	// Stat describes key without marking it used; ErrNotFound if missing.
	Stat(ctx context.Context, key string) (Info, error)
	// Put stores exactly size bytes from r under key, all or nothing: no
	// reader ever sees a partial blob. sum must be "" or the hex digest the
	// key names (backends that can verify on write may do so). It returns
	// ErrExists if key is already present (the first writer wins; callers
	// treat it as success), and an error wrapping ErrSizeMismatch if r holds
	// fewer or more than size bytes. Put does not hash: verifying content
	// is the caller's job (see internal/cache).
	Put(ctx context.Context, key string, r io.Reader, size int64, sum string) error
	// Delete removes key. It returns ErrNotFound if key does not exist.
	// Readers that already opened key may finish reading it.
	Delete(ctx context.Context, key string) error
	// List yields every stored key that starts with prefix, in lexical
	// order. Blobs being staged are never listed.
	List(ctx context.Context, prefix string) iter.Seq2[Info, error]
}

// Stager is an optional capability of backends on a local filesystem: the
// caller writes into a staging file that readers can already read from,
// and Commit publishes that same file (rename or link, no second copy).
// The cache uses it to let clients stream a blob while it fills. Backends
// without it get a staging file from the cache and a Put at the end.
type Stager interface {
	Stage(ctx context.Context) (Staged, error)
}

// Staged is one blob being written. Write and ReadAt may run concurrently
// (ReadAt sees what Write has finished). It is not visible in the store
// until Commit returns nil.
type Staged interface {
	io.Writer
	io.ReaderAt
	// Commit makes the staged bytes durable and publishes them under key,
	// with the same errors as Store.Put (ErrExists, ErrSizeMismatch,
	// ErrInvalidKey). ReadAt keeps working after Commit, until Close.
	Commit(ctx context.Context, key string, size int64, sum string) error
	// Close releases the staging file, removing it unless committed. It is
	// safe to defer, and safe to call after Commit.
	Close() error
}

// Usager is an optional capability: backends that keep a running total
// answer it without listing everything.
type Usager interface {
	Usage(ctx context.Context) (int64, error)
}

// Presigner is an optional capability: S3 has it, disk does not.
type Presigner interface {
	PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error)
}
