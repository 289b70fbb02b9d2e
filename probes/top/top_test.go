package top

import (
	"os"
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
	"github.com/diagnose-sh/diagnose/probes/probetest"
)

// top-busy: a spinner (100 ticks in 1 s), dd in D at the second scan, a
// process whose RSS grows by 8192 pages, an idle one.
func TestFixture(t *testing.T) {
	v, st := probetest.Replay(New(probe.Target{}, probe.Options{}), time.Second,
		probetest.Fixture(t, "top-busy", "t0"), probetest.Fixture(t, "top-busy", "t1"))
	f := v.(Facts)
	page := int64(os.Getpagesize())
	if st[""].State != probe.OK || f.Processes != 4 || f.WindowS != 1 {
		t.Fatalf("%+v %v", f, st)
	}
	if f.TopCPU.PID != 100 || f.TopCPU.Name != "spinner" || f.TopCPU.CPUPct != 100 || len(f.CPU) != 1 {
		t.Errorf("cpu %+v", f.CPU)
	}
	if f.TopBlocked.PID != 200 || f.TopBlocked.BlockedPct != 50 || len(f.Blocked) != 1 {
		t.Errorf("blocked %+v", f.Blocked)
	}
	if f.TopGrowing.PID != 300 || f.TopGrowing.RSSGrowthBytes != 8192*page || f.TopGrowing.RSSBytes != 9192*page {
		t.Errorf("growing %+v", f.Growing)
	}
	probetest.Golden(t, probetest.Fixture(t, "top-busy", "top.golden.json"), f)
}

// One scan: the lists are unknown, not empty.
func TestOneScan(t *testing.T) {
	r := New(probe.Target{}, probe.Options{})
	r.Read(t.Context(), probe.Host{Root: probetest.Fixture(t, "top-busy", "t0"), Now: time.Unix(0, 0)})
	if _, st := r.Finish(); st["top_cpu"].State != probe.Unavailable {
		t.Errorf("%v", st)
	}
}

func TestParseStat(t *testing.T) {
	s, ok := parseStat([]byte("7 (a) b) R 1 7 7 0 -1 0 0 0 0 0 12 3 0 0 20 0 1 0 5 1000 42 0"))
	if !ok || s.comm != "a) b" || s.state != 'R' || s.ticks != 15 || s.rssPages != 42 {
		t.Errorf("%+v %v", s, ok)
	}
	for _, bad := range []string{"", "7 (a) R 1", "7 a R 1 7 7 0 -1 0 0 0 0 0 12 3 0 0 20 0 1 0 5 1000 42", "7 (a) R 1 7 7 0 -1 0 0 0 0 0 x 3 0 0 20 0 1 0 5 1000 42"} {
		if _, ok := parseStat([]byte(bad)); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("7 (a) R 1 7 7 0 -1 0 0 0 0 0 12 3 0 0 20 0 1 0 5 1000 42 0"))
	f.Fuzz(func(t *testing.T, b []byte) { parseStat(b) })
}

// BenchmarkRead is one scan of this machine's processes.
func BenchmarkRead(b *testing.B) {
	r := New(probe.Target{}, probe.Options{})
	h := probe.Host{Root: "/", Now: time.Now()}
	b.ReportAllocs()
	for b.Loop() {
		r.Read(b.Context(), h)
	}
}
