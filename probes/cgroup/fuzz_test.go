package cgroup

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/diagnose-sh/diagnose/probes/probetest"
)

// fixtureFiles returns up to 40 fixture files per pattern (relative to
// testdata/hosts), the real kernel output the parsers see.
func fixtureFiles(f *testing.F, patterns ...string) [][]byte {
	var out [][]byte
	for _, p := range patterns {
		files, _ := filepath.Glob(filepath.Join(probetest.Fixture(f), p))
		for i, name := range files {
			if i >= 40 {
				break
			}
			if b, err := os.ReadFile(name); err == nil {
				out = append(out, b)
			}
		}
	}
	return out
}

// FuzzCgroupFiles: the cgroup parsers over any bytes, seeded from every
// recorded cgroup v1/v2 file, /proc/PID/cgroup and mountinfo.
func FuzzCgroupFiles(f *testing.F) {
	for _, b := range fixtureFiles(f, "cg-*/t0/sys/fs/cgroup/*/*", "cg-*/t0/sys/fs/cgroup/*/*/*", "cg-*/t0/sys/fs/cgroup/*/*/*/*", "cg-*/t0/proc/*/cgroup", "cg-*/t0/proc/self/mountinfo", "cg-*/t0/proc/*/status") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		parseKV(b)
		parseLimit(b)
		parseUint(b)
		parseCPUMax(b)
		parseInt(b)
		parseProcs(b)
		parseStatus(b)
		parseProcCgroup(b)
		parseMountinfo(b)
	})
}
