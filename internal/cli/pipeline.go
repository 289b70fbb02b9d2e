package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/diagnose-sh/diagnose/engine"
	"github.com/diagnose-sh/diagnose/engine/report"
	"github.com/diagnose-sh/diagnose/internal/safetext"
	"github.com/diagnose-sh/diagnose/probes"
	"github.com/diagnose-sh/diagnose/probes/cgroup"
	"github.com/diagnose-sh/diagnose/probes/probe"
)

// A playbook run is four stages: gather the facts (live or from a
// snapshot), evaluate the playbook over them, build the report, write it.
func (e *env) runPlaybook(pb *engine.Playbook, sf *sampleFlags, rf *reportFlags, params map[string]*paramFlag) error {
	if err := sf.check(); err != nil {
		return err
	}
	outs, err := parseOutputs(rf.outputs, report.FormatNames())
	if err != nil {
		return err
	}
	base, err := readBaseline("--baseline", rf.baseline)
	if err != nil {
		return err
	}
	files, err := createOutputs(outs)
	if err != nil {
		return err
	}
	committed := false
	defer func() {
		if !committed {
			for _, f := range files {
				f.discard()
			}
		}
	}()
	given := map[string]string{}
	for name, p := range params {
		if p.set {
			given[name] = p.text
		}
	}
	rep, res, err := e.evaluate(pb, sf, rf, given, base)
	if err != nil {
		return err
	}
	committed = true
	for i, o := range outs {
		if err := files[i].commit(func(w io.Writer) error { return report.Formats[o.format](w, rep, report.Style{}) }); err != nil {
			return err
		}
	}
	if err := report.Formats[rf.format](e.stdout, rep, report.Style{Color: isTerminal(e.stdout)}); err != nil {
		return err
	}
	e.code = outcome(res, rf.failOn)
	if e.ctx.Err() != nil {
		e.code = exitInterrupted
	}
	return nil
}

// evaluate is a run's first three stages: gather the facts, evaluate the
// playbook over them (and the baseline's), build the report.
func (e *env) evaluate(pb *engine.Playbook, sf *sampleFlags, rf *reportFlags, given map[string]string, base *baseline) (report.Report, engine.Result, error) {
	run, err := e.gather(pb, sf, rf, given, base)
	if err != nil {
		return report.Report{}, engine.Result{}, err
	}
	missing := report.Missing(run.Statuses)
	var baseFacts any // nil without a baseline: its rules are skipped
	if base != nil {
		var under engine.Missing
		run.Baseline, under = base.run()
		maps.Copy(missing, under)
		baseFacts = base.snap.Facts
	}
	res, err := pb.EvaluateAgainst(run.Facts.(probes.Facts), baseFacts, run.Params, missing)
	if err != nil {
		return report.Report{}, res, err
	}
	return report.Build(pb, res, run), res, nil
}

// gather binds the parameters and reads the facts they point at, once the
// baseline (if any) is known to compare with them.
func (e *env) gather(pb *engine.Playbook, sf *sampleFlags, rf *reportFlags, given map[string]string, base *baseline) (report.Run, error) {
	run := report.Run{Tool: "diagnose " + versionString(), Overlay: rf.overlay, Notes: []string{}}
	if rf.snapshot != "" {
		snap, err := readSnapshot("--snapshot", rf.snapshot)
		if err != nil {
			return run, err
		}
		if err := replayTarget(pb, given, snap.Target); err != nil {
			return run, err
		}
		if run.Params, err = pb.BindParams(given); err != nil {
			return run, flagsOf(err)
		}
		if err := base.check(pb, snapshotIdentity(snap), &run.Notes); err != nil {
			return run, err
		}
		run.Facts, run.Statuses = snap.Facts, statusReport(snap.Status)
		run.Source, run.At = "snapshot:"+rf.snapshot, snap.CollectedAt
		run.CollectedAt = snap.CollectedAt.UTC().Format(timeFormat)
		run.WindowSeconds = snap.WindowSeconds
		return run, nil
	}
	if pid, ok := given["pid"]; ok && strings.TrimSpace(pid) == "0" {
		return run, usagef("--pid 0: a PID is a positive number; leave --pid out for none")
	}
	sel, err := selectTarget(pb, sf.root, given)
	if err != nil {
		return run, err
	}
	if run.Params, err = pb.BindParams(given); err != nil {
		return run, flagsOf(err)
	}
	target := targetOf(run.Params)
	sel.apply(&target)
	if err := checkTarget(sf.root, target); err != nil {
		return run, err
	}
	if sel != nil && sel.note != "" {
		run.Notes = append(run.Notes, sel.note)
	}
	if err := base.check(pb, liveIdentity(sf.root, target.PID), &run.Notes); err != nil {
		return run, err
	}
	s := e.sample(sf, target, pb.Sections())
	run.Facts, run.Statuses = s.facts, statusReport(s.statuses)
	run.Source, run.At = "live", time.Now()
	run.WindowSeconds = s.window.Seconds()
	if s.cut || s.interrupted {
		run.WindowRequestedSeconds = sf.window.Seconds()
		run.Notes = append(run.Notes, s.cutNote(sf))
	}
	if sf.strace {
		run.Notes = append(run.Notes, "strace (ptrace) was attached after the sampling window: while attached it slows the target down, often many times over")
	}
	return run, nil
}

// flagsOf words the engine's parameter errors as the flags they came from.
func flagsOf(err error) error {
	var pe engine.ParamErrors
	if !errors.As(err, &pe) {
		return usagef("%v", err)
	}
	var parts []string
	for _, e := range pe {
		parts = append(parts, fmt.Sprintf("--%s %s", engine.FlagName(e.Param), e.Problem))
	}
	return usagef("%s", strings.Join(parts, "; "))
}

// replayTarget takes pid and cgroup from a snapshot's target when the
// command line does not give them, and refuses a target the snapshot was
// not recorded for: its facts would be reported as another process's.
func replayTarget(pb *engine.Playbook, given map[string]string, t probe.Target) error {
	for _, p := range pb.Parameters {
		recorded := ""
		switch {
		case p.Name == "pid" && t.PID != 0:
			recorded = strconv.Itoa(t.PID)
		case p.Name == "cgroup" && t.Cgroup != "":
			recorded = t.Cgroup
		case p.Name == "url" && t.HTTP != nil:
			recorded = t.HTTP.URL
		case p.Name == "container" || p.Name == "pod" || p.Name == "namespace" || p.Name == "container_name":
			if v, ok := given[p.Name]; ok {
				return usagef("--%s %s: a snapshot replays the target it was recorded for (%s); drop --%s",
					engine.FlagName(p.Name), v, cmp.Or(t.Container, "pid "+strconv.Itoa(t.PID)), engine.FlagName(p.Name))
			}
			continue
		case p.Name != "pid" && p.Name != "cgroup" && p.Name != "url":
			continue
		}
		v, ok := given[p.Name]
		switch {
		case !ok && recorded != "":
			given[p.Name] = recorded
		case ok && recorded == "":
			return usagef("--%s %s: the snapshot was recorded without a %s; drop --%s, or collect one with diagnose collect --%s %s",
				p.Name, v, p.Name, p.Name, p.Name, v)
		case ok && strings.TrimSpace(v) != recorded:
			return usagef("--%s %s: the snapshot was recorded for %s %s; drop --%s to replay it, or collect one with diagnose collect --%s %s",
				p.Name, v, p.Name, recorded, p.Name, p.Name, v)
		}
	}
	return nil
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

// targetOf reads the probes' target from the parameters named pid and
// cgroup, and the HTTP requests from url and its companions.
func targetOf(params engine.Values) probe.Target {
	var t probe.Target
	if pid, ok := params["pid"].(int); ok {
		t.PID = pid
	}
	if cg, ok := params["cgroup"].(string); ok {
		t.Cgroup = cg
	}
	if u, ok := params["url"].(string); ok && u != "" {
		str := func(name string) string { s, _ := params[name].(string); return s }
		flag := func(name string) bool { b, _ := params[name].(bool); return b }
		count, _ := params["count"].(int)
		t.HTTP = &probe.HTTPRequest{URL: u, Method: str("method"), Header: str("header"), Data: str("data"), Count: count,
			Insecure: flag("insecure"), Reuse: flag("reuse"), Resolve: str("resolve"), CACert: str("cacert"), DNSServer: str("dns_server")}
	}
	return t
}

// checkTarget fails (exit 2) when the target does not exist or cannot be
// diagnosed: a report of unknowns would hide the mistake.
func checkTarget(root string, t probe.Target) error {
	if t.PID < 0 {
		return usagef("--pid %d: a PID is a positive number", t.PID)
	}
	h := probe.Host{Root: root}
	if t.PID > 0 {
		if err := checkPID(h, t.PID); err != nil {
			return err
		}
	}
	if t.Cgroup != "" {
		if _, err := cgroup.Resolve(h, probe.Target{Cgroup: t.Cgroup}); errors.Is(err, cgroup.ErrNotFound) {
			return usagef("--cgroup %s: %v; list cgroups with systemd-cgls, or pass --pid of a process in the container", t.Cgroup, err)
		}
	}
	return nil
}

func checkPID(h probe.Host, pid int) error {
	stat, err := h.ReadFile("proc", strconv.Itoa(pid), "stat")
	if err != nil {
		// PID 1 always exists: when it cannot be seen either, /proc hides
		// other users' processes (mounted with hidepid=1 or 2).
		if _, err1 := os.Stat(h.Path("proc", "1", "stat")); err1 != nil && os.Geteuid() != 0 {
			return fmt.Errorf("PID %d is not visible in %s: /proc hides other users' processes (mounted with hidepid): run as root, as the process's user, or in the group named by the mount's gid= option", pid, h.Path("proc"))
		}
		return usagef("no process with PID %d (%s): check the PID with ps or pgrep", pid, h.Path("proc", strconv.Itoa(pid)))
	}
	// The comm, in parentheses, may hold any byte: the fields follow the last
	// ')', state first (field 3 of proc(5)).
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	comm := safetext.Clean(s[strings.IndexByte(s, '(')+1 : i])
	fields := strings.Fields(s[i+1:])
	if len(fields) >= 7 {
		if flags, err := strconv.ParseUint(fields[6], 10, 64); err == nil && flags&pfKthread != 0 {
			return usagef("PID %d (%s) is a kernel thread: it has no user space, sockets or cgroup of its own to diagnose; diagnose system shows the machine", pid, comm)
		}
	}
	if len(fields) < 2 || fields[0] != "Z" {
		return nil
	}
	ppid, _ := strconv.Atoi(fields[1])
	parent, _ := h.ReadFile("proc", fields[1], "comm")
	return usagef("PID %d exited and was not reaped by its parent %d (%s): there is nothing left to sample; diagnose the parent: diagnose slow-app --pid %d",
		pid, ppid, safetext.Clean(strings.TrimSpace(string(parent))), ppid)
}

// pfKthread is PF_KTHREAD in the flags of /proc/PID/stat (include/linux/sched.h).
const pfKthread = 0x00200000

// sampled is what one live window gathered.
type sampled struct {
	facts       probes.Facts
	statuses    probe.Statuses
	window      time.Duration // what was sampled: less than asked when cut
	cut         bool          // --timeout ended the window early
	interrupted bool          // SIGINT or SIGTERM ended it
}

func (s sampled) cutNote(sf *sampleFlags) string {
	if s.interrupted {
		return fmt.Sprintf("interrupted after %.1fs of the %.1fs window: the report covers what was gathered, helper programs (strace, jcmd) were stopped",
			s.window.Seconds(), sf.window.Seconds())
	}
	return fmt.Sprintf("--timeout %s cut the sampling window to %.1fs of the %.1fs asked for (--duration %s): raise --timeout above --duration to sample the whole window",
		sf.timeout, s.window.Seconds(), sf.window.Seconds(), sf.window)
}

// sample reads the sections from the live system over one window, showing
// progress on a terminal.
func (e *env) sample(sf *sampleFlags, target probe.Target, sections []string) sampled {
	ctx, cancel := context.WithTimeout(e.ctx, sf.timeout)
	defer cancel()
	// Helpers (strace, jcmd) run under the probes' own deadlines, and the
	// run's: --timeout and an interrupt kill them too (their whole process
	// group), so nothing stays attached once diagnose has reported.
	run := func(hctx context.Context, name string, args ...string) ([]byte, error) {
		hctx, stop := context.WithCancel(hctx)
		defer stop()
		defer context.AfterFunc(ctx, stop)()
		return probe.ExecRunner(hctx, name, args...)
	}
	started := time.Now()
	var chosen []probes.Probe
	var names, skipped []string
	for _, p := range probes.Select(sections) {
		if p.NeedsPID && target.PID == 0 {
			skipped = append(skipped, p.Name)
			continue
		}
		chosen = append(chosen, p)
		names = append(names, p.Name)
	}
	s := probes.Sampler{
		Host:    probe.Host{Root: sf.root, Run: run, SockDiag: probe.NetlinkSockDiag},
		Clock:   probes.RealClock{},
		Window:  sf.window,
		Target:  target,
		Options: probe.Options{Strace: sf.strace, StraceFile: sf.straceFile, JCMD: sf.jcmd},
	}
	if isTerminal(e.stderr) {
		s.Progress = progressPrinter(e.stderr, names, target)
	}
	out := sampled{window: sf.window}
	out.facts, out.statuses = s.Run(ctx, chosen)
	if s.Progress != nil {
		fmt.Fprint(e.stderr, "\r\033[K")
	}
	for _, name := range skipped {
		out.statuses[name] = probe.Status{State: probe.Unavailable, Reason: "needs a target process", Fix: "pass --pid"}
	}
	if e.ctx.Err() != nil {
		out.interrupted = true
		out.window = min(time.Since(started), sf.window)
	} else if ctx.Err() != nil && sf.timeout < sf.window {
		out.cut, out.window = true, sf.timeout
		// A longer --duration cannot help while --timeout ends the window.
		for path, st := range out.statuses {
			if strings.Contains(st.Fix, "--duration") {
				st.Fix = fmt.Sprintf("raise --timeout (%s) above --duration (%s)", sf.timeout, sf.window)
				out.statuses[path] = st
			}
		}
	}
	return out
}

func progressPrinter(w io.Writer, watching []string, t probe.Target) func(elapsed, window time.Duration) {
	what := strings.Join(watching, ", ")
	if t.PID != 0 {
		what += fmt.Sprintf(" of PID %d", t.PID)
	}
	frames := []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}
	i := 0
	return func(elapsed, window time.Duration) {
		left := max(window-elapsed, 0)
		fmt.Fprintf(w, "\r\033[K%s sampling %s … %.1fs left", frames[i%len(frames)], what, left.Seconds())
		i++
	}
}

// statusReport converts the probes' statuses to the report's.
func statusReport(st probe.Statuses) map[string]report.ProbeStatus {
	out := make(map[string]report.ProbeStatus, len(st))
	for path, s := range st {
		out[path] = report.ProbeStatus{State: string(s.State), Reason: s.Reason, Fix: s.Fix}
	}
	return out
}

// readSnapshot reads the snapshot a flag names.
func readSnapshot(flag, path string) (probes.Snapshot, error) {
	f, err := probe.OpenRegular(path)
	if err != nil {
		return probes.Snapshot{}, usagef("%s: %v", flag, err)
	}
	defer f.Close()
	s, err := probes.ReadSnapshot(f)
	if err != nil {
		return s, usagef("%s %s: %v", flag, path, err)
	}
	return s, nil
}
