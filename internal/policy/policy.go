// Package policy decides whether a file of a Hub repo may be listed and
// served, and says why not. It holds the built-in default (DESIGN.md, "The
// default policy"), loads an admin's YAML file over it, and turns scanner
// verdicts into allow or refuse.
//
// Evaluation order (docs/policy.md explains it for admins):
//
//  1. Repo stage. Rules without `files` are repo-level. The first one whose
//     repos and repo_types match decides: deny refuses the whole repo, allow
//     ends the repo stage. A refused repo is refused whatever file rules say.
//  2. Name stage. The admin's rules, in file order, first match wins; a
//     repo-level rule matches every file of its repos. Then the built-in
//     name rule (default:pickle-names) unless `defaults: false`. Nothing
//     matched means allowed (default:allow).
//  3. Content stage, for every file the name stage allowed. Unsafe content is
//     always refused; pickle-bearing content is refused unless the scanner
//     proves it weights-only and weights_only_pickles is on (globally, or on
//     the allow rule that let the file through by name); a pickle under a
//     name that promises another format is always refused; unknown content
//     is refused. No rule can switch the content stage off.
//
// In audit mode every refusal is returned as Allow with Audit set, so the
// gateway logs what it would have refused and refuses nothing.
//
// A Policy is immutable after Parse/Default and safe for concurrent use.
package policy

import (
	"errors"
)

// RepoType is a Hub repo type as it appears in API paths (singular).
type RepoType string

const (
	Model   RepoType = "model"
	Dataset RepoType = "dataset"
	Space   RepoType = "space"
)

// Modes of a policy.
const (
	ModeEnforce = "enforce"
	ModeAudit   = "audit"
)

// ErrDenied is the sentinel for a refusal, so callers can map it to an HTTP
// status in one place: fmt.Errorf("rule %q: %w", d.Rule, policy.ErrDenied).
var ErrDenied = errors.New("refused by policy")

// Names of the built-in rules, as they appear in Decision.Rule, logs and
// refusal messages.
const (
	RuleDefaultAllow       = "default:allow"
	RulePickleNames        = "default:pickle-names"
	RulePickleContent      = "default:pickle-content"
	RuleUnsafeContent      = "default:unsafe-content"
	RuleUnknownContent     = "default:unknown-content"
	RuleNotScanned         = "default:not-scanned"
	RuleWeightsOnlyPickles = "default:weights-only-pickles"
)

// ReasonPickleNames is the reason of the built-in name rule.
const ReasonPickleNames = "pickle-based weights can run code when loaded"

// DefaultPickleNames are the base-name globs the built-in name rule refuses
// in every repo type, case-insensitively, at any depth.
var DefaultPickleNames = []string{"*.bin", "*.pt", "*.pth", "*.pkl", "*.pickle", "*.ckpt", "*.joblib", "*.dill"}

// Decision is the answer for one repo or file.
type Decision struct {
	Allow  bool   // false = refuse (in audit mode Allow is true and Audit records the refusal that would have happened)
	Audit  bool   // mode audit and this decision would have refused
	Rule   string // the rule that decided: "default:pickle-names", "allow-our-org-bin", ...
	Reason string // short human text: "pickle-based weights can run code when loaded"
	// WeightsOnly is set by File when the file is allowed by name only on
	// condition that its content is not a pickle or is a proven weights-only
	// pickle (weights_only_pickles is on and the name is a pickle name).
	// A gateway may use it to hide such files from listings until scanned.
	WeightsOnly bool
}

// Refused reports whether the decision refuses, or would refuse in audit
// mode. Logging uses it; serving uses Allow.
func (d Decision) Refused() bool { return !d.Allow || d.Audit }

// Policy is a compiled policy: the built-in default plus an admin's file.
type Policy struct {
	source      string // file name for messages, "" for the built-in default
	mode        string
	weightsOnly bool
	defaults    bool
	profile     string
	rules       []rule
	pickleNames rule // the built-in name rule
	warnings    []string
}

// Default returns the built-in policy: enforce mode, pickle names refused,
// content checks on, weights-only pickles refused.
func Default() *Policy {
	return &Policy{
		mode:        ModeEnforce,
		defaults:    true,
		pickleNames: defaultNameRule(),
	}
}

func defaultNameRule() rule {
	return rule{
		name:   RulePickleNames,
		allow:  false,
		reason: ReasonPickleNames,
		files:  DefaultPickleNames,
	}
}

// Mode returns "enforce" or "audit".
func (p *Policy) Mode() string { return p.mode }

// ScanProfile returns the pickle allowlist profile the scanner should use
// ("" means the scanner's default).
func (p *Policy) ScanProfile() string { return p.profile }

// WeightsOnlyPickles reports whether proven weights-only pickles are
// accepted everywhere (the top-level option).
func (p *Policy) WeightsOnlyPickles() bool { return p.weightsOnly }

// Defaults reports whether the built-in name rule applies.
func (p *Policy) Defaults() bool { return p.defaults }

// RuleCount is the number of the admin's rules (the built-in rules are not
// counted).
func (p *Policy) RuleCount() int { return len(p.rules) }

// RuleNames lists the admin's rules in evaluation order.
func (p *Policy) RuleNames() []string {
	names := make([]string, len(p.rules))
	for i, r := range p.rules {
		names[i] = r.name
	}
	return names
}

// Source is the file the policy was loaded from, "" for the default.
func (p *Policy) Source() string { return p.source }

// Warnings are things in a valid policy file that are probably not what the
// admin meant (`safehub policy check` prints them).
func (p *Policy) Warnings() []string { return p.warnings }

// ValidRepoType reports whether t is model, dataset or space.
func ValidRepoType(t RepoType) bool {
	return t == Model || t == Dataset || t == Space
}
