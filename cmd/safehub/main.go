// Command safehub is a Hugging Face Hub gateway, content scanner and Python
// tripwire that keeps pickle-based model files from running code on a shared
// server. All logic lives under internal/; this file only maps the outcome of
// the command tree to an exit code.
package main

import (
	"os"

	"github.com/safehub/safehub/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
