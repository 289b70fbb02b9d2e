package threads

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

// FuzzTaskFiles: the per-thread parsers over any bytes, seeded from the
// recorded task files of real workloads.
func FuzzTaskFiles(f *testing.F) {
	for _, b := range fixtureFiles(f, "proc-*/t00/proc/*/task/*/stat", "proc-*/t00/proc/*/task/*/syscall", "proc-*/t00/proc/*/task/*/schedstat") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		parseTaskStat(b)
		parseSyscall(b)
		parseSchedstat(b)
	})
}
