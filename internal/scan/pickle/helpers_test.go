package pickle

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/safehub/safehub/internal/scan/finding"
)

func mustProfile(t testing.TB, name string) *Profile {
	t.Helper()
	p, err := LoadProfile(name)
	if err != nil {
		t.Fatalf("LoadProfile(%q): %v", name, err)
	}
	return p
}

func scanBytes(t testing.TB, data []byte, opts Options) StreamResult {
	t.Helper()
	return ScanStreams(context.Background(), bytes.NewReader(data), 0, int64(len(data)), opts)
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("missing testdata %s (regenerate with /usr/bin/python3 testdata/gen_benign.py): %v", name, err)
	}
	return b
}

// describe renders findings for failure messages.
func describe(res StreamResult) string {
	var sb strings.Builder
	for _, f := range res.Findings {
		sb.WriteString("\n  " + f.Verdict.String() + " " + f.Opcode + " " + f.Callable + ": " + f.Reason)
		if f.Chain != "" {
			sb.WriteString(" [" + f.Chain + "]")
		}
	}
	return sb.String()
}

func hasFinding(res StreamResult, v finding.Verdict, callableOrReason string) bool {
	for _, f := range res.Findings {
		if f.Verdict == v && (f.Callable == callableOrReason || strings.Contains(f.Reason, callableOrReason) ||
			strings.Contains(f.Chain, callableOrReason)) {
			return true
		}
	}
	return false
}
