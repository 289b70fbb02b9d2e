package hsperf

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

// The fixtures are hsperfdata files copied from JDK 17 JVMs running
// testdata/workloads/GcThrash.java (-Xmx48m, G1 and Parallel) and
// GcRoomy.java (-Xmx256m, Serial).
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "hsperf", name+".hsperfdata"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseFixtures(t *testing.T) {
	for _, tc := range []struct {
		name, policy, young, old string
		collectors               int
		heapMax                  int64
	}{
		{"g1-thrash", "GarbageFirst", "G1 young collection pauses", "G1 full collection pauses", 3, 48 << 20},
		{"parallel-thrash", "ParScav:MSC", "Parallel young collection pauses", "Parallel full collection pauses", 2, 48 << 20},
		{"serial-roomy", "Copy:MSC", "Serial young collection pauses", "Serial full collection pauses", 2, 256 << 20},
	} {
		c, err := Parse(fixture(t, tc.name))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if c.Policy != tc.policy || len(c.Collectors) != tc.collectors || c.Collectors[0].Name != tc.young || c.Collectors[1].Name != tc.old {
			t.Errorf("%s: policy %q, collectors %+v", tc.name, c.Policy, c.Collectors)
		}
		if c.Frequency != 1e9 || c.Ticks <= 0 || c.VMName != "OpenJDK 64-Bit Server VM" {
			t.Errorf("%s: frequency %d, ticks %d, vm %q", tc.name, c.Frequency, c.Ticks, c.VMName)
		}
		if len(c.Generations) != 2 || c.MetaspaceUsed <= 0 || c.MetaspaceCommitted < c.MetaspaceUsed || c.ClassUsed <= 0 ||
			c.ThreadsLive < 1 || c.ThreadsPeak < c.ThreadsLive || c.CompiledCodeBytes <= 0 {
			t.Errorf("%s: %+v", tc.name, c)
		}
		f := facts(c, c, c.Generations[1].Used)
		// -Xmx48m: the heap's maximum is within a region or two of it (G1
		// rounds to regions, Parallel to its alignment).
		if d := f.HeapMaxBytes - tc.heapMax; d < -(2<<20) || d > 2<<20 {
			t.Errorf("%s: heap max %d, want about %d", tc.name, f.HeapMaxBytes, tc.heapMax)
		}
		if f.HeapUsedBytes <= 0 || f.HeapCommittedBytes < f.HeapUsedBytes || f.OldOccupancyPct <= 0 || f.OldOccupancyPct > 100 {
			t.Errorf("%s: %+v", tc.name, f)
		}
	}
}

// The thrashing JVMs' old generations are nearly full; the roomy one's is not.
func TestOccupancyFromFixtures(t *testing.T) {
	occupancy := map[string]float64{}
	for _, name := range []string{"g1-thrash", "parallel-thrash", "serial-roomy"} {
		c, err := Parse(fixture(t, name))
		if err != nil {
			t.Fatal(err)
		}
		occupancy[name] = facts(c, c, 0).OldOccupancyPct
	}
	if occupancy["g1-thrash"] < 80 || occupancy["parallel-thrash"] < 80 || occupancy["serial-roomy"] > 20 {
		t.Errorf("old occupancy %v", occupancy)
	}
}

// Rates come from the difference of two readings.
func TestFactsOverWindow(t *testing.T) {
	a := Counters{Ticks: 10e9, Frequency: 1e9, Policy: "GarbageFirst",
		Collectors:  []Collector{{"young", 100, 2e9}, {"full", 10, 1e9}, {"concurrent", 5, 1e8}},
		Generations: []Generation{{"young", 1 << 20, 4 << 20, 48 << 20}, {"old", 40 << 20, 44 << 20, 48 << 20}},
		Safepoints:  200, SafepointTicks: 3e9, SafepointSyncTicks: 1e8}
	b := a
	b.Ticks += 2e9 // 2 s
	b.Collectors = []Collector{{"young", 300, 2.4e9}, {"full", 30, 1.9e9}, {"concurrent", 7, 1.2e8}}
	b.Safepoints, b.SafepointTicks, b.SafepointSyncTicks = 240, 4.4e9, 1.2e8
	f := facts(a, b, 36<<20)
	want := Facts{WindowS: 2, YoungGCTimePct: 20, OldGCTimePct: 46, GCTimePct: 66, YoungGCPerS: 100, OldGCPerS: 11,
		YoungGCCount: 300, OldGCCount: 37, SafepointsPerS: 20, SafepointTimePct: 70, SafepointSyncPct: 1,
		HeapMaxBytes: 48 << 20, OldOccupancyPct: 83.33, OldFloorPct: 75}
	got := Facts{WindowS: f.WindowS, YoungGCTimePct: f.YoungGCTimePct, OldGCTimePct: f.OldGCTimePct, GCTimePct: f.GCTimePct,
		YoungGCPerS: f.YoungGCPerS, OldGCPerS: f.OldGCPerS, YoungGCCount: f.YoungGCCount, OldGCCount: f.OldGCCount,
		SafepointsPerS: f.SafepointsPerS, SafepointTimePct: f.SafepointTimePct, SafepointSyncPct: f.SafepointSyncPct,
		HeapMaxBytes: f.HeapMaxBytes, OldOccupancyPct: f.OldOccupancyPct, OldFloorPct: f.OldFloorPct}
	if got != want {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	// Serial and Parallel generations add up to the heap.
	a.Policy = "Copy:MSC"
	if f := facts(a, a, 0); f.HeapMaxBytes != 96<<20 || f.WindowS != 0 || f.GCTimePct != 0 {
		t.Errorf("serial: %+v", f)
	}
}

// Hostile and broken files are errors that say what is wrong, never panics
// or zeros.
func TestParseRejects(t *testing.T) {
	good := fixture(t, "g1-thrash")
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	le := binary.LittleEndian
	for name, tc := range map[string]struct {
		b    []byte
		want string
	}{
		"empty":             {nil, "shorter than its 32-byte prologue"},
		"not hsperfdata":    {[]byte(strings.Repeat("MemTotal: 1 kB\n", 10)), "magic"},
		"byte order":        {mutate(func(b []byte) []byte { b[4] = 7; return b }), "byte order 7"},
		"version 1":         {mutate(func(b []byte) []byte { b[5] = 1; return b }), "version 1.0 is not supported"},
		"starting":          {mutate(func(b []byte) []byte { b[7] = 0; return b }), "not made its counters accessible"},
		"too many entries":  {mutate(func(b []byte) []byte { le.PutUint32(b[28:], 1<<30); return b }), "entries"},
		"negative entries":  {mutate(func(b []byte) []byte { le.PutUint32(b[28:], 0xffffffff); return b }), "entries"},
		"entries past end":  {mutate(func(b []byte) []byte { le.PutUint32(b[24:], 1<<20); return b }), "outside the"},
		"truncated":         {good[:4096], "does not fit the file"},
		"entry length zero": {mutate(func(b []byte) []byte { le.PutUint32(b[32:], 0); return b }), "length 0"},
		"name outside":      {mutate(func(b []byte) []byte { le.PutUint32(b[36:], 1<<20); return b }), "name or data outside"},
		"data outside":      {mutate(func(b []byte) []byte { le.PutUint32(b[48:], 1<<20); return b }), "name or data outside"},
	} {
		_, err := Parse(tc.b)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", name, err, tc.want)
		}
	}
}

// hostTree lays out /proc/PID with a JVM in a PID namespace: host PID 4242,
// PID 7 inside, its hsperfdata under the JVM's own /tmp.
func hostTree(t *testing.T, file []byte) (probe.Host, string) {
	t.Helper()
	root := t.TempDir()
	proc := filepath.Join(root, "proc", "4242")
	dir := filepath.Join(proc, "root", "tmp", "hsperfdata_app")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(proc, "root", "tmp", "hsperfdata_other"), 0o755)
	os.WriteFile(filepath.Join(proc, "status"), []byte("Name:\tjava\nPid:\t4242\nNSpid:\t4242\t7\n"), 0o644)
	if file != nil {
		os.WriteFile(filepath.Join(dir, "7"), file, 0o644)
	}
	return probe.Host{Root: root}, filepath.Join(dir, "7")
}

func run(h probe.Host, pid int, readings int) (Facts, probe.Statuses) {
	r := New(probe.Target{PID: pid}, probe.Options{})
	for i := 0; i < readings; i++ {
		h.Now = time.Unix(int64(i), 0)
		r.Read(context.Background(), h)
	}
	f, st := r.Finish()
	return f.(Facts), st
}

func TestReaderFindsTheNamespacedFile(t *testing.T) {
	h, _ := hostTree(t, fixture(t, "g1-thrash"))
	f, st := run(h, 4242, 2)
	if st[""].State != probe.OK || !f.Present || f.File != "/proc/4242/root/tmp/hsperfdata_app/7" || f.Policy != "GarbageFirst" {
		t.Fatalf("facts %+v, status %v", f, st)
	}
	// The same file twice: no time passed, so the rates are unknown, not zero.
	if st["gc_time_pct"].State != probe.Unavailable || st["old_floor_pct"].State != probe.Unavailable {
		t.Errorf("rates from one instant: %v", st)
	}
}

func TestReaderUnavailable(t *testing.T) {
	for name, tc := range map[string]struct {
		setup  func(t *testing.T) (probe.Host, int)
		reason string
	}{
		"java without hsperfdata": {func(t *testing.T) (probe.Host, int) {
			h, _ := hostTree(t, nil)
			os.WriteFile(h.Path("proc", "4242", "comm"), []byte("java\n"), 0o644)
			return h, 4242
		}, "-XX:-UsePerfData"},
		"no such process": {func(t *testing.T) (probe.Host, int) { h, _ := hostTree(t, nil); return h, 99 }, "does not exist"},
		"a FIFO": {func(t *testing.T) (probe.Host, int) {
			h, file := hostTree(t, nil)
			if err := syscall.Mkfifo(file, 0o644); err != nil {
				t.Fatal(err)
			}
			return h, 4242
		}, "not a regular file"},
		"a symlink to /dev/zero": {func(t *testing.T) (probe.Host, int) {
			h, file := hostTree(t, nil)
			os.Symlink("/dev/zero", file)
			return h, 4242
		}, "cannot open"},
		"garbage": {func(t *testing.T) (probe.Host, int) {
			h, _ := hostTree(t, []byte(strings.Repeat("x", 100)))
			return h, 4242
		}, "magic"},
	} {
		h, pid := tc.setup(t)
		done := make(chan struct{})
		var f Facts
		var st probe.Statuses
		go func() { f, st = run(h, pid, 2); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: the reader blocked", name)
		}
		if f.Present || st[""].State == probe.OK || !strings.Contains(st[""].Reason, tc.reason) {
			t.Errorf("%s: facts %+v, status %+v; want a reason containing %q", name, f, st[""], tc.reason)
		}
	}
	if _, st := run(probe.Host{}, 0, 1); st[""].Fix != "pass --pid" {
		t.Errorf("no target: %v", st)
	}
}

// A process that is no JVM is a known fact (present false), so rules on JVMs
// stay decidable for every other process.
func TestReaderNotAJVM(t *testing.T) {
	h, _ := hostTree(t, nil)
	os.WriteFile(h.Path("proc", "4242", "comm"), []byte("nginx\n"), 0o644)
	f, st := run(h, 4242, 2)
	if f.Present || st[""].State != probe.OK || !strings.Contains(st[""].Reason, "not a HotSpot JVM") || len(st) != 1 {
		t.Errorf("facts %+v, statuses %v", f, st)
	}
}

func TestFindErrors(t *testing.T) {
	h, _ := hostTree(t, nil)
	if _, err := Find(h, 4242); !errors.Is(err, ErrNoFile) {
		t.Errorf("no file: %v", err)
	}
	if _, err := Find(h, 1); !errors.Is(err, probe.ErrNoProcess) {
		t.Errorf("no process: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"g1-thrash", "serial-roomy"} {
		f.Add(fixture(f, name)[:2048])
	}
	f.Add([]byte{0xca, 0xfe, 0xc0, 0xc0, 1, 2, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err == nil && c.Frequency <= 0 {
			t.Fatalf("accepted a file without a frequency: %+v", c)
		}
	})
}

// BenchmarkRead is one reading of the window: read the open 32 KiB file
// again and decode it (issue 15 allows 50 µs). BenchmarkOpenRead adds the
// first reading's open.
func BenchmarkRead(b *testing.B) {
	h := benchHost(b)
	f, err := Open(h, "/hsperfdata")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Read(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpenRead(b *testing.B) {
	h := benchHost(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ReadFile(h, "/hsperfdata"); err != nil {
			b.Fatal(err)
		}
	}
}

func benchHost(b *testing.B) probe.Host {
	root := b.TempDir()
	os.WriteFile(filepath.Join(root, "hsperfdata"), fixture(b, "g1-thrash"), 0o644)
	return probe.Host{Root: root}
}
