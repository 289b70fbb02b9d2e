package disk

import (
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
	"github.com/diagnose-sh/diagnose/probes/probetest"
)

// FuzzReader: /proc/diskstats (parsed by gopsutil) holds any bytes in the
// second reading.
func FuzzReader(f *testing.F) {
	t0 := probetest.Fixture(f, "sys-iowait", "t0")
	root := probetest.FuzzRoot(f, "sys-iowait", "t1")
	for _, b := range probetest.FixtureFiles(f, "sys-*/t1/proc/diskstats") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, diskstats []byte) {
		probetest.WriteFiles(t, root, "proc/diskstats", diskstats)
		v, st := probetest.Replay(New(probe.Target{}, probe.Options{}), time.Second, t0, root)
		probetest.CheckFacts(t, v, st)
	})
}
