package psi

import (
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
	"github.com/diagnose-sh/diagnose/probes/probetest"
)

// More busy loops than CPUs: some task always waits for a CPU, so the
// window's cpu "some" share is high; system-wide cpu "full" stays 0.
func TestLiveCPUPressure(t *testing.T) {
	probetest.Live(t)
	if _, err := os.Stat("/proc/pressure"); err != nil {
		probetest.Skip(t, "no /proc/pressure on this kernel")
	}
	for range 2 * runtime.NumCPU() {
		probetest.Start(t, "sh", "-c", "while :; do :; done")
	}
	time.Sleep(300 * time.Millisecond)
	r := New(probe.Target{}, probe.Options{})
	start := time.Now()
	r.Read(t.Context(), probe.Host{Root: "/", Now: start})
	time.Sleep(1500 * time.Millisecond)
	r.Read(t.Context(), probe.Host{Root: "/", Now: time.Now()})
	v, st := r.Finish()
	f := v.(Facts)
	t.Logf("cpu some window %.1f%% avg10 %.1f%%; io some %.1f%%", f.CPU.SomeWindowPct, f.CPU.SomeAvg10, f.IO.SomeWindowPct)
	if st[""].State != probe.OK || len(st) != 1 {
		t.Errorf("statuses %+v", st)
	}
	if f.CPU.SomeWindowPct < 50 {
		t.Errorf("cpu some_window_pct %.1f with %d spinners on %d CPUs", f.CPU.SomeWindowPct, 2*runtime.NumCPU(), runtime.NumCPU())
	}
	if f.CPU.FullWindowPct != 0 {
		t.Errorf("system-wide cpu full is always 0, got %.1f", f.CPU.FullWindowPct)
	}
}
