package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/diagnose-sh/diagnose/engine"
	"github.com/diagnose-sh/diagnose/engine/report"
	"github.com/diagnose-sh/diagnose/internal/safetext"
)

// DefaultWindow is the sampling window; see docs/performance.md for the
// measurements that chose it.
const DefaultWindow = time.Second

// MaxWindow bounds --duration: time arithmetic near the limits of
// time.Duration would overflow (2562047h47m16s returned after 1 s).
const MaxWindow = time.Hour

// sampleFlags say how live facts are gathered: playbook runs and collect.
type sampleFlags struct {
	window     time.Duration
	timeout    time.Duration
	strace     bool
	straceFile string
	jcmd       bool
	root       string
}

func (f *sampleFlags) register(fs *pflag.FlagSet) {
	fs.DurationVar(&f.window, "duration", DefaultWindow, "sampling window")
	fs.DurationVar(&f.timeout, "timeout", 0, "stop after this long and report what was gathered (default: window + 10s; twice the window with --strace)")
	fs.BoolVar(&f.strace, "strace", false, "after the window, attach strace -c to the target for as long again (ptrace slows the target down)")
	fs.StringVar(&f.straceFile, "strace-file", "", "parse this 'strace -c' summary (`FILE`) instead of attaching")
	fs.BoolVar(&f.jcmd, "jcmd", false, "let diagnose run jcmd against JVMs to measure them (jcmd attaches: the JVM starts a listener)")
	fs.StringVar(&f.root, "root", "/", "read /proc and /sys under this `DIR` (a host's, mounted elsewhere)")
}

func (f *sampleFlags) check() error {
	if f.window <= 0 {
		return usagef("--duration must be positive, got %s", f.window)
	}
	if f.window > MaxWindow {
		return usagef("--duration %s: at most %s (collect snapshots over time instead of one long window)", f.window, MaxWindow)
	}
	if f.timeout < 0 {
		return usagef("--timeout must be positive, got %s", f.timeout)
	}
	if f.root != "/" {
		if st, err := os.Stat(filepath.Join(f.root, "proc")); err != nil || !st.IsDir() {
			return usagef("--root %s: no proc directory in it: point --root at a directory holding a host's /proc and /sys", f.root)
		}
	}
	if f.timeout == 0 {
		f.timeout = f.window + 10*time.Second
		if f.strace { // strace runs after the window, for as long again
			f.timeout += f.window
		}
	}
	return nil
}

// reportFlags say what a playbook run evaluates and how it reports.
type reportFlags struct {
	format    string
	failOn    string
	outputs   []string
	snapshot  string
	baseline  string
	overlay   string
	playbooks []string
}

func (f *reportFlags) register(fs *pflag.FlagSet) {
	f.format, f.failOn = "text", "warning"
	enumVar(fs, &f.format, "format", "output format", "format", report.FormatNames())
	enumVar(fs, &f.failOn, "fail-on", "exit 1 on findings at or above this severity", "severity", engine.Severities())
	fs.StringArrayVar(&f.outputs, "output", nil, "also write a report file, `FORMAT=FILE` (repeatable), e.g. junit=report.xml")
	fs.StringVar(&f.snapshot, "snapshot", "", "evaluate this recorded snapshot (`FILE`, from diagnose collect) instead of the live system")
	fs.StringVar(&f.baseline, "baseline", "", "compare with this snapshot (`FILE`, from diagnose collect while the target was well): its facts are baseline.SECTION.FACT in rules, and the report lists what changed")
	fs.StringVar(&f.overlay, "overlay", "", "apply this overlay `FILE` (tuned thresholds, severities, disabled rules)")
	playbooksFlag(fs, &f.playbooks)
}

func playbooksFlag(fs *pflag.FlagSet, dirs *[]string) {
	fs.StringArrayVar(dirs, "playbooks", nil, "also load the playbooks in this `DIR` (repeatable)")
}

// reservedFlags are the flag names a playbook parameter may not take.
func reservedFlags() []string {
	fs := pflag.NewFlagSet("reserved", pflag.ContinueOnError)
	(&sampleFlags{}).register(fs)
	(&reportFlags{}).register(fs)
	names := []string{"help", "version"}
	fs.VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
	return names
}

// prescanned is what shapes the command tree before it can parse.
type prescanned struct {
	dirs    []string // --playbooks
	overlay string   // --overlay, for the invoked playbook only
	pos     []string // positional arguments: the command, run's FILE
}

func prescan(args []string) prescanned {
	fs := pflag.NewFlagSet("prescan", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.ParseErrorsAllowlist.UnknownFlags = true
	var sf sampleFlags
	var rf reportFlags
	sf.register(fs)
	rf.register(fs)
	fs.BoolP("help", "h", false, "")
	_ = fs.Parse(args) // the command's own parse reports errors
	pos := fs.Args()
	if len(pos) > 0 && (pos[0] == cobra.ShellCompRequestCmd || pos[0] == cobra.ShellCompNoDescRequestCmd) {
		pos = pos[1:]
	}
	return prescanned{dirs: rf.playbooks, overlay: rf.overlay, pos: pos}
}

// enumValue is a flag with a fixed set of values, which help lists and
// completion offers. Its default is *value when registered.
type enumValue struct {
	value *string
	kind  string // what a value is, for messages: "format"
	valid []string
}

// enumVar registers an enumValue flag; its usage ends with the values.
func enumVar(fs *pflag.FlagSet, value *string, name, usage, kind string, valid []string) {
	fs.Var(&enumValue{value, kind, valid}, name, usage+": "+strings.Join(valid, ", "))
}

type enumError struct {
	value, kind string
	valid       []string
}

func (e enumError) Error() string {
	plural := e.kind + "s"
	if strings.HasSuffix(e.kind, "y") {
		plural = strings.TrimSuffix(e.kind, "y") + "ies"
	}
	return fmt.Sprintf("%q: valid %s are %s", e.value, plural, strings.Join(e.valid, ", "))
}

func (v *enumValue) String() string { return *v.value }
func (v *enumValue) Type() string   { return v.kind }
func (v *enumValue) Set(s string) error {
	for _, ok := range v.valid {
		if s == ok {
			*v.value = s
			return nil
		}
	}
	return enumError{s, v.kind, v.valid}
}

// paramFlag is a playbook parameter: its text, checked against the
// parameter's type as it is parsed.
type paramFlag struct {
	param engine.Parameter
	text  string
	set   bool
}

const paramAnnotation = "diagnose_parameter"

func (p *paramFlag) String() string { return p.text }
func (p *paramFlag) Type() string   { return p.param.Type }
func (p *paramFlag) Set(v string) error {
	if _, err := engine.ParseValue(p.param.Type, v); err != nil {
		return err
	}
	p.text, p.set = v, true
	return nil
}

// addParams registers a playbook's parameters as flags and returns their
// values by parameter name.
func addParams(cmd *cobra.Command, parameters []engine.Parameter) map[string]*paramFlag {
	out := map[string]*paramFlag{}
	for _, p := range parameters {
		v := &paramFlag{param: p}
		usage := p.Description
		switch {
		case p.Name == "pid" && selectsContainers(parameters):
			usage += " (required, unless --container, --pod or --cgroup names the target)"
		case p.Required:
			usage += " (required)"
		}
		name := engine.FlagName(p.Name)
		f := cmd.Flags().VarPF(v, name, "", usage)
		if p.Default != nil && fmt.Sprint(p.Default) != "" {
			f.DefValue = defaultText(p)
		}
		if p.Type == "bool" {
			f.NoOptDefVal = "true"
		}
		f.Annotations = map[string][]string{paramAnnotation: {p.Name}}
		out[p.Name] = v
		if p.Name == "pid" {
			_ = cmd.RegisterFlagCompletionFunc(name, completePIDs)
		}
	}
	return out
}

// defaultText shows a default as a person would type it (1GiB, not 1073741824).
func defaultText(p engine.Parameter) string {
	n, ok := p.Default.(int64)
	if !ok || p.Type != "bytes" {
		return fmt.Sprint(p.Default)
	}
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.size == 0 {
			return fmt.Sprintf("%d%s", n/u.size, u.suffix)
		}
	}
	return fmt.Sprint(n)
}

// completeFlags gives every flag of cmd its values: enums their set, files
// their extensions, folders folders.
func completeFlags(cmd *cobra.Command) {
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		switch v := f.Value.(type) {
		case *enumValue:
			_ = cmd.RegisterFlagCompletionFunc(f.Name, cobra.FixedCompletions(v.valid, cobra.ShellCompDirectiveNoFileComp))
		}
		switch f.Name {
		case "snapshot":
			_ = cmd.MarkFlagFilename(f.Name, "json")
		case "overlay", "playbook":
			_ = cmd.MarkFlagFilename(f.Name, "yaml", "yml")
		case "strace-file", "out":
			_ = cmd.MarkFlagFilename(f.Name)
		case "playbooks", "root":
			_ = cmd.MarkFlagDirname(f.Name)
		case "output":
			_ = cmd.RegisterFlagCompletionFunc(f.Name, completeOutputs)
		}
	})
}

// completeOutputs offers FORMAT= for --output FORMAT=FILE, then files.
func completeOutputs(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if strings.Contains(toComplete, "=") {
		return nil, cobra.ShellCompDirectiveDefault
	}
	var out []cobra.Completion
	for _, f := range report.FormatNames() {
		out = append(out, f+"=")
	}
	return out, cobra.ShellCompDirectiveNoSpace
}

// completePIDs offers the running processes, each with its name.
func completePIDs(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	root := "/"
	if f := cmd.Flags().Lookup("root"); f != nil {
		root = f.Value.String()
	}
	entries, err := os.ReadDir(filepath.Join(root, "proc"))
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var pids []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil && strings.HasPrefix(e.Name(), toComplete) {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	out := make([]cobra.Completion, 0, len(pids))
	for _, pid := range pids {
		comm, _ := os.ReadFile(filepath.Join(root, "proc", strconv.Itoa(pid), "comm"))
		out = append(out, cobra.CompletionWithDesc(strconv.Itoa(pid), safetext.Clean(strings.TrimSpace(string(comm)))))
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
