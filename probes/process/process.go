// Package process reads where one process's time and resources go over the
// sampling window: CPU (user/system), run-queue delay, block-I/O delay,
// context switches summed over all its threads, RSS, open files, storage
// I/O and major faults.
//
// Sources (Linux; see ../../docs/probes-process.md and proc(5)):
//
//	/proc/PID/stat            whole thread group: utime stime majflt (USER_HZ ticks, counts)
//	/proc/PID/status          Name, VmRSS, VmSwap, Threads, TracerPid
//	/proc/PID/task/TID/stat   field 42 delayacct_blkio_ticks (per thread)
//	/proc/PID/task/TID/status voluntary/nonvoluntary_ctxt_switches (per thread:
//	                          the process file has the leader's only)
//	/proc/PID/task/TID/schedstat  "run_ns wait_ns timeslices" (per thread)
//	/proc/PID/io              read_bytes write_bytes (PTRACE_MODE_READ)
//	/proc/PID/fd/             open descriptors (PTRACE_MODE_READ)
//	/proc/sys/kernel/task_delayacct  whether block-I/O delay is accounted
package process

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

// userHZ is the unit of utime/stime/delayacct ticks: sysconf(_SC_CLK_TCK),
// 100 on every Linux architecture diagnose supports.
const userHZ = 100

// Facts is the target process over the window. Rates and percentages are
// computed from the first and last readings in which the process existed; a
// share of 100 % means one CPU core (or one thread) for the whole window.
type Facts struct {
	PID                        int     `expr:"pid" json:"pid" doc:"process id"`
	Name                       string  `expr:"name" json:"name" doc:"process name (comm, 15 bytes)"`
	Cmdline                    string  `expr:"cmdline" json:"cmdline" doc:"command line, arguments joined by spaces"`
	State                      string  `expr:"state" json:"state" doc:"main thread's state letter at the last reading (R S D T Z); see threads.* for all threads"`
	Threads                    int     `expr:"threads" json:"threads" doc:"number of threads at the last reading"`
	Exited                     bool    `expr:"exited" json:"exited" doc:"the process ended during the window (facts cover the part observed)"`
	WindowS                    float64 `expr:"window_s" json:"window_s" doc:"seconds between the first and last reading the rates are computed from"`
	CPUPct                     float64 `expr:"cpu_pct" json:"cpu_pct" doc:"CPU time (user+system) per wall time, 100 = one core"`
	UserPct                    float64 `expr:"user_pct" json:"user_pct" doc:"user-mode CPU per wall time, 100 = one core"`
	SystemPct                  float64 `expr:"system_pct" json:"system_pct" doc:"kernel-mode CPU per wall time, 100 = one core"`
	RunqueueDelayPct           float64 `expr:"runqueue_delay_pct" json:"runqueue_delay_pct" doc:"time threads were runnable but waiting for a CPU (schedstat), summed over threads, per wall time; 100 = one thread waiting all the time (CPU starvation or cgroup throttling)"`
	BlkioDelayPct              float64 `expr:"blkio_delay_pct" json:"blkio_delay_pct" doc:"time threads were blocked on block I/O incl. swap-in (delay accounting), summed over threads, per wall time; 100 = one thread always waiting"`
	VoluntaryCtxSwitchesPerS   float64 `expr:"voluntary_ctx_switches_per_s" json:"voluntary_ctx_switches_per_s" doc:"voluntary context switches per second summed over all threads (the thread blocked: lock, I/O, sleep)"`
	InvoluntaryCtxSwitchesPerS float64 `expr:"involuntary_ctx_switches_per_s" json:"involuntary_ctx_switches_per_s" doc:"involuntary context switches per second summed over all threads (preempted: CPU contention or time slice used up)"`
	RSSBytes                   uint64  `expr:"rss_bytes" json:"rss_bytes" doc:"resident set size at the last reading, bytes"`
	SwapBytes                  uint64  `expr:"swap_bytes" json:"swap_bytes" doc:"process memory swapped out at the last reading, bytes"`
	OpenFDs                    int     `expr:"open_fds" json:"open_fds" doc:"open file descriptors at the last reading"`
	ReadBytesPerS              float64 `expr:"read_bytes_per_s" json:"read_bytes_per_s" doc:"bytes the process caused to be read from storage per second (incl. O_DIRECT; not page-cache hits)"`
	WriteBytesPerS             float64 `expr:"write_bytes_per_s" json:"write_bytes_per_s" doc:"bytes the process caused to be written to storage per second (accounted when pages are dirtied)"`
	MajorFaultsPerS            float64 `expr:"major_faults_per_s" json:"major_faults_per_s" doc:"major page faults (needing I/O: mmap'ed file, swap-in) per second"`
	MinorFaultsPerS            float64 `expr:"minor_faults_per_s" json:"minor_faults_per_s" doc:"minor page faults per second"`
	TracerPID                  int     `expr:"tracer_pid" json:"tracer_pid" doc:"pid of an attached tracer (strace, gdb), 0 if none; a traced process runs much slower"`

	// Processes is the target's processes, busiest first: one for --pid,
	// every process of a container (whose other facts are their sums).
	Processes []Member `expr:"processes" json:"processes" doc:"the target's processes, busiest (CPU) first: one for --pid; for a container all of them, the facts above being their sums (pid, name, state and cmdline are the first process's)"`
}

// Member is one process of the target.
type Member struct {
	PID      int     `expr:"pid" json:"pid" doc:"process id"`
	Name     string  `expr:"name" json:"name" doc:"process name (comm)"`
	CPUPct   float64 `expr:"cpu_pct" json:"cpu_pct" doc:"CPU time per wall time, 100 = one core"`
	RSSBytes uint64  `expr:"rss_bytes" json:"rss_bytes" doc:"resident set size, bytes"`
	Threads  int     `expr:"threads" json:"threads" doc:"threads at the last reading"`
}

// taskReading is one thread's counters.
type taskReading struct {
	sched      probe.Schedstat
	hasSched   bool
	vol, invol uint64
	hasCtxt    bool
	blkio      uint64
	hasBlkio   bool
}

type reading struct {
	at      time.Time
	stat    procStat
	status  probe.ProcStatus
	cmdline string
	tasks   map[int]taskReading
	io      procIO
	ioErr   error
	fds     int
	fdErr   error
}

type reader struct {
	pid      int
	spacing  time.Duration // the least time between readings (a container's process)
	first    *reading
	last     *reading
	firstErr error // why the very first reading failed
	ended    bool  // a reading after a good one found the process gone
	delayErr error // delay accounting unavailable
	delayOn  bool
	delayChk bool
	// sums over consecutive readings of per-thread counter deltas
	vol, invol, waitNS, blkio uint64
	// deferred is the last Read call skipped by the spacing, taken in Finish.
	deferred    probe.Host
	hasDeferred bool
	// per-thread files kept open between readings, so a reading costs
	// reads, not opens; nil until the first reading
	root  string
	files *probe.TaskFiles
}

// spacingPerThread spaces readings in between: 200 threads, every 500 ms.
// spacingPerProcess does for a container's processes, each read by its own
// reader, what the thread count does within one: 16 processes, every 800 ms.
const (
	spacingPerThread  = 2500 * time.Microsecond
	spacingPerProcess = 50 * time.Millisecond
)

// The per-thread files, in TaskFiles order.
const (
	fileSchedstat = iota
	fileStatus
	fileStat
)

// New returns a reader for one run over t.PID.
func New(t probe.Target, _ probe.Options) probe.Reader {
	return &reader{pid: t.PID, spacing: time.Duration(len(t.PIDs)) * spacingPerProcess}
}

func (r *reader) Read(ctx context.Context, h probe.Host) {
	if r.pid <= 0 {
		return
	}
	if r.ended {
		return
	}
	// Readings in between only keep rates when the process or some of its
	// threads exit early; space them by the thread count so that they cost
	// at most ~0.4 % of a core (≈10 µs of reads per thread). A skipped call
	// may be the window's last: Finish reads it, so a process with more
	// threads than the window allows still gets two readings.
	if r.last != nil && h.Now.Sub(r.last.at) < max(time.Duration(len(r.last.tasks))*spacingPerThread, r.spacing) {
		r.deferred, r.hasDeferred = h, true
		return
	}
	r.hasDeferred = false
	r.read(h)
}

// read takes one reading of the process and its threads.
func (r *reader) read(h probe.Host) {
	if r.files == nil || h.Root != r.root {
		r.files.Close()
		r.files = probe.NewTaskFiles(h, r.pid, 16<<10, "schedstat", "status", "stat")
		r.root = h.Root
	}
	if !r.delayChk {
		r.delayChk = true
		b, err := h.ReadFile("proc", "sys", "kernel", "task_delayacct")
		switch {
		case err != nil:
			r.delayErr = err
		default:
			r.delayOn = len(b) > 0 && b[0] == '1'
		}
	}
	rd, err := r.readOnce(h)
	if err != nil {
		if r.last == nil {
			if r.firstErr == nil {
				r.firstErr = err
			}
			return
		}
		if errors.Is(err, probe.ErrNoProcess) {
			r.ended = true
		}
		return
	}
	if r.last != nil && rd.stat.StartTime != r.last.stat.StartTime {
		// The pid was reused by a new process: the target ended.
		r.ended = true
		return
	}
	if r.first == nil {
		r.first = rd
	}
	if r.last != nil {
		r.accumulate(r.last, rd)
	}
	r.last = rd
}

func (r *reader) readOnce(h probe.Host) (*reading, error) {
	pid := strconv.Itoa(r.pid)
	rd := &reading{at: h.Now, tasks: map[int]taskReading{}}
	b, err := h.ReadFile("proc", pid, "stat")
	if err != nil {
		return nil, noProc(r.pid, err)
	}
	if rd.stat, err = parseStat(b); err != nil {
		return nil, err
	}
	if rd.stat.State == 'Z' || rd.stat.State == 'X' {
		return nil, fmt.Errorf("%w: pid %d is a zombie", probe.ErrNoProcess, r.pid)
	}
	if b, err = h.ReadFile("proc", pid, "status"); err != nil {
		return nil, noProc(r.pid, err)
	}
	if rd.status, err = probe.ParseProcStatus(b); err != nil {
		return nil, err
	}
	if b, err = h.ReadFile("proc", pid, "cmdline"); err == nil {
		rd.cmdline = parseCmdline(b)
	}
	rd.io, rd.ioErr = readIO(h, pid)
	rd.fds, rd.fdErr = h.CountDir("proc", pid, "fd")
	names, err := h.DirNames(probe.MaxThreads, "proc", pid, "task")
	if err != nil {
		return nil, noProc(r.pid, err)
	}
	seen := make(map[int]bool, len(names))
	for _, name := range names {
		tid, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		seen[tid] = true
		var t taskReading
		if b, err := r.files.Read(tid, fileSchedstat); err == nil {
			if s, err := probe.ParseSchedstat(b); err == nil {
				t.sched, t.hasSched = s, true
			}
		}
		if b, err := r.files.Read(tid, fileStatus); err == nil {
			t.vol, t.invol, t.hasCtxt = taskCtxtSwitches(b)
		}
		// Field 42 is always 0 without delay accounting: skip the read.
		if r.delayOn {
			if b, err := r.files.Read(tid, fileStat); err == nil {
				t.blkio, t.hasBlkio = taskBlkioTicks(b)
			}
		}
		if !t.hasSched && !t.hasCtxt && !t.hasBlkio {
			r.files.Drop(tid)
			continue // the thread ended while we read it
		}
		rd.tasks[tid] = t
	}
	r.files.Prune(seen)
	return rd, nil
}

func noProc(pid int, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: pid %d", probe.ErrNoProcess, pid)
	}
	return err
}

func readIO(h probe.Host, pid string) (procIO, error) {
	b, err := h.ReadFile("proc", pid, "io")
	if err != nil {
		return procIO{}, err
	}
	return parseIO(b)
}

// accumulate adds the per-thread counter deltas between two readings. A
// thread missing from a is new (created in the window): its whole count
// counts. A thread missing from b ended: what it did after a is lost.
func (r *reader) accumulate(a, b *reading) {
	for tid, t := range b.tasks {
		p, ok := a.tasks[tid]
		if t.hasCtxt {
			r.vol += delta(p.vol, t.vol, ok && p.hasCtxt)
			r.invol += delta(p.invol, t.invol, ok && p.hasCtxt)
		}
		if t.hasSched {
			r.waitNS += delta(p.sched.WaitNS, t.sched.WaitNS, ok && p.hasSched)
		}
		if t.hasBlkio {
			r.blkio += delta(p.blkio, t.blkio, ok && p.hasBlkio)
		}
	}
}

func delta(old, cur uint64, had bool) uint64 {
	if !had {
		return cur
	}
	return probe.Delta(old, cur)
}

func (r *reader) Finish() (any, probe.Statuses) {
	f, st := r.finish()
	if st[""].State == probe.OK {
		f.Processes = []Member{{PID: f.PID, Name: f.Name, CPUPct: f.CPUPct, RSSBytes: f.RSSBytes, Threads: f.Threads}}
	}
	return f, st
}

func (r *reader) finish() (Facts, probe.Statuses) {
	if r.hasDeferred && !r.ended {
		r.hasDeferred = false
		r.read(r.deferred)
	}
	r.files.Close()
	st := probe.Statuses{}
	if r.pid <= 0 {
		st[""] = probe.Status{State: probe.Unavailable, Reason: "no target process", Fix: "pass --pid"}
		return Facts{}, st
	}
	if r.last == nil {
		err := r.firstErr
		if err == nil {
			err = fmt.Errorf("%w: pid %d was never read", probe.ErrNoProcess, r.pid)
		}
		if errors.Is(err, probe.ErrNoProcess) {
			st[""] = probe.Status{State: probe.Unavailable, Reason: fmt.Sprintf("process %d does not exist", r.pid)}
		} else {
			st[""] = probe.StatusOf(err, fmt.Sprintf("/proc/%d", r.pid))
		}
		return Facts{PID: r.pid}, st
	}
	first, last := r.first, r.last
	f := Facts{
		PID:       r.pid,
		Name:      probe.Sanitize(last.status.Name),
		Cmdline:   probe.Sanitize(last.cmdline),
		State:     string(last.stat.State),
		Threads:   int(last.status.Threads),
		Exited:    r.ended,
		RSSBytes:  last.status.VmRSSKB * 1024,
		SwapBytes: last.status.VmSwapKB * 1024,
		TracerPID: int(last.status.TracerPID),
	}
	if f.Name == "" {
		f.Name = probe.Sanitize(last.stat.Comm)
	}
	st[""] = probe.Status{State: probe.OK}
	if r.ended {
		st[""] = probe.Status{State: probe.OK, Reason: "the process ended during the window; facts cover the part observed"}
	}
	if !last.status.HasRSS {
		st["rss_bytes"] = probe.Status{State: probe.Unavailable, Reason: "no VmRSS in /proc/PID/status (kernel thread or exiting)"}
		st["swap_bytes"] = st["rss_bytes"]
	}
	if last.fdErr != nil {
		st["open_fds"] = probe.StatusOf(last.fdErr, fmt.Sprintf("/proc/%d/fd", r.pid))
	} else {
		f.OpenFDs = last.fds
	}
	dt := last.at.Sub(first.at).Seconds()
	rates := []string{"cpu_pct", "user_pct", "system_pct", "runqueue_delay_pct", "blkio_delay_pct",
		"voluntary_ctx_switches_per_s", "involuntary_ctx_switches_per_s", "read_bytes_per_s",
		"write_bytes_per_s", "major_faults_per_s", "minor_faults_per_s"}
	if first == last || dt <= 0 {
		reason := "only one reading of the process"
		if r.ended {
			reason = "the process ended before a second reading"
		}
		for _, k := range rates {
			st[k] = probe.Status{State: probe.Unavailable, Reason: reason}
		}
		return f, st
	}
	f.WindowS = dt
	ticks := func(a, b uint64) float64 { return float64(delta(a, b, true)) / userHZ / dt * 100 }
	f.UserPct = ticks(first.stat.UTime, last.stat.UTime)
	f.SystemPct = ticks(first.stat.STime, last.stat.STime)
	f.CPUPct = f.UserPct + f.SystemPct
	f.RunqueueDelayPct = float64(r.waitNS) / 1e9 / dt * 100
	f.VoluntaryCtxSwitchesPerS = float64(r.vol) / dt
	f.InvoluntaryCtxSwitchesPerS = float64(r.invol) / dt
	f.MajorFaultsPerS = float64(delta(first.stat.MajFlt, last.stat.MajFlt, true)) / dt
	f.MinorFaultsPerS = float64(delta(first.stat.MinFlt, last.stat.MinFlt, true)) / dt
	switch {
	case r.delayErr != nil:
		st["blkio_delay_pct"] = probe.StatusOf(r.delayErr, "kernel.task_delayacct")
	case !r.delayOn:
		st["blkio_delay_pct"] = probe.Status{State: probe.Unavailable,
			Reason: "block-I/O delay accounting is off (kernel.task_delayacct=0)",
			Fix:    "sysctl -w kernel.task_delayacct=1 (counts only for tasks started afterwards) or boot with delayacct"}
	default:
		f.BlkioDelayPct = float64(r.blkio) / userHZ / dt * 100
	}
	if err := errors.Join(first.ioErr, last.ioErr); err != nil {
		s := probe.StatusOf(err, fmt.Sprintf("/proc/%d/io", r.pid))
		st["read_bytes_per_s"], st["write_bytes_per_s"] = s, s
	} else {
		f.ReadBytesPerS = float64(delta(first.io.ReadBytes, last.io.ReadBytes, true)) / dt
		f.WriteBytesPerS = float64(delta(first.io.WriteBytes, last.io.WriteBytes, true)) / dt
	}
	return f, st
}
