package scan

import (
	"regexp"
	"strings"

	"github.com/safehub/safehub/internal/scan/finding"
)

// Chat templates are Jinja2 that llama-cpp-python < 0.2.72 rendered without
// a sandbox (CVE-2024-34359). A template escapes by reaching Python
// internals, and every route there needs a double-underscore name, spelled
// out, hidden in escapes, assembled from pieces, or fetched dynamically
// with |attr. Ordinary templates (loops over messages, raise_exception,
// namespace, tojson) need none of these.

var (
	reAttrFilter    = regexp.MustCompile(`\|\s*attr\s*\(\s*([^)]*)\)`)
	reUnderscoreEsc = regexp.MustCompile(`\\(x5[fF]|u005[fF]|U0000005[fF]|137|N\{LOW LINE\})`)
	reFormatChar    = regexp.MustCompile(`%c|\bformat\s*\([^)]*\b95\b`)
	reUnderscoreCat = regexp.MustCompile(`["']_+["']\s*(~|\+|\|\s*join)|(~|\+)\s*["']_+["']`)
	// A string made only of underscores has no use in a chat template but to
	// assemble a dunder name ('_'*2, ['_','_']|join, x~x with x='_').
	reUnderscoreOnly = regexp.MustCompile(`["']_+["']`)
	// ...except as the first argument of replace, which real templates use
	// to turn snake_case into words.
	reReplaceUnderscore = regexp.MustCompile(`replace\s*\(\s*["']_+["']`)
	// Jinja's default globals that lead to Python internals when indexed
	// or walked; chat templates do not use them.
	reEscapeGlobals = regexp.MustCompile(`\b(lipsum|cycler|joiner)\b`)
	reLiteral       = regexp.MustCompile(`^\s*("[A-Za-z0-9 .,:;!?-]*"|'[A-Za-z0-9 .,:;!?-]*')\s*$`)
	dangerousNames  = []string{"__class__", "__globals__", "__subclasses__", "__builtins__", "__import__", "__mro__", "__base__", "__init__"}
)

// checkChatTemplate grades one template and says why.
func checkChatTemplate(tmpl string) (finding.Verdict, string) {
	if len(tmpl) > maxChatTemplate {
		return finding.Unknown, "template larger than the 1 MiB the checker reads"
	}
	for _, n := range dangerousNames {
		if strings.Contains(tmpl, n) {
			return finding.Unsafe, "reaches Python internals through " + n + " (Jinja sandbox escape, CVE-2024-34359)"
		}
	}
	if strings.Contains(tmpl, "__") {
		return finding.Unsafe, "uses a double-underscore name (Jinja sandbox escape, CVE-2024-34359)"
	}
	for _, m := range reAttrFilter.FindAllStringSubmatch(tmpl, -1) {
		if !reLiteral.MatchString(m[1]) {
			return finding.Unsafe, "uses |attr with a computed or underscore name (Jinja sandbox escape)"
		}
	}
	switch {
	case reUnderscoreEsc.MatchString(tmpl):
		return finding.Unsafe, "spells an underscore with an escape sequence (hidden dunder name)"
	case reFormatChar.MatchString(tmpl):
		return finding.Unsafe, "builds characters with format (hidden dunder name)"
	case reUnderscoreCat.MatchString(tmpl):
		return finding.Unsafe, "concatenates underscores into a name (hidden dunder name)"
	case reUnderscoreOnly.MatchString(reReplaceUnderscore.ReplaceAllString(tmpl, "replace(")):
		return finding.Unsafe, "has a string made only of underscores (building a hidden dunder name)"
	case reEscapeGlobals.MatchString(tmpl):
		return finding.Unsafe, "uses lipsum, cycler or joiner, Jinja globals that reach Python internals (sandbox escape)"
	}
	if strings.Count(tmpl, "{%") != strings.Count(tmpl, "%}") {
		return finding.Unknown, "unbalanced Jinja delimiters: the template could not be checked"
	}
	return finding.Safe, ""
}
