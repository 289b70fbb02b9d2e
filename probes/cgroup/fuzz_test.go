package cgroup

import (
	"testing"

	"github.com/diagnose-sh/diagnose/probes/probetest"
)

// FuzzCgroupFiles: the cgroup parsers over any bytes, seeded from every
// recorded cgroup v1/v2 file, /proc/PID/cgroup and mountinfo.
func FuzzCgroupFiles(f *testing.F) {
	for _, b := range probetest.FixtureFiles(f, "cg-*/t0/sys/fs/cgroup/*/*", "cg-*/t0/sys/fs/cgroup/*/*/*", "cg-*/t0/sys/fs/cgroup/*/*/*/*", "cg-*/t0/proc/*/cgroup", "cg-*/t0/proc/self/mountinfo", "cg-*/t0/proc/*/status") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		parseKV(b)
		parseLimit(b)
		parseUint(b)
		parseCPUMax(b)
		parseInt(b)
		parseProcs(b)
		parseProcCgroup(b)
		parseMountinfo(b)
	})
}
