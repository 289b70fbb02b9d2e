// Command diagnose turns the Linux "why is it slow / why was it killed"
// runbook into software: it runs declarative playbooks over facts gathered
// from /proc and /sys (or a recorded snapshot) and reports a verdict with
// its evidence and the next commands to run.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/diagnose-sh/diagnose/engine"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit codes, documented in docs/cli.md.
const (
	exitOK           = 0 // no finding at or above --fail-on
	exitFindings     = 1 // findings at or above --fail-on (diagnose test: a test failed)
	exitUsage        = 2 // usage, playbook or target error: nothing was diagnosed
	exitInconclusive = 3 // nothing fired, but rules that matter could not be checked
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// usageError is a mistake in how diagnose was called.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// exitCode maps an error to the documented exit code and prints it.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	var pe engine.Errors
	var ue usageError
	switch {
	case errors.As(err, &pe):
		fmt.Fprintln(stderr, pe.Error())
		fmt.Fprintf(stderr, "%d problem(s); nothing was run\n", len(pe))
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "diagnose: %v\nRun 'diagnose help' for usage.\n", ue)
	default:
		fmt.Fprintf(stderr, "diagnose: %v\n", err)
	}
	return exitUsage
}

// run is diagnose without the process: it returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return exitUsage
	}
	env := newEnv(stdin, stdout, stderr)
	switch args[0] {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usageText)
		return exitOK
	case "version", "-version", "--version":
		fmt.Fprintf(stdout, "diagnose %s\n", version)
		return exitOK
	case "list":
		return exitCode(env.list(args[1:]), stderr)
	case "validate":
		code, err := env.validate(args[1:])
		if err != nil {
			return exitCode(err, stderr)
		}
		return code
	case "facts":
		return exitCode(env.facts(args[1:]), stderr)
	case "collect":
		return exitCode(env.collect(args[1:]), stderr)
	case "completion":
		return exitCode(env.completion(args[1:]), stderr)
	case "test":
		code, err := env.testCmd(args[1:])
		if err != nil {
			return exitCode(err, stderr)
		}
		return code
	case "schema":
		return exitCode(env.schemaCmd(args[1:]), stderr)
	case "run":
		if len(args) < 2 || len(args[1]) > 0 && args[1][0] == '-' {
			return exitCode(usagef("run needs a playbook file: diagnose run FILE.yaml [flags]"), stderr)
		}
		code, err := env.runPlaybook(args[1], true, args[2:])
		if err != nil {
			return exitCode(err, stderr)
		}
		return code
	}
	code, err := env.runPlaybook(args[0], false, args[1:])
	if err != nil {
		return exitCode(err, stderr)
	}
	return code
}

const usageText = `diagnose: find why a Linux system or process is slow, or why a container ran out of memory.

Usage:
  diagnose PLAYBOOK [flags]        run a playbook (see 'diagnose list'), e.g. diagnose slow-app --pid 4242
  diagnose run FILE.yaml [flags]   run a playbook file
  diagnose list                    list the playbooks and their parameters
  diagnose validate FILE...        check playbook files without running them
  diagnose facts                   list every fact playbooks can read: name, type, unit, meaning, probe
  diagnose collect [--pid N] -o snapshot.json
                                   record the facts for replay with --snapshot
  diagnose test FILE...            run playbook test files (snapshots, inline facts, expectations)
  diagnose schema [playbook|test|overlay]
                                   print a JSON Schema for editors (yaml-language-server)
  diagnose completion bash|zsh|fish
  diagnose --version

Run flags (before or after the playbook's own parameters):
  --format FORMAT       text, json, markdown, junit or sarif (default text)
  --output FORMAT=FILE  also write a report file in FORMAT (repeatable)
  --overlay FILE        apply an overlay: tuned thresholds, severities, disabled rules
  --fail-on SEVERITY    exit 1 on findings at or above info|warning|critical (default warning)
  --duration D          sampling window (default 1s)
  --timeout D           give up and report what was gathered after D (default window + 10s)
  --snapshot FILE       evaluate a recorded snapshot instead of the live system
  --playbooks DIR       also load the playbooks in DIR
  --strace              after the window, attach strace -c for as long again (ptrace slows the target)
  --strace-file FILE    parse a 'strace -c' summary a person already has
  --jcmd                measure JVMs with jcmd (it attaches: the JVM starts a listener)
  --root DIR            read /proc and /sys under DIR (a host's, mounted elsewhere)

Exit codes: 0 nothing at or above --fail-on, 1 findings, 2 usage, playbook or target error,
3 inconclusive (rules that matter could not be checked).
`
