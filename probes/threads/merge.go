package threads

import (
	"sort"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

// Merge combines a container's per-process profiles as if they were one
// process: average threads per class add up, shares are of the summed
// thread time, lock churn adds up, the largest same-futex group is the
// largest of any one process (futex addresses are per address space), and
// the top wchans and syscalls are weighted by each process's samples.
func Merge(parts []probe.Part) (any, probe.Statuses) {
	fs, st := probe.Merged[Facts](parts)
	if len(fs) == 0 {
		return Facts{}, st
	}
	var m Facts
	var total, other, mutex float64
	wchans, syscalls := map[string]float64{}, map[string]float64{}
	jvm := -1
	for i, f := range fs {
		t := averageThreads(f)
		total += t
		other += f.OtherPct * t
		mutex += f.MutexWaitPct * float64(f.ThreadSamples)
		m.Samples = max(m.Samples, f.Samples)
		m.ThreadSamples += f.ThreadSamples
		m.Threads += f.Threads
		if m.SampleHz == 0 || f.SampleHz < m.SampleHz {
			m.SampleHz = f.SampleHz
		}
		m.RunningThreads += f.RunningThreads
		m.RunnableThreads += f.RunnableThreads
		m.LockThreads += f.LockThreads
		m.DiskThreads += f.DiskThreads
		m.PagingThreads += f.PagingThreads
		m.NetworkThreads += f.NetworkThreads
		m.PollThreads += f.PollThreads
		m.IdleThreads += f.IdleThreads
		m.LockWakeupsPerS += f.LockWakeupsPerS
		m.ContendingThreads += f.ContendingThreads
		if f.SameFutexWaitersAvg > m.SameFutexWaitersAvg {
			m.SameFutexWaitersAvg, m.SameFutexWaitersMax, m.SameFutexAddr = f.SameFutexWaitersAvg, f.SameFutexWaitersMax, f.SameFutexAddr
		}
		if f.JVMTopMonitor != "" && (jvm < 0 || f.JVMBlockedThreads > fs[jvm].JVMBlockedThreads) {
			jvm = i
		}
		for _, s := range f.TopWchans {
			wchans[s.Name] += s.Pct * float64(f.ThreadSamples)
		}
		for _, s := range f.TopSyscalls {
			syscalls[s.Name] += s.Pct * float64(f.ThreadSamples)
		}
		m.Processes = append(m.Processes, f.Processes...)
	}
	if jvm >= 0 {
		j := fs[jvm]
		m.JVMBlockedThreads, m.JVMTopMonitor, m.JVMTopMonitorWaiters, m.JVMBlockedAt, m.JVMMonitorHolder =
			j.JVMBlockedThreads, j.JVMTopMonitor, j.JVMTopMonitorWaiters, j.JVMBlockedAt, j.JVMMonitorHolder
	}
	if total > 0 {
		pct := func(threads float64) float64 { return probe.Round2(threads / total * 100) }
		m.RunningPct, m.RunnablePct, m.LockPct = pct(m.RunningThreads), pct(m.RunnableThreads), pct(m.LockThreads)
		m.DiskPct, m.PagingPct, m.NetworkPct = pct(m.DiskThreads), pct(m.PagingThreads), pct(m.NetworkThreads)
		m.PollPct, m.IdlePct = pct(m.PollThreads), pct(m.IdleThreads)
		m.OtherPct = probe.Round2(other / total)
	}
	if m.ThreadSamples > 0 {
		n := float64(m.ThreadSamples)
		m.MutexWaitPct = probe.Round2(mutex / n)
		weighted := func(w map[string]float64) []Share {
			out := make([]Share, 0, len(w))
			for k, v := range w {
				out = append(out, Share{Name: k, Pct: probe.Round2(v / n)})
			}
			return rank(out)
		}
		m.TopWchans, m.TopSyscalls = weighted(wchans), weighted(syscalls)
	}
	for _, p := range []*float64{&m.RunningThreads, &m.RunnableThreads, &m.LockThreads, &m.DiskThreads,
		&m.PagingThreads, &m.NetworkThreads, &m.PollThreads, &m.IdleThreads, &m.LockWakeupsPerS} {
		*p = probe.Round2(*p)
	}
	sort.SliceStable(m.Processes, func(i, j int) bool { return m.Processes[i].busy() > m.Processes[j].busy() })
	return m, st
}

// averageThreads is the process's average thread count over the window: its
// classes' averages, scaled up by the share in no class (other).
func averageThreads(f Facts) float64 {
	t := f.RunningThreads + f.RunnableThreads + f.LockThreads + f.DiskThreads + f.PagingThreads +
		f.NetworkThreads + f.PollThreads + f.IdleThreads
	if f.OtherPct > 0 && f.OtherPct < 100 {
		return t * 100 / (100 - f.OtherPct)
	}
	if t == 0 && f.Samples > 0 {
		return float64(f.ThreadSamples) / float64(f.Samples)
	}
	return t
}
