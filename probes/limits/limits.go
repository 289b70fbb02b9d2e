// Package limits reads the limits processes die on: the target's
// resource limits (/proc/PID/limits) against its use, its children left
// unreaped, the cgroup's pids.max, and the system's task, file-handle and
// commit limits.
package limits

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/diagnose-sh/diagnose/probes/cgroup"
	"github.com/diagnose-sh/diagnose/probes/probe"
)

// Unlimited is how a limit that does not apply is reported.
const Unlimited = -1

// Facts are the limits and their use. Limits are -1 when unlimited.
type Facts struct {
	// The target process (with --pid).
	PID               int     `expr:"pid" json:"pid" doc:"the target process (0 without --pid)"`
	OpenFiles         int     `expr:"open_files" json:"open_files" doc:"the target's open file descriptors at the last reading (/proc/PID/fd)"`
	OpenFilesSoft     int64   `expr:"open_files_soft" json:"open_files_soft" doc:"RLIMIT_NOFILE soft limit (ulimit -n, LimitNOFILE=): open fails with EMFILE beyond it; -1 unlimited"`
	OpenFilesHard     int64   `expr:"open_files_hard" json:"open_files_hard" doc:"RLIMIT_NOFILE hard limit, up to which the process may raise its soft one; -1 unlimited"`
	OpenFilesPct      float64 `expr:"open_files_pct" json:"open_files_pct" doc:"open descriptors / the soft limit, %"`
	OpenFilesPerS     float64 `expr:"open_files_per_s" json:"open_files_per_s" doc:"growth of the open descriptors over the window, per second (negative: closing)"`
	ProcessesSoft     int64   `expr:"processes_soft" json:"processes_soft" doc:"RLIMIT_NPROC soft limit: the user's processes and threads (fork/clone fail with EAGAIN beyond it); -1 unlimited"`
	ProcessesHard     int64   `expr:"processes_hard" json:"processes_hard" doc:"RLIMIT_NPROC hard limit; -1 unlimited"`
	LockedMemorySoft  int64   `expr:"locked_memory_soft_bytes" json:"locked_memory_soft_bytes" doc:"RLIMIT_MEMLOCK soft limit (mlock, io_uring, eBPF maps), bytes; -1 unlimited"`
	LockedMemoryHard  int64   `expr:"locked_memory_hard_bytes" json:"locked_memory_hard_bytes" doc:"RLIMIT_MEMLOCK hard limit, bytes; -1 unlimited"`
	StackSoft         int64   `expr:"stack_soft_bytes" json:"stack_soft_bytes" doc:"RLIMIT_STACK soft limit (the main thread's stack, and the default for new threads), bytes; -1 unlimited"`
	StackHard         int64   `expr:"stack_hard_bytes" json:"stack_hard_bytes" doc:"RLIMIT_STACK hard limit, bytes; -1 unlimited"`
	CoreSoft          int64   `expr:"core_soft_bytes" json:"core_soft_bytes" doc:"RLIMIT_CORE soft limit: 0 means a crash leaves no core dump, bytes; -1 unlimited"`
	CoreHard          int64   `expr:"core_hard_bytes" json:"core_hard_bytes" doc:"RLIMIT_CORE hard limit, bytes; -1 unlimited"`
	Children          int     `expr:"children" json:"children" doc:"the target's child processes at the last reading"`
	ZombieChildren    int     `expr:"zombie_children" json:"zombie_children" doc:"children that exited and the target has not reaped (wait()), at the last reading"`
	ZombieChildrenPer float64 `expr:"zombie_children_per_s" json:"zombie_children_per_s" doc:"growth of the unreaped children over the window, per second"`
	OldestZombieS     float64 `expr:"oldest_zombie_s" json:"oldest_zombie_s" doc:"seconds since the oldest unreaped child started (an upper bound on how long it has been a zombie)"`

	// The target's cgroup (pids controller).
	PIDsLimited   bool    `expr:"pids_limited" json:"pids_limited" doc:"a pids.max applies to the target's cgroup (pids controller, v1 or v2)"`
	PIDsCurrent   int64   `expr:"pids_current" json:"pids_current" doc:"tasks (processes and threads) in the cgroup: pids.current"`
	PIDsMax       int64   `expr:"pids_max" json:"pids_max" doc:"the cgroup's pids.max (docker --pids-limit, Kubernetes podPidsLimit); -1 unlimited"`
	PIDsPct       float64 `expr:"pids_pct" json:"pids_pct" doc:"pids.current / pids.max, %"`
	PIDsPerS      float64 `expr:"pids_per_s" json:"pids_per_s" doc:"growth of pids.current over the window, per second"`
	PIDsMaxEvents int64   `expr:"pids_max_events" json:"pids_max_events" doc:"forks refused at pids.max since the cgroup was created (pids.events max)"`
	PIDsCgroup    string  `expr:"pids_cgroup" json:"pids_cgroup" doc:"the pids cgroup directory read"`

	// The system.
	Tasks           int64          `expr:"tasks" json:"tasks" doc:"tasks (processes and threads) on the system (/proc/loadavg)"`
	TasksMax        int64          `expr:"tasks_max" json:"tasks_max" doc:"the lower of kernel.threads-max and kernel.pid_max: where fork and clone start to fail"`
	TasksPct        float64        `expr:"tasks_pct" json:"tasks_pct" doc:"tasks / tasks_max, %"`
	TasksPerS       float64        `expr:"tasks_per_s" json:"tasks_per_s" doc:"growth of the system's tasks over the window, per second"`
	ThreadsMax      int64          `expr:"threads_max" json:"threads_max" doc:"kernel.threads-max"`
	PIDMax          int64          `expr:"pid_max" json:"pid_max" doc:"kernel.pid_max"`
	ForksPerS       float64        `expr:"forks_per_s" json:"forks_per_s" doc:"processes and threads created per second (processes in /proc/stat)"`
	Zombies         int            `expr:"zombies" json:"zombies" doc:"zombie processes on the system at the last reading"`
	ZombiesPerS     float64        `expr:"zombies_per_s" json:"zombies_per_s" doc:"growth of the system's zombies over the window, per second"`
	ZombieParents   []ZombieParent `expr:"zombie_parents" json:"zombie_parents" doc:"the parents holding the most zombies (at most 5), most first"`
	TopZombieParent ZombieParent   `expr:"top_zombie_parent" json:"top_zombie_parent" doc:"the parent holding the most zombies"`
	FileHandles     int64          `expr:"file_handles" json:"file_handles" doc:"file handles allocated system-wide (fs.file-nr)"`
	FileMax         int64          `expr:"file_max" json:"file_max" doc:"fs.file-max"`
	FileHandlesPct  float64        `expr:"file_handles_pct" json:"file_handles_pct" doc:"file handles / fs.file-max, %"`
	CommittedBytes  int64          `expr:"committed_bytes" json:"committed_bytes" doc:"memory promised to processes (Committed_AS in /proc/meminfo), bytes"`
	CommitLimit     int64          `expr:"commit_limit_bytes" json:"commit_limit_bytes" doc:"CommitLimit: what mode 2 (vm.overcommit_memory=2) lets the system promise, bytes"`
	CommittedPct    float64        `expr:"committed_pct" json:"committed_pct" doc:"Committed_AS / CommitLimit, %: in mode 2, allocations fail at 100"`
}

// ZombieParent is a process holding unreaped children.
type ZombieParent struct {
	PID     int    `expr:"pid" json:"pid" doc:"the parent's process id"`
	Name    string `expr:"name" json:"name" doc:"the parent's name (comm)"`
	Zombies int    `expr:"zombies" json:"zombies" doc:"its unreaped children"`
}

// New reads the limits at the start and the end of the window.
func New(t probe.Target, _ probe.Options) probe.Reader {
	r := &reader{target: t, procs: t.Processes(), ours: map[int]bool{}}
	for _, pid := range r.procs {
		r.ours[pid] = true
	}
	return r
}

type reader struct {
	target      probe.Target
	procs       []int        // the target's processes (a container's), main first
	ours        map[int]bool // the same, as a set: whose children count
	pidsDir     string       // the pids cgroup directory, "" without one
	pidsErr     error
	first, last *reading
	st          probe.Statuses
	// end holds the files read right after the window (AfterWindow), by
	// path; zombieParents the last reading's parents of zombies, named.
	end           map[string]endFile
	zombieParents []ZombieParent
}

// endFile is one file AfterWindow read.
type endFile struct {
	b   []byte
	err error
}

// reading is one look at the counters that grow.
type reading struct {
	at         float64     // seconds
	fds        map[int]int // open descriptors by target process
	children   int
	zombieKids int
	oldestKid  float64
	pids       int64
	tasks      int64
	forks      int64
	zombies    int
	parents    map[int]int
}

func (r *reader) Read(ctx context.Context, h probe.Host) {
	if r.st == nil {
		r.st = probe.Statuses{}
		var loc cgroup.Location
		if loc, r.pidsErr = cgroup.Resolve(h, r.target); r.pidsErr == nil {
			r.pidsDir = loc.PIDsDir
		}
	}
	rd := &reading{at: float64(h.Now.UnixNano()) / 1e9, pids: -1, parents: map[int]int{}, fds: map[int]int{}}
	if r.pidsDir != "" {
		if b, err := h.ReadFile(r.pidsDir, "pids.current"); err == nil {
			rd.pids, _ = strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64)
		}
	}
	for _, pid := range r.procs {
		if n, err := h.CountDir("proc", strconv.Itoa(pid), "fd"); err == nil {
			rd.fds[pid] = n
		} else if r.first == nil && pid == r.target.PID {
			s := probe.StatusOf(err, fmt.Sprintf("/proc/%d/fd", pid))
			r.st["open_files"], r.st["open_files_per_s"] = s, s
		}
	}
	if err := r.scan(h, rd); err != nil && r.first == nil {
		r.st["zombies"] = probe.StatusOf(err, "/proc")
	}
	if b, err := h.ReadFile("proc", "loadavg"); err == nil {
		rd.tasks = loadavgTasks(b)
	}
	if b, err := h.ReadFile("proc", "stat"); err == nil {
		rd.forks = statProcesses(b)
	}
	if r.first == nil {
		r.first = rd
	}
	r.last = rd
}

// scan walks /proc/*/stat once: the system's zombies by parent, and the
// children of the target's processes by state.
func (r *reader) scan(h probe.Host, rd *reading) error {
	names, err := h.DirNames(probe.MaxProcesses, "proc")
	if err != nil {
		return err
	}
	uptime := -1.0
	if b, err := h.ReadFile("proc", "uptime"); err == nil {
		if f := bytes.Fields(b); len(f) > 0 {
			uptime, _ = strconv.ParseFloat(string(f[0]), 64)
		}
	}
	for _, n := range names {
		if n[0] < '0' || n[0] > '9' {
			continue
		}
		b, err := h.ReadFile("proc", n, "stat")
		if err != nil {
			continue // gone since the listing
		}
		state, ppid, start, ok := parseStat(b)
		if !ok {
			continue
		}
		if state == 'Z' {
			rd.zombies++
			rd.parents[ppid]++
		}
		if r.ours[ppid] {
			rd.children++
			if state == 'Z' {
				rd.zombieKids++
				if age := uptime - start/ticksPerSecond; uptime >= 0 && age > rd.oldestKid {
					rd.oldestKid = age
				}
			}
		}
	}
	return nil
}

// ticksPerSecond is USER_HZ, what /proc/PID/stat counts starttime in: 100 on
// every Linux architecture diagnose runs on.
const ticksPerSecond = 100

// parseStat reads state, ppid and starttime (seconds x 100) from
// /proc/PID/stat; the comm in parentheses may hold anything.
func parseStat(b []byte) (state byte, ppid int, start float64, ok bool) {
	tail, err := probe.StatTail(b)
	if err != nil {
		return 0, 0, 0, false
	}
	st, ok1 := probe.StatField(tail, 3)
	pp, ok2 := probe.StatField(tail, 4)
	s, ok3 := probe.StatField(tail, 22)
	if !ok1 || !ok2 || !ok3 || len(st) != 1 || !(st[0] >= 'A' && st[0] <= 'Z' || st[0] >= 'a' && st[0] <= 'z') {
		return 0, 0, 0, false // a state is a letter (R S D Z T t X I ...)
	}
	p, err1 := strconv.Atoi(string(pp))
	v, err2 := strconv.ParseFloat(string(s), 64)
	if err1 != nil || err2 != nil {
		return 0, 0, 0, false
	}
	return st[0], p, v, true
}

func loadavgTasks(b []byte) int64 {
	f := bytes.Fields(b)
	if len(f) < 4 {
		return 0
	}
	_, total, ok := bytes.Cut(f[3], []byte("/"))
	if !ok {
		return 0
	}
	n, _ := strconv.ParseInt(string(total), 10, 64)
	return n
}

func statProcesses(b []byte) int64 {
	for _, line := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("processes ")); ok {
			n, _ := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
			return n
		}
	}
	return 0
}

// Limit is one line of /proc/PID/limits.
type Limit struct{ Soft, Hard int64 }

// ParseLimits reads /proc/PID/limits: "Max open files  1024  524288  files".
// The name is the words before the first number or "unlimited"; lines
// that are not limits are skipped.
func ParseLimits(b []byte) map[string]Limit {
	out := map[string]Limit{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		i := 0
		for i < len(f) && !isLimitValue(f[i]) {
			i++
		}
		if i == 0 || i+1 >= len(f) || !isLimitValue(f[i+1]) {
			continue
		}
		soft, hard := limitValue(f[i]), limitValue(f[i+1])
		out[strings.ToLower(strings.Join(f[:i], " "))] = Limit{soft, hard}
	}
	return out
}

func isLimitValue(s string) bool {
	if s == "unlimited" {
		return true
	}
	_, err := strconv.ParseUint(s, 10, 63)
	return err == nil
}

func limitValue(s string) int64 {
	if s == "unlimited" {
		return Unlimited
	}
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// AfterWindow reads what the last reading is compared with: the limits of
// the target's processes, its cgroup's pids.max and pids.events, the
// system's maxima, and the names of the zombies' parents.
func (r *reader) AfterWindow(_ context.Context, h probe.Host) {
	r.end = map[string]endFile{}
	read := func(elem ...string) {
		b, err := h.ReadFile(elem...)
		r.end[path.Join(elem...)] = endFile{b, err}
	}
	for _, pid := range r.procs {
		read("proc", strconv.Itoa(pid), "limits")
	}
	if r.pidsDir != "" {
		read(r.pidsDir, "pids.max")
		read(r.pidsDir, "pids.events")
	}
	read("proc", "sys", "kernel", "threads-max")
	read("proc", "sys", "kernel", "pid_max")
	read("proc", "sys", "fs", "file-nr")
	read("proc", "meminfo")
	if r.last != nil {
		r.zombieParents = topParents(h, r.last.parents)
	}
}

// file is what AfterWindow read at elem: probe.ErrCut when the run's
// deadline came before it.
func (r *reader) file(elem ...string) ([]byte, error) {
	f, ok := r.end[path.Join(elem...)]
	if !ok {
		return nil, probe.ErrCut
	}
	return f.b, f.err
}

func (r *reader) Finish() (any, probe.Statuses) {
	st := r.st
	if st == nil {
		st = probe.Statuses{}
	}
	var f Facts
	if r.last == nil {
		st[""] = probe.Status{State: probe.Error, Reason: "never read"}
		return f, st
	}
	a, b := r.first, r.last
	span := b.at - a.at
	rate := func(x, y float64) float64 {
		if span <= 0 {
			return 0
		}
		return probe.Round2((y - x) / span)
	}
	st[""] = probe.Status{State: probe.OK}

	// The target.
	if pid := r.nearestLimit(b); pid > 0 {
		f.PID = pid
		f.OpenFiles, f.Children, f.ZombieChildren = b.fds[pid], b.children, b.zombieKids
		f.OpenFilesPerS = rate(float64(a.fds[pid]), float64(b.fds[pid]))
		f.ZombieChildrenPer = rate(float64(a.zombieKids), float64(b.zombieKids))
		f.OldestZombieS = probe.Round2(b.oldestKid)
		r.targetLimits(&f, st)
	} else {
		for _, k := range targetFacts {
			st[k] = probe.Status{State: probe.Unavailable, Reason: "needs a target process", Fix: "pass --pid"}
		}
	}

	// The cgroup's pids controller.
	r.pids(&f, st, rate(float64(a.pids), float64(b.pids)), b.pids)

	// The system.
	f.Tasks, f.TasksPerS = b.tasks, rate(float64(a.tasks), float64(b.tasks))
	f.ForksPerS = rate(float64(a.forks), float64(b.forks))
	f.Zombies, f.ZombiesPerS = b.zombies, rate(float64(a.zombies), float64(b.zombies))
	f.ZombieParents = r.zombieParents
	if len(f.ZombieParents) > 0 {
		f.TopZombieParent = f.ZombieParents[0]
	}
	r.system(&f, st)
	if span <= 0 {
		for _, k := range []string{"open_files_per_s", "zombie_children_per_s", "pids_per_s", "tasks_per_s", "forks_per_s", "zombies_per_s"} {
			st[k] = probe.Status{State: probe.Unavailable, Reason: "needs two readings some time apart; the window had one", Fix: "sample for a longer window (--duration)"}
		}
	}
	return f, st
}

// targetFacts are unavailable without a target.
var targetFacts = []string{"open_files", "open_files_soft", "open_files_hard", "open_files_pct", "open_files_per_s",
	"processes_soft", "processes_hard", "locked_memory_soft_bytes", "locked_memory_hard_bytes", "stack_soft_bytes",
	"stack_hard_bytes", "core_soft_bytes", "core_hard_bytes", "children", "zombie_children", "zombie_children_per_s", "oldest_zombie_s"}

func pct(n, of int64) float64 {
	if of <= 0 {
		return 0
	}
	return probe.Round2(100 * float64(n) / float64(of))
}

// errNoLimits is a /proc/PID/limits without the limits diagnose reads.
var errNoLimits = errors.New("no open-files line")

// nearestLimit is the target process whose descriptors are nearest its
// soft limit at the last reading (the one that fails first): the main
// process unless another of a container's is nearer.
func (r *reader) nearestLimit(b *reading) int {
	if len(r.procs) <= 1 {
		return r.target.PID
	}
	best, bestPct := r.target.PID, -1.0
	for _, pid := range r.procs {
		l, err := r.file("proc", strconv.Itoa(pid), "limits")
		if _, seen := b.fds[pid]; !seen || err != nil {
			continue
		}
		if nofile, ok := ParseLimits(l)["max open files"]; ok {
			if p := pct(int64(b.fds[pid]), nofile.Soft); p > bestPct {
				best, bestPct = pid, p
			}
		}
	}
	return best
}

func (r *reader) targetLimits(f *Facts, st probe.Statuses) {
	b, err := r.file("proc", strconv.Itoa(f.PID), "limits")
	if err == nil && len(ParseLimits(b)) == 0 {
		err = errNoLimits
	}
	if err != nil {
		s := probe.StatusOf(err, fmt.Sprintf("/proc/%d/limits", f.PID))
		for _, k := range []string{"open_files_soft", "open_files_hard", "open_files_pct", "processes_soft", "processes_hard",
			"locked_memory_soft_bytes", "locked_memory_hard_bytes", "stack_soft_bytes", "stack_hard_bytes", "core_soft_bytes", "core_hard_bytes"} {
			st[k] = s
		}
		return
	}
	l := ParseLimits(b)
	get := func(name string) Limit {
		if v, ok := l[name]; ok {
			return v
		}
		return Limit{Unlimited, Unlimited}
	}
	nofile := get("max open files")
	f.OpenFilesSoft, f.OpenFilesHard = nofile.Soft, nofile.Hard
	f.OpenFilesPct = pct(int64(f.OpenFiles), nofile.Soft)
	n := get("max processes")
	f.ProcessesSoft, f.ProcessesHard = n.Soft, n.Hard
	m := get("max locked memory")
	f.LockedMemorySoft, f.LockedMemoryHard = m.Soft, m.Hard
	s := get("max stack size")
	f.StackSoft, f.StackHard = s.Soft, s.Hard
	c := get("max core file size")
	f.CoreSoft, f.CoreHard = c.Soft, c.Hard
	if _, bad := st["open_files"]; bad {
		st["open_files_pct"] = st["open_files"]
	}
}

// pids fills the cgroup's pids.max facts.
func (r *reader) pids(f *Facts, st probe.Statuses, perS float64, current int64) {
	f.PIDsMax = Unlimited
	if r.pidsErr != nil {
		s := probe.StatusOf(r.pidsErr, "the target's cgroup")
		if errors.Is(r.pidsErr, probe.ErrNoProcess) {
			s = probe.Status{State: probe.Unavailable, Reason: fmt.Sprintf("process %d does not exist", r.target.PID)}
		}
		for _, k := range []string{"pids_limited", "pids_current", "pids_max", "pids_pct", "pids_per_s", "pids_max_events"} {
			st[k] = s
		}
		return
	}
	if r.pidsDir == "" || current < 0 {
		return // no pids controller here (or not for this cgroup): nothing limits the tasks
	}
	f.PIDsCgroup, f.PIDsCurrent, f.PIDsPerS = r.pidsDir, current, perS
	b, err := r.file(r.pidsDir, "pids.max")
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) { // the root cgroup has no pids.max
			st["pids_max"] = probe.StatusOf(err, r.pidsDir+"/pids.max")
		}
		return
	}
	if v := string(bytes.TrimSpace(b)); v != "max" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			st["pids_max"] = probe.Status{State: probe.Error, Reason: fmt.Sprintf("%s/pids.max: %q is not a number or max", r.pidsDir, v)}
			return
		}
		f.PIDsLimited, f.PIDsMax, f.PIDsPct = true, n, pct(current, n)
	}
	if b, err := r.file(r.pidsDir, "pids.events"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "max "); ok {
				f.PIDsMaxEvents, _ = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			}
		}
	}
}

// system fills the system-wide limits.
func (r *reader) system(f *Facts, st probe.Statuses) {
	num := func(path ...string) (int64, error) {
		b, err := r.file(path...)
		if err != nil {
			return 0, err
		}
		fields := bytes.Fields(b)
		if len(fields) == 0 {
			return 0, fmt.Errorf("%s: empty", filepath.Join(path...))
		}
		return strconv.ParseInt(string(fields[0]), 10, 64)
	}
	var err1, err2 error
	f.ThreadsMax, err1 = num("proc", "sys", "kernel", "threads-max")
	f.PIDMax, err2 = num("proc", "sys", "kernel", "pid_max")
	switch {
	case err1 != nil || err2 != nil:
		s := probe.StatusOf(errors.Join(err1, err2), "/proc/sys/kernel/threads-max, pid_max")
		st["tasks_max"], st["tasks_pct"] = s, s
	default:
		f.TasksMax = min(f.ThreadsMax, f.PIDMax)
		f.TasksPct = pct(f.Tasks, f.TasksMax)
	}
	// file-nr: allocated, free (always 0 since 2.6), max.
	if b, err := r.file("proc", "sys", "fs", "file-nr"); err == nil {
		if fl := bytes.Fields(b); len(fl) >= 3 {
			f.FileHandles, _ = strconv.ParseInt(string(fl[0]), 10, 64)
			f.FileMax, _ = strconv.ParseInt(string(fl[2]), 10, 64)
			f.FileHandlesPct = pct(f.FileHandles, f.FileMax)
		}
	} else {
		s := probe.StatusOf(err, "/proc/sys/fs/file-nr")
		st["file_handles"], st["file_max"], st["file_handles_pct"] = s, s, s
	}
	if b, err := r.file("proc", "meminfo"); err == nil {
		probe.ColonValues(b, func(name, v string) error {
			kb, _ := probe.ParseKB(v)
			switch name {
			case "Committed_AS":
				f.CommittedBytes = int64(kb) * 1024
			case "CommitLimit":
				f.CommitLimit = int64(kb) * 1024
			}
			return nil
		})
		f.CommittedPct = pct(f.CommittedBytes, f.CommitLimit)
	} else {
		s := probe.StatusOf(err, "/proc/meminfo")
		st["committed_bytes"], st["commit_limit_bytes"], st["committed_pct"] = s, s, s
	}
}

// topParents names the five parents holding the most zombies.
func topParents(h probe.Host, parents map[int]int) []ZombieParent {
	out := make([]ZombieParent, 0, len(parents))
	for pid, n := range parents {
		out = append(out, ZombieParent{PID: pid, Zombies: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Zombies != out[j].Zombies {
			return out[i].Zombies > out[j].Zombies
		}
		return out[i].PID < out[j].PID
	})
	if len(out) > 5 {
		out = out[:5]
	}
	for i := range out {
		comm, _ := h.ReadFile("proc", strconv.Itoa(out[i].PID), "comm")
		out[i].Name = probe.Sanitize(strings.TrimSpace(string(comm)))
	}
	return out
}
