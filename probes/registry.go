// Package probes holds the typed fact tree that playbooks read, the explicit
// registry of probes that fill it, the sampler that drives them over one
// window, and snapshots (recorded facts) for replay.
package probes

import (
	"time"

	"github.com/diagnose-sh/diagnose/probes/cgroup"
	"github.com/diagnose-sh/diagnose/probes/cpu"
	"github.com/diagnose-sh/diagnose/probes/disk"
	"github.com/diagnose-sh/diagnose/probes/hostinfo"
	"github.com/diagnose-sh/diagnose/probes/hsperf"
	"github.com/diagnose-sh/diagnose/probes/httptiming"
	"github.com/diagnose-sh/diagnose/probes/jvm"
	"github.com/diagnose-sh/diagnose/probes/limits"
	"github.com/diagnose-sh/diagnose/probes/memory"
	"github.com/diagnose-sh/diagnose/probes/netstat"
	"github.com/diagnose-sh/diagnose/probes/oomlog"
	"github.com/diagnose-sh/diagnose/probes/probe"
	"github.com/diagnose-sh/diagnose/probes/process"
	"github.com/diagnose-sh/diagnose/probes/psi"
	"github.com/diagnose-sh/diagnose/probes/sockdiag"
	"github.com/diagnose-sh/diagnose/probes/syscalls"
	"github.com/diagnose-sh/diagnose/probes/threads"
	"github.com/diagnose-sh/diagnose/probes/top"
)

// Facts is everything diagnose knows about a system and a target. Each field
// is one probe's section; its expr and json names are the same, so what
// `diagnose collect` writes is exactly what a playbook reads.
type Facts struct {
	Host     hostinfo.Facts   `expr:"host" json:"host"`
	CPU      cpu.Facts        `expr:"cpu" json:"cpu"`
	Memory   memory.Facts     `expr:"memory" json:"memory"`
	PSI      psi.Facts        `expr:"psi" json:"psi"`
	Disks    disk.Facts       `expr:"disks" json:"disks"`
	Process  process.Facts    `expr:"process" json:"process"`
	Threads  threads.Facts    `expr:"threads" json:"threads"`
	Syscalls syscalls.Facts   `expr:"syscalls" json:"syscalls"`
	Net      netstat.Facts    `expr:"net" json:"net"`
	TCP      sockdiag.Facts   `expr:"tcp" json:"tcp"`
	Cgroup   cgroup.Facts     `expr:"cgroup" json:"cgroup"`
	OOM      oomlog.Facts     `expr:"oom" json:"oom"`
	JVM      jvm.Facts        `expr:"jvm" json:"jvm"`
	HotSpot  hsperf.Facts     `expr:"hotspot" json:"hotspot"`
	Limits   limits.Facts     `expr:"limits" json:"limits"`
	HTTP     httptiming.Facts `expr:"http" json:"http"`
	Top      top.Facts        `expr:"top" json:"top"`
}

// Probe is one entry of the registry.
type Probe struct {
	// Name is the section of Facts the probe fills.
	Name string
	// Doc says in a line what the probe reads.
	Doc string
	// Interval asks the sampler for readings between start and end (0: none).
	Interval time.Duration
	// NeedsPID: without a target process the probe has nothing to read.
	NeedsPID bool
	// New makes a reader for one run.
	New func(t probe.Target, o probe.Options) probe.Reader
	// Merge, for a per-process probe, combines one reader per process of a
	// multi-process target (a container); nil: the probe reads every
	// process of Target.PIDs itself, or reads no process.
	Merge func(parts []probe.Part) (any, probe.Statuses)

	set func(f *Facts, v any) bool
}

func entry[T any](name, doc string, field func(*Facts) *T, newReader func(probe.Target, probe.Options) probe.Reader) Probe {
	return Probe{Name: name, Doc: doc, New: newReader, set: func(f *Facts, v any) bool {
		t, ok := v.(T)
		if ok {
			*field(f) = t
		}
		return ok
	}}
}

func withInterval(p Probe, d time.Duration) Probe { p.Interval = d; return p }

func needsPID(p Probe) Probe { p.NeedsPID = true; return p }

func perProcess(p Probe, merge func([]probe.Part) (any, probe.Statuses)) Probe {
	p.Merge = merge
	return p
}

// reader makes the probe's reader for a run: a group of one per process
// when the target has several and the probe merges.
func (p Probe) reader(t probe.Target, o probe.Options) probe.Reader {
	if p.Merge != nil && len(t.PIDs) > 1 {
		return probe.Group(t, o, p.New, p.Merge)
	}
	return p.New(t, o)
}

// Registry lists every probe, in report order. It is the one place to read
// what diagnose can observe.
func Registry() []Probe {
	return []Probe{
		entry("host", "kernel, CPU count, uptime, load averages, container view (/proc/loadavg, /proc/uptime)",
			func(f *Facts) *hostinfo.Facts { return &f.Host }, hostinfo.New),
		// 250 ms: r and b are instantaneous; vmstat 1 reads them once a second,
		// we average about 4 readings a second over the window.
		withInterval(entry("cpu", "CPU time shares, run queue r and blocked b averaged over the window, context switches, interrupts (/proc/stat), like vmstat",
			func(f *Facts) *cpu.Facts { return &f.CPU }, cpu.New), 250*time.Millisecond),
		entry("memory", "memory and swap use, swap-in/out, major faults, page scans (/proc/meminfo, /proc/vmstat)",
			func(f *Facts) *memory.Facts { return &f.Memory }, memory.New),
		entry("psi", "pressure stall information for cpu, io and memory (/proc/pressure)",
			func(f *Facts) *psi.Facts { return &f.PSI }, psi.New),
		entry("disks", "per-disk utilisation, IOPS, throughput, await, queue size (/proc/diskstats), like iostat -x",
			func(f *Facts) *disk.Facts { return &f.Disks }, disk.New),
		perProcess(needsPID(withInterval(entry("process", "the target process: CPU, context switches and run-queue delay summed over its threads, RSS, fds, storage I/O, faults (/proc/PID, /proc/PID/task/*)",
			func(f *Facts) *process.Facts { return &f.Process }, process.New), 250*time.Millisecond)), process.Merge),
		perProcess(needsPID(withInterval(entry("threads", "thread wait profile without ptrace: every thread's state, wchan and syscall sampled ~100 Hz (fewer on big processes), classed running/runnable/lock/disk/paging/network/poll/idle, with lock-contention evidence",
			func(f *Facts) *threads.Facts { return &f.Threads }, threads.New), 10*time.Millisecond)), threads.Merge),
		needsPID(entry("syscalls", "syscall summary from strace -c -f -w: only with --strace (ptrace, slows the target) or --strace-file",
			func(f *Facts) *syscalls.Facts { return &f.Syscalls }, syscalls.New)),
		entry("net", "the target's TCP/UDP sockets (state, queues, peer) and its namespace's TCP retransmits, listen overflows, UDP buffer errors, rmem/wmem_max (/proc/PID/net)",
			func(f *Facts) *netstat.Facts { return &f.Net }, netstat.New),
		// 20 ms at most: the probe paces itself to its CPU budget (NextRead).
		needsPID(withInterval(entry("tcp", "what the target waits for on the network: its TCP connections sampled from sock_diag netlink (tcp_info, as ss -ti) in its network namespace; requests awaiting a reply per peer, response times, connects, clients waiting on it",
			func(f *Facts) *sockdiag.Facts { return &f.TCP }, sockdiag.New), 20*time.Millisecond)),
		entry("cgroup", "the target's cgroup (v1, v2, hybrid): memory limit, usage, peak, OOM kills, memory.stat, CPU quota and throttling, member processes with OOM scores and QoS, vm overcommit settings",
			func(f *Facts) *cgroup.Facts { return &f.Cgroup }, cgroup.New),
		entry("oom", "kernel OOM-kill records from /dev/kmsg (read without blocking; needs root or CAP_SYSLOG): victim, cgroup, RSS, constraint, kills of the target",
			func(f *Facts) *oomlog.Facts { return &f.OOM }, oomlog.New),
		entry("jvm", "JVMs in the target cgroup: effective max heap and its source, flags incl. JAVA_TOOL_OPTIONS, container support, footprint per component against the limit (measured with jcmd NMT when enabled)",
			func(f *Facts) *jvm.Facts { return &f.JVM }, jvm.New),
		// 100 ms: the old generation's lowest occupancy over the window is
		// what collections leave; a reading costs microseconds.
		needsPID(withInterval(entry("hotspot", "the target JVM's own counters from its hsperfdata file, read without attaching (what jstat reads): GC time share and rate per collector, heap and old-generation occupancy, metaspace, code, threads, safepoints",
			func(f *Facts) *hsperf.Facts { return &f.HotSpot }, hsperf.New), 100*time.Millisecond)),
		entry("limits", "the limits processes die on: the target's rlimits against its descriptors (/proc/PID/limits, fd), its unreaped children, its cgroup's pids.max; the system's tasks against threads-max and pid_max, zombies by parent, fork rate, file handles, Committed_AS against CommitLimit",
			func(f *Facts) *limits.Facts { return &f.Limits }, limits.New),
		entry("http", "the requests diagnose http was asked to send (--url), timed per phase with net/http/httptrace like curl -w: DNS, connect, TLS, server, transfer; status, TLS certificate; the local process serving the address",
			func(f *Facts) *httptiming.Facts { return &f.HTTP }, httptiming.New),
		// 200 ms: state D is instantaneous; five scans a second count it
		// (kernel delay accounting, which would time it, is off by default).
		withInterval(entry("top", "the processes behind a busy system, like htop: the top ones by CPU over the window, by time in uninterruptible sleep (D), by memory growth (/proc/*/stat)",
			func(f *Facts) *top.Facts { return &f.Top }, top.New), 200*time.Millisecond),
	}
}
