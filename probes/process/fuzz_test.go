package process

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

// FuzzProcFiles: every /proc/PID parser over any bytes, seeded from the
// recorded files of real workloads.
func FuzzProcFiles(f *testing.F) {
	for _, b := range fixtureFiles(f, "proc-*/t00/proc/*/stat", "proc-*/t00/proc/*/status", "proc-*/t00/proc/*/schedstat", "proc-*/t00/proc/*/io", "proc-*/t00/proc/*/cmdline", "cg-*/t0/proc/*/cmdline") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		parseStat(b)
		parseStatus(b)
		parseSchedstat(b)
		parseIO(b)
		parseCmdline(b)
	})
}
