package sockdiag_test

import (
	"math"
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
	"github.com/diagnose-sh/diagnose/probes/probetest"
	"github.com/diagnose-sh/diagnose/probes/sockdiag"
)

// bytesConn answers every dump with the same recorded bytes.
type bytesConn []byte

func (b bytesConn) DumpTCP(_ uint32, each func([]byte)) error {
	return sockdiag.EachMessage(b, each)
}

func (bytesConn) Close() error { return nil }

// FuzzSockDiag: any bytes as a dump, seeded from the recorded answers of
// real workloads, parse or fail with an error, and a probe fed them for a
// window reports finite facts (the target's descriptors name every inode
// the seeds hold, so their answers reach the accounting).
func FuzzSockDiag(f *testing.F) {
	for _, b := range probetest.FixtureFiles(f, "tcp-*/t0*/sock_diag.nl") {
		f.Add(b)
	}
	root := probetest.Fixture(f, "tcp-go-client-slow-server", "t00")
	pid := targetPID(f, "go-client-slow-server")
	f.Fuzz(func(t *testing.T, b []byte) {
		sockdiag.EachMessage(b, func(p []byte) { sockdiag.ParseMsg(p) })
		sockdiag.ParseMsg(b)
		r := sockdiag.New(probe.Target{PID: pid}, probe.Options{})
		for i := range 3 {
			r.Read(t.Context(), probe.Host{Root: root, Now: time.Unix(100, 0).Add(time.Duration(i) * 40 * time.Millisecond),
				SockDiag: func(string) (probe.SockDiagConn, error) { return bytesConn(b), nil }})
		}
		v, _ := r.Finish()
		f := v.(sockdiag.Facts)
		for _, x := range []float64{f.AwaitingReplyAvg, f.InboundPendingAvg, f.ResponseP50MS, f.ResponseMaxMS, f.ConnectsPerS, f.AcceptQueueAvg} {
			if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
				t.Fatalf("fact %v from %x", x, b)
			}
		}
	})
}
