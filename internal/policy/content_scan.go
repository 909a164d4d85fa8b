package policy

import "github.com/safehub/safehub/internal/scan"

// Content applies the repo, name and content stages to a file after a scan.
// r == nil (the scan failed) refuses the file. Scan with
// scan.Options{Profile: p.ScanProfile(), NameHint: path} so the reason
// names a disguise ("it is a pickle, not safetensors").
func (p *Policy) Content(t RepoType, repoID, path string, r *scan.Result) Decision {
	return p.ContentFacts(t, repoID, path, FactsOf(r))
}

// FactsOf extracts what the policy needs from a scan result (nil for nil),
// for callers that cache verdicts per blob.
func FactsOf(r *scan.Result) *Facts {
	if r == nil {
		return nil
	}
	return &Facts{Format: r.Format, Verdict: r.Verdict, PickleBearing: r.PickleBearing, Reason: r.Reason()}
}
