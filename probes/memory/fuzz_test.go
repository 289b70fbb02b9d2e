package memory

import (
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
	"github.com/diagnose-sh/diagnose/probes/probetest"
)

// FuzzReader: /proc/meminfo (parsed by gopsutil) and /proc/vmstat hold any
// bytes in the second reading.
func FuzzReader(f *testing.F) {
	t0 := probetest.Fixture(f, "sys-swapping", "t0")
	root := probetest.FuzzRoot(f, "sys-swapping", "t1")
	mi, vm := probetest.FixtureFiles(f, "sys-*/t1/proc/meminfo"), probetest.FixtureFiles(f, "sys-*/t1/proc/vmstat")
	for i := range min(len(mi), len(vm)) {
		f.Add(mi[i], vm[i])
	}
	f.Fuzz(func(t *testing.T, meminfo, vmstat []byte) {
		probetest.WriteFiles(t, root, "proc/meminfo", meminfo, "proc/vmstat", vmstat)
		v, st := probetest.Replay(New(probe.Target{}, probe.Options{}), time.Second, t0, root)
		probetest.CheckFacts(t, v, st)
		parseVmstat(vmstat)
	})
}
