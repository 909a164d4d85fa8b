package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder: replaced by the owner of this command.
func newGuardCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "guard",
		Short: "(not built yet)",
		RunE:  func(*cobra.Command, []string) error { return errors.New("guard: not built yet") },
	}
}
