package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/diagnose-sh/diagnose/engine"
	"github.com/diagnose-sh/diagnose/probes"
	"github.com/diagnose-sh/diagnose/probes/probe"
)

// textOrJSON is the --format of the listing commands.
func textOrJSON(cmd *cobra.Command) *string {
	format := "text"
	enumVar(cmd.Flags(), &format, "format", "output format", "format", []string{"json", "text"})
	return &format
}

// builtin makes a command of diagnose's own, with completion for its flags.
func builtin(cmd *cobra.Command, flags func(*pflag.FlagSet)) *cobra.Command {
	if cmd.Args == nil {
		cmd.Args = noArgs(cmd.Name() + " takes no arguments")
	}
	if flags != nil {
		flags(cmd.Flags())
	}
	completeFlags(cmd)
	return cmd
}

// listCmd is `diagnose list`: the playbooks, their descriptions and parameters.
func (e *env) listCmd() *cobra.Command {
	var dirs []string
	var format *string
	cmd := &cobra.Command{
		Use:               "list",
		Short:             "List the playbooks and their parameters",
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE:              func(*cobra.Command, []string) error { return e.list(dirs, *format) },
	}
	format = textOrJSON(cmd)
	return builtin(cmd, func(fs *pflag.FlagSet) { playbooksFlag(fs, &dirs) })
}

func (e *env) list(dirs []string, format string) error {
	cat, err := catalog(dirs)
	if err != nil {
		return err
	}
	type param struct {
		Name     string `json:"name"`
		Type     string `json:"type"`
		Required bool   `json:"required"`
	}
	type entry struct {
		Name        string  `json:"name"`
		Description string  `json:"description"`
		File        string  `json:"file"`
		Parameters  []param `json:"parameters"`
		Error       string  `json:"error,omitempty"`
	}
	var entries []entry
	for _, s := range cat {
		en := entry{Name: s.name, File: s.path, Parameters: []param{}}
		pb, err := e.load(s, "")
		if err != nil {
			en.Error = "does not load: run diagnose validate " + s.path
		} else {
			en.Description = pb.Description
			for _, p := range pb.Parameters {
				en.Parameters = append(en.Parameters, param{p.Name, p.Type, p.Required})
			}
		}
		entries = append(entries, en)
	}
	if format == "json" {
		return writeJSON(e.stdout, entries)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	for _, en := range entries {
		var ps []string
		for _, p := range en.Parameters {
			s := "--" + engine.FlagName(p.Name) + " " + strings.ToUpper(p.Type)
			if !p.Required {
				s = "[" + s + "]"
			}
			ps = append(ps, s)
		}
		desc := firstSentence(en.Description)
		if en.Error != "" {
			desc = en.Error
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", en.Name, strings.Join(ps, " "), desc)
	}
	return tw.Flush()
}

// validateCmd is `diagnose validate FILE...`: every problem of every file.
func (e *env) validateCmd() *cobra.Command {
	var format *string
	cmd := &cobra.Command{
		Use:   "validate FILE.yaml...",
		Short: "Check playbook files without running them",
		Long:  "Check playbook files without running them: every problem of every file, at FILE:LINE:COL. Exit 2 when any file has one.",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("validate needs playbook files: diagnose validate FILE.yaml...")
			}
			return nil
		},
		ValidArgsFunction: yamlFiles,
		RunE: func(_ *cobra.Command, files []string) (err error) {
			e.code, err = e.validate(files, *format)
			return err
		},
	}
	format = textOrJSON(cmd)
	return builtin(cmd, nil)
}

func yamlFiles(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return []cobra.Completion{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
}

func (e *env) validate(files []string, format string) (int, error) {
	type result struct {
		File   string          `json:"file"`
		OK     bool            `json:"ok"`
		Rules  int             `json:"rules"`
		Errors []*engine.Error `json:"errors"`
	}
	var results []result
	code := exitOK
	for _, f := range files {
		r := result{File: f, Errors: []*engine.Error{}}
		b, err := readPlaybookFile(f)
		if err != nil {
			r.Errors = append(r.Errors, &engine.Error{File: f, Line: 1, Column: 1, Message: err.Error()})
		} else if pb, err := engine.Load(f, b, e.schema); err != nil {
			var es engine.Errors
			if !errors.As(err, &es) {
				return exitUsage, err
			}
			r.Errors = es
		} else {
			r.OK, r.Rules = true, len(pb.Rules)
		}
		if !r.OK {
			code = exitUsage
		}
		results = append(results, r)
	}
	if format == "json" {
		return code, writeJSON(e.stdout, results)
	}
	for _, r := range results {
		if r.OK {
			fmt.Fprintf(e.stdout, "%s: ok (%d rules)\n", r.File, r.Rules)
			continue
		}
		fmt.Fprintln(e.stderr, engine.Errors(r.Errors).Error())
		fmt.Fprintf(e.stderr, "%s: %d problem(s)\n", r.File, len(r.Errors))
	}
	return code, nil
}

// factsCmd is `diagnose facts`: every fact with its type, unit, meaning and probe.
func (e *env) factsCmd() *cobra.Command {
	var format *string
	cmd := &cobra.Command{
		Use:               "facts",
		Short:             "List every fact playbooks can read: name, type, unit, meaning, probe",
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE:              func(*cobra.Command, []string) error { return e.facts(*format) },
	}
	format = textOrJSON(cmd)
	return builtin(cmd, nil)
}

func (e *env) facts(format string) error {
	facts := e.schema.Facts()
	if format == "json" {
		return writeJSON(e.stdout, facts)
	}
	docs := map[string]string{}
	for _, p := range probes.Registry() {
		docs[p.Name] = p.Doc
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	section := ""
	for _, f := range facts {
		if f.Section != section {
			section = f.Section
			fmt.Fprintf(tw, "\n%s\t\t\t%s\n", section, docs[section])
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", f.Path, f.Type, f.Unit, f.Meaning)
	}
	return tw.Flush()
}

// collectCmd is `diagnose collect`: record the facts for later replay.
func (e *env) collectCmd() *cobra.Command {
	var sf sampleFlags
	var target probe.Target
	var out string
	cmd := &cobra.Command{
		Use:   "collect",
		Short: "Record the facts of this machine (and a process) for replay with --snapshot",
		Long: `Record every fact over one sampling window, for replay with any playbook's --snapshot:
on another machine, later, or in a playbook test.`,
		Example:           "  diagnose collect --pid 4242 -o snap.json\n  diagnose slow-app --snapshot snap.json",
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f := cmd.Flags().Lookup("pid"); f.Changed && target.PID == 0 {
				return usagef("--pid 0: a PID is a positive number; leave --pid out for none")
			}
			return e.collect(&sf, target, out)
		},
	}
	builtin(cmd, func(fs *pflag.FlagSet) {
		fs.IntVar(&target.PID, "pid", 0, "also record the facts of this process (`PID`)")
		fs.StringVar(&target.Cgroup, "cgroup", "", "record this cgroup (`PATH` under /sys/fs/cgroup; default: the process's, or diagnose's own)")
		fs.StringVarP(&out, "out", "o", "-", "write the snapshot to this `FILE` (- for standard output)")
		sf.register(fs)
	})
	_ = cmd.RegisterFlagCompletionFunc("pid", completePIDs)
	return cmd
}

func (e *env) collect(sf *sampleFlags, target probe.Target, out string) error {
	if err := sf.check(); err != nil {
		return err
	}
	if err := checkTarget(sf.root, target); err != nil {
		return err
	}
	started := probes.RealClock{}.Now()
	s := e.sample(sf, target, nil)
	statuses := s.statuses
	snap := probes.Snapshot{Version: probes.SnapshotVersion, Tool: "diagnose " + versionString(),
		CollectedAt: started.UTC(), WindowSeconds: s.window.Seconds(), Target: target, Status: statuses, Facts: s.facts}
	if s.cut {
		fmt.Fprintln(e.stderr, "diagnose: "+s.cutNote(sf))
	}
	if out == "-" {
		return probes.WriteSnapshot(e.stdout, snap)
	}
	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("create snapshot: %w", err)
	}
	if err := probes.WriteSnapshot(f, snap); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", out, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	ok := 0
	for path, st := range statuses {
		if !strings.Contains(path, ".") && st.State == probe.OK {
			ok++
		}
	}
	fmt.Fprintf(e.stderr, "wrote %s (%d of %d probes ok, %.1fs window)\n", out, ok, len(probes.Registry()), s.window.Seconds())
	return nil
}

func writeJSON(w interface{ Write([]byte) (int, error) }, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// firstSentence keeps list lines short: the description up to its first
// full stop or question mark (--help shows the whole of it).
func firstSentence(s string) string {
	for i := 0; i+1 < len(s); i++ {
		if (s[i] == '.' || s[i] == '?') && s[i+1] == ' ' {
			return s[:i+1]
		}
	}
	return s
}
