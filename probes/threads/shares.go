package threads

// The finish phase's arithmetic: thread time split into the classes, and
// what permissions kept unread blanked with its fix.

import (
	"errors"
	"fmt"
	"io/fs"
	"sort"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

// top turns counts of n samples into shares, largest first.
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
