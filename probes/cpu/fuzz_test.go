package cpu

import (
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
	"github.com/diagnose-sh/diagnose/probes/probetest"
)

// FuzzReader: /proc/stat holds any bytes in the second reading.
func FuzzReader(f *testing.F) {
	t0 := probetest.Fixture(f, "sys-cpu-saturated", "t0")
	root := probetest.FuzzRoot(f, "sys-cpu-saturated", "t1")
	for _, b := range probetest.FixtureFiles(f, "sys-*/t1/proc/stat") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, stat []byte) {
		probetest.WriteFiles(t, root, "proc/stat", stat)
		v, st := probetest.Replay(New(probe.Target{}, probe.Options{}), time.Second, t0, root)
		probetest.CheckFacts(t, v, st)
	})
}

// FuzzParseTaskState: the state field of /proc/PID/stat lines.
func FuzzParseTaskState(f *testing.F) {
	for _, b := range probetest.FixtureFiles(f, "proc-*/t00/proc/*/stat", "proc-*/t00/proc/*/task/*/stat") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) { parseTaskState(b) })
}
