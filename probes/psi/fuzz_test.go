package psi

import (
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
	"github.com/diagnose-sh/diagnose/probes/probetest"
)

// FuzzReader: the three pressure files hold any bytes in the second reading.
func FuzzReader(f *testing.F) {
	t0 := probetest.Fixture(f, "sys-swapping", "t0")
	root := probetest.FuzzRoot(f, "sys-swapping", "t1")
	c, i, m := probetest.FixtureFiles(f, "sys-*/t1/proc/pressure/cpu"), probetest.FixtureFiles(f, "sys-*/t1/proc/pressure/io"), probetest.FixtureFiles(f, "sys-*/t1/proc/pressure/memory")
	for k := range min(len(c), len(i), len(m)) {
		f.Add(c[k], i[k], m[k])
	}
	f.Fuzz(func(t *testing.T, cpu, io, memory []byte) {
		probetest.WriteFiles(t, root, "proc/pressure/cpu", cpu, "proc/pressure/io", io, "proc/pressure/memory", memory)
		v, st := probetest.Replay(New(probe.Target{}, probe.Options{}), time.Second, t0, root)
		probetest.CheckFacts(t, v, st)
	})
}
