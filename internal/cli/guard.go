package cli

import (
	"errors"
	"fmt"

	"github.com/safehub/safehub/internal/guard"
	"github.com/spf13/cobra"
)

// newGuardCmd builds `safehub guard install|uninstall|status`.
func newGuardCmd() *cobra.Command {
	var python, mode string
	cmd := &cobra.Command{
		Use:   "guard",
		Short: "Install, remove or check the Python tripwire that stops torch.load of downloaded pickles",
		Example: `  safehub guard install --python /usr/bin/python3      # this interpreter and venvs made from it
  safehub guard install --python ~/venv/bin/python --mode warn
  safehub guard status --python /usr/bin/python3
  safehub guard uninstall --python /usr/bin/python3`,
		Long: `safehub guard puts a small Python package (safehub_guard) into an interpreter's start-up.
It wraps torch.load when torch loads (it never imports torch itself): files from download
caches, other users' files and anonymous streams load weights-only or are refused, while your
own checkpoints load as asked. A pickle.find_class audit hook refuses pickles that run programs.

Installed into a base interpreter, it covers every venv made from it; given a venv's python,
it covers that venv only. Settings: SAFEHUB_GUARD=block|warn|audit|off, SAFEHUB_GUARD_TRUSTED.`,
	}
	cmd.PersistentFlags().StringVar(&python, "python", "python3", "interpreter to act on (a path, or a name on PATH)")

	install := &cobra.Command{
		Use:   "install",
		Short: "Install the guard into an interpreter (idempotent)",
		Example: `  safehub guard install                                  # python3 on PATH
  safehub guard install --python /usr/bin/python3.11 --mode block
  safehub guard install --python /opt/conda/bin/python   # one interpreter setup did not reach`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			x, err := guard.NewInstaller(c.Context(), python, c.OutOrStdout())
			if err != nil {
				return withCode(ExitError, err)
			}
			if err := x.Install(c.Context(), mode); err != nil {
				return withCode(ExitError, fmt.Errorf("guard install: %w", err))
			}
			return nil
		},
	}
	install.Flags().StringVar(&mode, "mode", "block", "default when SAFEHUB_GUARD is unset: block, warn or audit")

	uninstall := &cobra.Command{
		Use:     "uninstall",
		Short:   "Remove the guard and restore what the install changed",
		Example: `  safehub guard uninstall --python /usr/bin/python3`,
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			x, err := guard.NewInstaller(c.Context(), python, c.OutOrStdout())
			if err != nil {
				return withCode(ExitError, err)
			}
			err = x.Uninstall(c.Context())
			if errors.Is(err, guard.ErrNotInstalled) {
				fmt.Fprintf(c.OutOrStdout(), "safehub guard is not installed in %s; nothing to do\n", x.Interp.Executable)
				return nil
			}
			if err != nil {
				return withCode(ExitError, fmt.Errorf("guard uninstall: %w", err))
			}
			return nil
		},
	}

	status := &cobra.Command{
		Use:     "status",
		Short:   "Exit 0 and print 'active' if the guard is in force in the interpreter",
		Example: `  safehub guard status --python /usr/bin/python3 && echo guarded`,
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			x, err := guard.NewInstaller(c.Context(), python, c.OutOrStdout())
			if err != nil {
				return withCode(ExitError, err)
			}
			st, err := x.Status(c.Context())
			if err != nil {
				return withCode(ExitError, err)
			}
			out := c.OutOrStdout()
			if st.Active {
				fmt.Fprintf(out, "active (mode %s) in %s\n", st.Mode, x.Interp.Executable)
			} else {
				fmt.Fprintf(out, "not active in %s: %s\n", x.Interp.Executable, st.Reason)
			}
			for _, ck := range st.Checks {
				state := "active"
				switch {
				case ck.Active:
					state = "active (" + ck.Detail + ")"
				case !ck.Expected:
					state = "not covered: " + ck.Detail
				default:
					state = "NOT ACTIVE: " + ck.Detail
				}
				fmt.Fprintf(out, "  %-10s %s\n", ck.Name, state)
			}
			if !st.Active {
				return withCode(ExitFindings, nil)
			}
			return nil
		},
	}
	cmd.AddCommand(install, uninstall, status)
	requireSubcommand(cmd)
	return cmd
}
