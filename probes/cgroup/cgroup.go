// Package cgroup reads the target's cgroup: memory limit, usage, peak, OOM
// events and kills, the memory.stat breakdown, CPU quota and throttling, the
// processes in it with their OOM scores, and the vm.* overcommit settings.
//
// The target is Target.Cgroup (a directory under /sys/fs/cgroup or the path
// /proc/PID/cgroup shows), else Target.PID's cgroup, else the calling
// process's own (/proc/self/cgroup). cgroup v2, v1 and hybrid (v1
// controllers + a controller-less v2 tree) are handled; see
// ../../docs/probes-memory-limits.md for every file, unit and sentinel.
//
//	v2: memory.max memory.high memory.current memory.peak memory.events memory.stat
//	    cpu.max cpu.stat (usage_usec nr_periods nr_throttled throttled_usec)
//	v1: memory.limit_in_bytes memory.usage_in_bytes memory.max_usage_in_bytes
//	    memory.failcnt memory.oom_control memory.stat memory.kmem.usage_in_bytes
//	    cpu.cfs_quota_us cpu.cfs_period_us cpu.stat (throttled_time in ns) cpuacct.usage (ns)
//	    cgroup.procs; /proc/PID/{status,oom_score,oom_score_adj}; /proc/sys/vm/*
package cgroup

import (
	"context"
	"errors"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

// Facts is the target's cgroup over the window.
type Facts struct {
	Version   int    `expr:"version" json:"version" doc:"cgroup version of the controllers: 0 none, 1 (v1 or hybrid), 2 (unified)"`
	Hybrid    bool   `expr:"hybrid" json:"hybrid" doc:"v1 controllers plus a controller-less v2 tree (systemd hybrid layout)"`
	Path      string `expr:"path" json:"path" doc:"cgroup path as /proc/PID/cgroup and the kernel OOM log print it (v1: the memory hierarchy's)"`
	MemoryDir string `expr:"memory_dir" json:"memory_dir" doc:"directory the memory facts were read from"`

	MemoryLimited         bool       `expr:"memory_limited" json:"memory_limited" doc:"a memory limit applies to the cgroup (its own or an ancestor's)"`
	MemoryLimitBytes      uint64     `expr:"memory_limit_bytes" json:"memory_limit_bytes" doc:"effective memory limit in bytes (smallest of the cgroup and its ancestors), 0 when unlimited"`
	MemoryHighBytes       uint64     `expr:"memory_high_bytes" json:"memory_high_bytes" doc:"v2 memory.high throttle limit in bytes (reclaims and slows, never OOM-kills), 0 when not set"`
	MemoryUsageBytes      uint64     `expr:"memory_usage_bytes" json:"memory_usage_bytes" doc:"memory charged to the cgroup at the last reading, bytes (incl. page cache)"`
	MemoryWorkingSetBytes uint64     `expr:"memory_working_set_bytes" json:"memory_working_set_bytes" doc:"usage minus inactive file cache, bytes (kubelet's working set)"`
	MemoryPeakBytes       uint64     `expr:"memory_peak_bytes" json:"memory_peak_bytes" doc:"highest usage the kernel recorded since creation or reset, bytes"`
	MemoryUsageRatio      float64    `expr:"memory_usage_ratio" json:"memory_usage_ratio" doc:"usage divided by the limit, 0..1+, 0 when unlimited"`
	MemoryWorkingSetRatio float64    `expr:"memory_working_set_ratio" json:"memory_working_set_ratio" doc:"working set divided by the limit, 0 when unlimited"`
	MemoryPeakRatio       float64    `expr:"memory_peak_ratio" json:"memory_peak_ratio" doc:"peak usage divided by the limit, 0 when unlimited"`
	MemoryLimitHits       uint64     `expr:"memory_limit_hits" json:"memory_limit_hits" doc:"times usage hit the limit and reclaim was forced (v1 memory.failcnt, v2 memory.events max)"`
	OOMEvents             uint64     `expr:"oom_events" json:"oom_events" doc:"times the cgroup reached its limit with reclaim failing (v2 memory.events oom); unavailable on v1"`
	OOMKills              uint64     `expr:"oom_kills" json:"oom_kills" doc:"processes killed by the OOM killer in this cgroup since it was created (v2 memory.events oom_kill, v1 memory.oom_control oom_kill)"`
	OOMKillsInWindow      uint64     `expr:"oom_kills_in_window" json:"oom_kills_in_window" doc:"OOM kills counted between the first and the last reading"`
	UnderOOM              bool       `expr:"under_oom" json:"under_oom" doc:"v1: the cgroup is out of memory right now (memory.oom_control under_oom)"`
	OOMKillDisabled       bool       `expr:"oom_kill_disabled" json:"oom_kill_disabled" doc:"v1: the OOM killer is disabled for this cgroup; tasks hang at the limit instead"`
	MemoryStat            MemoryStat `expr:"memory_stat" json:"memory_stat" doc:"memory.stat breakdown at the last reading"`

	CPULimited             bool    `expr:"cpu_limited" json:"cpu_limited" doc:"a CFS CPU quota applies (this cgroup or an ancestor)"`
	CPUQuotaCores          float64 `expr:"cpu_quota_cores" json:"cpu_quota_cores" doc:"CFS quota in CPUs (quota/period), 0 when unlimited"`
	CPUUsageCores          float64 `expr:"cpu_usage_cores" json:"cpu_usage_cores" doc:"CPU time used by the cgroup per wall second over the window, in CPUs"`
	CPUThrottledPeriodsPct float64 `expr:"cpu_throttled_periods_pct" json:"cpu_throttled_periods_pct" doc:"share of CFS periods over the window in which the cgroup was throttled, 0-100"`
	CPUThrottledSPerS      float64 `expr:"cpu_throttled_s_per_s" json:"cpu_throttled_s_per_s" doc:"throttled time per wall second over the window, summed over per-CPU run queues (can exceed 1)"`

	ProcessCount    int       `expr:"process_count" json:"process_count" doc:"processes in the cgroup and its descendants at the last reading"`
	Processes       []Process `expr:"processes" json:"processes" doc:"processes in the cgroup, largest RSS first (at most 100)"`
	Largest         Process   `expr:"largest" json:"largest" doc:"the process with the largest RSS"`
	UnkillableCount int       `expr:"unkillable_count" json:"unkillable_count" doc:"processes the OOM killer may never pick (oom_score_adj -1000)"`
	Unkillable      Process   `expr:"unkillable" json:"unkillable" doc:"the largest process with oom_score_adj -1000 (empty when none)"`

	VM VM `expr:"vm" json:"vm" doc:"system-wide overcommit and OOM-killer settings (/proc/sys/vm)"`
}

// MemoryStat is the memory.stat breakdown in bytes (v1 keys mapped to v2 meaning; hierarchical on v1).
type MemoryStat struct {
	AnonBytes         uint64 `expr:"anon_bytes" json:"anon_bytes" doc:"anonymous memory (heaps, stacks, malloc), bytes (v2 anon, v1 total_rss)"`
	FileBytes         uint64 `expr:"file_bytes" json:"file_bytes" doc:"page cache, bytes (v2 file, v1 total_cache)"`
	InactiveFileBytes uint64 `expr:"inactive_file_bytes" json:"inactive_file_bytes" doc:"inactive (easily reclaimed) page cache, bytes"`
	KernelBytes       uint64 `expr:"kernel_bytes" json:"kernel_bytes" doc:"kernel memory charged to the cgroup (slab, stacks, page tables), bytes"`
	SlabBytes         uint64 `expr:"slab_bytes" json:"slab_bytes" doc:"kernel slab memory, bytes (v2 slab)"`
	SockBytes         uint64 `expr:"sock_bytes" json:"sock_bytes" doc:"network socket buffers, bytes (v2 sock, v1 kmem.tcp usage)"`
	ShmemBytes        uint64 `expr:"shmem_bytes" json:"shmem_bytes" doc:"shared memory and tmpfs files, bytes (cannot be reclaimed without swap)"`
	SwapBytes         uint64 `expr:"swap_bytes" json:"swap_bytes" doc:"swap used by the cgroup, bytes"`
	PgMajFault        uint64 `expr:"pgmajfault" json:"pgmajfault" doc:"major page faults in the cgroup since creation"`
}

// Process is one member of the cgroup.
type Process struct {
	PID         int    `expr:"pid" json:"pid" doc:"process id"`
	Name        string `expr:"name" json:"name" doc:"process name (comm)"`
	RSSBytes    uint64 `expr:"rss_bytes" json:"rss_bytes" doc:"resident set size, bytes"`
	OOMScore    int    `expr:"oom_score" json:"oom_score" doc:"the OOM killer's badness score (0-2000, highest is killed first)"`
	OOMScoreAdj int    `expr:"oom_score_adj" json:"oom_score_adj" doc:"oom_score_adj: -1000 never killed .. 1000 killed first"`
	QOSClass    string `expr:"qos_class" json:"qos_class" doc:"Kubernetes QoS class the oom_score_adj implies: Guaranteed (-997), BestEffort (1000), Burstable (2..999), system (-999/-998, kubelet/runtime/pause), empty for values kubelet never sets"`
}

// VM is the system-wide overcommit and OOM settings.
type VM struct {
	OvercommitMemory      int `expr:"overcommit_memory" json:"overcommit_memory" doc:"vm.overcommit_memory: 0 heuristic, 1 always allow, 2 strict (commit limit; malloc/mmap fail instead of OOM kills)"`
	OvercommitRatio       int `expr:"overcommit_ratio" json:"overcommit_ratio" doc:"vm.overcommit_ratio: percent of RAM counted in the mode-2 commit limit"`
	PanicOnOOM            int `expr:"panic_on_oom" json:"panic_on_oom" doc:"vm.panic_on_oom: 0 kill a process, 1 panic on a global OOM, 2 panic on any OOM incl. cgroup limits"`
	OOMKillAllocatingTask int `expr:"oom_kill_allocating_task" json:"oom_kill_allocating_task" doc:"vm.oom_kill_allocating_task: 1 kills whichever task allocated, not the largest"`
}

// New returns a reader for one run.
func New(t probe.Target, _ probe.Options) probe.Reader { return &reader{target: t} }

type reader struct {
	target   probe.Target
	resolved bool
	loc      Location
	locErr   error
	first    *reading
	last     *reading
	// procs are the member processes, listed once after the window
	// (AfterWindow), since only their state at the end is reported (a
	// member list of the root cgroup is every process on the machine).
	procs procReading
}

type reading struct {
	now time.Time
	mem memReading
	cpu cpuReading
	vm  VM
	vmE error
}

func (r *reader) Read(ctx context.Context, h probe.Host) {
	if !r.resolved {
		r.resolved = true
		r.loc, r.locErr = Resolve(h, r.target)
	}
	rd := &reading{now: h.Now}
	rd.vm, rd.vmE = readVM(h)
	if r.locErr == nil {
		rd.mem = readMemory(h, r.loc)
		rd.cpu = readCPU(h, r.loc)
	}
	if r.first == nil {
		r.first = rd
	}
	r.last = rd
}

// AfterWindow lists the cgroup's processes as the window leaves them.
func (r *reader) AfterWindow(_ context.Context, h probe.Host) {
	if r.last != nil {
		r.procs = readProcs(h, r.loc, r.target)
		r.procs.read = true
	}
}

func (r *reader) Finish() (any, probe.Statuses) {
	st := probe.Statuses{}
	var f Facts
	if r.last == nil {
		st[""] = probe.Status{State: probe.Error, Reason: "no reading taken"}
		return f, st
	}
	if r.last.vmE != nil {
		st["vm"] = probe.StatusOf(r.last.vmE, "/proc/sys/vm")
	}
	f.VM = r.last.vm
	if r.locErr != nil {
		s := probe.StatusOf(r.locErr, "target cgroup")
		if errors.Is(r.locErr, ErrOutsideNamespace) {
			s = probe.Status{State: probe.Unavailable, Reason: r.locErr.Error(), Fix: "run diagnose on the host (or in the same cgroup namespace as the target)"}
		} else if errors.Is(r.locErr, ErrNotFound) {
			s = probe.Status{State: probe.Unavailable, Reason: r.locErr.Error(), Fix: "give a directory under /sys/fs/cgroup or the path /proc/PID/cgroup shows"}
		}
		st[""] = s
		return f, st
	}
	loc := r.loc
	f.Version, f.Hybrid, f.Path, f.MemoryDir = loc.Version, loc.Hybrid, probe.Sanitize(loc.Path), probe.Sanitize(loc.MemoryDir)
	st[""] = probe.Status{State: probe.OK}

	r.memoryFacts(&f, st)
	r.cpuFacts(&f, st)
	r.processFacts(&f, st)
	return f, st
}

const (
	maxListed = 100
	maxPIDs   = 4096
	maxDirs   = 1024
)

// errNotApplicable marks a fact this cgroup version does not have.
var errNotApplicable = errors.New("not available in this cgroup version")

func statusFor(err error, what string) probe.Status {
	if errors.Is(err, errNotApplicable) || errors.Is(err, probe.ErrCut) {
		return probe.Status{State: probe.Unavailable, Reason: err.Error()}
	}
	return probe.StatusOf(err, what)
}

func read(h probe.Host, dir, file string) ([]byte, error) {
	return h.ReadFile(dir, file)
}

// readKV reads a "key value" file of dir (memory.stat, cpu.stat).
func readKV(h probe.Host, dir, file string) (map[string]uint64, error) {
	b, err := read(h, dir, file)
	if err != nil {
		return nil, err
	}
	return parseKV(b)
}

func readVM(h probe.Host) (VM, error) {
	var v VM
	var errs []error
	for _, x := range []struct {
		file string
		dst  *int
	}{
		{"overcommit_memory", &v.OvercommitMemory},
		{"overcommit_ratio", &v.OvercommitRatio},
		{"panic_on_oom", &v.PanicOnOOM},
		{"oom_kill_allocating_task", &v.OOMKillAllocatingTask},
	} {
		b, err := h.ReadFile("proc", "sys", "vm", x.file)
		if err == nil {
			var n int64
			if n, err = parseInt(b); err == nil {
				*x.dst = int(n)
				continue
			}
		}
		errs = append(errs, err)
	}
	return v, errors.Join(errs...)
}
