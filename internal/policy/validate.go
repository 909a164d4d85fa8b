package policy

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/bmatcuk/doublestar/v4"
)

var (
	// Rule names appear in logs and in HTTP headers: keep them plain.
	reRuleName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)
)

// compiler collects every error of a file instead of stopping at the first.
type compiler struct {
	file string
	errs Errors
}

func (c *compiler) errorf(line int, format string, args ...any) {
	c.errs = append(c.errs, &Error{File: c.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// compile validates raw values and builds the Policy. ruleLines[i] is the
// line of rule i (may be short when the YAML was odd).
func compile(raw *rawPolicy, file string, ruleLines []int) (*Policy, Errors) {
	c := &compiler{file: file}
	p := Default()

	if raw.Mode.Set {
		switch raw.Mode.Value {
		case ModeEnforce, ModeAudit:
			p.mode = raw.Mode.Value
		default:
			c.errorf(raw.Mode.Line, "unknown mode %q (want enforce or audit)", raw.Mode.Value)
		}
	}
	if raw.WeightsOnlyPickles.Set {
		p.weightsOnly = raw.WeightsOnlyPickles.Value
	}
	if raw.Defaults.Set {
		p.defaults = raw.Defaults.Value
	}
	if raw.ScanProfile.Set {
		if !slices.Contains(scanProfiles(), raw.ScanProfile.Value) {
			c.errorf(raw.ScanProfile.Line, "unknown scan_profile %q (want one of %s)", raw.ScanProfile.Value, strings.Join(scanProfiles(), ", "))
		}
		p.profile = raw.ScanProfile.Value
	}
	if len(raw.Rules) > MaxRules {
		c.errorf(0, "%d rules; at most %d are allowed", len(raw.Rules), MaxRules)
		return nil, c.errs
	}

	seen := map[string]int{}
	for i := range raw.Rules {
		line := 0
		if i < len(ruleLines) {
			line = ruleLines[i]
		}
		r, ok := c.rule(&raw.Rules[i], i+1, line)
		if !ok {
			continue
		}
		if first, dup := seen[strings.ToLower(r.name)]; dup {
			c.errorf(r.line, "rule name %q is used twice (first at line %d); names identify rules in logs", r.name, first)
			continue
		}
		seen[strings.ToLower(r.name)] = r.line
		p.rules = append(p.rules, r)
	}
	if len(c.errs) > 0 {
		return nil, c.errs
	}
	p.warnings = warnings(p, file)
	return p, nil
}

// rule validates one rule; n is its 1-based position, line its YAML line.
func (c *compiler) rule(raw *rawRule, n, line int) (rule, bool) {
	before := len(c.errs)
	r := rule{line: line}

	switch {
	case !raw.Name.Set || raw.Name.Value == "":
		c.errorf(line, "rule %d has no name (every rule needs one: it appears in logs and refusal messages)", n)
	case strings.HasPrefix(raw.Name.Value, "default"):
		c.errorf(raw.Name.Line, "rule name %q: names starting with \"default\" are reserved for the built-in rules", raw.Name.Value)
	case !reRuleName.MatchString(raw.Name.Value):
		c.errorf(raw.Name.Line, "rule name %q may hold only letters, digits, '.', '_' and '-' (at most 100)", raw.Name.Value)
	default:
		r.name = raw.Name.Value
		r.line = raw.Name.Line
	}
	if r.line == 0 {
		r.line = line
	}

	switch {
	case !raw.Action.Set:
		c.errorf(line, "rule %d has no action (want action: allow or action: deny)", n)
	case raw.Action.Value == "allow":
		r.allow = true
	case raw.Action.Value == "deny":
	default:
		c.errorf(raw.Action.Line, "unknown action %q (want allow or deny)", raw.Action.Value)
	}

	for _, g := range raw.Repos.Items {
		if c.glob(g, "repo", true) {
			r.repos = append(r.repos, strings.ToLower(g.Value))
		}
	}
	if raw.RepoTypes.Line > 0 {
		r.types = map[RepoType]bool{}
		if raw.RepoTypes.Nodes == 0 {
			c.errorf(raw.RepoTypes.Line, "repo_types is empty; leave it out to mean every repo type")
		}
	}
	for _, t := range raw.RepoTypes.Items {
		rt := RepoType(t.Value)
		if !ValidRepoType(rt) {
			hint := ""
			if ValidRepoType(RepoType(strings.TrimSuffix(strings.ToLower(t.Value), "s"))) {
				hint = fmt.Sprintf("; did you mean %q?", strings.TrimSuffix(strings.ToLower(t.Value), "s"))
			}
			c.errorf(t.Line, "unknown repo type %q (want model, dataset or space%s)", t.Value, hint)
			continue
		}
		r.types[rt] = true
	}
	if raw.Files.Line > 0 && raw.Files.Nodes == 0 {
		c.errorf(raw.Files.Line, "files is empty; leave it out for a repo-level rule")
	}
	for _, g := range raw.Files.Items {
		if c.glob(g, "file", false) {
			r.files = append(r.files, strings.ToLower(g.Value))
		}
	}

	if raw.Reason.Set {
		reason := raw.Reason.Value
		switch {
		case len(reason) > MaxReasonBytes:
			c.errorf(raw.Reason.Line, "reason is %d bytes long; keep it under %d (it goes into an HTTP header)", len(reason), MaxReasonBytes)
		case strings.IndexFunc(reason, unicode.IsControl) >= 0:
			c.errorf(raw.Reason.Line, "reason must be one line of text without control characters (it goes into an HTTP header)")
		default:
			r.reason = reason
		}
	}
	if raw.WeightsOnlyPickles.Set {
		if raw.Action.Set && raw.Action.Value != "allow" {
			c.errorf(raw.WeightsOnlyPickles.Line, "weights_only_pickles is only meaningful on an allow rule")
		}
		r.weightsOnly = raw.WeightsOnlyPickles.Value
	}
	return r, len(c.errs) == before
}

// glob validates one repo or file glob and reports whether it is usable.
func (c *compiler) glob(g located[string], kind string, repo bool) bool {
	v := g.Value
	switch {
	case v == "":
		c.errorf(g.Line, "empty %s glob", kind)
	case len(v) > MaxPatternBytes:
		c.errorf(g.Line, "%s glob is longer than %d bytes", kind, MaxPatternBytes)
	case !doublestar.ValidatePattern(v):
		c.errorf(g.Line, "bad %s glob %q (unbalanced [ ] or { }, or a trailing \\)", kind, v)
	case strings.HasPrefix(v, "/"):
		if repo {
			c.errorf(g.Line, "repo glob %q starts with '/'; write org/name", v)
		} else {
			c.errorf(g.Line, "file glob %q starts with '/'; paths are relative to the repo root (write %q)", v, strings.TrimLeft(v, "/"))
		}
	case strings.HasSuffix(v, "/"):
		c.errorf(g.Line, "%s glob %q ends with '/'; use %q to match everything below a folder", kind, v, v+"**")
	default:
		return true
	}
	return false
}

// warnings finds valid constructs that are probably not what the admin meant.
func warnings(p *Policy, file string) []string {
	var ws []string
	for i, r := range p.rules {
		for _, g := range r.repos {
			if !strings.ContainsAny(g, "/*?[{") {
				ws = append(ws, fmt.Sprintf("%s:%d: warning: rule %s: repo glob %q matches only the single-name repo %q, not an organisation; for an organisation write %q", file, r.line, r.name, g, g, g+"/*"))
			}
		}
		if r.allow && !r.weightsOnly && !p.weightsOnly && !r.repoLevel() && allowsPickleNames(&r) {
			ws = append(ws, fmt.Sprintf("%s:%d: warning: rule %s lifts the pickle name rule, but content checks still refuse every pickle it lets through (weights_only_pickles is off); it only lets non-pickle files with those names through", file, r.line, r.name))
		}
		if r.repos == nil && r.types == nil && r.repoLevel() {
			for _, later := range p.rules[i+1:] {
				ws = append(ws, fmt.Sprintf("%s:%d: warning: rule %s can never match: rule %s (line %d) matches every file of every repo", file, later.line, later.name, r.name, r.line))
			}
			break
		}
	}
	return ws
}

// allowsPickleNames reports whether a file rule's globs match a file with a
// default pickle name.
func allowsPickleNames(r *rule) bool {
	for _, g := range DefaultPickleNames {
		ext := strings.TrimPrefix(g, "*")
		if r.matchesFile(newFileName("pytorch_model"+ext)) || r.matchesFile(newFileName("sub/pytorch_model"+ext)) {
			return true
		}
	}
	return false
}
