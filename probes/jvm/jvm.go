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
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/diagnose-sh/diagnose/probes/cgroup"
	"github.com/diagnose-sh/diagnose/probes/hostinfo"
	"github.com/diagnose-sh/diagnose/probes/hsperf"
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

// inspect reads a process and says whether it is a JVM.
func inspect(h probe.Host, pid int) (JVM, []source, bool, error) {
	ps := strconv.Itoa(pid)
	exe, _ := h.Readlink("proc", ps, "exe")
	exe = strings.TrimSuffix(exe, " (deleted)")
	isJava := path.Base(exe) == "java"
	if !isJava {
		b, err := h.ReadFile("proc", ps, "maps")
		if err != nil || !bytes.Contains(b, []byte("/libjvm.so")) {
			return JVM{}, nil, false, err
		}
	}
	st, err := h.ReadFile("proc", ps, "status")
	if err != nil {
		return JVM{}, nil, false, err
	}
	// What a garbled status holds is shown as far as it parsed: a JVM is
	// found by its executable and libjvm.so, not by these.
	status, _ := probe.ParseProcStatus(st)
	j := JVM{PID: pid, Name: probe.Sanitize(status.Name), RSSBytes: status.VmRSSKB * 1024, Threads: int(status.Threads)}
	cmd, err := h.ReadFile("proc", ps, "cmdline")
	if err != nil {
		return JVM{}, nil, false, err
	}
	args := splitNUL(cmd)
	c := strings.Join(args, " ")
	if len(c) > maxCommand {
		c = c[:maxCommand]
	}
	j.Command = probe.Sanitize(c)
	env := map[string]string{}
	if b, err := h.ReadFile("proc", ps, "environ"); err == nil {
		for _, kv := range splitNUL(b) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				switch k {
				case "JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS":
					env[k] = v
				}
			}
		}
	}
	var groups []source
	add := func(from string, opts []string) {
		if len(opts) > 0 {
			groups = append(groups, source{from, opts})
		}
	}
	for _, k := range []string{"JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS"} {
		if v, ok := env[k]; ok && (k != "JDK_JAVA_OPTIONS" || isJava) {
			add(k, splitOptions(v))
			j.EnvOptions = append(j.EnvOptions, k)
		}
	}
	if len(args) > 1 {
		if isJava {
			add("command line", launcherOptions(args[1:]))
		} else {
			add("command line", embeddedOptions(args[1:]))
		}
	}
	if v, ok := env["_JAVA_OPTIONS"]; ok {
		add("_JAVA_OPTIONS", splitOptions(v))
		j.EnvOptions = append(j.EnvOptions, "_JAVA_OPTIONS")
	}
	for _, g := range groups {
		for _, o := range g.opts {
			j.Flags = append(j.Flags, probe.Sanitize(o))
		}
	}
	if exe != "" {
		home := path.Dir(path.Dir(exe))
		if b, err := h.ReadFile("proc", ps, "root", home, "release"); err == nil {
			j.JavaVersion = probe.Sanitize(releaseVersion(b))
		}
	}
	return j, groups, true, nil
}

func splitNUL(b []byte) []string {
	var out []string
	for _, p := range bytes.Split(bytes.TrimRight(b, "\x00"), []byte{0}) {
		if len(p) > 0 {
			out = append(out, string(p))
		}
	}
	return out
}

func releaseVersion(b []byte) string {
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "JAVA_VERSION="); ok {
			return strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	return ""
}

// understandsV2 says whether a JDK version reads cgroup v2 limits: 15+,
// 11.0.16+, 8u372+. Unknown versions are assumed to.
func understandsV2(v string) bool {
	if v == "" {
		return true
	}
	parts := strings.FieldsFunc(v, func(r rune) bool { return r == '.' || r == '_' || r == '-' || r == '+' })
	num := func(i int) int {
		if i >= len(parts) {
			return 0
		}
		n, _ := strconv.Atoi(parts[i])
		return n
	}
	major := num(0)
	if major == 1 {
		return num(1) > 8 || num(3) >= 372
	}
	switch {
	case major >= 15:
		return true
	case major == 11:
		return num(2) >= 16
	}
	return false
}

// measurement is what was read of a JVM beyond its flags: jcmd's (with
// --jcmd) and its hsperfdata counters.
type measurement struct {
	flags    []string // jcmd VM.flags, nil without
	nmt      nmt
	measured bool // NMT gave the non-heap footprint
	note     string
	perf     hsperf.Facts
	perfErr  error
}

// measure reads a JVM: jcmd VM.flags and VM.native_memory when allowed
// (under ctx, the run's), and its hsperfdata.
func measure(ctx context.Context, h probe.Host, allowJCMD bool, j JVM, groups []source, attached *int) measurement {
	var m measurement
	o, _ := parseOptions(groups)
	switch {
	case !allowJCMD:
		m.note = "footprint estimated from flags; --jcmd measures it (jcmd attaches to the JVM)"
	case h.Run == nil:
		m.note = "jcmd may not be run here: footprint estimated from flags"
	case o.attachDisabled:
		m.note = "the JVM disables attach (-XX:+DisableAttachMechanism or -Xrs): footprint estimated from flags"
	case *attached >= maxAttach:
		m.note = fmt.Sprintf("only %d JVMs are attached to per run: footprint estimated from flags", maxAttach)
	default:
		*attached++
		flagsCtx, cancel := context.WithTimeout(ctx, jcmdTimeout)
		out, err := h.Run(flagsCtx, "jcmd", strconv.Itoa(j.PID), "VM.flags")
		cancel()
		if err == nil {
			m.flags, err = parseVMFlags(out)
		}
		if err != nil {
			m.flags, m.note = nil, "jcmd VM.flags failed: "+probe.Sanitize(firstLine(out, err))
			break
		}
		all := append(append([]source{}, groups...), source{"jcmd VM.flags", m.flags})
		if mo, _ := parseOptions(all); mo.nmt == "summary" || mo.nmt == "detail" {
			nmtCtx, cancel := context.WithTimeout(ctx, jcmdTimeout)
			out, err := h.Run(nmtCtx, "jcmd", strconv.Itoa(j.PID), "VM.native_memory", "summary")
			cancel()
			if err == nil {
				m.nmt, err = parseNMT(out)
			}
			if err == nil {
				m.measured = true
			} else {
				m.note = "jcmd VM.native_memory failed: " + probe.Sanitize(firstLine(out, err))
			}
		} else {
			m.note = "native memory tracking is off (-XX:NativeMemoryTracking=summary enables it): non-heap estimated"
		}
	}
	m.perf, m.perfErr = readPerf(h, j.PID)
	return m
}

// machine is what a JVM's budget is measured against: its cgroup and host.
type machine struct {
	version int // cgroup version
	limit   uint64
	limited bool
	hostMem uint64
	cpus    int
}

// budget estimates a JVM's heap and footprint from its flags and what was
// measured of it, against the limits: computation only.
func budget(j *JVM, groups []source, m measurement, lim machine) {
	measuredFlags, nm, measured := m.flags, m.nmt, m.measured
	j.MeasureNote = m.note
	o, _ := parseOptions(groups)
	version, limit, limited, hostMem, cpus := lim.version, lim.limit, lim.limited, lim.hostMem, lim.cpus
	j.ContainerSupport = o.containerSupport && (version != 2 || understandsV2(j.JavaVersion))
	sees := hostMem
	if j.ContainerSupport && limited {
		sees = limit
	}
	hp := maxHeap(o, sees)
	j.HeapMaxBytes, j.HeapSource, j.HeapFixed = hp.bytes, hp.source, o.xmx > 0
	if o.xmx > 0 {
		j.HeapFlagFrom = o.xmxFrom
	}
	j.SeesMemoryBytes = sees
	if o.maxRAM > 0 {
		j.SeesMemoryBytes = o.maxRAM
	}
	if measuredFlags != nil {
		mo, _ := parseOptions([]source{{"jcmd VM.flags", measuredFlags}})
		if mo.xmx > 0 {
			j.HeapMaxBytes, j.HeapMeasured = mo.xmx, true
		}
		if mo.gc != "" {
			o.gc = mo.gc
		}
		if mo.codeCache > 0 {
			o.codeCache = mo.codeCache
		}
		if mo.maxDirect > 0 {
			o.maxDirect = mo.maxDirect
		}
	}
	j.GC = chooseGC(o, cpus, sees)
	j.StackSizeBytes = o.xss
	if j.StackSizeBytes == 0 {
		j.StackSizeBytes = defaultStack
	}
	j.DirectMemorySet = o.maxDirect > 0
	j.DirectMemoryMaxBytes = o.maxDirect
	if !j.DirectMemorySet {
		j.DirectMemoryMaxBytes = j.HeapMaxBytes
	}

	// Without NMT, the JVM's own counters measure what they cover: heap max,
	// metaspace, compiled code. The rest stays estimated from flags.
	perf, perfErr := m.perf, m.perfErr
	if perfErr == nil {
		j.PerfData = true
		if gc, ok := policyGC[perf.Policy]; ok {
			j.GC = gc
		}
		j.HeapCommittedBytes, j.HeapUsedBytes = uint64(perf.HeapCommittedBytes), uint64(perf.HeapUsedBytes)
		if measuredFlags == nil && perf.HeapMaxBytes > 0 {
			j.HeapMaxBytes, j.HeapMeasured = uint64(perf.HeapMaxBytes), true
			if !j.DirectMemorySet {
				j.DirectMemoryMaxBytes = j.HeapMaxBytes
			}
		}
	}

	c := Components{HeapBytes: j.HeapMaxBytes}
	heapFrom := "flags (" + j.HeapSource + ")"
	switch {
	case measuredFlags != nil && j.HeapMeasured:
		heapFrom = "jcmd VM.flags"
	case j.PerfData && j.HeapMeasured:
		heapFrom = "hsperfdata"
	}
	if measured {
		cm := nm.committed
		c.MetaspaceBytes = cm["Class"] + cm["Metaspace"]
		c.CodeCacheBytes = cm["Code"]
		c.DirectBytes = cm["Other"]
		c.ThreadStacksBytes = cm["Thread"]
		c.GCBytes = cm["GC"]
		known := cm["Java Heap"] + c.MetaspaceBytes + c.CodeCacheBytes + c.DirectBytes + c.ThreadStacksBytes + c.GCBytes
		if nm.total > known {
			c.OtherBytes = nm.total - known
		}
		// A direct-memory cap set above the limit is a budget, not a measurement: keep it.
		if j.DirectMemorySet && o.maxDirect > c.DirectBytes {
			c.DirectBytes = o.maxDirect
		}
		j.Sources = "heap: " + heapFrom + "; non-heap: jcmd VM.native_memory (committed)"
	} else {
		c.MetaspaceBytes = o.maxMeta
		if c.MetaspaceBytes == 0 {
			c.MetaspaceBytes = metaspaceBase + metaspacePer*assumedClasses
		}
		c.CodeCacheBytes = o.codeCache
		if c.CodeCacheBytes == 0 {
			c.CodeCacheBytes = codeCacheTiered
			if !o.tiered {
				c.CodeCacheBytes = codeCacheNoTiered
			}
		}
		c.DirectBytes = o.maxDirect
		if c.DirectBytes == 0 {
			c.DirectBytes = assumedDirect
		}
		c.ThreadStacksBytes = uint64(max(j.Threads, 1)) * j.StackSizeBytes
		c.GCBytes = uint64(float64(j.HeapMaxBytes) * gcOverhead(j.GC))
		c.OtherBytes = otherNative
		metaFrom, codeFrom := "flags or estimate", "flags or estimate"
		if j.PerfData {
			c.CodeCacheBytes, codeFrom = uint64(perf.CompiledCodeBytes), "hsperfdata (compiled code)"
			switch {
			case o.maxMeta > uint64(perf.MetaspaceCommittedBytes): // a cap is what it may grow to
				c.MetaspaceBytes, metaFrom = o.maxMeta, "-XX:MaxMetaspaceSize"
			case perf.MetaspaceCommittedBytes > 0:
				c.MetaspaceBytes, metaFrom = uint64(perf.MetaspaceCommittedBytes), "hsperfdata (committed)"
			default: // HotSpot fills the metaspace counters at the first collection
				metaFrom = "estimate (hsperfdata has none before the first collection)"
			}
		}
		j.Sources = fmt.Sprintf("heap: %s; metaspace: %s; code cache: %s; thread stacks: /proc thread count x stack size; direct, GC and other native: estimated",
			heapFrom, metaFrom, codeFrom)
	}
	j.Measured = measured
	if measured {
		j.MeasureNote = ""
	} else if j.PerfData {
		j.MeasureNote = "heap, metaspace and code cache measured from hsperfdata; direct buffers, GC and other native estimated (" + j.MeasureNote + ")"
	} else if perfErr != nil {
		j.MeasureNote += "; no hsperfdata: " + probe.Sanitize(perfErr.Error())
	}
	j.Components = c
	j.FootprintBytes = c.sum()
	j.NonHeapBytes = j.FootprintBytes - c.HeapBytes
	j.Limited, j.LimitBytes = limited, limit
	if limited && limit > 0 {
		j.FootprintRatioOfLimit = float64(j.FootprintBytes) / float64(limit)
		j.HeapRatioOfLimit = float64(j.HeapMaxBytes) / float64(limit)
		j.HeapAt75PctBytes = maxHeap(options{maxRAMPct: 75, hasMaxRAMPct: true}, limit).bytes
		// Non-heap that does not scale with the heap, and the GC share that does.
		fixed := float64(j.NonHeapBytes - c.GCBytes)
		share := gcOverhead(j.GC)
		room := fitThreshold*float64(limit) - fixed
		if room > 0 {
			pct := math.Floor(100 * room / (1 + share) / float64(limit))
			j.FittingMaxRAMPct = min(75, pct)
		}
	}
}

// policyGC names HotSpot's collector policies as the flags do.
var policyGC = map[string]string{"GarbageFirst": "G1", "ParScav:MSC": "Parallel", "Copy:MSC": "Serial"}

// readPerf reads a JVM's hsperfdata once: what the budget needs is its
// current sizes, not rates.
func readPerf(h probe.Host, pid int) (hsperf.Facts, error) {
	file, err := hsperf.Find(h, pid)
	if err != nil {
		return hsperf.Facts{}, err
	}
	return hsperf.Once(h, file)
}

func firstLine(out []byte, err error) string {
	s := strings.TrimSpace(string(out))
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasSuffix(line, ":") {
			return clip(line + " (" + err.Error() + ")")
		}
	}
	return err.Error()
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
