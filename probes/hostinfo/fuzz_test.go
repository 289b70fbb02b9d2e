package hostinfo

import (
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
	"github.com/diagnose-sh/diagnose/probes/probetest"
)

// FuzzReader: cpuinfo, loadavg, uptime and osrelease hold any bytes.
func FuzzReader(f *testing.F) {
	root := probetest.FuzzRoot(f, "sys-idle", "t1")
	ci, la, up := probetest.FixtureFiles(f, "sys-*/t1/proc/cpuinfo"), probetest.FixtureFiles(f, "sys-*/t1/proc/loadavg"), probetest.FixtureFiles(f, "sys-*/t1/proc/uptime")
	osr := probetest.FixtureFiles(f, "sys-*/t1/proc/sys/kernel/osrelease")
	for i := range min(len(ci), len(la), len(up), len(osr)) {
		f.Add(ci[i], la[i], up[i], osr[i])
	}
	f.Fuzz(func(t *testing.T, cpuinfo, loadavg, uptime, osrelease []byte) {
		probetest.WriteFiles(t, root, "proc/cpuinfo", cpuinfo, "proc/loadavg", loadavg, "proc/uptime", uptime, "proc/sys/kernel/osrelease", osrelease)
		v, st := probetest.Replay(New(probe.Target{}, probe.Options{}), time.Second, root, root)
		probetest.CheckFacts(t, v, st)
	})
}
