package policy

import (
	"strings"
)

// Repo applies the repo stage: repo-level rules (rules without files), first
// match wins. The gateway calls it before anything else for a repo; a
// refusal refuses every file of the repo.
func (p *Policy) Repo(t RepoType, repoID string) Decision {
	d, _ := p.repoStage(t, strings.ToLower(repoID))
	return p.finish(d)
}

// File applies the repo and name stages to one file: may it be listed, and
// may it be fetched for the content check. An allowed file must still pass
// Content before its bytes reach a client.
func (p *Policy) File(t RepoType, repoID, path string) Decision {
	d, _ := p.file(t, repoID, path)
	return p.finish(d)
}

// repoStage returns the first matching repo-level rule's decision, or an
// allow by default:allow when none matches.
func (p *Policy) repoStage(t RepoType, repoLower string) (Decision, *rule) {
	for i := range p.rules {
		r := &p.rules[i]
		if r.repoLevel() && r.matchesRepo(t, repoLower) {
			return r.decision(), r
		}
	}
	return Decision{Allow: true, Rule: RuleDefaultAllow, Reason: "no rule refuses this repo"}, nil
}

// file returns the unfinished (pre-audit) decision of the repo and name
// stages and the admin rule that decided, if any.
func (p *Policy) file(t RepoType, repoID, path string) (Decision, *rule) {
	repoLower := strings.ToLower(repoID)
	if d, r := p.repoStage(t, repoLower); !d.Allow {
		return d, r
	}
	// Repo-level rules were the repo stage's: a repo-level allow says the
	// repo may be used, not that every file in it may, so the name stage
	// (file rules, then the built-in pickle names) still applies.
	f := newFileName(path)
	for i := range p.rules {
		r := &p.rules[i]
		if r.repoLevel() || !r.matchesRepo(t, repoLower) {
			continue
		}
		if r.matchesFile(f) {
			return r.decision(), r
		}
	}
	if p.defaults && p.pickleNames.matchesFile(f) {
		if p.weightsOnly {
			// The option turns the name rule into "scan it": only a
			// proven weights-only pickle (or no pickle at all) passes.
			return Decision{
				Allow:       true,
				Rule:        RulePickleNames,
				Reason:      "pickle name: served only if the content check proves it weights-only",
				WeightsOnly: true,
			}, nil
		}
		return p.pickleNames.decision(), nil
	}
	return Decision{Allow: true, Rule: RuleDefaultAllow, Reason: "no rule refuses this file"}, nil
}

// decision turns a matching rule into a Decision.
func (r *rule) decision() Decision {
	d := Decision{Allow: r.allow, Rule: r.name, Reason: r.reason, WeightsOnly: r.allow && r.weightsOnly}
	if d.Reason == "" {
		if r.allow {
			d.Reason = "allowed by rule " + r.name
		} else {
			d.Reason = "refused by rule " + r.name
		}
	}
	return d
}

// finish applies the mode: in audit mode a refusal becomes an allow that
// records what would have happened.
func (p *Policy) finish(d Decision) Decision {
	if p.mode == ModeAudit && !d.Allow {
		d.Allow = true
		d.Audit = true
	}
	return d
}
