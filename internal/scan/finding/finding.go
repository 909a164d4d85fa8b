// Package finding holds the verdict and finding types shared by every part
// of the scanner (the pickle machine, the container readers, the CLI and the
// gateway), so that none of them depends on another for its vocabulary.
package finding

import "fmt"

// Verdict grades a file, a member or a single finding. The order matters:
// Worst picks the larger value, so Unsafe > Unknown > Safe.
type Verdict int

const (
	Safe Verdict = iota
	Unknown
	Unsafe
)

func (v Verdict) String() string {
	switch v {
	case Safe:
		return "safe"
	case Unknown:
		return "unknown"
	case Unsafe:
		return "unsafe"
	}
	return fmt.Sprintf("Verdict(%d)", int(v))
}

// MarshalText makes verdicts appear as "safe"/"unknown"/"unsafe" in JSON.
func (v Verdict) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText is the inverse of MarshalText.
func (v *Verdict) UnmarshalText(b []byte) error {
	switch string(b) {
	case "safe":
		*v = Safe
	case "unknown":
		*v = Unknown
	case "unsafe":
		*v = Unsafe
	default:
		return fmt.Errorf("unknown verdict %q", b)
	}
	return nil
}

// Worst returns the more severe of a and b.
func Worst(a, b Verdict) Verdict { return max(a, b) }

// Finding is one reason for a verdict. Callable is the dotted Python path a
// loader would import or call ("os.system"), empty for structural findings
// such as a frame violation or a zip anomaly.
type Finding struct {
	Verdict  Verdict `json:"verdict"`
	Callable string  `json:"callable,omitempty"`
	Reason   string  `json:"reason"`
	Member   string  `json:"member,omitempty"` // archive member path, "" for the file itself
	Stream   int     `json:"stream,omitempty"` // pickle stream index within the member
	Offset   int64   `json:"offset"`           // byte offset within the member or stream
	Opcode   string  `json:"opcode,omitempty"`
	Chain    string  `json:"chain,omitempty"` // nested payloads: "dill.loads → subprocess.getoutput"
}
