// Package setup makes a server safe in one step: it writes the profile
// script that points every user at the gateway, the gateway's config and a
// sandboxed systemd unit, and installs the guard into the system's Python
// interpreters. Everything it changes is recorded in a manifest under
// /var/lib/safehub so that Undo restores exactly what was there.
//
// All paths are taken under Options.Root ("/" on a real server; a
// temporary folder in tests, or an image being prepared).
package setup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/safehub/safehub/internal/config"
	"github.com/safehub/safehub/internal/guard"
)

// Options are `safehub setup`'s flags.
type Options struct {
	Root      string   // "/" unless preparing another tree
	Listen    string   // the gateway's address (config.DefaultListen when empty)
	Endpoint  string   // HF_ENDPOINT for users (derived from Listen when empty)
	Upstream  string   // config.DefaultUpstream when empty
	Binary    string   // the safehub binary the unit runs (/usr/local/bin/safehub when empty)
	Pythons   []string // more interpreters to install the guard into, besides the system ones
	GuardMode string   // block (default), warn or audit
	PathEnv   string   // PATH to search for interpreters to list; os.Getenv("PATH") when empty
}

// DefaultBinary is where the unit expects safehub.
const DefaultBinary = "/usr/local/bin/safehub"

// File is one file setup writes.
type File struct {
	Path     string // absolute, under the root
	Rel      string // as on the target system, e.g. /etc/profile.d/safehub.sh
	Content  []byte
	Keep     bool   // an existing file setup did not write: left as it is
	SetAside bool   // edited since setup wrote it: moved to Path+EditedSuffix first
	Note     string // why, or what happens to the old file
}

// Plan is what Apply will do.
type Plan struct {
	Opts        Options
	Files       []File
	Guards      []*Target
	Unreached   []Unreached
	Failed      []Unreached // interpreters found where the guard should go, that could not be probed
	Warnings    []string
	NextSteps   []string
	manifest    *manifest // the previous run's, if any
	hasManifest bool
}

// NewPlan works out what setup would do. It reads the target tree and runs
// each interpreter once to ask about itself, and changes nothing.
func NewPlan(ctx context.Context, o Options) (*Plan, error) {
	if err := o.fill(); err != nil {
		return nil, err
	}
	p := &Plan{Opts: o}
	m, err := loadManifest(o.Root)
	switch {
	case err == nil:
		p.manifest, p.hasManifest = m, true
	case errors.Is(err, os.ErrNotExist):
		p.manifest = &manifest{Version: manifestVersion}
	default:
		return nil, err
	}

	cfgText := configFile(o.Listen, o.Upstream, adminFor(o.Listen))
	c, err := config.Parse([]byte(cfgText), ConfigPath)
	if err == nil {
		err = c.Validate()
	}
	if err != nil {
		return nil, fmt.Errorf("the config setup would write is invalid (check --listen and --upstream):\n%w", err)
	}
	for _, f := range []struct {
		rel, text    string
		keepExisting bool
	}{
		{ProfilePath, profileScript(o.Endpoint), false},
		{ConfigPath, cfgText, true}, // an admin's own config wins over ours
		{UnitPath, unitFile(o.Binary, o.Listen), false},
	} {
		abs := filepath.Join(o.Root, f.rel)
		file := File{Path: abs, Rel: f.rel, Content: []byte(f.text)}
		cur, err := os.ReadFile(abs)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return nil, err
		case p.manifest.file(abs) != nil && digest(cur) == p.manifest.file(abs).Written:
			file.Note = "written by an earlier setup; brought up to date"
		case p.manifest.file(abs) != nil && !f.keepExisting:
			file.SetAside, file.Note = true, "edited since setup wrote it; your version is kept as "+f.rel+EditedSuffix
		case f.keepExisting:
			file.Keep, file.Note = true, "exists already; kept as it is"
			if c, err := config.Parse(cur, abs); err != nil {
				p.Warnings = append(p.Warnings, fmt.Sprintf("the existing %s does not parse:\n%v", f.rel, err))
			} else if err := c.Validate(); err != nil {
				p.Warnings = append(p.Warnings, fmt.Sprintf("the existing %s is not valid:\n%v", f.rel, err))
			}
		case bytes.Equal(cur, file.Content):
			file.Note = "already as wanted"
		default:
			file.Note = "replaces the existing file (undo restores it)"
		}
		p.Files = append(p.Files, file)
	}

	system := findSystem(o.Root)
	for _, py := range append(system, o.Pythons...) {
		t, err := probeTarget(ctx, py)
		if err != nil {
			p.Failed = append(p.Failed, Unreached{Path: py, Reason: err.Error()})
			continue
		}
		if dup(p.Guards, t) {
			continue
		}
		if prev := p.manifest.guard(t.Interp.Executable); prev != nil {
			t.Preexisting = prev.Preexisting // what matters is the state before the first setup
		}
		p.Guards = append(p.Guards, t)
	}
	if len(system) == 0 && len(o.Pythons) == 0 {
		p.Warnings = append(p.Warnings, fmt.Sprintf("no python3 in %s/usr/bin or %s/usr/local/bin; no guard installed",
			strings.TrimSuffix(o.Root, "/"), strings.TrimSuffix(o.Root, "/")))
	}
	p.Unreached = findOthers(o.Root, o.PathEnv, append(system, o.Pythons...))
	p.checkBinary()
	p.NextSteps = []string{
		"systemctl daemon-reload",
		"systemctl enable --now safehub",
		"safehub guard status --python /usr/bin/python3",
		"log in again (or: . /etc/profile.d/safehub.sh) and try: hf download gpt2 config.json",
	}
	return p, nil
}

func dup(ts []*Target, t *Target) bool {
	for _, o := range ts {
		if o.Interp.Executable == t.Interp.Executable && o.Interp.StdlibDir == t.Interp.StdlibDir {
			return true
		}
	}
	return false
}

func (o *Options) fill() error {
	if o.Root == "" {
		o.Root = "/"
	}
	root, err := filepath.Abs(o.Root)
	if err != nil {
		return err
	}
	o.Root = root
	if st, err := os.Stat(root); err != nil || !st.IsDir() {
		return fmt.Errorf("--root %s is not a folder", o.Root)
	}
	if o.Listen == "" {
		o.Listen = config.DefaultListen
	}
	if o.Upstream == "" {
		o.Upstream = config.DefaultUpstream
	}
	if o.Endpoint == "" {
		o.Endpoint = endpointFor(o.Listen)
	}
	if !strings.HasPrefix(o.Endpoint, "http://") && !strings.HasPrefix(o.Endpoint, "https://") {
		return fmt.Errorf("--endpoint %q: want the URL users reach the gateway at, e.g. http://gpu-server:8080", o.Endpoint)
	}
	if o.Binary == "" {
		o.Binary = DefaultBinary
	}
	if !filepath.IsAbs(o.Binary) {
		return fmt.Errorf("--binary %q: systemd needs an absolute path", o.Binary)
	}
	if o.GuardMode == "" {
		o.GuardMode = "block"
	}
	ok := false
	for _, m := range guard.Modes {
		ok = ok || m == o.GuardMode
	}
	if !ok {
		return fmt.Errorf("--guard-mode %q: want one of %s", o.GuardMode, strings.Join(guard.Modes, ", "))
	}
	if o.PathEnv == "" {
		o.PathEnv = os.Getenv("PATH")
	}
	return nil
}

// adminFor keeps the admin listener on loopback, on a port next to the gateway's.
func adminFor(listen string) string {
	if listen == DefaultAdmin || strings.HasSuffix(listen, ":9090") {
		return "127.0.0.1:9091"
	}
	return DefaultAdmin
}

// checkBinary warns when the unit could not start: no binary there, or one
// the sandbox hides (ProtectHome, PrivateTmp).
func (p *Plan) checkBinary() {
	bin := p.Opts.Binary
	for _, hidden := range []string{"/home/", "/root/", "/tmp/", "/var/tmp/", "/run/user/"} {
		if strings.HasPrefix(bin, hidden) {
			p.Warnings = append(p.Warnings, fmt.Sprintf("the service cannot run %s: the sandbox hides %s; install the binary with: install -m 0755 %s %s and rerun setup",
				bin, hidden, bin, DefaultBinary))
			return
		}
	}
	if _, err := os.Stat(filepath.Join(p.Opts.Root, bin)); err != nil {
		self, _ := os.Executable()
		if self == "" {
			self = "./safehub"
		}
		p.Warnings = append(p.Warnings, fmt.Sprintf("%s does not exist yet; the unit runs it. Install it first: install -m 0755 %s %s",
			bin, self, bin))
	}
}

// Print writes the plan for a person: each file, each interpreter, what was left out and why.
func (p *Plan) Print(w io.Writer, apply bool) {
	verb := "would"
	if apply {
		verb = "will"
	}
	fmt.Fprintf(w, "safehub setup %s, under %s:\n\n", verb, p.Opts.Root)
	for _, f := range p.Files {
		action := "write"
		if f.Keep {
			action = "keep "
		}
		line := fmt.Sprintf("  %s %s", action, f.Rel)
		if f.Note != "" {
			line += "  (" + f.Note + ")"
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintf(w, "      users get HF_ENDPOINT=%s, HF_HUB_DISABLE_XET=1, DISABLE_SAFETENSORS_CONVERSION=1\n", p.Opts.Endpoint)
	fmt.Fprintf(w, "      the unit runs: %s serve --config %s (DynamicUser, ProtectSystem=strict, ...)\n", p.Opts.Binary, ConfigPath)
	fmt.Fprintln(w)
	if len(p.Guards) > 0 {
		fmt.Fprintf(w, "  install the guard (mode %s) into:\n", p.Opts.GuardMode)
		for _, t := range p.Guards {
			note := ""
			if t.Preexisting {
				note = "  (already installed before setup; undo leaves it)"
			}
			fmt.Fprintf(w, "    %s (Python %s): hook %s, package %s%s\n", t.Path, t.Interp.VersionString(), t.Layout.HookFile, t.Layout.GuardDir, note)
		}
	}
	for _, f := range p.Failed {
		fmt.Fprintf(w, "  cannot install the guard into %s: %s\n", f.Path, f.Reason)
	}
	if len(p.Unreached) > 0 {
		fmt.Fprintln(w, "\n  not covered (their owners, or you, can run the command shown):")
		for _, u := range p.Unreached {
			fmt.Fprintf(w, "    %s  [%s]\n      %s\n", u.Path, u.Reason, u.Command())
		}
	}
	fmt.Fprintf(w, "\n  record what changed in %s (for safehub setup --undo)\n", ManifestPath)
	for _, warn := range p.Warnings {
		fmt.Fprintf(w, "\nwarning: %s\n", warn)
	}
	if !apply {
		fmt.Fprintln(w, "\nNothing was changed. Run again with --apply to do it.")
	}
}

// PrintNext tells the admin what setup leaves to them.
func (p *Plan) PrintNext(w io.Writer) {
	fmt.Fprintln(w, "\nDone. setup does not start services; next:")
	for _, s := range p.NextSteps {
		fmt.Fprintln(w, "  "+s)
	}
}
