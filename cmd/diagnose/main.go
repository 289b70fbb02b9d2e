// Command diagnose turns the Linux "why is it slow / why was it killed"
// runbook into software: it runs declarative playbooks over facts gathered
// from /proc and /sys (or a recorded snapshot) and reports a verdict with
// its evidence and the next commands to run. The command line lives in
// internal/cli.
package main

import (
	"os"

	"github.com/diagnose-sh/diagnose/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
