// Package jvm finds the JVMs in the target's cgroup and sets each one's
// memory budget against the cgroup limit: effective max heap and where it
// came from, metaspace, code cache, direct memory, thread stacks, GC
// structures, and the total the kernel OOM killer will count.
//
// Sources: /proc/PID/exe (basename java) or /proc/PID/maps (libjvm.so) to
// detect a JVM; /proc/PID/cmdline plus JAVA_TOOL_OPTIONS, JDK_JAVA_OPTIONS
// and _JAVA_OPTIONS from /proc/PID/environ for flags (in that order, later
// wins); /proc/PID/status for threads and RSS; the cgroup limit; and, when a
// program may be run (Host.Run) and jcmd is installed, `jcmd PID VM.flags`
// and `jcmd PID VM.native_memory summary` for measured values. See
// ../../docs/probes-memory-limits.md.
package jvm

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"sort"
	"time"

	"github.com/diagnose-sh/diagnose/probes/cgroup"
	"github.com/diagnose-sh/diagnose/probes/hostinfo"
	"github.com/diagnose-sh/diagnose/probes/memory"
	"github.com/diagnose-sh/diagnose/probes/probe"
)

// Facts is every JVM in the target cgroup, and the one closest to (or over) the limit.
type Facts struct {
	Present                  bool    `expr:"present" json:"present" doc:"a JVM runs in the target cgroup"`
	Count                    int     `expr:"count" json:"count" doc:"JVMs in the target cgroup"`
	HeapMaxBytes             uint64  `expr:"heap_max_bytes" json:"heap_max_bytes" doc:"main JVM's effective max heap, bytes"`
	FootprintBytes           uint64  `expr:"footprint_bytes" json:"footprint_bytes" doc:"main JVM's total memory budget (heap max + non-heap), bytes"`
	FootprintRatioOfLimit    float64 `expr:"footprint_ratio_of_limit" json:"footprint_ratio_of_limit" doc:"main JVM's footprint divided by the cgroup memory limit, 0 when unlimited"`
	ContainerSupportDisabled int     `expr:"container_support_disabled" json:"container_support_disabled" doc:"JVMs that do not see the container limit (-XX:-UseContainerSupport, or a JDK too old for cgroup v2)"`
	Main                     JVM     `expr:"main" json:"main" doc:"the JVM with the largest footprint relative to the limit"`
	JVMs                     []JVM   `expr:"jvms" json:"jvms" doc:"every JVM in the target cgroup (at most 20)"`
}

// JVM is one Java virtual machine's memory budget.
type JVM struct {
	PID                  int        `expr:"pid" json:"pid" doc:"process id"`
	Name                 string     `expr:"name" json:"name" doc:"process name (comm)"`
	Command              string     `expr:"command" json:"command" doc:"command line, arguments joined by spaces (at most 300 bytes)"`
	JavaVersion          string     `expr:"java_version" json:"java_version" doc:"JAVA_VERSION from the JDK's release file, empty if unknown"`
	Flags                []string   `expr:"flags" json:"flags" doc:"JVM options in the order the JVM applies them (JAVA_TOOL_OPTIONS, JDK_JAVA_OPTIONS, command line, _JAVA_OPTIONS); later ones win"`
	EnvOptions           []string   `expr:"env_options" json:"env_options" doc:"environment variables that carried JVM options (JAVA_TOOL_OPTIONS, JDK_JAVA_OPTIONS, _JAVA_OPTIONS)"`
	HeapMaxBytes         uint64     `expr:"heap_max_bytes" json:"heap_max_bytes" doc:"effective max heap, bytes"`
	HeapSource           string     `expr:"heap_source" json:"heap_source" doc:"where the max heap came from: -Xmx, -XX:MaxHeapSize, -XX:MaxRAMPercentage, -XX:MaxRAM, -XX:MinRAMPercentage, or a default share of the memory the JVM sees"`
	HeapFlagFrom         string     `expr:"heap_flag_from" json:"heap_flag_from" doc:"where -Xmx/-XX:MaxHeapSize was given: command line or the environment variable; empty for ergonomic heaps"`
	HeapFixed            bool       `expr:"heap_fixed" json:"heap_fixed" doc:"the heap is a fixed size (-Xmx or -XX:MaxHeapSize) that does not follow the container limit"`
	HeapMeasured         bool       `expr:"heap_measured" json:"heap_measured" doc:"the max heap was read from the running JVM (jcmd VM.flags), not computed"`
	ContainerSupport     bool       `expr:"container_support" json:"container_support" doc:"the JVM sizes itself from the cgroup limit (-XX:+UseContainerSupport, the default, and a JDK that understands this cgroup version)"`
	SeesMemoryBytes      uint64     `expr:"sees_memory_bytes" json:"sees_memory_bytes" doc:"memory the JVM's ergonomics start from: the cgroup limit with container support, else host RAM (or -XX:MaxRAM)"`
	GC                   string     `expr:"gc" json:"gc" doc:"garbage collector: Serial, Parallel, G1, Z, Shenandoah, Epsilon"`
	Threads              int        `expr:"threads" json:"threads" doc:"live threads of the JVM process"`
	StackSizeBytes       uint64     `expr:"stack_size_bytes" json:"stack_size_bytes" doc:"Java thread stack size (-Xss / ThreadStackSize, default 1 MiB), bytes"`
	DirectMemoryMaxBytes uint64     `expr:"direct_memory_max_bytes" json:"direct_memory_max_bytes" doc:"cap on NIO direct buffers: -XX:MaxDirectMemorySize, or the max heap when not set"`
	DirectMemorySet      bool       `expr:"direct_memory_set" json:"direct_memory_set" doc:"-XX:MaxDirectMemorySize is given explicitly"`
	RSSBytes             uint64     `expr:"rss_bytes" json:"rss_bytes" doc:"current resident set size, bytes"`
	Components           Components `expr:"components" json:"components" doc:"footprint per component, bytes"`
	NonHeapBytes         uint64     `expr:"non_heap_bytes" json:"non_heap_bytes" doc:"footprint outside the heap, bytes"`
	FootprintBytes       uint64     `expr:"footprint_bytes" json:"footprint_bytes" doc:"total memory budget: heap max + metaspace + code cache + direct + thread stacks + GC + other native, bytes"`
	Measured             bool       `expr:"measured" json:"measured" doc:"non-heap components are measured (jcmd VM.native_memory summary, committed), not estimated"`
	MeasureNote          string     `expr:"measure_note" json:"measure_note" doc:"why the footprint is an estimate (no jcmd, NMT off, attach refused), empty when measured"`
	Sources              string     `expr:"sources" json:"sources" doc:"where each budget number came from: hsperfdata (the JVM's counters, read without attaching), jcmd (NMT, VM.flags), flags, /proc, or an estimate"`
	// PerfData: the JVM's hsperfdata was read.
	PerfData              bool    `expr:"perf_data" json:"perf_data" doc:"the JVM's hsperfdata counters were read (heap, metaspace and code measured without attaching)"`
	HeapCommittedBytes    uint64  `expr:"heap_committed_bytes" json:"heap_committed_bytes" doc:"heap committed now (hsperfdata), bytes; 0 when perf_data is false"`
	HeapUsedBytes         uint64  `expr:"heap_used_bytes" json:"heap_used_bytes" doc:"heap in use now (hsperfdata), bytes; 0 when perf_data is false"`
	LimitBytes            uint64  `expr:"limit_bytes" json:"limit_bytes" doc:"the cgroup memory limit, bytes, 0 when unlimited"`
	Limited               bool    `expr:"limited" json:"limited" doc:"a cgroup memory limit applies"`
	FootprintRatioOfLimit float64 `expr:"footprint_ratio_of_limit" json:"footprint_ratio_of_limit" doc:"footprint divided by the cgroup limit, 0 when unlimited"`
	HeapRatioOfLimit      float64 `expr:"heap_ratio_of_limit" json:"heap_ratio_of_limit" doc:"max heap divided by the cgroup limit, 0 when unlimited"`
	HeapAt75PctBytes      uint64  `expr:"heap_at_75_pct_bytes" json:"heap_at_75_pct_bytes" doc:"max heap that -XX:MaxRAMPercentage=75.0 (without -Xmx) gives at this limit, bytes; 0 when unlimited"`
	FittingMaxRAMPct      float64 `expr:"fitting_max_ram_pct" json:"fitting_max_ram_pct" doc:"largest -XX:MaxRAMPercentage (at most 75) whose whole budget stays within 90% of the limit with the current non-heap; 0 when none fits or unlimited"`
}

// Components is a JVM's footprint per component, bytes.
type Components struct {
	HeapBytes         uint64 `expr:"heap_bytes" json:"heap_bytes" doc:"Java heap (max)"`
	MetaspaceBytes    uint64 `expr:"metaspace_bytes" json:"metaspace_bytes" doc:"metaspace and class space (MaxMetaspaceSize, else 14 MB + 5800 B x 10000 classes; measured: NMT Class+Metaspace)"`
	CodeCacheBytes    uint64 `expr:"code_cache_bytes" json:"code_cache_bytes" doc:"JIT code cache (ReservedCodeCacheSize, default 240 MiB; measured: NMT Code)"`
	DirectBytes       uint64 `expr:"direct_bytes" json:"direct_bytes" doc:"NIO direct buffers (MaxDirectMemorySize when given, else 10 MiB typical; measured: NMT Other)"`
	ThreadStacksBytes uint64 `expr:"thread_stacks_bytes" json:"thread_stacks_bytes" doc:"live threads x stack size (measured: NMT Thread)"`
	GCBytes           uint64 `expr:"gc_bytes" json:"gc_bytes" doc:"GC data structures (G1 ~10% of heap, others ~3%; measured: NMT GC)"`
	OtherBytes        uint64 `expr:"other_bytes" json:"other_bytes" doc:"other native memory: CDS, symbols, compiler, malloc (20 MiB assumed; measured: the remaining NMT categories)"`
}

func (c Components) sum() uint64 {
	return c.HeapBytes + c.MetaspaceBytes + c.CodeCacheBytes + c.DirectBytes + c.ThreadStacksBytes + c.GCBytes + c.OtherBytes
}

// New returns a reader for one run.
func New(t probe.Target, o probe.Options) probe.Reader { return &reader{target: t, jcmd: o.JCMD} }

type reader struct {
	target probe.Target
	jcmd   bool // --jcmd: attaching is allowed
	read   bool // the window had a reading
	done   bool // the JVMs were inspected, after the window
	err    error
	jvms   []JVM
	notes  []error
}

const (
	maxJVMs      = 20
	maxAttach    = 4
	jcmdTimeout  = 15 * time.Second
	maxCommand   = 300
	fitThreshold = 0.90
)

// Read only notes the window: the JVMs are inspected once, after it, where
// jcmd may attach without disturbing what the other probes sample.
func (r *reader) Read(context.Context, probe.Host) { r.read = true }

// AfterWindow inspects the target cgroup's JVMs (jcmd, with --jcmd, under
// the run's deadline).
func (r *reader) AfterWindow(ctx context.Context, h probe.Host) {
	if !r.read || r.done {
		return
	}
	r.done = true
	loc, err := cgroup.Resolve(h, r.target)
	if err != nil {
		r.err = err
		return
	}
	limit, limited, err := cgroup.ReadMemoryLimit(h, loc)
	if err != nil {
		r.notes = append(r.notes, fmt.Errorf("cgroup memory limit: %w", err))
	}
	var pids []int
	if loc.Version == 0 {
		if r.target.PID > 0 {
			pids = []int{r.target.PID}
		} else if h.Root == "" || h.Root == "/" {
			pids = []int{os.Getpid()}
		}
	} else if pids, err = cgroup.Members(h, loc); err != nil {
		r.err = err
		return
	}
	var hostMem uint64
	if m, err := memory.Virtual(ctx, h); err == nil {
		hostMem = m.Total
	}
	cpus, err := hostinfo.CPUCount(ctx, h)
	if err != nil {
		// HotSpot's ergonomics (the collector, its threads) depend on it.
		cpus = 2
		r.notes = append(r.notes, fmt.Errorf("the CPU count could not be read (%w): the JVM's ergonomics are estimated for 2 CPUs", err))
	}
	if q, ok := cgroup.ReadCPUQuota(h, loc); ok {
		cpus = min(cpus, int(math.Ceil(q)))
	}
	attached := 0
	for _, pid := range pids {
		if len(r.jvms) >= maxJVMs {
			break
		}
		j, groups, ok, err := inspect(h, pid)
		if err != nil || !ok {
			continue
		}
		m := measure(ctx, h, r.jcmd, j, groups, &attached)
		budget(&j, groups, m, machine{version: loc.Version, limit: limit, limited: limited, hostMem: hostMem, cpus: cpus})
		r.jvms = append(r.jvms, j)
	}
}

func (r *reader) Finish() (any, probe.Statuses) {
	var f Facts
	st := probe.Statuses{}
	switch {
	case !r.read:
		st[""] = probe.Status{State: probe.Error, Reason: "no reading taken"}
		return f, st
	case !r.done:
		st[""] = probe.Status{State: probe.Unavailable, Reason: probe.CutByTimeout, Fix: "raise --timeout"}
		return f, st
	}
	if r.err != nil {
		s := probe.StatusOf(r.err, "JVMs of the target cgroup")
		if errors.Is(r.err, cgroup.ErrOutsideNamespace) || errors.Is(r.err, cgroup.ErrNotFound) {
			s = probe.Status{State: probe.Unavailable, Reason: r.err.Error()}
		}
		if errors.Is(r.err, fs.ErrPermission) {
			s.Fix = "run as root (reading other users' /proc/PID/environ and maps needs it)"
		}
		st[""] = s
		return f, st
	}
	st[""] = probe.Status{State: probe.OK}
	sort.SliceStable(r.jvms, func(a, b int) bool { return r.jvms[a].PID < r.jvms[b].PID })
	f.JVMs = r.jvms
	f.Count = len(r.jvms)
	f.Present = f.Count > 0
	best := -1
	for i, j := range r.jvms {
		if !j.ContainerSupport {
			f.ContainerSupportDisabled++
		}
		if best < 0 || j.FootprintRatioOfLimit > r.jvms[best].FootprintRatioOfLimit ||
			(j.FootprintRatioOfLimit == r.jvms[best].FootprintRatioOfLimit && j.FootprintBytes > r.jvms[best].FootprintBytes) {
			best = i
		}
	}
	if best >= 0 {
		f.Main = r.jvms[best]
		f.HeapMaxBytes, f.FootprintBytes, f.FootprintRatioOfLimit = f.Main.HeapMaxBytes, f.Main.FootprintBytes, f.Main.FootprintRatioOfLimit
	}
	if len(r.notes) > 0 {
		st["footprint_ratio_of_limit"] = probe.StatusOf(errors.Join(r.notes...), "cgroup memory limit")
	}
	return f, st
}
