package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/safehub/safehub/internal/config"
	"github.com/safehub/safehub/internal/policy"
)

func newPolicyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Check a policy file, or explain a decision",
		Long: `Work with safehub policy files (docs/policy.md describes the format).

Without a policy file safehub uses the built-in default: pickle-based names
(*.bin *.pt *.pth *.pkl *.pickle *.ckpt *.joblib *.dill) are refused in every
repo, and every other file is served only after its content is checked.`,
		Example: `  safehub policy check /etc/safehub/policy.yaml
  safehub policy explain gpt2 pytorch_model.bin
  safehub policy explain --policy policy.yaml --type dataset my-org/data train.pkl`,
	}
	cmd.AddCommand(newPolicyCheckCmd(), newPolicyExplainCmd())
	requireSubcommand(cmd)
	return cmd
}

func newPolicyCheckCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check FILE",
		Short: "Validate a policy file or a serve config file",
		Long: `Validate a policy file, or a serve config file (and the policy file it
names): unknown keys, bad values and bad globs are errors, each printed with
its line number. Exit status 0 when the file is valid (warnings about rules
that probably do not do what was meant are printed but do not fail the
check), 2 when it is not.`,
		Example: `  safehub policy check /etc/safehub/policy.yaml
  # policy.yaml: ok (3 rules, mode enforce)
  safehub policy check /etc/safehub/config.yaml
  # config.yaml: ok (config)`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if isCfg, err := config.IsConfigFile(args[0]); err == nil && isCfg {
				if err := config.Check(args[0]); err != nil {
					return configCheckError(cmd.ErrOrStderr(), err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (config)\n", args[0])
				return nil
			}
			p, err := policy.Load(args[0])
			if err != nil {
				return policyLoadError(cmd.ErrOrStderr(), err)
			}
			for _, w := range p.Warnings() {
				fmt.Fprintln(cmd.ErrOrStderr(), w)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (%d rules, mode %s)\n", args[0], p.RuleCount(), p.Mode())
			return nil
		},
	}
}

// policyLoadError prints every line-numbered error of a policy file and
// returns exit status 2; other errors (a missing file) go through Main.
func policyLoadError(stderr io.Writer, err error) error {
	var es policy.Errors
	if !errors.As(err, &es) {
		return withCode(ExitError, err)
	}
	for _, e := range es {
		fmt.Fprintln(stderr, e)
	}
	return withCode(ExitError, nil)
}

// configCheckError prints every line-numbered error of a config file (or
// of the policy file it names) and returns exit status 2.
func configCheckError(stderr io.Writer, err error) error {
	var ces config.Errors
	if errors.As(err, &ces) {
		for _, e := range ces {
			fmt.Fprintln(stderr, e)
		}
		return withCode(ExitError, nil)
	}
	return policyLoadError(stderr, err)
}

func newPolicyExplainCmd() *cobra.Command {
	var (
		policyFile string
		repoType   string
	)
	cmd := &cobra.Command{
		Use:   "explain [--policy FILE] [--type model|dataset|space] REPO_ID FILENAME",
		Short: "Show whether a file of a repo is allowed, and which rule decides",
		Long: `Show the decision of the repo and name rules for one file of one repo: allowed
or refused, the rule that decided and why. Files allowed by name are still
checked by content when the gateway serves them; explain cannot know their
bytes, so it says so.

Exit status 0 when the file is allowed (in audit mode, also when it would be
refused), 1 when it is refused, 2 on a usage error or a bad policy file.`,
		Example: `  safehub policy explain gpt2 pytorch_model.bin
  safehub policy explain --policy /etc/safehub/policy.yaml my-org/model weights/x.bin
  safehub policy explain --type dataset my-org/data train.pkl`,
		Args:                  cobra.ExactArgs(2),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			t := policy.RepoType(repoType)
			if !policy.ValidRepoType(t) {
				return withCode(ExitError, fmt.Errorf("--type %q: want model, dataset or space", repoType))
			}
			repoID, file := args[0], args[1]
			if repoID == "" || file == "" {
				return withCode(ExitError, errors.New("REPO_ID and FILENAME must not be empty"))
			}
			p := policy.Default()
			source := "built-in default"
			if policyFile != "" {
				var err error
				if p, err = policy.Load(policyFile); err != nil {
					return policyLoadError(cmd.ErrOrStderr(), err)
				}
				source = policyFile
			}
			d := p.File(t, repoID, file)
			printExplanation(cmd.OutOrStdout(), source, p, t, repoID, file, d)
			if !d.Allow {
				return withCode(ExitFindings, nil)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&policyFile, "policy", "", "policy `FILE` (default: the built-in policy)")
	cmd.Flags().StringVar(&repoType, "type", string(policy.Model), "repo type: model, dataset or space")
	return cmd
}

func printExplanation(w io.Writer, source string, p *policy.Policy, t policy.RepoType, repoID, file string, d policy.Decision) {
	fmt.Fprintf(w, "policy:   %s (mode %s)\n", source, p.Mode())
	fmt.Fprintf(w, "repo:     %s %s\n", t, repoID)
	fmt.Fprintf(w, "file:     %s\n", file)
	switch {
	case d.Audit:
		fmt.Fprintln(w, "decision: allowed (audit mode: enforce mode would refuse it)")
	case !d.Allow:
		fmt.Fprintln(w, "decision: refused")
	case d.WeightsOnly:
		fmt.Fprintln(w, "decision: allowed only if its content is not a pickle, or is a pickle the scanner proves weights-only")
	default:
		fmt.Fprintln(w, "decision: allowed by name; served only if its content check passes")
	}
	fmt.Fprintf(w, "rule:     %s\n", d.Rule)
	fmt.Fprintf(w, "reason:   %s\n", d.Reason)
	if d.Refused() {
		fmt.Fprintf(w, "message:  %s\n", policy.RefusalMessage(file, d, ""))
	}
}
