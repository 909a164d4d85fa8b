package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

// maxLine bounds a line the reader will hold in memory. The writer's lines
// are a few KiB at most (fields are clipped); anything longer is damage.
const maxLine = 256 << 10

// Files returns the audit log at path and its rotated files that exist,
// oldest first (path.N ... path.1, path), so reading them in order reads
// the events in time order. It returns an error only when none exists.
func Files(path string) ([]string, error) {
	var files []string
	// Rotated files are numbered without gaps, but an admin may have
	// lowered max_files: look a good way past the first missing number.
	misses := 0
	for k := 1; misses < 16; k++ {
		name := RotatedName(path, k)
		if _, err := os.Stat(name); err != nil {
			misses++
			continue
		}
		misses = 0
		files = append(files, name)
	}
	for i, j := 0, len(files)-1; i < j; i, j = i+1, j-1 {
		files[i], files[j] = files[j], files[i]
	}
	if _, err := os.Stat(path); err == nil {
		files = append(files, path)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no audit log at %s (start 'safehub serve --audit-log %s', or pass --log with the right path)", path, path)
	}
	return files, nil
}

// ParseLine decodes one line of the log. Lines that are not a record (a
// line cut short by a crash, or something else written into the file)
// give an error.
func ParseLine(line []byte) (Record, error) {
	var r Record
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] != '{' {
		return r, errors.New("not a JSON object")
	}
	if err := json.Unmarshal(line, &r); err != nil {
		return r, err
	}
	if r.Decision == "" || r.Time.IsZero() {
		return r, errors.New("not an audit record (no time or decision)")
	}
	return r, nil
}

// Reader reads records from one stream, skipping lines that do not parse
// (it counts them) and lines longer than maxLine.
type Reader struct {
	br      *bufio.Reader
	Skipped int // lines that were not records
	raw     []byte
}

// NewReader reads records from r.
func NewReader(r io.Reader) *Reader { return &Reader{br: bufio.NewReaderSize(r, 64<<10)} }

// Next returns the next record and its line as written (without the
// newline; valid until the next call), or io.EOF. A final line without its
// newline is still returned: it is complete if it parses.
func (r *Reader) Next() (Record, []byte, error) {
	for {
		line, err := r.readLine()
		if len(line) > 0 {
			if rec, perr := ParseLine(line); perr == nil {
				return rec, line, nil
			}
			r.Skipped++
		}
		if err != nil {
			return Record{}, nil, err
		}
	}
}

// readLine returns one line without its newline. An over-long line is
// consumed, counted as skipped and returned empty.
func (r *Reader) readLine() ([]byte, error) {
	r.raw = r.raw[:0]
	tooLong := false
	for {
		chunk, err := r.br.ReadSlice('\n')
		if !tooLong {
			if len(r.raw)+len(chunk) > maxLine {
				tooLong, r.raw = true, r.raw[:0]
			} else {
				r.raw = append(r.raw, chunk...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if tooLong {
			r.Skipped++
			return nil, err
		}
		if err != nil && len(r.raw) == 0 {
			return nil, err
		}
		return bytes.TrimSuffix(r.raw, []byte("\n")), err
	}
}

// Filter chooses records.
type Filter struct {
	Since       time.Time // zero: from the start
	RefusedOnly bool      // refuse and audit-refuse only
}

// Match reports whether rec passes f. Gap markers ("dropped") always pass
// a time filter, so readers see them, but never RefusedOnly.
func (f Filter) Match(rec Record) bool {
	if !f.Since.IsZero() && rec.Time.Before(f.Since) {
		return false
	}
	if f.RefusedOnly && !rec.Refused() {
		return false
	}
	return true
}

// Each calls fn for every record of the log at path and its rotated files,
// oldest first, that passes f. It returns the number of lines skipped as
// damaged. A file rotated away while it is being read is simply missing.
func Each(path string, f Filter, fn func(rec Record, line []byte) error) (skipped int, err error) {
	files, err := Files(path)
	if err != nil {
		return 0, err
	}
	for _, name := range files {
		fh, err := os.Open(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return skipped, err
		}
		r := NewReader(fh)
		for {
			rec, line, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				fh.Close()
				return skipped, fmt.Errorf("%s: %w", name, err)
			}
			if f.Match(rec) {
				if err := fn(rec, line); err != nil {
					fh.Close()
					return skipped, err
				}
			}
		}
		skipped += r.Skipped
		fh.Close()
	}
	return skipped, nil
}
