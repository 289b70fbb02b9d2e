// Package threads builds a target process's wait profile without ptrace:
// every Read samples each thread's state, wchan and current syscall
// (/proc/PID/task/TID/{stat,wchan,syscall}) and classes the sample as
// running, runnable, lock, disk, paging, network, poll, idle or other. The
// fd argument of a blocking read/write is resolved through /proc/PID/fd to
// tell a socket from a file or a pipe. Per-thread schedstat splits state R
// into running and runnable (waiting for a CPU) and counts wake-ups, which
// with the futex addresses threads wait on gives the lock-contention
// evidence.
//
// Cost: the files are kept open and re-read at offset 0 (probe.TaskFiles),
// about 13 µs of CPU per thread-sample in a real run on a lock convoy;
// wchan is read only where the syscall does not explain the wait (and for
// one display sample in four); a blocked thread that has not run since its
// last sample costs one schedstat read (about half that). The sampling
// rate adapts to the thread count so that a round of all threads stays
// within sampleBudgetPerS thread-samples per second.
package threads

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

const (
	// sampleBudgetPerS caps thread-samples per second (≈2.7 % of one CPU on a convoy, half on an idle pool).
	sampleBudgetPerS = 2000
	// relistEvery is how often the thread list is refreshed.
	relistEvery = 250 * time.Millisecond
	// maxThreadsPerRound caps how many threads one round reads; larger
	// processes are sampled in rotating slices.
	maxThreadsPerRound = 1000
	// wchanSubsample: one in this many samples whose syscall already
	// classifies the wait reads wchan (for display only).
	wchanSubsample = 4
	// topN is how many wchans/syscalls are listed.
	topN = 5
)

// Share is a name and its share of the blocked thread-samples.
type Share struct {
	Name string  `expr:"name" json:"name" doc:"wchan symbol or syscall name"`
	Pct  float64 `expr:"pct" json:"pct" doc:"share of all thread-samples, 0-100"`
}

// Facts is the thread wait profile over the window. The *_pct shares are
// of thread time (they add up to 100): running and runnable come from
// schedstat, blocked time is split by each thread's blocked samples. The
// *_threads values are the average number of threads in that class, which
// does not shrink when a process has many idle threads.
type Facts struct {
	Samples       int     `expr:"samples" json:"samples" doc:"sampling rounds taken over the window"`
	ThreadSamples int     `expr:"thread_samples" json:"thread_samples" doc:"thread-samples classified (rounds × threads)"`
	Threads       int     `expr:"threads" json:"threads" doc:"largest number of threads seen in a round"`
	SampleHz      float64 `expr:"sample_hz" json:"sample_hz" doc:"achieved sampling rounds per second (adapts to the thread count)"`

	RunningPct  float64 `expr:"running_pct" json:"running_pct" doc:"share of thread time on a CPU (schedstat run time)"`
	RunnablePct float64 `expr:"runnable_pct" json:"runnable_pct" doc:"share of thread time runnable but waiting for a CPU (schedstat run-queue wait: CPU starvation or cgroup throttling)"`
	LockPct     float64 `expr:"lock_pct" json:"lock_pct" doc:"share of thread time blocked in futex, flock or fcntl lock waits; parked idle threads count too, see contending_threads"`
	DiskPct     float64 `expr:"disk_pct" json:"disk_pct" doc:"share of thread time in disk waits (state D), fsync, direct I/O, reads of regular files"`
	PagingPct   float64 `expr:"paging_pct" json:"paging_pct" doc:"share of thread time in state D outside a syscall: major page faults (swap-in, mmap'ed files)"`
	NetworkPct  float64 `expr:"network_pct" json:"network_pct" doc:"share of thread time blocked on one socket: read/recv/send/connect (waiting on a peer)"`
	PollPct     float64 `expr:"poll_pct" json:"poll_pct" doc:"share of thread time waiting in epoll/poll/select/accept for any event (an idle event loop or server)"`
	IdlePct     float64 `expr:"idle_pct" json:"idle_pct" doc:"share of thread time sleeping: nanosleep, pause, pipes, ttys, waiting for children or signals"`
	OtherPct    float64 `expr:"other_pct" json:"other_pct" doc:"share of thread time in other waits (stopped, unknown wchan), or unclassifiable without permission"`

	RunningThreads  float64 `expr:"running_threads" json:"running_threads" doc:"average threads on a CPU"`
	RunnableThreads float64 `expr:"runnable_threads" json:"runnable_threads" doc:"average threads waiting for a CPU"`
	LockThreads     float64 `expr:"lock_threads" json:"lock_threads" doc:"average threads in lock (futex) waits"`
	DiskThreads     float64 `expr:"disk_threads" json:"disk_threads" doc:"average threads in disk waits"`
	PagingThreads   float64 `expr:"paging_threads" json:"paging_threads" doc:"average threads in major page faults"`
	NetworkThreads  float64 `expr:"network_threads" json:"network_threads" doc:"average threads blocked on a socket peer"`
	PollThreads     float64 `expr:"poll_threads" json:"poll_threads" doc:"average threads in epoll/poll/select/accept"`
	IdleThreads     float64 `expr:"idle_threads" json:"idle_threads" doc:"average threads sleeping"`

	MutexWaitPct        float64 `expr:"mutex_wait_pct" json:"mutex_wait_pct" doc:"share of thread-samples in futex waits shaped like a contended pthread mutex (FUTEX_WAIT val 2 or PI lock); JVM monitors do not show this shape"`
	SameFutexWaitersAvg float64 `expr:"same_futex_waiters_avg" json:"same_futex_waiters_avg" doc:"average over rounds of the largest number of threads waiting on the same futex address (a contended mutex); JVM monitors park on per-thread addresses"`
	SameFutexWaitersMax int     `expr:"same_futex_waiters_max" json:"same_futex_waiters_max" doc:"largest number of threads seen waiting on one futex address in a round"`
	SameFutexAddr       string  `expr:"same_futex_addr" json:"same_futex_addr" doc:"the futex address most threads waited on (display only)"`
	LockWakeupsPerS     float64 `expr:"lock_wakeups_per_s" json:"lock_wakeups_per_s" doc:"wake/re-block churn: times per second threads that spend >=30% of samples in lock waits were scheduled in (schedstat)"`
	ContendingThreads   int     `expr:"contending_threads" json:"contending_threads" doc:"threads that spent >=30% of samples in lock waits, ran >=0.5% of the window and woke >=10 times/s: workers waiting on each other, not parked idle threads"`

	JVMBlockedThreads    int    `expr:"jvm_blocked_threads" json:"jvm_blocked_threads" doc:"threads BLOCKED (on object monitor) in a jcmd Thread.print taken right after the window (--jcmd, JVMs only)"`
	JVMTopMonitor        string `expr:"jvm_top_monitor" json:"jvm_top_monitor" doc:"the monitor most BLOCKED threads wait to lock, as the dump prints it (display)"`
	JVMTopMonitorWaiters int    `expr:"jvm_top_monitor_waiters" json:"jvm_top_monitor_waiters" doc:"threads waiting to lock that monitor"`
	JVMBlockedAt         string `expr:"jvm_blocked_at" json:"jvm_blocked_at" doc:"top frame of a thread waiting for that monitor (display)"`
	JVMMonitorHolder     string `expr:"jvm_monitor_holder" json:"jvm_monitor_holder" doc:"thread that holds that monitor in the dump (display)"`

	TopWchans   []Share `expr:"top_wchans" json:"top_wchans" doc:"most frequent kernel wait functions of blocked samples (display; where the syscall already tells the wait, estimated from one sample in four)"`
	TopSyscalls []Share `expr:"top_syscalls" json:"top_syscalls" doc:"most frequent syscalls of blocked samples (display)"`

	// Processes is the profile per process, busiest first: what names the
	// processes behind a container's finding.
	Processes []ProcessWaits `expr:"processes" json:"processes" doc:"the wait profile per process, busiest (threads not idle or polling) first: one for --pid, every process of a container (whose facts above are their sums)"`
}

// ProcessWaits is one process's average threads per class.
type ProcessWaits struct {
	PID               int     `expr:"pid" json:"pid" doc:"process id"`
	Name              string  `expr:"name" json:"name" doc:"process name (comm)"`
	RunningThreads    float64 `expr:"running_threads" json:"running_threads" doc:"average threads on a CPU"`
	RunnableThreads   float64 `expr:"runnable_threads" json:"runnable_threads" doc:"average threads waiting for a CPU"`
	LockThreads       float64 `expr:"lock_threads" json:"lock_threads" doc:"average threads in lock waits"`
	DiskThreads       float64 `expr:"disk_threads" json:"disk_threads" doc:"average threads in disk waits"`
	PagingThreads     float64 `expr:"paging_threads" json:"paging_threads" doc:"average threads in major page faults"`
	NetworkThreads    float64 `expr:"network_threads" json:"network_threads" doc:"average threads blocked on a socket peer"`
	PollThreads       float64 `expr:"poll_threads" json:"poll_threads" doc:"average threads in epoll/poll/select/accept"`
	ContendingThreads int     `expr:"contending_threads" json:"contending_threads" doc:"threads waiting on locks that run and keep waking"`
}

// busy is the threads doing or waiting for work: not idle, not polling.
func (p ProcessWaits) busy() float64 {
	return p.RunningThreads + p.RunnableThreads + p.LockThreads + p.DiskThreads + p.PagingThreads + p.NetworkThreads
}

// The per-thread files, in TaskFiles order.
const (
	fileStat = iota
	fileWchan
	fileSyscall
	fileSchedstat
)

// threadAcc accumulates one thread over the window.
type threadAcc struct {
	samples, lock   int
	cls             [numClasses]int // samples per class
	first, last     probe.Schedstat
	firstAt, lastAt time.Time
	hasFirst        bool
	hasLast         bool
	held            sample // the last sample
	blocked         bool   // it found the thread blocked (S or D)
}

type reader struct {
	pid     int
	comm    string       // read at the first round
	budget  float64      // thread-samples per second, shared by a container's processes
	jcmd    bool         // --jcmd: a thread dump may be taken after the window
	run     probe.Runner // from the first reading
	isJVM   bool
	root    string
	files   *probe.TaskFiles // nil until the first round
	next    time.Time        // earliest time of the next round (rate adaptation)
	firstAt time.Time
	lastAt  time.Time
	offset  int // rotation for processes above maxThreadsPerRound
	// tids is the last listing of the threads, taken at listedAt
	tids     []int
	listedAt time.Time

	rounds, samples, maxThreads int
	counts                      [numClasses]int
	mutexWaits                  int
	sameSum                     int
	sameMax                     int
	sameAddr                    uint64
	wchans, syscalls            map[string]int
	acc                         map[int]*threadAcc

	firstErr      error
	ended         bool
	dump          []byte // jcmd Thread.print's output, after the window
	dumpErr       error
	dumped        bool
	reused        int   // thread-samples that reused a blocked thread's last sample
	syscallOK     int   // syscall files read
	syscallFails  int   // syscall files that could not be read
	syscallErr    error // the last such error
	blockedSeen   int   // S/D samples with stat field 35 present
	wchanFlagSeen int   // of those, with field 35 == 1 (wchan readable)
}

// New returns a reader for one run over t.PID.
func New(t probe.Target, o probe.Options) probe.Reader {
	return &reader{pid: t.PID, jcmd: o.JCMD, budget: sampleBudgetPerS / float64(max(1, len(t.PIDs))),
		wchans: map[string]int{}, syscalls: map[string]int{}, acc: map[int]*threadAcc{}}
}

func (r *reader) Read(ctx context.Context, h probe.Host) {
	if r.pid <= 0 || r.ended {
		return
	}
	if r.files == nil || h.Root != r.root {
		r.files.Close()
		r.files = probe.NewTaskFiles(h, r.pid, 4096, "stat", "wchan", "syscall", "schedstat")
		r.root = h.Root
	}
	if r.rounds > 0 && h.Now.Before(r.next) {
		return
	}
	tids, err := r.taskIDs(h)
	if err != nil {
		if r.rounds > 0 {
			r.ended = true
		} else if r.firstErr == nil {
			r.firstErr = err
		}
		return
	}
	if len(tids) > maxThreadsPerRound {
		start := r.offset % len(tids)
		tids = append(append([]int(nil), tids[start:]...), tids[:start]...)[:maxThreadsPerRound]
		r.offset += maxThreadsPerRound
	}
	fdCache := map[int]fdKind{}
	kind := func(fd int) fdKind {
		if k, ok := fdCache[fd]; ok {
			return k
		}
		link, err := h.Readlink("proc", strconv.Itoa(r.pid), "fd", strconv.Itoa(fd))
		k := fdUnknown
		if err == nil {
			k = kindOfLink(link)
		}
		fdCache[fd] = k
		return k
	}
	futexGroups := map[uint64]int{}
	seen := 0
	live := map[int]bool{}
	for _, tid := range tids {
		sched, schedErr := r.schedstat(tid)
		a := r.acc[tid]
		var smp sample
		if a != nil && a.blocked && schedErr == nil && sched.RunNS == a.last.RunNS && sched.Slices == a.last.Slices {
			smp = r.reuse(tid, a)
			live[tid] = true
		} else {
			var alive bool
			if smp, alive = r.observe(tid, kind); alive {
				live[tid] = true
			}
			if smp.state == 0 {
				continue // gone, or a zombie: no longer part of the profile
			}
		}
		c := classify(smp.state, smp.wchan, smp.sc, kind)
		r.counts[c]++
		seen++
		if a == nil {
			a = &threadAcc{}
			r.acc[tid] = a
		}
		a.samples++
		a.cls[c]++
		a.blocked = smp.state == 'S' || smp.state == 'D'
		a.held = smp
		if c == clsLock {
			a.lock++
			if addr, mutex, ok := futexWait(smp.sc); ok {
				futexGroups[addr]++
				if mutex {
					r.mutexWaits++
				}
			}
		}
		if a.blocked {
			if smp.wchan != "" && smp.wchan != "0" {
				r.wchans[smp.wchan] += smp.wchanWeight
			}
			if sc := smp.sc; sc != nil && !sc.Running && !sc.Outside {
				r.syscalls[syscallName(sc.Nr)]++
			} else if sc != nil && sc.Outside {
				r.syscalls["(page fault)"]++
			}
		}
		if schedErr == nil {
			if !a.hasFirst {
				a.first, a.firstAt, a.hasFirst = sched, h.Now, true
			}
			a.last, a.lastAt, a.hasLast = sched, h.Now, true
		}
	}
	r.files.Prune(live)
	if seen == 0 {
		if r.rounds > 0 {
			r.ended = true
		}
		return
	}
	best, bestAddr := 0, uint64(0)
	for addr, n := range futexGroups {
		if n > best || n == best && addr < bestAddr {
			best, bestAddr = n, addr
		}
	}
	r.sameSum += best
	if best > r.sameMax {
		r.sameMax, r.sameAddr = best, bestAddr
	}
	if r.rounds == 0 {
		r.firstAt = h.Now
		r.run = h.Run
		r.isJVM = isJVM(h, r.pid)
		if b, err := h.ReadFile("proc", strconv.Itoa(r.pid), "comm"); err == nil {
			r.comm = probe.Sanitize(strings.TrimSpace(string(b)))
		}
	}
	r.lastAt = h.Now
	r.rounds++
	r.samples += seen
	r.maxThreads = max(r.maxThreads, seen)
	// Adapt: a round of n threads may come at most every n/budget seconds.
	r.next = h.Now.Add(time.Duration(float64(seen) / r.budget * float64(time.Second)))
}

// sample is one thread's state at one round.
type sample struct {
	state       byte   // 0: the thread is gone or a zombie
	sc          *sysc  // nil when unreadable
	wchan       string // "" when not read
	wchanWeight int    // thread-samples this wchan reading stands for in top_wchans
	needWchan   bool   // the syscall does not explain the wait: wchan classifies it
}

// reuse returns the last sample of a blocked thread that has not been
// scheduled in since: it is still in that wait (or woken and not yet on a
// CPU, which its schedstat run-queue time accounts for), so stat, syscall
// and wchan would read the same. An idle thread pool costs one read per
// thread. Only a display sample may read wchan, once per wait.
func (r *reader) reuse(tid int, a *threadAcc) sample {
	r.reused++
	smp := &a.held
	if smp.needWchan {
		return *smp
	}
	smp.wchanWeight = 0
	if (tid+r.rounds)%wchanSubsample == 0 {
		if smp.wchan == "" {
			smp.wchan = r.readWchan(tid)
		}
		smp.wchanWeight = wchanSubsample
	}
	return *smp
}

// observe reads a thread's stat and, when it is blocked, its syscall and
// wchan. alive says whether its files are still there (a zombie's are).
func (r *reader) observe(tid int, kind func(fd int) fdKind) (smp sample, alive bool) {
	b, err := r.files.Read(tid, fileStat)
	if err != nil {
		r.files.Drop(tid)
		return smp, false
	}
	ts, err := parseTaskStat(b)
	if err != nil {
		return smp, true
	}
	if ts.State == 'Z' || ts.State == 'X' {
		return smp, true // exited, not yet reaped
	}
	smp.state = ts.State
	if ts.State != 'S' && ts.State != 'D' {
		return smp, true
	}
	if ts.HasField {
		r.blockedSeen++
		if ts.WchanSet {
			r.wchanFlagSeen++
		}
	}
	if r.syscallOK > 0 || r.syscallFails < 10 {
		b, err := r.files.Read(tid, fileSyscall)
		switch {
		case err != nil:
			r.syscallFails++
			r.syscallErr = err
		default:
			r.syscallOK++
			if s, err := parseSyscall(b); err == nil {
				smp.sc = &s
			}
		}
	}
	// wchan classifies a wait its syscall does not explain; where the
	// syscall does, it is only shown (top_wchans), so a rotating quarter
	// of those samples is read and each stands for four.
	sc := smp.sc
	switch {
	case sc == nil || sc.Running || sc.Outside || !explains(sc, kind):
		smp.needWchan, smp.wchanWeight = true, 1
	case (tid+r.rounds)%wchanSubsample == 0:
		smp.wchanWeight = wchanSubsample
	}
	if smp.wchanWeight > 0 {
		smp.wchan = r.readWchan(tid)
	}
	return smp, true
}

func (r *reader) readWchan(tid int) string {
	b, err := r.files.Read(tid, fileWchan)
	if err != nil {
		return ""
	}
	return stripWchan(string(b))
}

func (r *reader) schedstat(tid int) (probe.Schedstat, error) {
	b, err := r.files.Read(tid, fileSchedstat)
	if err != nil {
		return probe.Schedstat{}, err
	}
	return probe.ParseSchedstat(b)
}

// taskIDs lists the process's threads, sorted, at most every relistEvery:
// in between, threads that ended fail their reads and new ones wait for the
// next listing (listing 200 threads costs as much as sampling 30 of them).
func (r *reader) taskIDs(h probe.Host) ([]int, error) {
	if r.tids != nil && h.Now.Sub(r.listedAt) < relistEvery {
		return r.tids, nil
	}
	names, err := h.DirNames(probe.MaxThreads, "proc", strconv.Itoa(r.pid), "task")
	if err != nil {
		return nil, err
	}
	tids := make([]int, 0, len(names))
	for _, n := range names {
		if tid, err := strconv.Atoi(n); err == nil {
			tids = append(tids, tid)
		}
	}
	if len(tids) == 0 {
		return nil, fmt.Errorf("%w: no threads", probe.ErrNoProcess)
	}
	sort.Ints(tids)
	r.tids, r.listedAt = tids, h.Now
	return tids, nil
}

// NextRead is when the next round may come (probe.Pacer).
func (r *reader) NextRead() time.Time { return r.next }

var shareFields = []string{"lock_pct", "network_pct", "poll_pct", "idle_pct", "other_pct",
	"lock_threads", "network_threads", "poll_threads", "idle_threads",
	"mutex_wait_pct", "same_futex_waiters_avg", "same_futex_waiters_max", "lock_wakeups_per_s",
	"contending_threads", "top_wchans", "top_syscalls"}

func (r *reader) Finish() (any, probe.Statuses) {
	f, st := r.finish()
	if st[""].State == probe.OK {
		f.Processes = []ProcessWaits{{PID: r.pid, Name: r.comm, RunningThreads: f.RunningThreads, RunnableThreads: f.RunnableThreads,
			LockThreads: f.LockThreads, DiskThreads: f.DiskThreads, PagingThreads: f.PagingThreads, NetworkThreads: f.NetworkThreads,
			PollThreads: f.PollThreads, ContendingThreads: f.ContendingThreads}}
	}
	return f, st
}

func (r *reader) finish() (Facts, probe.Statuses) {
	r.files.Close()
	st := probe.Statuses{}
	if r.pid <= 0 {
		st[""] = probe.Status{State: probe.Unavailable, Reason: "no target process", Fix: "pass --pid"}
		return Facts{}, st
	}
	if r.rounds == 0 {
		err := r.firstErr
		if err == nil || errors.Is(err, fs.ErrNotExist) || errors.Is(err, probe.ErrNoProcess) {
			st[""] = probe.Status{State: probe.Unavailable, Reason: fmt.Sprintf("process %d does not exist", r.pid)}
		} else {
			st[""] = probe.StatusOf(err, fmt.Sprintf("/proc/%d/task", r.pid))
		}
		return Facts{}, st
	}
	st[""] = probe.Status{State: probe.OK}
	if r.ended {
		st[""] = probe.Status{State: probe.OK, Reason: "the process ended during the window; the profile covers the part observed"}
	}
	n := float64(r.samples)
	f := Facts{Samples: r.rounds, ThreadSamples: r.samples, Threads: r.maxThreads}
	dt := r.lastAt.Sub(r.firstAt).Seconds()
	if dt > 0 && r.rounds > 1 {
		f.SampleHz = probe.Round2(float64(r.rounds-1) / dt)
	}
	span, wakeups := r.shares(&f, n, dt)
	f.MutexWaitPct = probe.Round2(float64(r.mutexWaits) / n * 100)
	f.SameFutexWaitersAvg = probe.Round2(float64(r.sameSum) / float64(r.rounds))
	f.SameFutexWaitersMax = r.sameMax
	if r.sameMax > 0 {
		f.SameFutexAddr = fmt.Sprintf("0x%x", r.sameAddr)
	}
	if span > 0 && dt > 0 {
		f.LockWakeupsPerS = probe.Round2(wakeups / dt)
	} else {
		st["lock_wakeups_per_s"] = probe.Status{State: probe.Unavailable, Reason: "only one sampling round"}
		st["contending_threads"] = st["lock_wakeups_per_s"]
		st["runnable_pct"] = probe.Status{State: probe.Unavailable, Reason: "only one sampling round: running and runnable cannot be told apart"}
		st["runnable_threads"] = st["runnable_pct"]
	}
	r.jvmEvidence(&f, st)
	f.TopWchans = top(r.wchans, n)
	f.TopSyscalls = top(r.syscalls, n)

	r.hideUnreadable(&f, st)
	return f, st
}

var jvmFields = []string{"jvm_blocked_threads", "jvm_top_monitor", "jvm_top_monitor_waiters", "jvm_blocked_at", "jvm_monitor_holder"}

// isJVM says whether the target runs a JVM launcher (java).
func isJVM(h probe.Host, pid int) bool {
	b, err := h.ReadFile("proc", strconv.Itoa(pid), "cmdline")
	if err != nil {
		return false
	}
	argv0, _, _ := strings.Cut(string(b), "\x00")
	return filepath.Base(argv0) == "java"
}

// AfterWindow takes a jcmd thread dump of a JVM (--jcmd) right after the
// window, never during it: jcmd attaches, and a safepoint pauses every Java
// thread.
func (r *reader) AfterWindow(ctx context.Context, _ probe.Host) {
	if !r.isJVM || !r.jcmd || r.run == nil || r.ended {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	r.dump, r.dumpErr = r.run(ctx, "jcmd", strconv.Itoa(r.pid), "Thread.print")
	r.dumped = true
}

// jvmEvidence reads the thread dump taken after the window.
func (r *reader) jvmEvidence(f *Facts, st probe.Statuses) {
	set := func(s probe.Status) {
		for _, k := range jvmFields {
			st[k] = s
		}
	}
	switch {
	case !r.isJVM:
		set(probe.Status{State: probe.Unavailable, Reason: "the target is not a JVM"})
		return
	case !r.jcmd:
		set(probe.Status{State: probe.Unavailable, Reason: "no thread dump: jcmd was not allowed",
			Fix: "pass --jcmd (jcmd attaches: the JVM starts a listener and pauses briefly for the dump)"})
		return
	case r.run == nil || r.ended:
		set(probe.Status{State: probe.Unavailable, Reason: "jcmd cannot be run here (or the process ended)"})
		return
	case !r.dumped:
		set(probe.Status{State: probe.Unavailable, Reason: probe.CutByTimeout, Fix: "raise --timeout"})
		return
	}
	out, err := r.dump, r.dumpErr
	d, perr := parseThreadDump(out)
	if perr != nil {
		reason := strings.TrimSpace(string(out))
		if i := strings.IndexByte(reason, '\n'); i >= 0 {
			reason = reason[:i]
		}
		switch {
		case errors.Is(err, fs.ErrNotExist) || strings.Contains(reason, "executable file not found"):
			set(probe.Status{State: probe.Unavailable, Reason: "jcmd is not installed", Fix: "install the JDK (openjdk-17-jdk-headless) that matches the JVM"})
		default:
			set(probe.Status{State: probe.Unavailable, Reason: "jcmd Thread.print failed: " + probe.Truncate(reason)})
		}
		return
	}
	f.JVMBlockedThreads = d.Blocked
	f.JVMTopMonitor = probe.Sanitize(d.TopMonitor)
	f.JVMTopMonitorWaiters = d.TopWaiters
	f.JVMBlockedAt = probe.Sanitize(d.BlockedAt)
	f.JVMMonitorHolder = probe.Sanitize(d.Holder)
}

func top(m map[string]int, n float64) []Share {
	out := make([]Share, 0, len(m))
	for k, v := range m {
		// min: subsampled wchan counts are estimates and may overshoot.
		out = append(out, Share{Name: probe.Sanitize(k), Pct: min(100, probe.Round2(float64(v)/n*100))})
	}
	return rank(out)
}

// rank orders shares, largest first, and keeps the top ones.
func rank(out []Share) []Share {
	sort.Slice(out, func(i, j int) bool {
		if out[i].Pct != out[j].Pct {
			return out[i].Pct > out[j].Pct
		}
		return out[i].Name < out[j].Name
	})
	if len(out) > topN {
		out = out[:topN]
	}
	return out
}

// shares splits thread time into the classes (f's *_pct and *_threads)
// over the window dt, from n thread-samples; it returns the summed thread
// span and the lock wake-ups.
func (r *reader) shares(f *Facts, n, dt float64) (span, wakeups float64) {
	// Thread-time per class: running and runnable come exactly from
	// schedstat; the rest of each thread's span is blocked time, split by
	// that thread's blocked samples (sampling alone over-counts R for
	// threads that block and wake thousands of times a second).
	var tm [numClasses + 1]float64 // + runnable at index numClasses
	const runnable = int(numClasses)
	var pending float64
	for _, a := range r.acc {
		if !a.hasFirst || !a.hasLast || !a.lastAt.After(a.firstAt) {
			continue
		}
		sp := a.lastAt.Sub(a.firstAt).Seconds()
		dr := float64(a.last.RunNS-min(a.first.RunNS, a.last.RunNS)) / 1e9
		dw := float64(a.last.WaitNS-min(a.first.WaitNS, a.last.WaitNS)) / 1e9
		if dr+dw > sp { // reading skew: scale into the span
			k := sp / (dr + dw)
			dr, dw = dr*k, dw*k
		}
		span += sp
		tm[clsRunning] += dr
		tm[runnable] += dw
		blocked := sp - dr - dw
		nb := a.samples - a.cls[clsRunning]
		if nb > 0 {
			for c := clsLock; c < numClasses; c++ {
				tm[c] += blocked * float64(a.cls[c]) / float64(nb)
			}
		} else {
			pending += blocked
		}
		if a.samples > 0 && float64(a.lock)/float64(a.samples) >= 0.3 {
			ds := float64(a.last.Slices - min(a.first.Slices, a.last.Slices))
			wakeups += ds
			if dr/sp >= 0.005 && ds/sp >= 10 {
				f.ContendingThreads++
			}
		}
	}
	if span > 0 {
		// Blocked time of threads never caught blocked: spread like the rest.
		var tb float64
		for c := clsLock; c < numClasses; c++ {
			tb += tm[c]
		}
		if tb > 0 {
			for c := clsLock; c < numClasses; c++ {
				tm[c] += pending * tm[c] / tb
			}
		} else {
			tm[clsOther] += pending
		}
		pct := func(c int) float64 { return probe.Round2(tm[c] / span * 100) }
		f.RunningPct = pct(int(clsRunning))
		f.RunnablePct = pct(runnable)
		f.LockPct = pct(int(clsLock))
		f.DiskPct = pct(int(clsDisk))
		f.PagingPct = pct(int(clsPaging))
		f.NetworkPct = pct(int(clsNetwork))
		f.PollPct = pct(int(clsPoll))
		f.IdlePct = pct(int(clsIdle))
		f.OtherPct = probe.Round2((tm[clsOther] + tm[clsUnknown]) / span * 100)
		th := func(c int) float64 { return probe.Round2(tm[c] / dt) }
		f.RunningThreads = th(int(clsRunning))
		f.RunnableThreads = th(runnable)
		f.LockThreads = th(int(clsLock))
		f.DiskThreads = th(int(clsDisk))
		f.PagingThreads = th(int(clsPaging))
		f.NetworkThreads = th(int(clsNetwork))
		f.PollThreads = th(int(clsPoll))
		f.IdleThreads = th(int(clsIdle))
	} else {
		// One round: shares of the samples; R cannot be split.
		pct := func(c class) float64 { return probe.Round2(float64(r.counts[c]) / n * 100) }
		f.RunningPct = pct(clsRunning)
		f.LockPct = pct(clsLock)
		f.DiskPct = pct(clsDisk)
		f.PagingPct = pct(clsPaging)
		f.NetworkPct = pct(clsNetwork)
		f.PollPct = pct(clsPoll)
		f.IdlePct = pct(clsIdle)
		f.OtherPct = probe.Round2(float64(r.counts[clsOther]+r.counts[clsUnknown]) / n * 100)
		avg := n / float64(r.rounds)
		f.RunningThreads = probe.Round2(f.RunningPct / 100 * avg)
		f.LockThreads = probe.Round2(f.LockPct / 100 * avg)
		f.DiskThreads = probe.Round2(f.DiskPct / 100 * avg)
		f.PagingThreads = probe.Round2(f.PagingPct / 100 * avg)
		f.NetworkThreads = probe.Round2(f.NetworkPct / 100 * avg)
		f.PollThreads = probe.Round2(f.PollPct / 100 * avg)
		f.IdleThreads = probe.Round2(f.IdlePct / 100 * avg)
	}
	return span, wakeups
}

// hideUnreadable blanks what permissions kept from being read (wchan
// without ptrace-read, syscall without ptrace-attach), with the fix.
func (r *reader) hideUnreadable(f *Facts, st probe.Statuses) {
	wchanHidden := r.blockedSeen > 0 && r.wchanFlagSeen == 0
	if wchanHidden {
		st["top_wchans"] = probe.Status{State: probe.Unavailable,
			Reason: "wchan reads as 0 without ptrace-read permission on the target", Fix: "run as root or as the target's user"}
		f.TopWchans = nil
	}
	syscallDenied := r.syscallOK == 0 && r.syscallFails > 0
	if syscallDenied {
		st["top_syscalls"] = probe.Status{State: probe.Unavailable,
			Reason: "/proc/PID/task/TID/syscall: permission denied (needs ptrace-attach permission)", Fix: probe.PtraceFix}
		if !errors.Is(r.syscallErr, fs.ErrPermission) {
			st["top_syscalls"] = probe.Status{State: probe.Unavailable,
				Reason: fmt.Sprintf("/proc/PID/task/TID/syscall cannot be read: %v", r.syscallErr)}
		}
		st["mutex_wait_pct"] = st["top_syscalls"]
		st["same_futex_waiters_avg"] = st["top_syscalls"]
		st["same_futex_waiters_max"] = st["top_syscalls"]
		f.TopSyscalls = nil
		f.MutexWaitPct, f.SameFutexWaitersAvg, f.SameFutexWaitersMax, f.SameFutexAddr = 0, 0, 0, ""
	}
	if wchanHidden && syscallDenied {
		s := probe.Status{State: probe.Unavailable,
			Reason: "blocked threads cannot be classified: wchan reads 0 and syscall is unreadable without ptrace permission",
			Fix:    probe.PtraceFix}
		for _, k := range shareFields {
			st[k] = s
		}
		f.LockPct, f.NetworkPct, f.PollPct, f.IdlePct = 0, 0, 0, 0
		f.LockThreads, f.NetworkThreads, f.PollThreads, f.IdleThreads = 0, 0, 0, 0
		f.LockWakeupsPerS, f.ContendingThreads = 0, 0
	}
}
