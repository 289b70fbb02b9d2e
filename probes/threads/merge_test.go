package threads

import (
	"testing"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

func part(pid int, f Facts) probe.Part {
	f.Processes = []ProcessWaits{{PID: pid, RunningThreads: f.RunningThreads, DiskThreads: f.DiskThreads, LockThreads: f.LockThreads}}
	return probe.Part{PID: pid, Facts: f, Statuses: probe.Statuses{"": {State: probe.OK}}}
}

func TestMergeIsOneProfile(t *testing.T) {
	// A spinner (1 thread on CPU) and a writer (2 threads: one in disk
	// waits, one idle), each sampled 100 rounds.
	spin := part(1, Facts{Samples: 100, ThreadSamples: 100, Threads: 1, RunningThreads: 1, RunningPct: 100,
		TopSyscalls: nil, SampleHz: 100})
	writer := part(2, Facts{Samples: 100, ThreadSamples: 200, Threads: 2, DiskThreads: 1, IdleThreads: 1, DiskPct: 50, IdlePct: 50,
		TopSyscalls: []Share{{Name: "fsync", Pct: 50}}, SameFutexWaitersAvg: 0, ContendingThreads: 0, SampleHz: 90,
		JVMTopMonitor: "", LockWakeupsPerS: 0})
	locker := part(3, Facts{Samples: 100, ThreadSamples: 100, Threads: 1, LockThreads: 1, LockPct: 100, SameFutexWaitersAvg: 3,
		SameFutexWaitersMax: 4, SameFutexAddr: "0x10", LockWakeupsPerS: 200, ContendingThreads: 1, SampleHz: 95,
		TopSyscalls: []Share{{Name: "futex", Pct: 100}}})
	v, st := Merge([]probe.Part{spin, writer, locker})
	f := v.(Facts)
	if st[""].State != probe.OK {
		t.Fatalf("status %+v", st)
	}
	// 4 threads in all: 1 running, 1 disk, 1 lock, 1 idle.
	if f.RunningThreads != 1 || f.DiskThreads != 1 || f.LockThreads != 1 || f.IdleThreads != 1 || f.Threads != 4 {
		t.Errorf("threads per class: %+v", f)
	}
	if f.RunningPct != 25 || f.DiskPct != 25 || f.LockPct != 25 || f.IdlePct != 25 {
		t.Errorf("shares of the summed thread time: running %v disk %v lock %v idle %v", f.RunningPct, f.DiskPct, f.LockPct, f.IdlePct)
	}
	if f.ThreadSamples != 400 || f.Samples != 100 || f.SampleHz != 90 {
		t.Errorf("samples %d rounds %d hz %v", f.ThreadSamples, f.Samples, f.SampleHz)
	}
	if f.SameFutexWaitersAvg != 3 || f.SameFutexAddr != "0x10" || f.LockWakeupsPerS != 200 || f.ContendingThreads != 1 {
		t.Errorf("lock evidence: %+v", f)
	}
	// fsync: 50% of 200 samples, futex: 100% of 100, of 400 in all.
	if len(f.TopSyscalls) != 2 || f.TopSyscalls[0] != (Share{"fsync", 25}) || f.TopSyscalls[1] != (Share{"futex", 25}) {
		t.Errorf("top syscalls %+v", f.TopSyscalls)
	}
	if len(f.Processes) != 3 {
		t.Fatalf("processes %+v", f.Processes)
	}
	for _, p := range f.Processes {
		if p.busy() != 1 {
			t.Errorf("process %d busy %v, want 1", p.PID, p.busy())
		}
	}
}
