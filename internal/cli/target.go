package cli

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/diagnose-sh/diagnose/engine"
	"github.com/diagnose-sh/diagnose/probes/cgroup"
	"github.com/diagnose-sh/diagnose/probes/probe"
)

// maxTargetProcesses bounds a container target: each process costs the
// per-process probes a reader, and a container of thousands is a host.
const maxTargetProcesses = 64

// selected is a target named by container, pod or cgroup: the cgroup it
// lives in and, for a playbook about processes, the processes in it.
type selected struct {
	cgroup    string // hierarchy path
	container string // "docker 0123456789ab", for the report
	pids      []int  // main process first
	note      string // for the report
}

// selectors are the parameters that name a target other than by PID.
var selectors = []string{"cgroup", "container", "pod"}

// selectsContainers says whether a playbook about a process (pid required)
// also takes its target by container: --container stands for --pid.
func selectsContainers(params []engine.Parameter) bool {
	pid := slices.ContainsFunc(params, func(p engine.Parameter) bool { return p.Name == "pid" && p.Required })
	return pid && slices.ContainsFunc(params, func(p engine.Parameter) bool { return p.Name == "container" })
}

// selectTarget resolves --container, --pod and (for a playbook about a
// process) --cgroup into given's pid and cgroup, so that a container is
// diagnosed as its processes. A playbook whose pid parameter is required
// reads processes; one without only needs the cgroup.
func selectTarget(pb *engine.Playbook, root string, given map[string]string) (*selected, error) {
	has := func(name string) bool {
		return slices.ContainsFunc(pb.Parameters, func(p engine.Parameter) bool { return p.Name == name })
	}
	tg := targeting{accepts: has,
		processes: slices.ContainsFunc(pb.Parameters, func(p engine.Parameter) bool { return p.Name == "pid" && p.Required })}
	if selectsContainers(pb.Parameters) {
		tg.needs = pb.Name
	}
	sel, err := tg.resolve(root, given)
	if sel == nil || err != nil {
		return nil, err
	}
	if has("cgroup") {
		given["cgroup"] = sel.cgroup
	}
	if len(sel.pids) > 0 {
		given["pid"] = strconv.Itoa(sel.pids[0])
	}
	return sel, nil
}

// targeting is how a command takes its target besides --pid.
type targeting struct {
	accepts   func(name string) bool // the selector parameters it takes
	processes bool                   // it reads processes: a container is its processes
	needs     string                 // the command, when it needs a target (slow-app)
}

// resolve finds the container, pod or cgroup given (selector name to
// value), nil when none is; a pid given with one of them is an error.
func (tg targeting) resolve(root string, given map[string]string) (*selected, error) {
	var named []string
	for _, s := range selectors {
		if _, ok := given[s]; ok && tg.accepts(s) {
			named = append(named, "--"+s)
		}
	}
	if _, ok := given["pid"]; ok && tg.processes && len(named) > 0 {
		named = append([]string{"--pid"}, named...)
	}
	if len(named) > 1 {
		return nil, usagef("%s each name the target: pass one of them", strings.Join(named, " and "))
	}
	for _, s := range []string{"namespace", "container_name"} {
		if _, ok := given[s]; ok && tg.accepts(s) && given["pod"] == "" {
			return nil, usagef("--%s picks within a pod: pass it with --pod NAME", engine.FlagName(s))
		}
	}
	if len(named) == 0 {
		if _, ok := given["pid"]; !ok && tg.needs != "" {
			return nil, usagef("%s needs a target: --pid PID, --container ID, --pod NAME or --cgroup PATH", tg.needs)
		}
		return nil, nil
	}
	h := probe.Host{Root: root}
	sel := &selected{}
	switch {
	case given["container"] != "":
		c, err := cgroup.FindContainer(h, given["container"])
		if err != nil {
			return nil, lookupUsage("--container", err)
		}
		sel.cgroup, sel.container = c.Cgroup, fmt.Sprintf("%s container %s", c.Runtime, c.ID[:min(12, len(c.ID))])
	case given["pod"] != "":
		c, err := cgroup.FindPod(h, cgroup.PodQuery{Namespace: given["namespace"], Name: given["pod"], ContainerName: given["container_name"]})
		if err != nil {
			return nil, lookupUsage("--pod", err)
		}
		ns := cmp.Or(given["namespace"], "default")
		sel.cgroup = c.Cgroup
		sel.container = fmt.Sprintf("pod %s/%s container %s (%s %s)", ns, given["pod"], c.Name, c.Runtime, c.ID[:min(12, len(c.ID))])
	default:
		sel.cgroup = given["cgroup"]
	}
	if !tg.processes {
		if sel.container != "" {
			sel.note = fmt.Sprintf("target: %s, cgroup %s", sel.container, sel.cgroup)
		}
		return sel, nil
	}
	return sel, sel.members(h)
}

// members lists the cgroup's processes, the oldest (the container's init)
// first.
func (sel *selected) members(h probe.Host) error {
	what := "cgroup " + sel.cgroup
	if sel.container != "" {
		what = sel.container
	}
	loc, err := cgroup.Resolve(h, probe.Target{Cgroup: sel.cgroup})
	if err != nil {
		if errors.Is(err, cgroup.ErrNotFound) {
			return usagef("--cgroup %s: %v; list cgroups with systemd-cgls, or pass --pid of a process in it", sel.cgroup, err)
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	pids, err := cgroup.Members(h, loc)
	if err != nil {
		return fmt.Errorf("processes of %s: %w", what, err)
	}
	type proc struct{ pid, start int }
	var procs []proc
	for _, pid := range pids {
		if start, ok := startTime(h, pid); ok {
			procs = append(procs, proc{pid, start})
		}
	}
	if len(procs) == 0 {
		return usagef("%s has no running processes (stopped, or its cgroup is empty): nothing to sample; oom-container reads a cgroup without processes", what)
	}
	sort.Slice(procs, func(i, j int) bool {
		if procs[i].start != procs[j].start {
			return procs[i].start < procs[j].start
		}
		return procs[i].pid < procs[j].pid
	})
	for _, p := range procs[:min(len(procs), maxTargetProcesses)] {
		sel.pids = append(sel.pids, p.pid)
	}
	sel.note = fmt.Sprintf("target: %s, cgroup %s: %d processes diagnosed together, main PID %d", what, sel.cgroup, len(sel.pids), sel.pids[0])
	if len(sel.pids) == 1 {
		sel.note = fmt.Sprintf("target: %s, cgroup %s: PID %d", what, sel.cgroup, sel.pids[0])
	}
	if len(procs) > maxTargetProcesses {
		sel.note += fmt.Sprintf(" (the oldest %d of its %d processes)", maxTargetProcesses, len(procs))
	}
	return nil
}

// startTime is a process's start (stat field 22), false for a kernel
// thread, a zombie or a process that ended.
func startTime(h probe.Host, pid int) (int, bool) {
	b, err := h.ReadFile("proc", strconv.Itoa(pid), "stat")
	if err != nil {
		return 0, false
	}
	tail, err := probe.StatTail(b)
	if err != nil {
		return 0, false
	}
	if state, ok := probe.StatField(tail, 3); !ok || string(state) == "Z" {
		return 0, false
	}
	f, ok := probe.StatField(tail, 22)
	if !ok {
		return 0, false
	}
	n, ok := probe.Uint(f)
	return int(n), ok
}

// lookupUsage words a failed container or pod lookup as a usage error.
func lookupUsage(flag string, err error) error {
	var le *cgroup.LookupError
	if errors.As(err, &le) || errors.Is(err, cgroup.ErrBadContainerID) {
		return usagef("%s: %v", flag, err)
	}
	return fmt.Errorf("%s: %w", flag, err)
}

// apply puts the selection into the probes' target.
func (sel *selected) apply(t *probe.Target) {
	if sel == nil {
		return
	}
	t.Container = sel.container
	if len(sel.pids) > 1 {
		t.PIDs = sel.pids
	}
}
