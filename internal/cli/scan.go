package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder: replaced by the owner of this command.
func newScanCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "scan",
		Short: "(not built yet)",
		RunE:  func(*cobra.Command, []string) error { return errors.New("scan: not built yet") },
	}
}
