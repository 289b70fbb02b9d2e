// Command diagnose turns the Linux "why is it slow / why was it killed"
// runbook into software: it runs declarative playbooks over facts gathered
// from /proc and /sys (or a recorded snapshot) and reports a verdict with
// its evidence and the next commands to run. The command line lives in
// internal/cli.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/diagnose-sh/diagnose/internal/cli"
)

func main() {
	// Ctrl-C or a SIGTERM stops sampling and the helpers; what was gathered
	// is still reported (exit 130).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.MainContext(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
