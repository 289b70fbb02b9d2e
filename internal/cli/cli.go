// Package cli is the diagnose command line: one cobra command tree whose
// flag definitions drive parsing, help, completion, man pages and
// docs/cli.md. It wires flags to the engine and the probes and renders; it
// holds no diagnosis logic of its own.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/diagnose-sh/diagnose/engine"
)

// Exit codes, documented in docs/cli.md.
const (
	exitOK           = 0   // no finding at or above --fail-on
	exitFindings     = 1   // findings at or above --fail-on (diagnose test: a test failed)
	exitUsage        = 2   // usage, playbook or target error: nothing was diagnosed
	exitInconclusive = 3   // nothing fired, but rules that matter could not be checked
	exitInterrupted  = 130 // SIGINT or SIGTERM: the report covers what was gathered
)

// rootUsage is the root's help: playbooks first, as they are what people run.
const rootUsage = `Usage:
  diagnose PLAYBOOK [flags]   run a playbook (diagnose PLAYBOOK --help lists its parameters)
  diagnose COMMAND [flags]

Playbooks:{{range .Commands}}{{if eq .GroupID "playbooks"}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}

Commands:{{range .Commands}}{{if and (eq .GroupID "commands") (or .IsAvailableCommand (eq .Name "help"))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}

Flags:
{{.LocalFlags.FlagUsages | trimTrailingWhitespaces}}

Examples:
{{.Example}}

Exit codes:
  0  nothing at or above --fail-on
  1  findings at or above --fail-on (diagnose test: a test failed)
  2  usage, playbook or target error: nothing was diagnosed
  3  inconclusive: rules that matter could not be checked
  130  interrupted (SIGINT, SIGTERM): the report covers what was gathered
`

// usageError is a mistake in how diagnose was called: one line, then a
// pointer to the command's help.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// Main is diagnose without the process: it runs args (without the program
// name) and returns the exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return MainContext(context.Background(), args, stdin, stdout, stderr)
}

// MainContext is Main that stops when ctx ends (the command's SIGINT and
// SIGTERM): sampling stops at once, helper programs are killed, and what was
// gathered is reported with exit code 130.
func MainContext(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if stdoutClosed(stdout) {
		stdout = closedOutput{}
	}
	e := newEnv(stdin, stdout, stderr)
	e.ctx = ctx
	root, err := e.newRoot(args)
	if err != nil {
		return e.fail(err, "diagnose")
	}
	root.SetArgs(append([]string{}, args...)) // never nil: cobra would read os.Args
	cmd, err := root.ExecuteC()
	if err != nil {
		return e.fail(err, cmd.CommandPath())
	}
	return e.code
}

// Command is the command tree over the embedded playbooks, for generated
// documentation (docs/cli.md, man pages).
func Command() *cobra.Command {
	root, err := newEnv(strings.NewReader(""), io.Discard, io.Discard).newRoot(nil)
	if err != nil {
		panic(fmt.Sprintf("embedded playbooks: %v", err)) // the playbooks package tests forbid this
	}
	root.InitDefaultHelpCmd()
	return root
}

// fail prints err the way its kind is read best and returns exit code 2.
func (e *env) fail(err error, cmdPath string) int {
	var pe engine.Errors
	var ue usageError
	switch {
	case errors.As(err, &pe):
		fmt.Fprintln(e.stderr, pe.Error())
		fmt.Fprintf(e.stderr, "%d problem(s); nothing was run\n", len(pe))
	case errors.As(err, &ue):
		fmt.Fprintf(e.stderr, "diagnose: %v\nRun '%s --help' for usage.\n", ue, cmdPath)
	default:
		fmt.Fprintf(e.stderr, "diagnose: %v\n", err)
	}
	return exitUsage
}

const (
	groupPlaybooks = "playbooks"
	groupCommands  = "commands"
)

// newRoot builds the command tree. args are pre-scanned only for what
// decides the tree's shape: --playbooks folders, the overlay and the
// playbook file of `run`.
func (e *env) newRoot(args []string) (*cobra.Command, error) {
	pre := prescan(args)
	root := &cobra.Command{
		Use:   "diagnose",
		Short: "Find why a Linux system or process is slow, or why a container ran out of memory",
		Long: `diagnose runs a playbook, a runbook written as rules, over facts read from /proc and /sys
(or from a recorded snapshot) and reports the bottleneck (CPU, I/O, network, locks, memory,
throttling, or nothing wrong) with its evidence and the next commands to run.`,
		Example: `  diagnose system
  diagnose slow-app --pid 4242
  diagnose oom-container --cgroup /kubepods/pod1234
  diagnose collect --pid 4242 -o snap.json && diagnose slow-app --snapshot snap.json`,
		Version: versionString(),
		// A typo within two edits, or a prefix, gets a did-you-mean.
		SuggestionsMinimumDistance: 2,
		SilenceUsage:               true,
		SilenceErrors:              true,
		// Unknown flags are let through so that a mistyped command is
		// reported as such rather than as its flags.
		FParseErrWhitelist: cobra.FParseErrWhitelist{UnknownFlags: true},
		Args:               cobra.ArbitraryArgs,
		ValidArgsFunction:  cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, rest []string) error {
			return e.unknownCommand(cmd, rest, args)
		},
	}
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetVersionTemplate("diagnose {{.Version}}\n")
	root.SetFlagErrorFunc(flagError)
	root.SetUsageTemplate("{{if .HasParent}}" + root.UsageTemplate() + "{{else}}" + rootUsage + "{{end}}")
	root.AddGroup(&cobra.Group{ID: groupPlaybooks, Title: "Playbooks:"}, &cobra.Group{ID: groupCommands, Title: "Commands:"})
	root.SetCompletionCommandGroupID(groupCommands)

	e.schema.ReserveFlags(reservedFlags()...)
	root.AddCommand(e.runCmd(pre), e.listCmd(), e.validateCmd(), e.factsCmd(), e.collectCmd(),
		e.diffCmd(), e.serveCmd(), e.testCmd(), e.schemaCmd(), versionCmd())
	for _, c := range root.Commands() {
		c.GroupID = groupCommands
	}
	cat, err := catalog(pre.dirs)
	if err != nil {
		return nil, err
	}
	for _, s := range cat {
		if c, _, err := root.Find([]string{s.name}); err == nil && c != root {
			continue // a builtin command's name: reachable with diagnose run FILE
		}
		root.AddCommand(e.catalogCmd(s, pre))
	}
	help := helpCmd(root)
	help.GroupID = groupCommands
	root.SetHelpCommand(help)
	root.InitDefaultCompletionCmd()
	completionCmd(root)
	return root, nil
}

// catalogCmd is a catalog playbook's command. Only the invoked playbook is
// compiled (with the overlay) before parsing; the others offer their header.
func (e *env) catalogCmd(s source, pre prescanned) *cobra.Command {
	if len(pre.pos) > 0 && pre.pos[0] == s.name {
		pb, err := e.load(s, pre.overlay)
		if err != nil {
			return e.playbookCmd(s.name, engine.Header{}, nil, err)
		}
		return e.playbookCmd(s.name, pb.Header(), func() (*engine.Playbook, error) { return pb, nil }, nil)
	}
	if s.err != nil {
		return e.playbookCmd(s.name, engine.Header{}, nil, s.err)
	}
	h, err := engine.ReadHeader(s.path, s.src, e.schema)
	if err != nil {
		_, err = e.load(s, "") // every problem, not only the header's
		return e.playbookCmd(s.name, engine.Header{}, nil, err)
	}
	return e.playbookCmd(s.name, h, func() (*engine.Playbook, error) { return e.load(s, "") }, nil)
}

// unknownCommand is the root's own run: it is reached only when no command
// matched.
func (e *env) unknownCommand(root *cobra.Command, rest, args []string) error {
	if len(rest) == 0 {
		for _, a := range args {
			if strings.HasPrefix(a, "-") {
				return usagef("unknown flag %s: flags follow a command or playbook, e.g. diagnose system --format json", a)
			}
		}
		root.SetOut(e.stderr)
		_ = root.Help()
		e.code = exitUsage
		return nil
	}
	name := rest[0]
	if strings.HasSuffix(name, ".yaml") || strings.Contains(name, "/") {
		return usagef("%q is a file: use diagnose run %s", name, name)
	}
	if s := root.SuggestionsFor(name); len(s) > 0 {
		return usagef("unknown command or playbook %q; did you mean %s?", name, strings.Join(s, " or "))
	}
	var playbooks []string
	for _, c := range root.Commands() {
		if c.GroupID == groupPlaybooks {
			playbooks = append(playbooks, c.Name())
		}
	}
	return usagef("unknown command or playbook %q; playbooks: %s (diagnose list)", name, strings.Join(playbooks, ", "))
}

// flagError turns pflag's messages into diagnose's: the flag, what is
// wrong, and the closest flag when the name is mistyped.
func flagError(cmd *cobra.Command, err error) error {
	var notExist *pflag.NotExistError
	var invalid *pflag.InvalidValueError
	switch {
	case errors.As(err, &notExist):
		name, group := notExist.GetSpecifiedName(), notExist.GetSpecifiedShortnames()
		var names []string
		cmd.Flags().VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
		if group != "" { // -format: a long flag with one dash?
			if s := engine.Suggest(group, names); s != "" {
				return usagef("unknown flag -%s for %s; did you mean --%s? (long flags take two dashes)", group, cmd.CommandPath(), s)
			}
			return usagef("unknown shorthand flag -%s for %s", name, cmd.CommandPath())
		}
		if s := engine.Suggest(name, names); s != "" {
			return usagef("unknown flag --%s for %s; did you mean --%s?", name, cmd.CommandPath(), s)
		}
		return usagef("unknown flag --%s for %s", name, cmd.CommandPath())
	case errors.As(err, &invalid):
		var ee enumError
		if errors.As(err, &ee) {
			return usagef("--%s %v", invalid.GetFlag().Name, ee)
		}
		return usagef("--%s: %v", invalid.GetFlag().Name, errors.Unwrap(invalid))
	}
	return usagef("%v", err)
}

// noArgs rejects positional arguments with a pointer to the right form.
func noArgs(hint string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usagef("unexpected argument %q: %s", args[0], hint)
		}
		return nil
	}
}

// helpCmd is `diagnose help [command]`: the command's help on stdout, or a
// usage error for a topic that does not exist.
func helpCmd(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command or playbook",
		ValidArgsFunction: func(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var names []cobra.Completion
			for _, c := range root.Commands() {
				if c.IsAvailableCommand() {
					names = append(names, cobra.CompletionWithDesc(c.Name(), c.Short))
				}
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			target, rest, err := root.Find(args)
			if err != nil || len(rest) > 0 {
				topic := strings.Join(args, " ")
				if s := root.SuggestionsFor(args[0]); len(s) > 0 {
					return usagef("no help topic %q; did you mean %s?", topic, strings.Join(s, " or "))
				}
				return usagef("no help topic %q: diagnose --help lists the commands and playbooks", topic)
			}
			target.InitDefaultHelpFlag()
			target.InitDefaultVersionFlag()
			return target.Help()
		},
	}
}

// completionCmd makes `diagnose completion` without a known shell a usage
// error (cobra's own prints help and exits 0).
func completionCmd(root *cobra.Command) {
	for _, c := range root.Commands() {
		if c.Name() != "completion" {
			continue
		}
		var shells []string
		for _, sub := range c.Commands() {
			shells = append(shells, sub.Name())
		}
		c.Use = "completion " + strings.Join(shells, "|")
		c.Args = func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("completion needs a shell: %s", strings.Join(shells, ", "))
			}
			return usagef("completion: unknown shell %q; valid: %s", args[0], strings.Join(shells, ", "))
		}
		c.RunE = func(*cobra.Command, []string) error { return nil }
	}
}

// versionCmd is `diagnose version`, the same as --version.
func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of diagnose",
		Args:  noArgs("version takes no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "diagnose %s\n", versionString())
			return err
		},
	}
}
