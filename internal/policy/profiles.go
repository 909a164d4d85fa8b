package policy

import "github.com/safehub/safehub/internal/scan/pickle"

// scanProfiles lists the scanner's pickle profiles, so that a misspelt
// scan_profile fails `policy check` instead of the first scan.
func scanProfiles() []string { return pickle.ProfileNames() }
