package process

import (
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
	"github.com/diagnose-sh/diagnose/probes/probetest"
)

// FuzzProcFiles: every /proc/PID parser over any bytes, seeded from the
// recorded files of real workloads.
func FuzzProcFiles(f *testing.F) {
	for _, b := range probetest.FixtureFiles(f, "proc-*/t00/proc/*/stat", "proc-*/t00/proc/*/status", "proc-*/t00/proc/*/schedstat", "proc-*/t00/proc/*/io", "proc-*/t00/proc/*/cmdline", "cg-*/t0/proc/*/cmdline") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		parseStat(b)
		probe.ParseProcStatus(b)
		taskCtxtSwitches(b)
		taskBlkioTicks(b)
		parseIO(b)
		parseCmdline(b)
	})
}

// Found by TestFaultTenThousandThreads: readings are spaced by the thread
// count (then 1 ms per thread), and the window's last reading was skipped too,
// so a process with more threads than the window had milliseconds got one
// reading and every rate was unknown. Here: 17 threads, readings 10 ms apart.
func TestLastReadingNotSkippedOnManyThreads(t *testing.T) {
	roots := []string{probetest.Fixture(t, "proc-mutex", "t00"), probetest.Fixture(t, "proc-mutex", "t01")}
	v, st := probetest.Replay(New(probe.Target{PID: 25672}, probe.Options{}), 10*time.Millisecond, roots...)
	if s, ok := st["cpu_pct"]; ok {
		t.Fatalf("cpu_pct %+v: the last reading was skipped", s)
	}
	if f := v.(Facts); f.Threads != 17 {
		t.Errorf("threads %d", f.Threads)
	}
}
