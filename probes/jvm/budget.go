package jvm

import (
	"fmt"
	"math"

	"github.com/diagnose-sh/diagnose/probes/hsperf"
	"github.com/diagnose-sh/diagnose/probes/probe"
)

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
	o, _ := parseOptions(groups)
	o = heapFacts(j, o, m, lim)
	heapFrom := "flags (" + j.HeapSource + ")"
	switch {
	case m.flags != nil && j.HeapMeasured:
		heapFrom = "jcmd VM.flags"
	case j.PerfData && j.HeapMeasured:
		heapFrom = "hsperfdata"
	}
	j.Measured = m.measured
	switch {
	case m.measured:
		j.Components = measuredComponents(j, o, m.nmt)
		j.Sources = "heap: " + heapFrom + "; non-heap: jcmd VM.native_memory (committed)"
		j.MeasureNote = ""
	default:
		var metaFrom, codeFrom string
		j.Components, metaFrom, codeFrom = estimatedComponents(j, o, m.perf)
		j.Sources = fmt.Sprintf("heap: %s; metaspace: %s; code cache: %s; thread stacks: /proc thread count x stack size; direct, GC and other native: estimated",
			heapFrom, metaFrom, codeFrom)
		switch {
		case j.PerfData:
			j.MeasureNote = "heap, metaspace and code cache measured from hsperfdata; direct buffers, GC and other native estimated (" + m.note + ")"
		case m.perfErr != nil:
			j.MeasureNote = m.note + "; no hsperfdata: " + probe.Sanitize(m.perfErr.Error())
		default:
			j.MeasureNote = m.note
		}
	}
	fit(j, lim)
}

// heapFacts sets the heap, collector, stack and direct-memory facts: from the
// flags as the JVM's ergonomics would on this machine, overridden by what
// jcmd VM.flags or hsperfdata measured. It returns the options with
// jcmd's values in.
func heapFacts(j *JVM, o options, m measurement, lim machine) options {
	j.ContainerSupport = o.containerSupport && (lim.version != 2 || understandsV2(j.JavaVersion))
	sees := lim.hostMem
	if j.ContainerSupport && lim.limited {
		sees = lim.limit
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
	if m.flags != nil {
		mo, _ := parseOptions([]source{{"jcmd VM.flags", m.flags}})
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
	j.GC = chooseGC(o, lim.cpus, sees)
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
	if m.perfErr == nil {
		j.PerfData = true
		if gc, ok := policyGC[m.perf.Policy]; ok {
			j.GC = gc
		}
		j.HeapCommittedBytes, j.HeapUsedBytes = uint64(m.perf.HeapCommittedBytes), uint64(m.perf.HeapUsedBytes)
		if m.flags == nil && m.perf.HeapMaxBytes > 0 {
			j.HeapMaxBytes, j.HeapMeasured = uint64(m.perf.HeapMaxBytes), true
			if !j.DirectMemorySet {
				j.DirectMemoryMaxBytes = j.HeapMaxBytes
			}
		}
	}
	return o
}

// measuredComponents is the footprint jcmd VM.native_memory measured.
func measuredComponents(j *JVM, o options, nm nmt) Components {
	cm := nm.committed
	c := Components{HeapBytes: j.HeapMaxBytes}
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
	return c
}

// estimatedComponents is the footprint from flags and HotSpot's defaults,
// with hsperfdata's metaspace and compiled code where it has them; it says
// where those two came from.
func estimatedComponents(j *JVM, o options, perf hsperf.Facts) (c Components, metaFrom, codeFrom string) {
	c = Components{HeapBytes: j.HeapMaxBytes}
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
	metaFrom, codeFrom = "flags or estimate", "flags or estimate"
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
	return c, metaFrom, codeFrom
}

// fit compares the footprint with the memory limit and finds the
// MaxRAMPercentage that would fit it.
func fit(j *JVM, lim machine) {
	c := j.Components
	j.FootprintBytes = c.sum()
	j.NonHeapBytes = j.FootprintBytes - c.HeapBytes
	j.Limited, j.LimitBytes = lim.limited, lim.limit
	if !lim.limited || lim.limit == 0 {
		return
	}
	limit := float64(lim.limit)
	j.FootprintRatioOfLimit = float64(j.FootprintBytes) / limit
	j.HeapRatioOfLimit = float64(j.HeapMaxBytes) / limit
	j.HeapAt75PctBytes = maxHeap(options{maxRAMPct: 75, hasMaxRAMPct: true}, lim.limit).bytes
	// Non-heap that does not scale with the heap, and the GC share that does.
	fixed := float64(j.NonHeapBytes - c.GCBytes)
	share := gcOverhead(j.GC)
	if room := fitThreshold*limit - fixed; room > 0 {
		j.FittingMaxRAMPct = min(75, math.Floor(100*room/(1+share)/limit))
	}
}

// policyGC names HotSpot's collector policies as the flags do.
var policyGC = map[string]string{"GarbageFirst": "G1", "ParScav:MSC": "Parallel", "Copy:MSC": "Serial"}
