// Command scanjson is the benchmark's in-process view of the scanner: it
// calls scan.ScanFile on each file with one profile and prints, as a JSON
// array, the verdict, the bytes the scanner actually read and the best wall
// time over -repeat runs. Timing in-process keeps process start-up out of
// throughput numbers, the same way compare.py times picklescan in-process.
//
//	go run ./bench/scan/scanjson [-profile joblib] [-repeat 3] FILE...
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/safehub/safehub/internal/scan"
)

type row struct {
	File      string  `json:"file"`
	Format    string  `json:"format,omitempty"`
	Verdict   string  `json:"verdict,omitempty"`
	Findings  int     `json:"findings"`
	BytesRead int64   `json:"bytes_read"`
	Size      int64   `json:"size"`
	Seconds   float64 `json:"seconds"` // best of -repeat
	Error     string  `json:"error,omitempty"`
}

func main() {
	profile := flag.String("profile", "", "pickle profile (\"\" = torch-weights-only, torch-numpy, joblib)")
	repeat := flag.Int("repeat", 1, "scan each file this many times and report the fastest")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: scanjson [-profile P] [-repeat N] FILE...")
		os.Exit(2)
	}
	rows := make([]row, 0, flag.NArg())
	for _, p := range flag.Args() {
		rows = append(rows, scanOne(p, *profile, max(*repeat, 1)))
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	if err := enc.Encode(rows); err != nil {
		fmt.Fprintln(os.Stderr, "scanjson:", err)
		os.Exit(2)
	}
}

func scanOne(p, profile string, repeat int) row {
	r := row{File: p}
	if st, err := os.Stat(p); err == nil {
		r.Size = st.Size()
	}
	best := time.Duration(-1)
	for i := 0; i < repeat; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		start := time.Now()
		res, err := scan.ScanFile(ctx, p, scan.Options{Profile: profile, NameHint: filepath.Base(p)})
		d := time.Since(start)
		cancel()
		if err != nil {
			r.Error = err.Error()
			return r
		}
		if best < 0 || d < best {
			best = d
		}
		r.Format, r.Verdict, r.Findings, r.BytesRead = res.Format, res.Verdict.String(), len(res.Findings), res.BytesRead
	}
	r.Seconds = best.Seconds()
	return r
}
