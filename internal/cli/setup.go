package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/safehub/safehub/internal/setup"
)

// newSetupCmd builds `safehub setup`: show, apply or undo the server set-up.
func newSetupCmd() *cobra.Command {
	var (
		o           setup.Options
		apply, undo bool
	)
	cmd := &cobra.Command{
		Use:   "setup [--apply | --undo] [--root DIR] [--listen ADDR] [--endpoint URL] [--python PATH]...",
		Short: "Make this server safe in one step: profile script, config, systemd unit, guard",
		Long: `Set up safehub on this server. Without --apply it only prints what it would do.

With --apply it writes
  /etc/profile.d/safehub.sh            HF_ENDPOINT, HF_HUB_DISABLE_XET=1, DISABLE_SAFETENSORS_CONVERSION=1
  /etc/safehub/config.yaml             the gateway's config (an existing one is kept)
  /etc/systemd/system/safehub.service  'safehub serve --config /etc/safehub/config.yaml', sandboxed
and installs the guard into every python3 in /usr/bin and /usr/local/bin. It lists
the interpreters it does not touch (conda, pyenv, uv, ...) with the command that
covers each. It records everything in /var/lib/safehub/setup.json; --undo puts
back what was there. It does not start the service: it prints the commands.

--root DIR does all of this under DIR instead of / (to prepare an image).`,
		Example: `  safehub setup                      # show the plan, change nothing
  sudo safehub setup --apply
  sudo safehub setup --apply --listen 0.0.0.0:8080 --endpoint http://gpu01.lab:8080
  sudo safehub setup --apply --python /opt/conda/bin/python3   # this interpreter too
  sudo safehub setup --apply --guard-mode audit                # roll out: record only
  sudo safehub setup --undo                # reverse everything setup did
  safehub setup --root /tmp/img --apply    # prepare an image's tree`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			out := c.OutOrStdout()
			if undo {
				// --undo acts at once (it only puts back what an earlier
				// --apply recorded); --undo --apply means the same.
				fmt.Fprintln(out, "Stop the service first if it runs: systemctl disable --now safehub")
				err := setup.Undo(c.Context(), o.Root, out)
				if err != nil {
					return withCode(ExitError, err)
				}
				fmt.Fprintln(out, "Undone. Run systemctl daemon-reload so systemd forgets the unit.")
				return nil
			}
			plan, err := setup.NewPlan(c.Context(), o)
			if err != nil {
				return withCode(ExitError, err)
			}
			plan.Print(out, apply)
			if !apply {
				return nil
			}
			fmt.Fprintln(out)
			if err := plan.Apply(c.Context(), out); err != nil {
				return withCode(ExitError, fmt.Errorf("%w\nwhat was done is recorded; fix the cause and rerun setup --apply, or run setup --undo", err))
			}
			plan.PrintNext(out)
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&apply, "apply", false, "do it (without it, only print what would be done)")
	f.BoolVar(&undo, "undo", false, "reverse an earlier setup --apply now, restoring what was there")
	f.StringVar(&o.Root, "root", "/", "set up the tree under this folder instead of /")
	f.StringVar(&o.Listen, "listen", "", "address the gateway listens on (default 127.0.0.1:8080)")
	f.StringVar(&o.Endpoint, "endpoint", "", "HF_ENDPOINT users get (default: http:// and the listen address, 127.0.0.1 for 0.0.0.0)")
	f.StringVar(&o.Upstream, "upstream", "", "upstream Hub URL or mirror folder (default https://huggingface.co)")
	f.StringVar(&o.Binary, "binary", setup.DefaultBinary, "the safehub binary the systemd unit runs")
	f.StringArrayVar(&o.Pythons, "python", nil, "another interpreter to install the guard into (repeatable)")
	f.StringVar(&o.GuardMode, "guard-mode", "block", "guard mode: block, warn or audit")
	return cmd
}
