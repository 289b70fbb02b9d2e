// Package cpu reads the system-wide CPU picture that `vmstat 1` prints: time
// shares (us, sy, id, wa, st), the run queue r and blocked tasks b, context
// switches and interrupts per second, all over one sampling window.
//
// Sources (Documentation/filesystems/proc.rst, "1.7 Miscellaneous kernel statistics in /proc/stat"):
//
//	cpu  2041 0 2153 34806 410 0 57 94 0 0      (USER_HZ ticks, read with gopsutil cpu.TimesWithContext)
//	intr 2307213 0 9 0 ...                      (first number: all interrupts since boot)
//	ctxt 4263921                                (context switches since boot)
//	procs_running 3                             (nr_running(): runnable tasks, the reader included)
//	procs_blocked 0                             (nr_iowait(): tasks waiting on block I/O)
//
// Formulas are procps vmstat's (src/vmstat.c): with Δ between the first and
// the last reading of the window and D = Δ(user+nice+system+irq+softirq+idle+iowait+steal),
// us = Δ(user+nice)/D, sy = Δ(system+irq+softirq)/D, id, wa, st = Δx/D (×100).
// guest and guest_nice are already inside user and nice and are not added.
package cpu

import (
	"context"
	"errors"
	"fmt"
	"time"

	gcpu "github.com/shirou/gopsutil/v4/cpu"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

// Facts is the system-wide CPU over the sampling window, as vmstat shows it.
type Facts struct {
	UserPct   float64 `expr:"user_pct" json:"user_pct" doc:"share of CPU time in user mode incl. nice, % (vmstat us)"`
	SystemPct float64 `expr:"system_pct" json:"system_pct" doc:"share of CPU time in the kernel incl. irq and softirq, % (vmstat sy)"`
	IdlePct   float64 `expr:"idle_pct" json:"idle_pct" doc:"share of CPU time idle, % (vmstat id)"`
	IowaitPct float64 `expr:"iowait_pct" json:"iowait_pct" doc:"share of CPU time idle while tasks wait on block I/O, % (vmstat wa)"`
	StealPct  float64 `expr:"steal_pct" json:"steal_pct" doc:"share of CPU time stolen by the hypervisor, % (vmstat st)"`
	IRQPct    float64 `expr:"irq_pct" json:"irq_pct" doc:"share of CPU time in hard and soft interrupts, % (part of system_pct)"`
	BusyPct   float64 `expr:"busy_pct" json:"busy_pct" doc:"share of CPU time doing work: 100 - idle - iowait - steal, %"`
	// RunQueue is runnable tasks (vmstat r), averaged over the window's
	// readings, not counting diagnose's own threads.
	RunQueue        float64 `expr:"run_queue" json:"run_queue" doc:"runnable tasks averaged over the window, diagnose itself excluded (vmstat r)"`
	RunQueueMax     float64 `expr:"run_queue_max" json:"run_queue_max" doc:"highest run queue in one reading of the window, diagnose excluded"`
	Blocked         float64 `expr:"blocked" json:"blocked" doc:"tasks blocked on block I/O averaged over the window (vmstat b)"`
	BlockedMax      float64 `expr:"blocked_max" json:"blocked_max" doc:"highest count of tasks blocked on block I/O in one reading"`
	CtxSwitchesPerS float64 `expr:"ctx_switches_per_s" json:"ctx_switches_per_s" doc:"context switches per second, all CPUs (vmstat cs)"`
	InterruptsPerS  float64 `expr:"interrupts_per_s" json:"interrupts_per_s" doc:"interrupts per second, all CPUs (vmstat in)"`
	Readings        int     `expr:"readings" json:"readings" doc:"number of readings run_queue and blocked were averaged over"`
	WindowS         float64 `expr:"window_s" json:"window_s" doc:"seconds between the first and the last reading"`
}

// sample is one reading of /proc/stat.
type sample struct {
	at    time.Time
	times gcpu.TimesStat // aggregate "cpu" line, seconds
	stat  procStat
	own   int // diagnose's own threads in state R at the reading
	err   error
}

type reader struct {
	samples []sample
}

// New returns a reader for one run; the target is ignored (system-wide).
func New(probe.Target, probe.Options) probe.Reader { return &reader{} }

// errNoCPULine is returned when gopsutil finds no aggregate cpu line.
var errNoCPULine = errors.New("no aggregate cpu line in /proc/stat")

// Read takes one reading of /proc/stat and counts diagnose's running threads.
func (r *reader) Read(ctx context.Context, h probe.Host) {
	s := sample{at: h.Now}
	// Our own parser first: it reports a missing or unreadable file with its
	// reason (gopsutil returns an empty list and no error in that case).
	b, err := h.ReadFile("proc", "stat")
	if err == nil {
		s.stat, err = parseProcStat(b)
	}
	if err == nil {
		s.own = ownRunning(h)
		var ts []gcpu.TimesStat
		ts, err = probe.Gopsutil(ctx, h, func(ctx context.Context) ([]gcpu.TimesStat, error) {
			return gcpu.TimesWithContext(ctx, false)
		}, "proc/stat")
		if err == nil && len(ts) == 0 {
			err = errNoCPULine
		}
		if err == nil {
			s.times = ts[0]
		}
	}
	s.err = err
	r.samples = append(r.samples, s)
}

// Finish computes the facts over the window.
func (r *reader) Finish() (any, probe.Statuses) {
	var f Facts
	st := probe.Statuses{}
	var good []sample
	var firstErr error
	for _, s := range r.samples {
		if s.err != nil {
			if firstErr == nil {
				firstErr = s.err
			}
			continue
		}
		good = append(good, s)
	}
	if len(good) == 0 {
		if firstErr == nil {
			firstErr = errors.New("no reading taken")
		}
		st[""] = probe.StatusOf(firstErr, "/proc/stat")
		return f, st
	}
	st[""] = probe.Status{State: probe.OK}

	// r and b: averages over every reading that had them.
	var rSum, bSum float64
	var rN, bN int
	for _, s := range good {
		if s.stat.has&hasRunning != 0 {
			v := float64(max(int64(s.stat.procsRunning)-int64(s.own), 0))
			rSum += v
			f.RunQueueMax = max(f.RunQueueMax, v)
			rN++
		}
		if s.stat.has&hasBlocked != 0 {
			v := float64(s.stat.procsBlocked)
			bSum += v
			f.BlockedMax = max(f.BlockedMax, v)
			bN++
		}
	}
	if rN > 0 {
		f.RunQueue = rSum / float64(rN)
	} else {
		st["run_queue"] = missing("procs_running")
		st["run_queue_max"] = missing("procs_running")
	}
	if bN > 0 {
		f.Blocked = bSum / float64(bN)
	} else {
		st["blocked"] = missing("procs_blocked")
		st["blocked_max"] = missing("procs_blocked")
	}
	f.Readings = max(rN, bN)

	first, last := good[0], good[len(good)-1]
	dt := last.at.Sub(first.at).Seconds()
	f.WindowS = dt
	rates := []string{"user_pct", "system_pct", "idle_pct", "iowait_pct", "steal_pct", "irq_pct", "busy_pct", "ctx_switches_per_s", "interrupts_per_s"}
	if len(good) < 2 || dt <= 0 {
		for _, k := range rates {
			st[k] = probe.Status{State: probe.Unavailable, Reason: "needs two readings of /proc/stat some time apart; the window had one", Fix: "sample for a longer window (--duration)"}
		}
		return f, st
	}

	a, z := first.times, last.times
	// Tick counters only grow, but idle and iowait can step back briefly
	// under NO_HZ: clamp every delta at zero.
	user := dsec(a.User, z.User) + dsec(a.Nice, z.Nice)
	sys := dsec(a.System, z.System)
	irq := dsec(a.Irq, z.Irq) + dsec(a.Softirq, z.Softirq)
	idle := dsec(a.Idle, z.Idle)
	iowait := dsec(a.Iowait, z.Iowait)
	steal := dsec(a.Steal, z.Steal)
	total := user + sys + irq + idle + iowait + steal
	if total <= 0 {
		for _, k := range rates[:7] {
			st[k] = probe.Status{State: probe.Unavailable, Reason: "no CPU time elapsed between the readings of /proc/stat", Fix: "sample for a longer window (--duration)"}
		}
	} else {
		pct := func(x float64) float64 { return 100 * x / total }
		f.UserPct = pct(user)
		f.SystemPct = pct(sys + irq)
		f.IRQPct = pct(irq)
		f.IdlePct = pct(idle)
		f.IowaitPct = pct(iowait)
		f.StealPct = pct(steal)
		f.BusyPct = max(0, 100-f.IdlePct-f.IowaitPct-f.StealPct)
	}
	if first.stat.has&last.stat.has&hasCtxt != 0 {
		f.CtxSwitchesPerS = float64(probe.Delta(first.stat.ctxt, last.stat.ctxt)) / dt
	} else {
		st["ctx_switches_per_s"] = missing("ctxt")
	}
	if first.stat.has&last.stat.has&hasIntr != 0 {
		f.InterruptsPerS = float64(probe.Delta(first.stat.intr, last.stat.intr)) / dt
	} else {
		st["interrupts_per_s"] = missing("intr")
	}
	return f, st
}

func missing(line string) probe.Status {
	return probe.Status{State: probe.Unavailable, Reason: fmt.Sprintf("/proc/stat has no %s line", line)}
}

// dsec is a clamped delta of two cumulative times in seconds.
func dsec(a, b float64) float64 {
	if b < a {
		return 0
	}
	return b - a
}
