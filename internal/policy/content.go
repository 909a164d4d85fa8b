package policy

import (
	"path"
	"strings"

	"github.com/safehub/safehub/internal/scan/finding"
)

// Facts is what the content stage needs from a scan. The gateway may cache
// Facts per blob digest instead of whole scan results; Content builds them
// from a *scan.Result.
type Facts struct {
	Format        string          // the format the scanner found in the bytes ("safetensors", "pickle", ...)
	Verdict       finding.Verdict // safe, unknown or unsafe
	PickleBearing bool            // the format holds pickle code (pickle, torch zip/legacy, npy object, joblib, ...)
	Reason        string          // the scanner's one-line reason for a non-safe verdict
}

// ContentFacts applies the repo, name and content stages to a scanned file.
// facts == nil means the file could not be scanned, which refuses it.
func (p *Policy) ContentFacts(t RepoType, repoID, filePath string, facts *Facts) Decision {
	d, r := p.file(t, repoID, filePath)
	if !d.Allow {
		return p.finish(d)
	}
	return p.finish(p.contentStage(d, r, filePath, facts))
}

// contentStage judges the content of a file the name stage allowed. d and r
// are the name stage's decision and admin rule (nil for built-in rules).
func (p *Policy) contentStage(d Decision, r *rule, filePath string, facts *Facts) Decision {
	refuse := func(rule, reason string) Decision {
		return Decision{Allow: false, Rule: rule, Reason: reason}
	}
	if facts == nil {
		return refuse(RuleNotScanned, "its content could not be checked")
	}
	// The scanner's own reason is the most precise text ("its pickle calls
	// os.system", "it is a pickle, not safetensors"); ours are fallbacks.
	reason := func(fallback string) string {
		if facts.Reason != "" {
			return facts.Reason
		}
		return fallback
	}
	switch {
	case facts.Verdict == finding.Unsafe:
		return refuse(RuleUnsafeContent, reason("it would run code when loaded"))
	case facts.PickleBearing:
		if claimed := claimedFormat(filePath); claimed != "" {
			// A pickle under a name that promises another format is a
			// disguise; no honest loader expects a pickle there, so even a
			// weights-only one is refused.
			return refuse(RulePickleContent, reason("it is "+describeFormat(facts.Format)+", not "+claimed))
		}
		if facts.Verdict == finding.Unknown {
			return refuse(RuleUnknownContent, reason("it holds pickle code the scanner could not prove safe"))
		}
		// Safe and pickle-bearing: the scanner proved it weights-only.
		if r != nil && r.allow && r.weightsOnly {
			return Decision{Allow: true, Rule: r.name, Reason: "weights-only pickle accepted by rule " + r.name}
		}
		if p.weightsOnly {
			return Decision{Allow: true, Rule: RuleWeightsOnlyPickles, Reason: "weights-only pickle accepted by weights_only_pickles"}
		}
		return refuse(RulePickleContent, ReasonPickleNames+" (this one holds only tensors, but weights_only_pickles is off)")
	case facts.Verdict == finding.Unknown:
		return refuse(RuleUnknownContent, reason("the scanner could not check it"))
	}
	d.WeightsOnly = false // the condition is met: not a pickle at all
	return d
}

// claimedFormat returns the format a file's extension promises when that
// format is not pickle-based ("safetensors" for x.safetensors), "" for
// pickle names, names without extension and extensions we know nothing of.
func claimedFormat(filePath string) string {
	ext := strings.ToLower(path.Ext(filePath))
	return nonPickleExts[ext]
}

// nonPickleExts are extensions whose honest content is never a pickle.
var nonPickleExts = map[string]string{
	".safetensors": "safetensors",
	".json":        "JSON",
	".jsonl":       "JSON lines",
	".txt":         "text",
	".md":          "text",
	".yaml":        "YAML",
	".yml":         "YAML",
	".model":       "a SentencePiece model",
	".gguf":        "GGUF",
	".onnx":        "ONNX",
	".parquet":     "parquet",
	".arrow":       "arrow",
	".csv":         "CSV",
	".tsv":         "TSV",
	".png":         "an image",
	".jpg":         "an image",
	".jpeg":        "an image",
	".gif":         "an image",
	".webp":        "an image",
	".msgpack":     "msgpack",
	".tiktoken":    "a tiktoken vocabulary",
	".wav":         "audio",
	".mp3":         "audio",
	".flac":        "audio",
}

// describeFormat turns a scanner format name into words for a message.
func describeFormat(format string) string {
	f := strings.ToLower(format)
	switch {
	case f == "" || f == "pickle":
		return "a pickle"
	case strings.Contains(f, "torch") || strings.Contains(f, "pytorch"):
		return "a PyTorch pickle archive"
	case strings.Contains(f, "npy") || strings.Contains(f, "numpy"):
		return "a numpy object array (a pickle)"
	case strings.Contains(f, "joblib"):
		return "a joblib pickle"
	}
	return "a pickle-bearing " + format + " file"
}
