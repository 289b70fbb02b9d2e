package jvm

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

// FuzzProcessFiles: a JVM's status, command line and environment as the
// probe reads them, over any bytes, seeded from the recorded JVMs.
func FuzzProcessFiles(f *testing.F) {
	for _, b := range fixtureFiles(f, "cg-*/t0/proc/*/status", "cg-*/t0/proc/*/cmdline", "cg-*/t0/proc/*/environ") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		parseStatus(b)
		s := string(b)
		parseSize(s)
		parsePct(s)
		args := splitOptions(s)
		parseOptions([]source{{"fuzz", launcherOptions(args)}, {"fuzz", embeddedOptions(args)}})
	})
}
