package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/diagnose-sh/diagnose/engine"
)

// load compiles a playbook, with an overlay file applied when given.
func (e *env) load(s source, overlay string) (*engine.Playbook, error) {
	if s.err != nil {
		return nil, s.err
	}
	if overlay == "" {
		return engine.Load(s.path, s.src, e.schema)
	}
	ov, err := readPlaybookFile(overlay)
	if err != nil {
		return nil, err
	}
	return engine.LoadWithOverlay(s.path, s.src, overlay, ov, e.schema)
}

// playbookCmd is `diagnose NAME`: the parameters of the playbook's header
// are its flags; load compiles the playbook when it runs. A playbook that
// does not load still gets its command, which reports why.
func (e *env) playbookCmd(name string, h engine.Header, load func() (*engine.Playbook, error), loadErr error) *cobra.Command {
	cmd := &cobra.Command{Use: name, GroupID: groupPlaybooks, Args: noArgs("parameters are flags")}
	if loadErr != nil {
		cmd.Short = "(does not load: diagnose validate shows why)"
		cmd.DisableFlagParsing = true
		cmd.Args = cobra.ArbitraryArgs
		cmd.RunE = func(*cobra.Command, []string) error { return loadErr }
		return cmd
	}
	cmd.Short, cmd.Long = firstSentence(h.Description), h.Description
	e.playbookFlags(cmd, h, load)
	return cmd
}

// playbookFlags gives cmd a playbook's parameters, the sampling and report
// flags, its help, and its run.
func (e *env) playbookFlags(cmd *cobra.Command, h engine.Header, load func() (*engine.Playbook, error)) {
	var sf sampleFlags
	var rf reportFlags
	params := addParams(cmd, h.Parameters)
	sf.register(cmd.Flags())
	rf.register(cmd.Flags())
	completeFlags(cmd)
	cmd.SetHelpFunc(func(c *cobra.Command, _ []string) { playbookHelp(c, h) })
	cmd.RunE = func(*cobra.Command, []string) error {
		pb, err := load()
		if err != nil {
			return err
		}
		return e.runPlaybook(pb, &sf, &rf, params)
	}
}

// runCmd is `diagnose run FILE.yaml`: the file is read before parsing, so
// its parameters are flags as a catalog playbook's are.
func (e *env) runCmd(pre prescanned) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run FILE.yaml [flags]",
		Short: "Run a playbook file",
		Long:  "Run a playbook file, with its parameters as flags (diagnose run FILE.yaml --help lists them).",
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return []cobra.Completion{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
		},
	}
	cmd.Args = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return usagef("run needs a playbook file: diagnose run FILE.yaml [flags]")
		}
		return noArgs("parameters are flags")(c, args[1:])
	}
	file := ""
	if len(pre.pos) > 1 && pre.pos[0] == "run" {
		file = pre.pos[1]
	}
	if file == "" {
		cmd.RunE = func(*cobra.Command, []string) error { return nil } // Args has failed
		(&sampleFlags{}).register(cmd.Flags())
		(&reportFlags{}).register(cmd.Flags())
		return cmd
	}
	b, err := readPlaybookFile(file)
	pb, err := e.load(source{path: file, src: b, err: err}, pre.overlay)
	if err != nil {
		cmd.DisableFlagParsing = true
		cmd.Args = cobra.ArbitraryArgs
		cmd.RunE = func(*cobra.Command, []string) error { return err }
		return cmd
	}
	e.playbookFlags(cmd, pb.Header(), func() (*engine.Playbook, error) { return pb, nil })
	return cmd
}

// playbookHelp shows a playbook's description, its parameters apart from
// the flags every playbook has, and what it classifies.
func playbookHelp(cmd *cobra.Command, pb engine.Header) {
	w := cmd.OutOrStdout()
	usage := cmd.CommandPath()
	if cmd.Name() == "run" {
		usage += " " + pb.File
	}
	for _, p := range pb.Parameters {
		switch {
		case p.Name == "pid" && selectsContainers(pb.Parameters):
			usage += " {--pid INT | --container ID | --pod NAME | --cgroup PATH}"
		case p.Required:
			usage += fmt.Sprintf(" --%s %s", engine.FlagName(p.Name), strings.ToUpper(p.Type))
		}
	}
	params := pflag.NewFlagSet("parameters", pflag.ContinueOnError)
	others := pflag.NewFlagSet("flags", pflag.ContinueOnError)
	cmd.InitDefaultHelpFlag()
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if _, ok := f.Annotations[paramAnnotation]; ok {
			params.AddFlag(f)
		} else {
			others.AddFlag(f)
		}
	})
	fmt.Fprintf(w, "%s\n\nUsage:\n  %s [flags]\n\nParameters:\n", pb.Description, usage)
	if params.HasFlags() {
		fmt.Fprint(w, params.FlagUsages())
	} else {
		fmt.Fprintln(w, "  (none)")
	}
	fmt.Fprintf(w, "\nFlags:\n%s\nClasses: %s\nRules: %d, in %s\n", others.FlagUsages(), strings.Join(pb.Classes, ", "), pb.Rules, pb.File)
}
