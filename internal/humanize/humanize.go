// Package humanize formats sizes for people (CLI output, the status page,
// audit summaries) the one way safehub prints them everywhere.
package humanize

import "fmt"

// Bytes writes n in powers of 1024 with one decimal: 1536 is "1.5 KiB",
// 512 is "512 B". It matches how --cache-max and --max read sizes.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
