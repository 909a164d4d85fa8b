package policy

import (
	"path"
	"regexp"
	"strings"
	"unicode/utf8"
)

// reShard matches the shard suffix that transformers and diffusers put
// before the extension: "pytorch_model-00001-of-00002".
var reShard = regexp.MustCompile(`-\d+-of-\d+$`)

// SafeAlternative names a safetensors file of the same repo that holds what
// the refused file at filePath holds, or "" when there is none. repoFiles
// are the repo's paths (as in siblings); the answer is one of them.
//
//	pytorch_model.bin                  → model.safetensors, else model.safetensors.index.json
//	pytorch_model-00001-of-00002.bin   → model-00001-of-00002.safetensors, else the index
//	pytorch_model.fp16.bin             → model.fp16.safetensors (transformers variants)
//	diffusion_pytorch_model.bin        → diffusion_pytorch_model.safetensors
//	x.pt, x.pth, x.ckpt, x.bin         → x.safetensors
//
// Alternatives are looked for in the same folder only: a text encoder's
// weights are not an alternative to a unet's.
func SafeAlternative(filePath string, repoFiles []string) string {
	have := make(map[string]bool, len(repoFiles))
	for _, f := range repoFiles {
		have[f] = true
	}
	dir, base := path.Split(filePath)
	for _, c := range alternativeNames(base) {
		if have[dir+c] {
			return dir + c
		}
	}
	return ""
}

// alternativeNames lists candidate names for base, best first.
func alternativeNames(base string) []string {
	ext := path.Ext(base)
	if ext == "" || strings.EqualFold(ext, ".safetensors") {
		return nil
	}
	stem := strings.TrimSuffix(base, ext)
	var out []string
	add := func(stem string) {
		out = append(out, stem+".safetensors")
		if unsharded := reShard.ReplaceAllString(stem, ""); unsharded != stem {
			out = append(out, unsharded+".safetensors", unsharded+".safetensors.index.json")
		} else {
			// An unsharded .bin may have been converted to sharded
			// safetensors: the index is the thing to download.
			out = append(out, stem+".safetensors.index.json")
		}
		if i := strings.Index(stem, "."); i > 0 {
			// transformers variants: model.fp16.safetensors has its index at
			// model.safetensors.index.fp16.json.
			root, variant := stem[:i], reShard.ReplaceAllString(stem[i+1:], "")
			out = append(out, reShard.ReplaceAllString(root, "")+".safetensors.index."+variant+".json")
		}
	}
	if rest, ok := strings.CutPrefix(stem, "pytorch_model"); ok {
		add("model" + rest) // transformers renamed the weights with safetensors
	}
	add(stem)
	return out
}

// Caps on the parts of a refusal message, so the header stays small.
const (
	maxMessagePath   = 300
	maxMessageReason = 400
)

// RefusalMessage is the one-line text a refused file's X-Error-Message
// carries (huggingface_hub shows it in the exception):
//
//	safehub: pytorch_model.bin refused: pickle-based weights can run code when loaded (rule default:pickle-names); this repo has model.safetensors
//
// It is printable ASCII only: other characters are written as \uXXXX, so the
// text is safe in an HTTP header whatever the file is called.
func RefusalMessage(filePath string, d Decision, alt string) string {
	var b strings.Builder
	b.WriteString("safehub: ")
	b.WriteString(headerSafe(filePath, maxMessagePath))
	b.WriteString(" refused: ")
	reason := d.Reason
	if reason == "" {
		reason = "refused by policy"
	}
	b.WriteString(headerSafe(reason, maxMessageReason))
	if d.Rule != "" {
		b.WriteString(" (rule ")
		b.WriteString(headerSafe(d.Rule, maxMessagePath))
		b.WriteString(")")
	}
	if alt != "" {
		b.WriteString("; this repo has ")
		b.WriteString(headerSafe(alt, maxMessagePath))
	}
	return b.String()
}

// headerSafe escapes everything outside printable ASCII and cuts s to about
// max bytes (whole escapes, then "...").
func headerSafe(s string, max int) string {
	var b strings.Builder
	for i, r := range s {
		if b.Len() >= max {
			b.WriteString("...")
			break
		}
		switch {
		case r == utf8.RuneError && isInvalidAt(s, i):
			b.WriteString(`\x`)
			b.WriteString(hex2(s[i]))
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		case r <= 0xffff:
			b.WriteString(`\u`)
			b.WriteString(hex2(byte(r>>8)) + hex2(byte(r)))
		default:
			b.WriteString(`\U`)
			b.WriteString(hex2(byte(r>>24)) + hex2(byte(r>>16)) + hex2(byte(r>>8)) + hex2(byte(r)))
		}
	}
	return b.String()
}

func isInvalidAt(s string, i int) bool {
	_, size := utf8.DecodeRuneInString(s[i:])
	return size == 1
}

func hex2(b byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[b>>4], digits[b&15]})
}
