package audit

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"slices"
	"time"
)

// Entry is one record with its line as written.
type Entry struct {
	Record Record
	Line   []byte
}

// Last returns the last n records of the log at path (its rotated files
// included) that pass f, oldest first, and how many bytes of the current
// file it read (the offset to Follow from). Files are read newest first
// and reading stops once n records are found.
func Last(path string, n int, f Filter) (entries []Entry, offset int64, err error) {
	files, err := Files(path)
	if err != nil {
		return nil, 0, err
	}
	if st, err := os.Stat(path); err == nil {
		offset = st.Size() // stat before reading: lines written meanwhile are Follow's
	}
	for i := len(files) - 1; i >= 0 && len(entries) < n; i-- {
		got, err := lastOfFile(files[i], n-len(entries), f)
		if err != nil {
			return nil, 0, err
		}
		entries = append(got, entries...)
	}
	return entries, offset, nil
}

// lastOfFile keeps the last n matching records of one file in a ring.
func lastOfFile(name string, n int, f Filter) ([]Entry, error) {
	fh, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // rotated away meanwhile
	}
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	ring := make([]Entry, 0, min(n, 1024))
	next := 0
	r := NewReader(fh)
	for {
		rec, line, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if !f.Match(rec) {
			continue
		}
		e := Entry{Record: rec, Line: bytes.Clone(line)}
		if len(ring) < n {
			ring = append(ring, e)
			continue
		}
		ring[next] = e
		next = (next + 1) % n
	}
	return slices.Concat(ring[next:], ring[:next]), nil
}

// Follow calls fn for each record that passes f as it is appended to the
// log at path, starting at offset, until ctx ends or fn fails. When the log
// rotates it finishes the old file and goes on with the new one; only
// complete lines are read, so a line being written is never cut.
func Follow(ctx context.Context, path string, offset int64, f Filter, poll time.Duration, fn func(Entry) error) error {
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { fh.Close() }()
	if st, err := fh.Stat(); err == nil && st.Size() < offset {
		offset = 0 // rotated or truncated since offset was taken
	}
	if _, err := fh.Seek(offset, io.SeekStart); err != nil {
		return err
	}
	var pending []byte
	buf := make([]byte, 64<<10)
	for {
		n, err := fh.Read(buf)
		if n > 0 {
			pending = append(pending, buf[:n]...)
			for {
				i := bytes.IndexByte(pending, '\n')
				if i < 0 {
					break
				}
				line := pending[:i]
				if rec, perr := ParseLine(line); perr == nil && f.Match(rec) {
					if err := fn(Entry{Record: rec, Line: line}); err != nil {
						return err
					}
				}
				pending = pending[i+1:]
			}
			if len(pending) > maxLine {
				pending = nil // damage: drop it rather than grow without bound
			}
			continue
		}
		if err != nil && err != io.EOF {
			return err
		}
		// At the end of the file: has the log been rotated under us?
		if cur, serr := os.Stat(path); serr == nil {
			if old, ferr := fh.Stat(); ferr == nil && !os.SameFile(old, cur) {
				nfh, oerr := os.Open(path)
				if oerr == nil {
					fh.Close()
					fh, pending = nfh, nil
					continue
				}
			} else if ferr == nil && cur.Size() < mustOffset(fh) {
				fh.Seek(0, io.SeekStart) // truncated in place (copytruncate)
				pending = nil
				continue
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(poll):
		}
	}
}

func mustOffset(fh *os.File) int64 {
	off, err := fh.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0
	}
	return off
}
