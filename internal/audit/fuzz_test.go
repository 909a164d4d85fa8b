package audit

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"
)

// The reader takes whatever is in the log files (a crash may cut a line,
// an admin may append to the file by hand): it must never fail on them,
// and every record it returns must be one that re-encodes.
func FuzzReader(f *testing.F) {
	good, _ := json.Marshal(rec(day(26, 1), "refuse", "model", "org/a", "x.bin", "name:*.bin", 0))
	f.Add(append(good, '\n'))
	f.Add([]byte(`{"time":"2026-11-26T01:00:00Z","decision":"allow"}` + "\n" + `{"time":`))
	f.Add([]byte("\n\n{}\n[]\nnull\n{\"decision\":\"refuse\"}\n"))
	f.Add([]byte(`{"time":"2026-11-26T01:00:00Z","decision":"dropped","dropped":-9}`))
	f.Add([]byte(strings.Repeat("{", 70000)))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data))
		s := NewSummarizer(time.Time{}, 3)
		for i := 0; ; i++ {
			rec, line, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("reader error on bytes.Reader: %v", err)
			}
			if i > len(data) {
				t.Fatal("more records than bytes")
			}
			if rec.Decision == "" || rec.Time.IsZero() || len(line) > maxLine {
				t.Fatalf("record without decision/time or over-long line: %+v", rec)
			}
			if strings.Contains(Pretty(rec), "\n") {
				t.Fatalf("pretty line with a newline from %q", line)
			}
			s.Add(rec)
		}
		s.Summary()
	})
}
