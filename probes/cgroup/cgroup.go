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
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
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

// QOSClass maps oom_score_adj to the Kubernetes QoS class kubelet sets it for
// (pkg/kubelet/qos/policy.go): -997 Guaranteed, 1000 BestEffort, 2..999
// Burstable, -999/-998 system (kubelet, runtime, pause). Other values (0 on a
// plain host, -1000) are not set by kubelet: "".
func QOSClass(adj int) string {
	switch {
	case adj == -997:
		return "Guaranteed"
	case adj == 1000:
		return "BestEffort"
	case adj >= 2 && adj <= 999:
		return "Burstable"
	case adj == -999 || adj == -998:
		return "system"
	}
	return ""
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

type memReading struct {
	limit, high, usage, peak, hits, events, kills uint64
	limited, underOOM, killDisabled               bool
	stat                                          MemoryStat
	errs                                          map[string]error // fact name -> why missing
}

type cpuReading struct {
	quotaCores                      float64
	limited                         bool
	usageNs                         uint64
	periods, throttled, throttledNs uint64
	usageErr, throttleErr, quotaErr error
}

type procReading struct {
	count int
	list  []Process
	err   error
	read  bool // AfterWindow ran
}

func (r *reader) Read(h probe.Host) {
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

	m := r.last.mem
	if loc.Version == 0 || loc.MemoryDir == "" {
		why := "no cgroup filesystem is mounted: no memory limit applies"
		if loc.Version != 0 {
			why = "the memory controller is not mounted: no memory limit applies"
		}
		for _, k := range []string{"memory_limit_bytes", "memory_high_bytes", "memory_usage_bytes", "memory_working_set_bytes", "memory_peak_bytes", "memory_peak_ratio", "memory_working_set_ratio", "memory_limit_hits", "oom_events", "oom_kills", "oom_kills_in_window", "under_oom", "oom_kill_disabled", "memory_stat", "memory_usage_ratio"} {
			st[k] = probe.Status{State: probe.Unavailable, Reason: why}
		}
	} else {
		for k, e := range m.errs {
			st[k] = statusFor(e, k)
		}
		f.MemoryLimited, f.MemoryLimitBytes, f.MemoryHighBytes = m.limited, m.limit, m.high
		f.MemoryUsageBytes, f.MemoryPeakBytes, f.MemoryLimitHits = m.usage, m.peak, m.hits
		f.OOMEvents, f.OOMKills, f.UnderOOM, f.OOMKillDisabled = m.events, m.kills, m.underOOM, m.killDisabled
		f.MemoryStat = m.stat
		if m.usage > m.stat.InactiveFileBytes {
			f.MemoryWorkingSetBytes = m.usage - m.stat.InactiveFileBytes
		}
		if f.MemoryLimited && f.MemoryLimitBytes > 0 {
			f.MemoryUsageRatio = float64(f.MemoryUsageBytes) / float64(f.MemoryLimitBytes)
			f.MemoryWorkingSetRatio = float64(f.MemoryWorkingSetBytes) / float64(f.MemoryLimitBytes)
			f.MemoryPeakRatio = float64(f.MemoryPeakBytes) / float64(f.MemoryLimitBytes)
		}
		if _, bad := m.errs["oom_kills"]; !bad {
			if fk := r.first.mem; fk.errs["oom_kills"] == nil && m.kills >= fk.kills {
				f.OOMKillsInWindow = m.kills - fk.kills
			}
		} else {
			st["oom_kills_in_window"] = st["oom_kills"]
		}
		if _, bad := m.errs["memory_usage_bytes"]; bad {
			st["memory_usage_ratio"] = st["memory_usage_bytes"]
			st["memory_working_set_bytes"] = st["memory_usage_bytes"]
		}
	}

	c0, c1 := r.first.cpu, r.last.cpu
	dt := r.last.now.Sub(r.first.now).Seconds()
	switch {
	case loc.Version == 0 || loc.CPUDir == "":
		for _, k := range []string{"cpu_quota_cores", "cpu_usage_cores", "cpu_throttled_periods_pct", "cpu_throttled_s_per_s"} {
			st[k] = probe.Status{State: probe.Unavailable, Reason: "the cpu controller is not mounted: no CPU quota applies"}
		}
	default:
		f.CPULimited, f.CPUQuotaCores = c1.limited, c1.quotaCores
		if c1.quotaErr != nil {
			st["cpu_limited"] = statusFor(c1.quotaErr, "cpu quota")
			st["cpu_quota_cores"] = st["cpu_limited"]
		}
		needTwo := probe.Status{State: probe.Unavailable, Reason: "rates need two readings over a window", Fix: "sample over a window (--window > 0)"}
		switch {
		case loc.CPUAcctElsewhere != "":
			st["cpu_usage_cores"] = probe.Status{State: probe.Unavailable,
				Reason: fmt.Sprintf("cpu and cpuacct are mounted apart and the process's cpuacct group (%s) is not its cpu group: its usage would be another group's", probe.Sanitize(loc.CPUAcctElsewhere))}
		case c0.usageErr != nil || c1.usageErr != nil:
			st["cpu_usage_cores"] = statusFor(errors.Join(c0.usageErr, c1.usageErr), "cgroup CPU usage")
		case dt <= 0:
			st["cpu_usage_cores"] = needTwo
		case c1.usageNs >= c0.usageNs:
			f.CPUUsageCores = float64(c1.usageNs-c0.usageNs) / 1e9 / dt
		}
		switch {
		case !c1.limited && c1.quotaErr == nil:
			// No quota: nothing throttles this cgroup's own CFS bandwidth.
		case c0.throttleErr != nil || c1.throttleErr != nil:
			s := statusFor(errors.Join(c0.throttleErr, c1.throttleErr), "cgroup cpu.stat throttling")
			st["cpu_throttled_periods_pct"], st["cpu_throttled_s_per_s"] = s, s
		case dt <= 0:
			st["cpu_throttled_periods_pct"], st["cpu_throttled_s_per_s"] = needTwo, needTwo
		default:
			if c1.periods > c0.periods && c1.throttled >= c0.throttled {
				f.CPUThrottledPeriodsPct = min(100, 100*float64(c1.throttled-c0.throttled)/float64(c1.periods-c0.periods))
			}
			if c1.throttledNs >= c0.throttledNs {
				f.CPUThrottledSPerS = float64(c1.throttledNs-c0.throttledNs) / 1e9 / dt
			}
		}
	}

	p := r.procs
	if !p.read {
		p.err = errCut
	}
	if p.err != nil {
		s := statusFor(p.err, "cgroup processes")
		for _, k := range []string{"process_count", "processes", "largest", "unkillable_count", "unkillable"} {
			st[k] = s
		}
	}
	f.ProcessCount, f.Processes = p.count, p.list
	for i, pr := range p.list {
		if i == 0 {
			f.Largest = pr
		}
		if pr.OOMScoreAdj == -1000 {
			if f.UnkillableCount == 0 {
				f.Unkillable = pr
			}
			f.UnkillableCount++
		}
	}
	if len(f.Processes) > maxListed {
		f.Processes = f.Processes[:maxListed]
	}
	return f, st
}

const (
	maxListed = 100
	maxPIDs   = 4096
	maxDirs   = 1024
)

// errCut is the process list the run's deadline left no time for.
var errCut = errors.New(probe.CutByTimeout)

// errNotApplicable marks a fact this cgroup version does not have.
var errNotApplicable = errors.New("not available in this cgroup version")

func statusFor(err error, what string) probe.Status {
	if errors.Is(err, errNotApplicable) || errors.Is(err, errCut) {
		return probe.Status{State: probe.Unavailable, Reason: err.Error()}
	}
	return probe.StatusOf(err, what)
}

func read(h probe.Host, dir, file string) ([]byte, error) {
	return h.ReadFile(dir, file)
}

func readMemory(h probe.Host, loc Location) memReading {
	m := memReading{errs: map[string]error{}}
	d := loc.MemoryDir
	if d == "" {
		return m
	}
	miss := func(k string, err error) { m.errs[k] = err }
	if loc.Version == 2 {
		lim, limited, err := effectiveLimitV2(h, d, loc.MemoryMount, "memory.max")
		if err != nil {
			miss("memory_limit_bytes", err)
			miss("memory_limited", err)
		}
		m.limit, m.limited = lim, limited
		if hi, hl, err := effectiveLimitV2(h, d, loc.MemoryMount, "memory.high"); err == nil && hl {
			m.high = hi
		} else if err != nil {
			miss("memory_high_bytes", err)
		}
		num(h, d, "memory.current", &m.usage, "memory_usage_bytes", miss)
		num(h, d, "memory.peak", &m.peak, "memory_peak_bytes", miss)
		if b, err := read(h, d, "memory.events"); err != nil {
			miss("oom_events", err)
			miss("oom_kills", err)
			miss("memory_limit_hits", err)
		} else if kv, err := parseKV(b); err != nil {
			miss("oom_events", err)
			miss("oom_kills", err)
			miss("memory_limit_hits", err)
		} else {
			m.events, m.kills, m.hits = kv["oom"], kv["oom_kill"], kv["max"]
		}
		v1NA := fmt.Errorf("%w: cgroup v1 only", errNotApplicable)
		miss("under_oom", v1NA)
		miss("oom_kill_disabled", v1NA)
		if b, err := read(h, d, "memory.stat"); err != nil {
			miss("memory_stat", err)
		} else if kv, err := parseKV(b); err != nil {
			miss("memory_stat", err)
		} else {
			s := &m.stat
			s.AnonBytes, s.FileBytes, s.InactiveFileBytes = kv["anon"], kv["file"], kv["inactive_file"]
			s.SlabBytes, s.SockBytes, s.ShmemBytes, s.PgMajFault = kv["slab"], kv["sock"], kv["shmem"], kv["pgmajfault"]
			if k, ok := kv["kernel"]; ok {
				s.KernelBytes = k
			} else {
				// Before 5.18 there is no "kernel" key: sum its parts.
				s.KernelBytes = kv["kernel_stack"] + kv["pagetables"] + kv["slab"] + kv["percpu"] + kv["sock"]
			}
			if b, err := read(h, d, "memory.swap.current"); err == nil {
				if v, err := parseUint(b); err == nil {
					s.SwapBytes = v
				}
			}
		}
		return m
	}
	// v1
	if b, err := read(h, d, "memory.limit_in_bytes"); err != nil {
		miss("memory_limit_bytes", err)
		miss("memory_limited", err)
	} else if v, ok, err := parseLimit(b); err != nil {
		miss("memory_limit_bytes", err)
		miss("memory_limited", err)
	} else {
		m.limit, m.limited = v, ok
	}
	num(h, d, "memory.usage_in_bytes", &m.usage, "memory_usage_bytes", miss)
	num(h, d, "memory.max_usage_in_bytes", &m.peak, "memory_peak_bytes", miss)
	num(h, d, "memory.failcnt", &m.hits, "memory_limit_hits", miss)
	miss("oom_events", fmt.Errorf("%w: cgroup v1 has no OOM event counter (memory.oom_control counts kills only)", errNotApplicable))
	if b, err := read(h, d, "memory.oom_control"); err != nil {
		miss("oom_kills", err)
		miss("under_oom", err)
		miss("oom_kill_disabled", err)
	} else if kv, err := parseKV(b); err != nil {
		miss("oom_kills", err)
		miss("under_oom", err)
		miss("oom_kill_disabled", err)
	} else {
		m.underOOM, m.killDisabled = kv["under_oom"] == 1, kv["oom_kill_disable"] == 1
		if k, ok := kv["oom_kill"]; ok {
			m.kills = k
		} else {
			miss("oom_kills", fmt.Errorf("%w: memory.oom_control has no oom_kill counter (needs Linux 4.13+)", errNotApplicable))
		}
	}
	if b, err := read(h, d, "memory.stat"); err != nil {
		miss("memory_stat", err)
	} else if kv, err := parseKV(b); err != nil {
		miss("memory_stat", err)
	} else {
		pick := func(k string) uint64 {
			if v, ok := kv["total_"+k]; ok {
				return v
			}
			return kv[k]
		}
		s := &m.stat
		s.AnonBytes, s.FileBytes, s.InactiveFileBytes = pick("rss"), pick("cache"), pick("inactive_file")
		s.ShmemBytes, s.SwapBytes, s.PgMajFault = pick("shmem"), pick("swap"), pick("pgmajfault")
		if hl, ok := kv["hierarchical_memory_limit"]; ok && hl < unlimitedV1 && (!m.limited || hl < m.limit) {
			m.limit, m.limited = hl, true
		}
		if b, err := read(h, d, "memory.kmem.usage_in_bytes"); err == nil {
			if v, err := parseUint(b); err == nil {
				s.KernelBytes = v
			}
		} else {
			miss("memory_stat.kernel_bytes", err)
		}
		if b, err := read(h, d, "memory.kmem.tcp.usage_in_bytes"); err == nil {
			if v, err := parseUint(b); err == nil {
				s.SockBytes = v
			}
		} else {
			miss("memory_stat.sock_bytes", err)
		}
		miss("memory_stat.slab_bytes", fmt.Errorf("%w: cgroup v1 memory.stat has no slab key (it is part of kernel_bytes)", errNotApplicable))
	}
	return m
}

func num(h probe.Host, dir, file string, dst *uint64, fact string, miss func(string, error)) {
	b, err := read(h, dir, file)
	if err == nil {
		var v uint64
		if v, err = parseUint(b); err == nil {
			*dst = v
			return
		}
	}
	miss(fact, err)
}

// effectiveLimitV2 returns the smallest limit in file along dir and its
// ancestors up to (excluding) the mount point, where the file does not exist.
func effectiveLimitV2(h probe.Host, dir, mountPoint, file string) (uint64, bool, error) {
	var best uint64
	limited := false
	found := false
	for d := dir; ; d = path.Dir(d) {
		if d == mountPoint || !strings.HasPrefix(d, mountPoint+"/") {
			break
		}
		b, err := read(h, d, file)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && d != dir {
				continue
			}
			if !found {
				return 0, false, err
			}
			break
		}
		found = true
		v, ok, err := parseLimit(b)
		if err != nil {
			return 0, false, err
		}
		if ok && (!limited || v < best) {
			best, limited = v, true
		}
	}
	if !found && dir == mountPoint {
		return 0, false, nil // the root cgroup has no limit files
	}
	return best, limited, nil
}

func readCPU(h probe.Host, loc Location) cpuReading {
	var c cpuReading
	d := loc.CPUDir
	if d == "" {
		return c
	}
	// Quota: the tightest along the ancestors.
	for x := d; ; x = path.Dir(x) {
		var cores float64
		var ok bool
		var err error
		if loc.Version == 2 {
			if x == loc.CPUMount {
				break
			}
			var b []byte
			if b, err = read(h, x, "cpu.max"); err == nil {
				var q, p int64
				if q, p, err = parseCPUMax(b); err == nil && q > 0 {
					cores, ok = float64(q)/float64(p), true
				}
			}
		} else {
			var qb, pb []byte
			if qb, err = read(h, x, "cpu.cfs_quota_us"); err == nil {
				if pb, err = read(h, x, "cpu.cfs_period_us"); err == nil {
					var q, p int64
					if q, err = parseInt(qb); err == nil {
						if p, err = parseInt(pb); err == nil && q > 0 && p > 0 {
							cores, ok = float64(q)/float64(p), true
						}
					}
				}
			}
		}
		if err != nil {
			if x == d && !(loc.Version == 2 && errors.Is(err, fs.ErrNotExist)) {
				c.quotaErr = err
			}
		} else if ok && (!c.limited || cores < c.quotaCores) {
			c.quotaCores, c.limited = cores, true
		}
		if x == loc.CPUMount || !strings.HasPrefix(x, loc.CPUMount+"/") {
			break
		}
	}
	if loc.Version == 2 && d == loc.CPUMount {
		c.quotaErr = nil
	}
	// cpu.stat: throttling (and v2 usage).
	kv := map[string]uint64{}
	if b, err := read(h, d, "cpu.stat"); err != nil {
		c.throttleErr = err
	} else if kv, err = parseKV(b); err != nil {
		c.throttleErr = err
	} else if loc.Version == 2 {
		if _, ok := kv["nr_periods"]; !ok {
			c.throttleErr = fmt.Errorf("%w: cpu.stat has no throttling counters (the cpu controller is not enabled for this cgroup)", errNotApplicable)
		}
		c.periods, c.throttled, c.throttledNs = kv["nr_periods"], kv["nr_throttled"], kv["throttled_usec"]*1000
	} else {
		c.periods, c.throttled, c.throttledNs = kv["nr_periods"], kv["nr_throttled"], kv["throttled_time"]
	}
	if loc.Version == 2 {
		if u, ok := kv["usage_usec"]; ok {
			c.usageNs = u * 1000
		} else {
			c.usageErr = fmt.Errorf("cpu.stat usage_usec: %w", fs.ErrNotExist)
		}
		return c
	}
	acct := loc.CPUAcctDir
	if acct == "" {
		acct = d
	}
	if b, err := read(h, acct, "cpuacct.usage"); err == nil {
		c.usageNs, c.usageErr = parseUint(b)
	} else if loc.UnifiedDir != "" {
		// Hybrid: the controller-less v2 tree still counts usage_usec.
		if b, err2 := read(h, loc.UnifiedDir, "cpu.stat"); err2 == nil {
			if kv, err3 := parseKV(b); err3 == nil && kv["usage_usec"] > 0 {
				c.usageNs = kv["usage_usec"] * 1000
			} else {
				c.usageErr = err
			}
		} else {
			c.usageErr = err
		}
	} else {
		c.usageErr = err
	}
	return c
}

// Members returns the pids in the cgroup's memory (else cpu) directory and
// its descendants, at most maxPIDs; with no cgroup, the target process (or
// none for self: the caller decides).
func Members(h probe.Host, loc Location) ([]int, error) {
	d := loc.MemoryDir
	if d == "" {
		d = loc.CPUDir
	}
	if d == "" {
		return nil, fmt.Errorf("no cgroup directory: %w", fs.ErrNotExist)
	}
	var pids []int
	seen := map[int]bool{}
	dirs := []string{d}
	for n := 0; len(dirs) > 0 && n < maxDirs && len(pids) < maxPIDs; n++ {
		x := dirs[0]
		dirs = dirs[1:]
		b, err := read(h, x, "cgroup.procs")
		if err != nil {
			if x == d {
				return nil, err
			}
			continue
		}
		ps, err := parseProcs(b)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			if !seen[p] && len(pids) < maxPIDs {
				seen[p] = true
				pids = append(pids, p)
			}
		}
		ents, err := os.ReadDir(h.Path(x))
		if err != nil {
			continue
		}
		for _, e := range ents {
			if e.IsDir() {
				dirs = append(dirs, path.Join(x, e.Name()))
			}
		}
	}
	sort.Ints(pids)
	return pids, nil
}

func readProcs(h probe.Host, loc Location, t probe.Target) procReading {
	var pr procReading
	var pids []int
	if loc.Version == 0 {
		who := t.PID
		if who == 0 {
			who = os.Getpid()
			if h.Root != "" && h.Root != "/" {
				who = 0
			}
		}
		if who > 0 {
			pids = []int{who}
		}
	} else {
		pids, pr.err = Members(h, loc)
		if pr.err != nil {
			return pr
		}
	}
	for _, pid := range pids {
		p, err := ReadProcess(h, pid)
		if err != nil {
			continue // ended, or a kernel thread without a status
		}
		pr.list = append(pr.list, p)
	}
	pr.count = len(pr.list)
	sort.SliceStable(pr.list, func(i, j int) bool {
		if pr.list[i].RSSBytes != pr.list[j].RSSBytes {
			return pr.list[i].RSSBytes > pr.list[j].RSSBytes
		}
		return pr.list[i].PID < pr.list[j].PID
	})
	return pr
}

// ReadProcess reads one process's name, RSS and OOM scores.
func ReadProcess(h probe.Host, pid int) (Process, error) {
	ps := strconv.Itoa(pid)
	b, err := h.ReadFile("proc", ps, "status")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Process{}, fmt.Errorf("pid %d: %w", pid, probe.ErrNoProcess)
		}
		return Process{}, err
	}
	name, rss, _, err := parseStatus(b)
	if err != nil {
		return Process{}, err
	}
	p := Process{PID: pid, Name: probe.Sanitize(name), RSSBytes: rss}
	if b, err := h.ReadFile("proc", ps, "oom_score"); err == nil {
		if v, err := parseInt(b); err == nil {
			p.OOMScore = int(v)
		}
	}
	if b, err := h.ReadFile("proc", ps, "oom_score_adj"); err == nil {
		if v, err := parseInt(b); err == nil && v >= -1000 && v <= 1000 {
			p.OOMScoreAdj = int(v)
		}
	}
	p.QOSClass = QOSClass(p.OOMScoreAdj)
	return p, nil
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

// ReadMemoryLimit returns the effective memory limit of a resolved cgroup.
func ReadMemoryLimit(h probe.Host, loc Location) (uint64, bool, error) {
	if loc.Version == 0 || loc.MemoryDir == "" {
		return 0, false, nil
	}
	m := readMemory(h, loc)
	if err := m.errs["memory_limit_bytes"]; err != nil {
		return 0, false, err
	}
	return m.limit, m.limited, nil
}

// ReadCPUQuota returns the effective CFS quota in CPUs of a resolved cgroup.
func ReadCPUQuota(h probe.Host, loc Location) (float64, bool) {
	if loc.CPUDir == "" {
		return 0, false
	}
	c := readCPU(h, loc)
	return c.quotaCores, c.limited
}
