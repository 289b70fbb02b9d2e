package hsperf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

// Facts are the target JVM's HotSpot counters over the window.
type Facts struct {
	Present        bool    `expr:"present" json:"present" doc:"the target is a HotSpot JVM that publishes hsperfdata (-XX:+UsePerfData, the default)"`
	PID            int     `expr:"pid" json:"pid" doc:"the JVM's process id"`
	File           string  `expr:"file" json:"file" doc:"the hsperfdata file read (/proc/PID/root/tmp/hsperfdata_USER/NSPID)"`
	VMName         string  `expr:"vm_name" json:"vm_name" doc:"java.vm.name, e.g. OpenJDK 64-Bit Server VM"`
	Policy         string  `expr:"policy" json:"policy" doc:"the collector as HotSpot names it (sun.gc.policy.name): GarbageFirst, ParScav:MSC (Parallel), Copy:MSC (Serial)"`
	YoungCollector string  `expr:"young_collector" json:"young_collector" doc:"name of collector 0 (young collections)"`
	OldCollector   string  `expr:"old_collector" json:"old_collector" doc:"name of collector 1 (old or full collections)"`
	UptimeS        float64 `expr:"uptime_s" json:"uptime_s" doc:"seconds since the JVM started (sun.os.hrt.ticks)"`
	WindowS        float64 `expr:"window_s" json:"window_s" doc:"seconds of JVM time between the first and last reading the rates cover"`

	GCTimePct      float64 `expr:"gc_time_pct" json:"gc_time_pct" doc:"share of the window spent in collector pauses, all collectors (jstat's GCT over wall time), %"`
	YoungGCTimePct float64 `expr:"young_gc_time_pct" json:"young_gc_time_pct" doc:"share of the window in young collections (YGCT), %"`
	OldGCTimePct   float64 `expr:"old_gc_time_pct" json:"old_gc_time_pct" doc:"share of the window in old/full collections (FGCT; G1 also its concurrent-cycle pauses, CGCT), %"`
	YoungGCPerS    float64 `expr:"young_gc_per_s" json:"young_gc_per_s" doc:"young collections per second over the window (YGC)"`
	OldGCPerS      float64 `expr:"old_gc_per_s" json:"old_gc_per_s" doc:"old/full collections per second over the window (FGC, G1 also CGC)"`
	YoungGCCount   int64   `expr:"young_gc_count" json:"young_gc_count" doc:"young collections since the JVM started (YGC)"`
	OldGCCount     int64   `expr:"old_gc_count" json:"old_gc_count" doc:"old/full collections since the JVM started (FGC, G1 also CGC)"`

	HeapUsedBytes       int64   `expr:"heap_used_bytes" json:"heap_used_bytes" doc:"heap in use at the last reading, bytes"`
	HeapCommittedBytes  int64   `expr:"heap_committed_bytes" json:"heap_committed_bytes" doc:"heap committed (the JVM holds it from the OS), bytes"`
	HeapMaxBytes        int64   `expr:"heap_max_bytes" json:"heap_max_bytes" doc:"the heap's maximum (-Xmx), bytes"`
	YoungUsedBytes      int64   `expr:"young_used_bytes" json:"young_used_bytes" doc:"young generation (eden and survivors) in use at the last reading, bytes"`
	YoungCommittedBytes int64   `expr:"young_committed_bytes" json:"young_committed_bytes" doc:"young generation committed, bytes"`
	YoungMaxBytes       int64   `expr:"young_max_bytes" json:"young_max_bytes" doc:"the young generation's maximum (G1: the whole heap), bytes"`
	OldUsedBytes        int64   `expr:"old_used_bytes" json:"old_used_bytes" doc:"old generation in use at the last reading, bytes"`
	OldCommittedBytes   int64   `expr:"old_committed_bytes" json:"old_committed_bytes" doc:"old generation committed, bytes"`
	OldMaxBytes         int64   `expr:"old_max_bytes" json:"old_max_bytes" doc:"the old generation's maximum (G1: the whole heap), bytes"`
	OldOccupancyPct     float64 `expr:"old_occupancy_pct" json:"old_occupancy_pct" doc:"old generation used / its maximum at the last reading (jstat O), %"`
	OldFloorPct         float64 `expr:"old_floor_pct" json:"old_floor_pct" doc:"lowest old-generation occupancy of the window's readings: what collections leave, the live set, %"`

	// HotSpot updates the metaspace counters at collections: 0 before the first.
	MetaspaceUsedBytes      int64 `expr:"metaspace_used_bytes" json:"metaspace_used_bytes" doc:"metaspace in use (MU), bytes (unavailable before the JVM's first collection: HotSpot fills the metaspace counters then)"`
	MetaspaceCommittedBytes int64 `expr:"metaspace_committed_bytes" json:"metaspace_committed_bytes" doc:"metaspace committed (MC), bytes"`
	MetaspaceMaxBytes       int64 `expr:"metaspace_max_bytes" json:"metaspace_max_bytes" doc:"metaspace maximum: MaxMetaspaceSize, or about 1 GiB (the class space's reservation) when unlimited, bytes"`
	ClassUsedBytes          int64 `expr:"class_used_bytes" json:"class_used_bytes" doc:"compressed class space in use (CCSU), bytes"`
	ClassCommittedBytes     int64 `expr:"class_committed_bytes" json:"class_committed_bytes" doc:"compressed class space committed (CCSC), bytes"`
	ClassMaxBytes           int64 `expr:"class_max_bytes" json:"class_max_bytes" doc:"compressed class space maximum (CompressedClassSpaceSize), bytes"`
	CompiledCodeBytes       int64 `expr:"compiled_code_bytes" json:"compiled_code_bytes" doc:"JIT-compiled methods in the code cache (sun.ci.nmethodSize), bytes"`

	ThreadsLive   int64 `expr:"threads_live" json:"threads_live" doc:"live Java threads"`
	ThreadsDaemon int64 `expr:"threads_daemon" json:"threads_daemon" doc:"live daemon Java threads"`
	ThreadsPeak   int64 `expr:"threads_peak" json:"threads_peak" doc:"most live Java threads since the JVM started"`

	SafepointCount   int64   `expr:"safepoint_count" json:"safepoint_count" doc:"safepoints since the JVM started"`
	SafepointsPerS   float64 `expr:"safepoints_per_s" json:"safepoints_per_s" doc:"safepoints (all threads stopped) per second over the window"`
	SafepointTimePct float64 `expr:"safepoint_time_pct" json:"safepoint_time_pct" doc:"share of the window with all Java threads stopped at safepoints (collections included), %"`
	SafepointSyncPct float64 `expr:"safepoint_sync_pct" json:"safepoint_sync_pct" doc:"share of the window spent bringing threads to safepoints (time-to-safepoint), %"`
}

// New reads the target's hsperfdata at every reading of the window; of a
// container's processes, the first JVM's.
func New(t probe.Target, _ probe.Options) probe.Reader {
	return &reader{pid: t.PID, others: t.Processes()}
}

type reader struct {
	pid         int
	others      []int  // the target's processes, to find its JVM in a container
	file        string // system path, once found
	open        *File
	first, last *Counters
	oldMin      int64
	err         error
	java        bool // without a file: the process is still a java launcher
}

func (r *reader) Read(ctx context.Context, h probe.Host) {
	if r.pid <= 0 || (r.err != nil && r.last == nil) {
		return // nothing to read, or it will not be there: one try decides
	}
	if r.open == nil {
		if r.file, r.err = Find(h, r.pid); r.err != nil {
			r.java = isJava(h, r.pid)
			if !r.findJVM(h) {
				return
			}
		}
		if r.open, r.err = Open(h, r.file); r.err != nil {
			return
		}
	}
	c, err := r.open.Read()
	if err != nil {
		if r.last == nil {
			r.err = err
		}
		return // the JVM ended mid-window: the readings so far stand
	}
	if r.first == nil {
		r.first = &c
		r.oldMin = math.MaxInt64
	}
	r.last = &c
	if len(c.Generations) > 1 {
		r.oldMin = min(r.oldMin, c.Generations[1].Used)
	}
}

// findJVM looks for the JVM among a container's other processes; it becomes
// the probe's process.
func (r *reader) findJVM(h probe.Host) bool {
	for _, pid := range r.others {
		if pid == r.pid {
			continue
		}
		if file, err := Find(h, pid); err == nil {
			r.pid, r.file, r.err, r.java = pid, file, nil, true
			return true
		}
	}
	return false
}

func (r *reader) Finish() (any, probe.Statuses) {
	if r.open != nil {
		r.open.Close()
	}
	st := probe.Statuses{}
	switch {
	case r.pid <= 0:
		st[""] = probe.Status{State: probe.Unavailable, Reason: "no target process", Fix: "pass --pid"}
		return Facts{}, st
	case r.last == nil && errors.Is(r.err, ErrNoFile) && !r.java:
		// Known: this process is no HotSpot JVM. Rules guard on present.
		st[""] = probe.Status{State: probe.OK, Reason: "the target is not a HotSpot JVM (it publishes no hsperfdata)"}
		return Facts{PID: r.pid}, st
	case r.last == nil:
		st[""] = statusOf(r.err, r.pid)
		return Facts{PID: r.pid}, st
	}
	f := facts(*r.first, *r.last, r.oldMin)
	f.PID, f.File = r.pid, r.file
	st[""] = probe.Status{State: probe.OK}
	if f.MetaspaceCommittedBytes == 0 {
		for _, k := range []string{"metaspace_used_bytes", "metaspace_committed_bytes", "class_used_bytes", "class_committed_bytes"} {
			st[k] = probe.Status{State: probe.Unavailable, Reason: "HotSpot fills the metaspace counters at the first collection; this JVM has not collected yet"}
		}
	}
	if f.WindowS == 0 {
		for _, k := range []string{"gc_time_pct", "young_gc_time_pct", "old_gc_time_pct", "young_gc_per_s", "old_gc_per_s",
			"safepoints_per_s", "safepoint_time_pct", "safepoint_sync_pct", "old_floor_pct"} {
			st[k] = probe.Status{State: probe.Unavailable, Reason: "needs two readings of hsperfdata some time apart; the window had one", Fix: "sample for a longer window (--duration)"}
		}
	}
	return f, st
}

// facts derives the window's facts from its first and last readings.
func facts(a, b Counters, oldMin int64) Facts {
	f := Facts{Present: true, VMName: probe.Sanitize(b.VMName), Policy: probe.Sanitize(b.Policy),
		UptimeS: float64(b.Ticks) / float64(b.Frequency)}
	if len(b.Collectors) > 0 {
		f.YoungCollector = probe.Sanitize(b.Collectors[0].Name)
	}
	if len(b.Collectors) > 1 {
		f.OldCollector = probe.Sanitize(b.Collectors[1].Name)
	}
	ticks := float64(b.Ticks - a.Ticks)
	if ticks > 0 && a.Frequency == b.Frequency {
		f.WindowS = probe.Round2(ticks / float64(b.Frequency))
	}
	pct := func(d int64) float64 {
		if f.WindowS == 0 {
			return 0
		}
		return probe.Round2(100 * float64(d) / ticks)
	}
	perS := func(d int64) float64 {
		if f.WindowS == 0 {
			return 0
		}
		return probe.Round2(float64(d) * float64(b.Frequency) / ticks)
	}
	// Collector 0 is young; every other one (old/full, G1's concurrent-cycle
	// pauses) counts as old, as jstat's FGC and CGC together.
	var youngT, oldT, youngN, oldN int64
	for i, c := range b.Collectors {
		var prev Collector
		if i < len(a.Collectors) {
			prev = a.Collectors[i]
		}
		if i == 0 {
			youngT, youngN, f.YoungGCCount = c.Ticks-prev.Ticks, c.Invocations-prev.Invocations, c.Invocations
		} else {
			oldT, oldN, f.OldGCCount = oldT+c.Ticks-prev.Ticks, oldN+c.Invocations-prev.Invocations, f.OldGCCount+c.Invocations
		}
	}
	f.YoungGCTimePct, f.OldGCTimePct, f.GCTimePct = pct(youngT), pct(oldT), pct(youngT+oldT)
	f.YoungGCPerS, f.OldGCPerS = perS(youngN), perS(oldN)
	for _, g := range b.Generations {
		f.HeapUsedBytes += g.Used
		f.HeapCommittedBytes += g.Committed
		if b.Policy == "GarbageFirst" {
			f.HeapMaxBytes = max(f.HeapMaxBytes, g.MaxBytes) // each G1 generation may grow to the whole heap
		} else {
			f.HeapMaxBytes += g.MaxBytes
		}
	}
	if len(b.Generations) > 0 {
		y := b.Generations[0]
		f.YoungUsedBytes, f.YoungCommittedBytes, f.YoungMaxBytes = y.Used, y.Committed, y.MaxBytes
	}
	if len(b.Generations) > 1 {
		old := b.Generations[1]
		f.OldUsedBytes, f.OldCommittedBytes, f.OldMaxBytes = old.Used, old.Committed, old.MaxBytes
		if old.MaxBytes > 0 {
			f.OldOccupancyPct = probe.Round2(100 * float64(old.Used) / float64(old.MaxBytes))
			if f.WindowS > 0 {
				f.OldFloorPct = probe.Round2(100 * float64(oldMin) / float64(old.MaxBytes))
			}
		}
	}
	f.MetaspaceUsedBytes, f.MetaspaceCommittedBytes, f.MetaspaceMaxBytes = b.MetaspaceUsed, b.MetaspaceCommitted, b.MetaspaceMax
	f.ClassUsedBytes, f.ClassCommittedBytes, f.ClassMaxBytes = b.ClassUsed, b.ClassCommitted, b.ClassMax
	f.CompiledCodeBytes = b.CompiledCodeBytes
	f.ThreadsLive, f.ThreadsDaemon, f.ThreadsPeak = b.ThreadsLive, b.ThreadsDaemon, b.ThreadsPeak
	f.SafepointCount = b.Safepoints
	f.SafepointsPerS = perS(b.Safepoints - a.Safepoints)
	f.SafepointTimePct = pct(b.SafepointTicks - a.SafepointTicks)
	f.SafepointSyncPct = pct(b.SafepointSyncTicks - a.SafepointSyncTicks)
	return f
}

// isJava tells a JVM that hides its counters (-XX:-UsePerfData) from a
// process that is no JVM: its executable or name is java.
func isJava(h probe.Host, pid int) bool {
	exe, _ := h.Readlink("proc", strconv.Itoa(pid), "exe")
	comm, _ := h.ReadFile("proc", strconv.Itoa(pid), "comm")
	return filepath.Base(exe) == "java" || string(bytes.TrimSpace(comm)) == "java"
}

// Once reads an hsperfdata file at a system path once: the sizes (heap,
// metaspace, code, threads) without rates.
func Once(h probe.Host, file string) (Facts, error) {
	c, err := ReadFile(h, file)
	if err != nil {
		return Facts{}, err
	}
	f := facts(c, c, 0)
	f.File = file
	return f, nil
}

// ErrNoFile means the process publishes no hsperfdata.
var ErrNoFile = errors.New("no hsperfdata file")

// Find returns the system path of a process's hsperfdata file: HotSpot
// writes /tmp/hsperfdata_USER/PID with the PID and /tmp of the JVM's own
// namespaces, so it is looked for under /proc/PID/root with the innermost
// PID of /proc/PID/status NSpid.
func Find(h probe.Host, pid int) (string, error) {
	status, err := h.ReadFile("proc", strconv.Itoa(pid), "status")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%w: pid %d", probe.ErrNoProcess, pid)
		}
		return "", err
	}
	nspid := strconv.Itoa(pid)
	if s, err := probe.ParseProcStatus(status); err == nil && s.NSpid != "" {
		nspid = s.NSpid
	}
	tmp := filepath.Join("/proc", strconv.Itoa(pid), "root", "tmp")
	dirs, err := h.DirNames(256, tmp)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path under the root would name where the fixture lives
		}
		if errors.Is(err, fs.ErrPermission) {
			return "", &fs.PathError{Op: "open", Path: tmp, Err: err}
		}
		return "", fmt.Errorf("%w: cannot list %s: %w", ErrNoFile, tmp, err)
	}
	for _, d := range dirs {
		if len(d) > len("hsperfdata_") && d[:len("hsperfdata_")] == "hsperfdata_" {
			p := filepath.Join(tmp, d, nspid)
			if _, err := os.Lstat(h.Path(p)); err == nil || !errors.Is(err, fs.ErrNotExist) {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("%w in %s/hsperfdata_*/%s", ErrNoFile, tmp, nspid)
}

// maxFile bounds a read: HotSpot's default is 32 KiB (-XX:PerfDataMemorySize).
const maxFile = 1 << 20

// File is an open hsperfdata file, read again at each reading: the JVM
// updates it in place (it is the JVM's own memory, mapped).
type File struct {
	f   *os.File
	buf []byte
}

// Open opens an hsperfdata file at a system path: a regular file only,
// without following a final symlink or blocking on a FIFO, of at most 1 MiB.
func Open(h probe.Host, file string) (*File, error) {
	f, err := probe.OpenRegularNoFollow(h.Path(file))
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			pe.Path = file // the system path, not where the root put it
		}
		return nil, err
	}
	fi, err := f.Stat()
	switch {
	case err != nil:
	case fi.Size() > maxFile:
		err = fmt.Errorf("%s: %w", file, probe.ErrTooLarge)
	case fi.Size() < prologueSize:
		err = fmt.Errorf("%s: %w: %d bytes", file, ErrNotHSPerf, fi.Size())
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &File{f: f, buf: make([]byte, fi.Size())}, nil
}

// Read reads the counters as they are now.
func (f *File) Read() (Counters, error) {
	n, err := f.f.ReadAt(f.buf, 0)
	if err != nil && !(errors.Is(err, io.EOF) && n >= prologueSize) {
		return Counters{}, fmt.Errorf("read %s: %w", f.f.Name(), err)
	}
	return Parse(f.buf[:n])
}

func (f *File) Close() error { return f.f.Close() }

// ReadFile reads the counters of an hsperfdata file once.
func ReadFile(h probe.Host, file string) (Counters, error) {
	f, err := Open(h, file)
	if err != nil {
		return Counters{}, err
	}
	defer f.Close()
	return f.Read()
}

func statusOf(err error, pid int) probe.Status {
	switch {
	case errors.Is(err, probe.ErrNoProcess):
		return probe.Status{State: probe.Unavailable, Reason: fmt.Sprintf("process %d does not exist", pid)}
	case errors.Is(err, ErrNoFile):
		return probe.Status{State: probe.Unavailable,
			Reason: fmt.Sprintf("the target is java but publishes no hsperfdata (%v): it runs with -XX:-UsePerfData or -XX:+PerfDisableSharedMem, or is not HotSpot", err),
			Fix:    "run it without -XX:-UsePerfData / -XX:+PerfDisableSharedMem, or use --jcmd"}
	case errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.ELOOP):
		return probe.Status{State: probe.Unavailable, Reason: fmt.Sprintf("cannot open the JVM's hsperfdata: %v", err),
			Fix: "run as root or as the JVM's user (the file is mode 0600)"}
	case errors.Is(err, ErrNotAccessible):
		return probe.Status{State: probe.Unavailable, Reason: err.Error(), Fix: "run again once the JVM has started"}
	}
	return probe.Status{State: probe.Error, Reason: fmt.Sprintf("hsperfdata: %v", err)}
}
