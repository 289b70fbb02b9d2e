package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/diagnose-sh/diagnose/engine/report"

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

// maxListedOptional is how many optional parameters a list line shows.
const maxListedOptional = 2

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
		return report.WriteJSON(e.stdout, entries)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	for _, en := range entries {
		var ps []string
		// Required parameters, and the optional ones while they are few
		// (diagnose NAME --help lists them all).
		optional := 0
		for _, p := range en.Parameters {
			if !p.Required {
				optional++
			}
		}
		for _, p := range en.Parameters {
			s := "--" + engine.FlagName(p.Name) + " " + strings.ToUpper(p.Type)
			switch {
			case p.Required:
				ps = append(ps, s)
			case optional <= maxListedOptional:
				ps = append(ps, "["+s+"]")
			}
		}
		if optional > maxListedOptional {
			ps = append(ps, fmt.Sprintf("[%d more: --help]", optional))
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
		Short: "Check playbook, test and overlay files without running them",
		Long: `Check playbook, test and overlay files without running anything: every problem of every file, at
FILE:LINE:COL. A test file is checked against its playbook (rule names, classes, fact names), an overlay
against the playbook it tunes (NAME.yaml beside it, or the embedded NAME). Exit 2 when any file has a problem.`,
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
		Kind   string          `json:"kind"`
		OK     bool            `json:"ok"`
		Rules  int             `json:"rules"`
		Tests  int             `json:"tests,omitempty"`
		Errors []*engine.Error `json:"errors"`
	}
	var results []result
	code := exitOK
	for _, f := range files {
		r := result{File: f, Kind: "playbook", Errors: []*engine.Error{}}
		var pb *engine.Playbook
		b, err := readPlaybookFile(f)
		if err == nil {
			var base string
			r.Kind, base = engine.FileKind(b)
			switch r.Kind {
			case "test":
				var suite *engine.Suite
				if suite, pb, err = e.loadSuite(f, b, nil); err == nil {
					r.Tests = len(suite.Cases)
				}
			case "overlay":
				pb, err = e.loadOverlay(f, base)
			default:
				pb, err = engine.Load(f, b, e.schema)
			}
		}
		var es engine.Errors
		switch {
		case err == nil:
			r.OK, r.Rules = true, len(pb.Rules)
		case errors.As(err, &es):
			r.Errors = es
		default:
			r.Errors = append(r.Errors, &engine.Error{File: f, Line: 1, Column: 1, Message: err.Error()})
		}
		if !r.OK {
			code = exitUsage
		}
		results = append(results, r)
	}
	if format == "json" {
		return code, report.WriteJSON(e.stdout, results)
	}
	for _, r := range results {
		switch {
		case !r.OK:
			fmt.Fprintln(e.stderr, engine.Errors(r.Errors).Error())
			fmt.Fprintf(e.stderr, "%s: %d problem(s)\n", r.File, len(r.Errors))
		case r.Kind == "test":
			fmt.Fprintf(e.stdout, "%s: ok (%d tests)\n", r.File, r.Tests)
		case r.Kind == "overlay":
			fmt.Fprintf(e.stdout, "%s: ok (overlay, %d rules)\n", r.File, r.Rules)
		default:
			fmt.Fprintf(e.stdout, "%s: ok (%d rules)\n", r.File, r.Rules)
		}
	}
	return code, nil
}

// loadOverlay loads an overlay over its base playbook: NAME.yaml next to
// the overlay, else the catalog's NAME.
func (e *env) loadOverlay(file, base string) (*engine.Playbook, error) {
	s := source{name: base, path: filepath.Join(filepath.Dir(file), base+".yaml")}
	if _, err := os.Stat(s.path); err == nil {
		s.src, s.err = readPlaybookFile(s.path)
	} else if s, err = findPlaybook(base, false, nil); err != nil {
		return nil, err
	}
	return e.load(s, file)
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
		return report.WriteJSON(e.stdout, facts)
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
	var ctr struct{ container, pod, namespace, name string }
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
			given := map[string]string{}
			for name, v := range map[string]*string{"container": &ctr.container, "pod": &ctr.pod, "namespace": &ctr.namespace, "container_name": &ctr.name} {
				if cmd.Flags().Changed(engine.FlagName(name)) {
					given[name] = *v
				}
			}
			if target.PID != 0 {
				given["pid"] = strconv.Itoa(target.PID)
			}
			if target.Cgroup != "" && (ctr.container != "" || ctr.pod != "") {
				return usagef("--cgroup and --container or --pod each name the cgroup: pass one of them")
			}
			tg := targeting{processes: true, accepts: func(name string) bool { return name != "cgroup" }}
			sel, err := tg.resolve(sf.root, given)
			if err != nil {
				return err
			}
			if sel != nil {
				target.PID, target.Cgroup = sel.pids[0], sel.cgroup
				sel.apply(&target)
				fmt.Fprintln(e.stderr, "diagnose: "+sel.note)
			}
			return e.collect(&sf, target, out)
		},
	}
	builtin(cmd, func(fs *pflag.FlagSet) {
		fs.IntVar(&target.PID, "pid", 0, "also record the facts of this process (`PID`)")
		fs.StringVar(&target.Cgroup, "cgroup", "", "record this cgroup (`PATH` under /sys/fs/cgroup; default: the process's, or diagnose's own)")
		fs.StringVar(&ctr.container, "container", "", "record this container and its processes (an `ID` prefix of 12+ hex digits, as docker ps shows it)")
		fs.StringVar(&ctr.pod, "pod", "", "record this Kubernetes pod's container and its processes (`NAME`; see --namespace, --container-name)")
		fs.StringVar(&ctr.namespace, "namespace", "", "the pod's `NAMESPACE` (default \"default\")")
		fs.StringVar(&ctr.name, "container-name", "", "the pod's container (`NAME`), when it has several")
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
	var file *pending
	if out != "-" {
		var err error
		if file, err = createOutput("-o", out); err != nil {
			return err
		}
	}
	started := probes.RealClock{}.Now()
	s := e.sample(sf, target, nil)
	statuses := s.statuses
	snap := probes.Snapshot{Version: probes.SnapshotVersion, Tool: "diagnose " + versionString(),
		CollectedAt: started.UTC(), WindowSeconds: s.window.Seconds(), Target: target, Status: statuses, Facts: s.facts}
	if s.cut || s.interrupted {
		fmt.Fprintln(e.stderr, "diagnose: "+s.cutNote(sf))
	}
	if s.interrupted {
		e.code = exitInterrupted
	}
	if file == nil {
		return probes.WriteSnapshot(e.stdout, snap)
	}
	if err := file.commit(func(w io.Writer) error { return probes.WriteSnapshot(w, snap) }); err != nil {
		return err
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
