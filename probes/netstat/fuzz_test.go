package netstat

import (
	"testing"

	"github.com/diagnose-sh/diagnose/probes/probe"
	"github.com/diagnose-sh/diagnose/probes/probetest"
)

// FuzzNetFiles: the socket table and SNMP parsers over any bytes, seeded
// from the recorded files of real workloads.
func FuzzNetFiles(f *testing.F) {
	for _, b := range probetest.FixtureFiles(f, "proc-*/t00/proc/*/net/*") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		parseSockets(b)
		probe.HeaderValues(b, "fuzz")
		parseSNMP6(b)
		probe.SocketInode(string(b))
	})
}
