package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/diagnose-sh/diagnose/engine"
	"github.com/diagnose-sh/diagnose/engine/report"
	"github.com/diagnose-sh/diagnose/probes"
	"github.com/diagnose-sh/diagnose/probes/probe"
)

// DefaultWindow is the sampling window; see docs/performance.md for the
// measurements that chose it.
const DefaultWindow = time.Second

// runFlags are the flags every playbook run has.
type runFlags struct {
	format     string
	failOn     string
	window     time.Duration
	timeout    time.Duration
	snapshot   string
	playbooks  stringList
	strace     bool
	straceFile string
	jcmd       bool
	root       string
	overlay    string
	outputs    stringList
}

func (f *runFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.format, "format", "text", "output format: "+strings.Join(report.FormatNames(), ", "))
	fs.StringVar(&f.failOn, "fail-on", "warning", "exit 1 on findings at or above this severity: info, warning, critical")
	fs.DurationVar(&f.window, "duration", DefaultWindow, "sampling window")
	fs.DurationVar(&f.timeout, "timeout", 0, "stop after this long and report what was gathered (default: window + 10s; twice the window with --strace)")
	fs.StringVar(&f.snapshot, "snapshot", "", "evaluate this recorded snapshot (diagnose collect) instead of the live system")
	fs.Var(&f.playbooks, "playbooks", "also load the playbooks in this folder (repeatable)")
	fs.BoolVar(&f.strace, "strace", false, "after the window, attach strace -c to the target for as long again (ptrace slows the target down)")
	fs.StringVar(&f.straceFile, "strace-file", "", "parse this 'strace -c' summary instead of attaching")
	fs.BoolVar(&f.jcmd, "jcmd", false, "let diagnose run jcmd against JVMs to measure them (jcmd attaches: the JVM starts a listener)")
	fs.StringVar(&f.root, "root", "/", "read /proc and /sys under this directory")
	fs.StringVar(&f.overlay, "overlay", "", "apply this overlay file (tuned thresholds, severities, disabled rules)")
	fs.Var(&f.outputs, "output", "also write FORMAT=FILE: "+strings.Join(report.FormatNames(), ", ")+" (repeatable)")
}

func (f *runFlags) check() error {
	if err := checkFormat(f.format, report.FormatNames()...); err != nil {
		return err
	}
	if engine.SeverityRank(f.failOn) == 0 {
		return usagef("--fail-on %q: valid severities are info, warning, critical", f.failOn)
	}
	if f.window <= 0 {
		return usagef("--duration must be positive, got %s", f.window)
	}
	if f.timeout == 0 {
		f.timeout = f.window + 10*time.Second
		if f.strace { // strace runs after the window, for as long again
			f.timeout += f.window
		}
	}
	return nil
}

// paramFlag collects a playbook parameter's text; its type is checked by the
// engine so the message names the parameter's type.
type paramFlag struct {
	value  *string
	isBool bool
}

func (p paramFlag) String() string {
	if p.value == nil {
		return ""
	}
	return *p.value
}
func (p paramFlag) Set(v string) error { *p.value = v; return nil }
func (p paramFlag) IsBoolFlag() bool   { return p.isBool }

// findPlaybook returns a playbook's file name and source, by file path or by name.
func findPlaybook(ref string, isFile bool, dirs []string) (source, error) {
	if isFile {
		b, err := readPlaybookFile(ref)
		return source{path: ref, src: b}, err
	}
	cat, err := catalog(dirs)
	if err != nil {
		return source{}, err
	}
	var names []string
	for _, s := range cat {
		if s.name == ref {
			return s, nil
		}
		names = append(names, s.name)
	}
	if strings.HasSuffix(ref, ".yaml") || strings.Contains(ref, "/") {
		return source{}, usagef("%q is a file: use diagnose run %s", ref, ref)
	}
	msg := fmt.Sprintf("unknown command or playbook %q; playbooks: %s", ref, strings.Join(names, ", "))
	return source{}, usagef("%s; commands: %s", msg, strings.Join(subcommands, ", "))
}

// loadWithOverlay loads a playbook, with an overlay file applied when given.
func (e *env) loadWithOverlay(ref string, isFile bool, dirs []string, overlay string) (*engine.Playbook, error) {
	s, err := findPlaybook(ref, isFile, dirs)
	if err != nil {
		return nil, err
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

// flagValue finds a flag's value before the full flag set exists.
func flagValue(args []string, name string) string {
	for i, a := range args {
		if a == "--" {
			break
		}
		for _, p := range []string{"--" + name + "=", "-" + name + "="} {
			if v, ok := strings.CutPrefix(a, p); ok {
				return v
			}
		}
		if (a == "--"+name || a == "-"+name) && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// runPlaybook is `diagnose PLAYBOOK` and `diagnose run FILE`.
func (e *env) runPlaybook(ref string, isFile bool, args []string) (int, error) {
	pb, err := e.loadWithOverlay(ref, isFile, playbooksDirs(args), flagValue(args, "overlay"))
	if err != nil {
		return exitUsage, err
	}
	fs := newFlagSet("diagnose "+pb.Name, e.stderr)
	var rf runFlags
	rf.register(fs)
	raw := map[string]*string{}
	for _, p := range pb.Parameters {
		v := new(string)
		raw[p.Name] = v
		usage := p.Description
		if p.Required {
			usage += " (required)"
		} else if p.Default != nil {
			usage += fmt.Sprintf(" (default %v)", p.Default)
		}
		fs.Var(paramFlag{value: v, isBool: p.Type == "bool"}, engine.FlagName(p.Name), fmt.Sprintf("%s: %s", p.Type, usage))
	}
	help := false
	fs.BoolVar(&help, "help", false, "show this playbook's parameters and flags")
	fs.Usage = func() { e.playbookHelp(pb, fs) }
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, nil
		}
		return exitUsage, usagef("%v", err)
	}
	if help {
		e.playbookHelp(pb, fs)
		return exitOK, nil
	}
	if len(pos) > 0 {
		return exitUsage, usagef("unexpected argument %q: parameters are flags (diagnose %s --help)", pos[0], pb.Name)
	}
	if err := rf.check(); err != nil {
		return exitUsage, err
	}
	set := map[string]string{}
	fs.Visit(func(f *flag.Flag) {
		for _, p := range pb.Parameters {
			if engine.FlagName(p.Name) == f.Name {
				set[p.Name] = *raw[p.Name]
			}
		}
	})

	var rep report.Report
	var facts probes.Facts
	var statuses probe.Statuses
	if rf.snapshot != "" {
		snap, err := readSnapshotFile(rf.snapshot)
		if err != nil {
			return exitUsage, err
		}
		fillTargetParams(pb, set, snap.Target)
		facts, statuses = snap.Facts, snap.Status
		rep.Source = "snapshot:" + rf.snapshot
		rep.CollectedAt = snap.CollectedAt.UTC().Format(time.RFC3339)
		rep.WindowSeconds = snap.WindowSeconds
	}
	params, err := pb.BindParams(set)
	if err != nil {
		return exitUsage, usagef("%v", err)
	}
	if rf.snapshot == "" {
		target := targetOf(params)
		if err := checkTarget(rf.root, target); err != nil {
			return exitUsage, err
		}
		facts, statuses = e.sample(rf, target, pb.Sections())
		rep.Source = "live"
		rep.WindowSeconds = rf.window.Seconds()
		if rf.strace {
			rep.Notes = append(rep.Notes, "strace (ptrace) was attached after the sampling window: while attached it slows the target down, often many times over")
		}
	}
	res, err := pb.Evaluate(facts, params, missingFrom(statuses))
	if err != nil {
		return exitUsage, err
	}
	rep.SchemaVersion = report.SchemaVersion
	rep.Tool = "diagnose " + version
	rep.Playbook, rep.Description, rep.File = res.Playbook, res.Description, pb.File
	rep.Parameters = map[string]any(params)
	rep.Verdict, rep.Findings, rep.Unknown = res.Verdict, res.Findings, res.Unknown
	rep.Probes, rep.Facts = sectionsReport(pb, facts, statuses)
	if rep.Notes == nil {
		rep.Notes = []string{}
	}
	for _, r := range pb.Rules {
		if r.Disabled != "" {
			rep.Notes = append(rep.Notes, fmt.Sprintf("rule %s is disabled by %s: %s", r.ID, rf.overlay, r.Disabled))
		}
	}
	rep.Rules = report.RulesOf(pb)
	outs, err := parseOutputs(rf.outputs)
	if err != nil {
		return exitUsage, err
	}
	for _, o := range outs {
		if err := writeFile(o.path, func(w io.Writer) error { return report.Formats[o.format](w, rep, report.Style{}) }); err != nil {
			return exitUsage, err
		}
	}
	if err := report.Formats[rf.format](e.stdout, rep, report.Style{Color: isTerminal(e.stdout)}); err != nil {
		return exitUsage, err
	}
	return outcome(res, rf.failOn), nil
}

// outcome maps a result to the documented exit code.
func outcome(res engine.Result, failOn string) int {
	threshold := engine.SeverityRank(failOn)
	for _, f := range res.Findings {
		if engine.SeverityRank(f.Severity) >= threshold {
			return exitFindings
		}
	}
	for _, u := range res.Unknown {
		if engine.SeverityRank(u.Severity) >= threshold {
			return exitInconclusive
		}
	}
	return exitOK
}

// targetOf reads the probes' target from the parameters named pid and cgroup.
func targetOf(params engine.Values) probe.Target {
	var t probe.Target
	if pid, ok := params["pid"].(int); ok {
		t.PID = pid
	}
	if cg, ok := params["cgroup"].(string); ok {
		t.Cgroup = cg
	}
	return t
}

// fillTargetParams takes pid and cgroup from a snapshot's target when the
// command line does not give them.
func fillTargetParams(pb *engine.Playbook, set map[string]string, t probe.Target) {
	for _, p := range pb.Parameters {
		if _, given := set[p.Name]; given {
			continue
		}
		switch {
		case p.Name == "pid" && t.PID != 0:
			set["pid"] = fmt.Sprint(t.PID)
		case p.Name == "cgroup" && t.Cgroup != "":
			set["cgroup"] = t.Cgroup
		}
	}
}

// checkTarget fails (exit 2) when the target process does not exist: there
// is nothing to diagnose, and a report of unknowns would hide the mistake.
func checkTarget(root string, t probe.Target) error {
	if t.PID < 0 {
		return usagef("--pid %d: a PID is a positive number", t.PID)
	}
	if t.PID == 0 {
		return nil
	}
	h := probe.Host{Root: root}
	if _, err := os.Stat(h.Path("proc", fmt.Sprint(t.PID), "stat")); err != nil {
		// PID 1 always exists: when it cannot be seen either, /proc hides
		// other users' processes (mounted with hidepid=1 or 2).
		if _, err1 := os.Stat(h.Path("proc", "1", "stat")); err1 != nil && os.Geteuid() != 0 {
			return fmt.Errorf("PID %d is not visible in %s: /proc hides other users' processes (mounted with hidepid): run as root, as the process's user, or in the group named by the mount's gid= option", t.PID, h.Path("proc"))
		}
		return fmt.Errorf("no process with PID %d (%s): check the PID with ps or pgrep", t.PID, h.Path("proc", fmt.Sprint(t.PID)))
	}
	return nil
}

// sample reads the sections from the live system over one window, showing
// progress on a terminal.
func (e *env) sample(rf runFlags, target probe.Target, sections []string) (probes.Facts, probe.Statuses) {
	ctx, cancel := context.WithTimeout(context.Background(), rf.timeout)
	defer cancel()
	var run []probes.Probe
	var names, skipped []string
	for _, p := range probes.Select(sections) {
		if p.NeedsPID && target.PID == 0 {
			skipped = append(skipped, p.Name)
			continue
		}
		run = append(run, p)
		names = append(names, p.Name)
	}
	s := probes.Sampler{
		Host:    probe.Host{Root: rf.root, Run: probe.ExecRunner, SockDiag: probe.NetlinkSockDiag},
		Clock:   probes.RealClock{},
		Window:  rf.window,
		Target:  target,
		Options: probe.Options{Strace: rf.strace, StraceFile: rf.straceFile, JCMD: rf.jcmd},
	}
	if isTerminal(e.stderr) {
		s.Progress = progressPrinter(e.stderr, names, target)
	}
	facts, statuses := s.Run(ctx, run)
	if s.Progress != nil {
		fmt.Fprint(e.stderr, "\r\033[K")
	}
	for _, name := range skipped {
		statuses[name] = probe.Status{State: probe.Unavailable, Reason: "needs a target process", Fix: "pass --pid"}
	}
	return facts, statuses
}

func progressPrinter(w interface{ Write([]byte) (int, error) }, watching []string, t probe.Target) func(elapsed, window time.Duration) {
	what := strings.Join(watching, ", ")
	if t.PID != 0 {
		what += fmt.Sprintf(" of PID %d", t.PID)
	}
	frames := []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}
	i := 0
	return func(elapsed, window time.Duration) {
		left := window - elapsed
		if left < 0 {
			left = 0
		}
		fmt.Fprintf(w, "\r\033[K%s sampling %s … %.1fs left", frames[i%len(frames)], what, left.Seconds())
		i++
	}
}

// missingFrom turns non-ok statuses into the engine's reasons.
func missingFrom(st probe.Statuses) engine.Missing {
	m := engine.Missing{}
	for path, s := range st {
		if s.State == probe.OK {
			continue
		}
		reason := string(s.State)
		if s.Reason != "" {
			reason += ": " + s.Reason
		}
		if s.Fix != "" {
			reason += " (fix: " + s.Fix + ")"
		}
		m[path] = reason
	}
	return m
}

// sectionsReport returns the facts of the sections the playbook read, the
// statuses of those sections, and the statuses of the single facts it read.
func sectionsReport(pb *engine.Playbook, facts probes.Facts, st probe.Statuses) (map[string]report.ProbeStatus, map[string]json.RawMessage) {
	sections := pb.Sections()
	reads := pb.ReadPaths()
	related := func(path string) bool {
		for _, sec := range sections {
			if path == sec {
				return true
			}
		}
		for _, r := range reads {
			if path == r || strings.HasPrefix(r, path+".") || strings.HasPrefix(path, r+".") {
				return true
			}
		}
		return false
	}
	statuses := map[string]report.ProbeStatus{}
	for path, s := range st {
		if related(path) {
			statuses[path] = report.ProbeStatus{State: string(s.State), Reason: s.Reason, Fix: s.Fix}
		}
	}
	out := map[string]json.RawMessage{}
	v := reflect.ValueOf(facts)
	for i := 0; i < v.NumField(); i++ {
		name := v.Type().Field(i).Tag.Get("json")
		for _, sec := range sections {
			if sec == name {
				if b, err := json.Marshal(v.Field(i).Interface()); err == nil {
					out[name] = b
				}
			}
		}
	}
	return statuses, out
}

func readSnapshotFile(path string) (probes.Snapshot, error) {
	f, err := os.Open(path)
	if err != nil {
		return probes.Snapshot{}, usagef("--snapshot: %v", err)
	}
	defer f.Close()
	s, err := probes.ReadSnapshot(f)
	if err != nil {
		return s, usagef("--snapshot %s: %v", path, err)
	}
	return s, nil
}

// playbookHelp prints a playbook's description, parameters and flags.
func (e *env) playbookHelp(pb *engine.Playbook, fs *flag.FlagSet) {
	w := e.stdout
	fmt.Fprintf(w, "diagnose %s: %s\n\nUsage: diagnose %s", pb.Name, pb.Description, pb.Name)
	for _, p := range pb.Parameters {
		if p.Required {
			fmt.Fprintf(w, " --%s %s", engine.FlagName(p.Name), strings.ToUpper(p.Type))
		}
	}
	fmt.Fprintf(w, " [flags]\n\nParameters:\n")
	if len(pb.Parameters) == 0 {
		fmt.Fprintln(w, "  (none)")
	}
	for _, p := range pb.Parameters {
		extra := ""
		if p.Required {
			extra = " (required)"
		} else if p.Default != nil && fmt.Sprint(p.Default) != "" {
			extra = fmt.Sprintf(" (default %v)", p.Default)
		}
		fmt.Fprintf(w, "  --%-14s %-8s %s%s\n", engine.FlagName(p.Name), p.Type, p.Description, extra)
	}
	fmt.Fprintf(w, "\nClasses: %s\nRules: %d, in %s\n\nFlags:\n", strings.Join(pb.Classes, ", "), len(pb.Rules), pb.File)
	fs.VisitAll(func(f *flag.Flag) {
		for _, p := range pb.Parameters {
			if engine.FlagName(p.Name) == f.Name {
				return
			}
		}
		fmt.Fprintf(w, "  --%-14s %s\n", f.Name, f.Usage)
	})
}
