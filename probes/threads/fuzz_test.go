package threads

import (
	"testing"

	"github.com/diagnose-sh/diagnose/probes/probetest"
)

// FuzzTaskFiles: the per-thread parsers over any bytes, seeded from the
// recorded task files of real workloads.
func FuzzTaskFiles(f *testing.F) {
	for _, b := range probetest.FixtureFiles(f, "proc-*/t00/proc/*/task/*/stat", "proc-*/t00/proc/*/task/*/syscall") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		parseTaskStat(b)
		parseSyscall(b)
	})
}
