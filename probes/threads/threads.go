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
	"errors"
	"fmt"
	"io/fs"
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
