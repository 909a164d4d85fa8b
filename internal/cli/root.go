// Package cli builds safehub's command tree: one file per command, each with
// a constructor that takes no global state so commands can be tested with
// SetArgs/SetOut.
package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes shared by every command (DESIGN.md's contract for scan).
const (
	ExitOK       = 0
	ExitFindings = 1 // scan: something unsafe or unknown; guard status: not active
	ExitError    = 2 // usage or I/O error
)

// ExitError carries a specific exit code out of a command. A command that
// wants exit 1 without printing an error returns ExitError{Code: 1}.
type exitError struct {
	Code int
	Err  error // may be nil: the command already said what it had to say
}

func (e *exitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *exitError) Unwrap() error { return e.Err }

// withCode wraps err so that Main exits with code.
func withCode(code int, err error) error { return &exitError{Code: code, Err: err} }

// NewRootCmd returns the safehub command tree.
func NewRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "safehub",
		Short: "Keep pickle-based model files from running code on a shared server",
		Long: `safehub makes a shared GPU server safe from pickle-based model files.

  safehub serve    a Hugging Face Hub gateway for HF_ENDPOINT that refuses pickles
  safehub scan     the same content scanner, for files already on disk
  safehub guard    a tripwire in Python that stops torch.load of downloaded pickles
  safehub policy   check a policy or config file, or explain a decision
  safehub setup    make this server safe in one command (profile.d, config, unit, guard)
  safehub cache    list or prune the gateway's verified blob cache
  safehub audit    read the gateway's audit log`,
		Example: `  safehub setup --apply                      # then: systemctl enable --now safehub
  safehub serve --upstream ./examples/mirror
  safehub scan ~/.cache/huggingface/hub
  safehub policy explain org/model pytorch_model.bin`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newServeCmd(),
		newScanCmd(),
		newGuardCmd(),
		newPolicyCmd(),
		newCacheCmd(),
		newAuditCmd(),
		newVersionCmd(),
		newSetupCmd(),
	)
	return root
}

// requireSubcommand makes a parent command fail with exit status 2 on a
// missing or misspelt subcommand: by default cobra prints the help and
// exits 0, so a script would not notice that nothing was done.
func requireSubcommand(cmd *cobra.Command) *cobra.Command {
	cmd.Args = cobra.NoArgs // an unknown name: "unknown command ... for ..."
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		var names []string
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() {
				names = append(names, "'"+c.CommandPath()+" "+sub.Name()+"'")
			}
		}
		return withCode(ExitError, fmt.Errorf("name a subcommand: %s (see '%s --help')", strings.Join(names, " or "), c.CommandPath()))
	}
	return cmd
}

// Main runs the command tree with args and returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	root := NewRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintln(stderr, "safehub:", ee.Err)
		}
		return ee.Code
	}
	fmt.Fprintln(stderr, "safehub:", err)
	return ExitError
}
