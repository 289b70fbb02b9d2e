package jvm

import (
	"testing"

	"github.com/diagnose-sh/diagnose/probes/probetest"
)

// FuzzProcessFiles: a JVM's status, command line and environment as the
// probe reads them, over any bytes, seeded from the recorded JVMs.
func FuzzProcessFiles(f *testing.F) {
	for _, b := range probetest.FixtureFiles(f, "cg-*/t0/proc/*/status", "cg-*/t0/proc/*/cmdline", "cg-*/t0/proc/*/environ") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := string(b)
		parseSize(s)
		parsePct(s)
		args := splitOptions(s)
		parseOptions([]source{{"fuzz", launcherOptions(args)}, {"fuzz", embeddedOptions(args)}})
	})
}
