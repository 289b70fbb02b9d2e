package disk

import (
	"errors"
	"maps"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
	"github.com/diagnose-sh/diagnose/probes/probetest"
)

func TestParseDiskstats(t *testing.T) {
	for in, want := range map[string]string{
		"":                                   "",
		" 254 0 vda 1 2 3 4 5 6 7 8 0 10 11": "",
		" 254 0 vda 1 2 3 4 5 6 7 8 0 10 11 12 13 14 15 16 17": "",
		"8 0 sda 1 2 3\n":                 "no line of at least 14 numeric fields",
		"a b c d e f g h i j k l m n o p": "no line of at least 14 numeric fields",
		"\x00\xff":                        "no line of at least 14 numeric fields",
	} {
		_, err := parseDiskstats([]byte(in))
		if want == "" && err != nil || want != "" && (!errors.Is(err, probe.ErrFormat) || !strings.Contains(err.Error(), want)) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
	got, err := parseDiskstats([]byte(" 254 0 vda 14679 3713 808698 4934 1391 12315 533264 1117 0 4360 6202 0 0 0 0\n 254 1 vda1 0 0 0 0 0 0 0 0 0 0 0\n"))
	want := map[string]counters{"vda": {reads: 14679, readBytes: 808698 * 512, readMs: 4934, writes: 1391, writeBytes: 533264 * 512, writeMs: 1117, ioMs: 4360, weightedMs: 6202}}
	if err != nil || !maps.Equal(got, want) {
		t.Errorf("got %+v, %v; want %+v (all-zero devices omitted)", got, err, want)
	}
}

func TestWholeDiskName(t *testing.T) {
	for n, want := range map[string]bool{"sda": true, "sda1": false, "vdb": true, "xvda": true, "nvme0n1": true, "nvme0n1p2": false,
		"mmcblk0": true, "mmcblk0p1": false, "dm-0": false, "md0": false, "loop0": false, "zram0": false, "ram0": false, "sdaa": true} {
		if wholeDiskName(n) != want {
			t.Errorf("%s: %v", n, !want)
		}
	}
}

func TestDelta32(t *testing.T) {
	for _, tc := range []struct{ a, b, want uint64 }{
		{1, 5, 4}, {math.MaxUint32 - 9, 10, 20}, {5, 5, 0}, {1 << 40, 5, 0},
	} {
		if got := delta32(tc.a, tc.b); got != tc.want {
			t.Errorf("delta32(%d, %d) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

// iostat's numbers for the recorded fio QD1 example of signals.md §1.5:
// Δreads 14856, Δrd_ms 1392, Δio_ms 1320, Δweighted 1392 over 2.008 s.
func TestComputeMatchesIostatFormulas(t *testing.T) {
	a := counters{}
	z := counters{reads: 14856, readBytes: 14856 * 4096, readMs: 1392, ioMs: 1320, weightedMs: 1392}
	d := compute("vda", a, z, 2008*time.Millisecond)
	if math.Abs(d.ReadsPerS-7398.4) > 0.1 || math.Abs(d.RAwaitMs-0.0937) > 0.001 || math.Abs(d.AquSz-0.693) > 0.001 || math.Abs(d.UtilPct-65.74) > 0.01 || math.Abs(d.ReadKBPerS-29593.6) > 0.1 {
		t.Errorf("got %+v", d)
	}
	if d.WAwaitMs != 0 || d.WritesPerS != 0 {
		t.Errorf("no writes: %+v", d)
	}
}

func FuzzParseDiskstats(f *testing.F) {
	for _, s := range []string{"sys-idle", "sys-many-disks", "sys-garbled"} {
		if b, err := os.ReadFile(probetest.Fixture(f, s, "t0", "proc", "diskstats")); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		parseDiskstats(b)
		wholeDiskName(string(b))
	})
}

func replay(t *testing.T, scenario string, readings ...string) (Facts, probe.Statuses) {
	t.Helper()
	return probetest.ReplayFixture[Facts](t, New(probe.Target{}, probe.Options{}), scenario, readings...)
}

func TestFixtures(t *testing.T) {
	for _, s := range probetest.SystemScenarios {
		t.Run(s, func(t *testing.T) {
			f, st := replay(t, s, "t0", "t1")
			probetest.Golden(t, probetest.Fixture(t, s, "disks.golden.json"), probetest.Result{Facts: f, Status: st})
			for _, d := range f.Devices {
				for _, x := range []float64{d.UtilPct, d.ReadsPerS, d.WritesPerS, d.ReadKBPerS, d.WriteKBPerS, d.RAwaitMs, d.WAwaitMs, d.AwaitMs, d.AquSz} {
					if x < 0 || math.IsNaN(x) || math.IsInf(x, 0) || d.UtilPct > 100 {
						t.Errorf("%s: %v out of range", d.Name, x)
					}
				}
			}
			if f.Count != len(f.Devices) {
				t.Errorf("count %d, %d devices", f.Count, len(f.Devices))
			}
		})
	}
}

func names(f Facts) []string {
	var n []string
	for _, d := range f.Devices {
		n = append(n, d.Name)
	}
	return n
}

func TestFixtureValues(t *testing.T) {
	f, _ := replay(t, "sys-many-disks", "t0", "t1")
	// partitions, loop, zram, never-used sr0 and stacked dm-0/md0 are skipped.
	if got := names(f); len(got) != 5 || got[0] != "mmcblk0" || got[1] != "nvme0n1" || got[2] != "nvme1n1" || got[3] != "sda" || got[4] != "sdb" {
		t.Errorf("devices %v", got)
	}
	b := f.Busiest
	if b.Name != "nvme0n1" || b.UtilPct != 99 || b.ReadsPerS != 5000 || b.RAwaitMs != 0.5 || b.WAwaitMs != 3 || b.AquSz != 5.5 || b.WriteKBPerS != 8000 {
		t.Errorf("busiest %+v", b)
	}

	f, _ = replay(t, "sys-container", "t0", "t1")
	if got := names(f); len(got) != 2 || got[0] != "sda" || got[1] != "vda" {
		t.Errorf("without /sys the names are filtered by pattern: %v", got)
	}

	f, _ = replay(t, "sys-counter-wrap", "t0", "t1")
	if len(f.Devices) != 2 {
		t.Fatalf("devices %v", names(f))
	}
	sdb, vda := f.Devices[0], f.Devices[1]
	// vda's 32-bit ms fields wrapped: io 300+500=800 ms of 1000, weighted 100+1900=2000, rd 1000+1000 over 4000 reads.
	if vda.UtilPct != 80 || vda.AquSz != 2 || vda.RAwaitMs != 0.5 || vda.WAwaitMs != 1 {
		t.Errorf("wrapped vda %+v", vda)
	}
	// sdb was re-added: counters restarted from zero.
	if sdb.ReadsPerS != 100 || sdb.UtilPct != 6 {
		t.Errorf("reset sdb %+v", sdb)
	}

	_, st := replay(t, "sys-garbled", "t0", "t1")
	if st[""].State != probe.Error {
		t.Errorf("garbled: %+v", st)
	}
	_, st = replay(t, "sys-idle", "t0")
	if st[""].State != probe.Unavailable {
		t.Errorf("one reading: %+v", st)
	}
}

// A --root can hold FIFOs where gopsutil's disk reader looked for a device's
// udev data and serial (it opened them and blocked): the probe reads only
// /sys/block and /proc/diskstats, bounded, and finishes.
func TestHostileRootDoesNotBlock(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"proc", "sys/block/vda", "run/udev/data", "sys/dev/block/254:0/device", "dev"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, fifo := range []string{"run/udev/data/b254:0", "sys/dev/block/254:0/device/serial", "sys/dev/block/254:0/device/model", "dev/vda"} {
		if err := syscall.Mkfifo(filepath.Join(root, fifo), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan Facts)
	go func() {
		r := New(probe.Target{}, probe.Options{})
		for i, line := range []string{" 254 0 vda 10 0 80 5 0 0 0 0 0 4 5 0 0 0 0\n", " 254 0 vda 20 0 160 10 0 0 0 0 0 8 10 0 0 0 0\n"} {
			if err := os.WriteFile(filepath.Join(root, "proc", "diskstats"), []byte(line), 0o644); err != nil {
				t.Error(err)
			}
			r.Read(t.Context(), probe.Host{Root: root, Now: time.Unix(int64(i), 0)})
		}
		f, _ := r.Finish()
		done <- f.(Facts)
	}()
	select {
	case f := <-done:
		if f.Count != 1 || f.Busiest.ReadsPerS != 10 {
			t.Errorf("got %+v, want vda at 10 reads/s", f)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the disk probe blocked on a FIFO under the root")
	}
}
