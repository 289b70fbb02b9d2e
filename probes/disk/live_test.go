package disk

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/diagnose-sh/diagnose/probes/probe"
	"github.com/diagnose-sh/diagnose/probes/probetest"
)

// iostatDisk is one device of `iostat -x -o JSON`.
type iostatDisk struct {
	Device  string  `json:"disk_device"`
	RS      float64 `json:"r/s"`
	WS      float64 `json:"w/s"`
	RKBs    float64 `json:"rkB/s"`
	WKBs    float64 `json:"wkB/s"`
	RAwait  float64 `json:"r_await"`
	WAwait  float64 `json:"w_await"`
	AquSz   float64 `json:"aqu-sz"`
	UtilPct float64 `json:"util"`
}

// sampleWithIostat runs `iostat -x -y -o JSON dev N 1` (one report over N
// seconds) while our reader reads at the start and end of the same N seconds.
func sampleWithIostat(t *testing.T, dev string, seconds int) (Device, iostatDisk) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command("iostat", "-x", "-d", "-y", "-o", "JSON", dev, itoa(seconds), "1")
	cmd.Stdout = &out
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := New(probe.Target{}, probe.Options{})
	start := time.Now()
	r.Read(t.Context(), probe.Host{Root: "/", Now: start})
	time.Sleep(time.Until(start.Add(time.Duration(seconds) * time.Second)))
	r.Read(t.Context(), probe.Host{Root: "/", Now: time.Now()})
	if err := cmd.Wait(); err != nil {
		t.Fatalf("iostat: %v\n%s", err, out.String())
	}
	v, st := r.Finish()
	if st[""].State != probe.OK {
		t.Fatalf("status %+v", st)
	}
	var ours Device
	for _, d := range v.(Facts).Devices {
		if d.Name == dev {
			ours = d
		}
	}
	if ours.Name == "" {
		t.Fatalf("%s not among %+v", dev, v)
	}
	var js struct {
		Sysstat struct {
			Hosts []struct {
				Statistics []struct {
					Disk []iostatDisk `json:"disk"`
				} `json:"statistics"`
			} `json:"hosts"`
		} `json:"sysstat"`
	}
	if err := json.Unmarshal(out.Bytes(), &js); err != nil || len(js.Sysstat.Hosts) == 0 || len(js.Sysstat.Hosts[0].Statistics) == 0 || len(js.Sysstat.Hosts[0].Statistics[0].Disk) == 0 {
		t.Fatalf("iostat output: %v\n%s", err, out.String())
	}
	return ours, js.Sysstat.Hosts[0].Statistics[0].Disk[0]
}

func itoa(n int) string { return strconv.Itoa(n) }

// devOf returns the device number of the filesystem holding dir.
func devOf(t *testing.T, dir string) (uint32, uint32) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	return unix.Major(st.Dev), unix.Minor(st.Dev)
}

// compareIostat: %util within 5 points, await within 10 % or 1 ms (for a
// direction with at least 10 I/Os per second in both).
func compareIostat(t *testing.T, ours Device, io iostatDisk) {
	t.Helper()
	t.Logf("ours:   util %.1f r/s %.0f w/s %.0f rkB/s %.0f wkB/s %.0f r_await %.3f w_await %.3f aqu %.2f",
		ours.UtilPct, ours.ReadsPerS, ours.WritesPerS, ours.ReadKBPerS, ours.WriteKBPerS, ours.RAwaitMs, ours.WAwaitMs, ours.AquSz)
	t.Logf("iostat: util %.1f r/s %.0f w/s %.0f rkB/s %.0f wkB/s %.0f r_await %.3f w_await %.3f aqu %.2f",
		io.UtilPct, io.RS, io.WS, io.RKBs, io.WKBs, io.RAwait, io.WAwait, io.AquSz)
	if math.Abs(ours.UtilPct-io.UtilPct) > 5 {
		t.Errorf("util_pct %.1f, iostat %.1f", ours.UtilPct, io.UtilPct)
	}
	await := func(name string, got, want float64) {
		if d := math.Abs(got - want); d > 1 && d > 0.1*want {
			t.Errorf("%s %.3f, iostat %.3f", name, got, want)
		}
	}
	// An await is compared where both windows saw that direction's I/O: the
	// two windows differ, and one stray read in one of them (19 ms against
	// none, CI 2026-12-03) says nothing about the workload.
	if ours.ReadsPerS >= 10 && io.RS >= 10 {
		await("r_await_ms", ours.RAwaitMs, io.RAwait)
	}
	if ours.WritesPerS >= 10 && io.WS >= 10 {
		await("w_await_ms", ours.WAwaitMs, io.WAwait)
	}
	if io.WS > 100 && math.Abs(ours.WritesPerS-io.WS) > 0.1*io.WS {
		t.Errorf("writes_per_s %.0f, iostat %.0f", ours.WritesPerS, io.WS)
	}
	if math.Abs(ours.AquSz-io.AquSz) > 0.1*io.AquSz+0.05 {
		t.Errorf("aqu_sz %.2f, iostat %.2f", ours.AquSz, io.AquSz)
	}
}

// liveDisk is the whole disk under the test's temp directory (found through
// /sys/dev/block/MAJ:MIN, a partition's parent being its disk).
func liveDisk(t *testing.T, dir string) string {
	t.Helper()
	maj, min := devOf(t, dir)
	p, err := filepath.EvalSymlinks("/sys/dev/block/" + itoa(int(maj)) + ":" + itoa(int(min)))
	if err != nil {
		probetest.Skip(t, "%s is not on a block device: %v", dir, err)
	}
	if _, err := os.Stat(filepath.Join(p, "partition")); err == nil {
		p = filepath.Dir(p)
	}
	name := filepath.Base(p)
	if _, err := os.Stat("/sys/block/" + name); err != nil || ramOrLoop(name) {
		probetest.Skip(t, "%s is on %s, not a whole disk", dir, name)
	}
	return name
}

func TestLiveDirectWriterMatchesIostat(t *testing.T) {
	probetest.Live(t)
	probetest.Need(t, "iostat", "fio")
	dir := t.TempDir()
	dev := liveDisk(t, dir)
	for _, tc := range []struct{ name, engine, depth string }{
		{"qd1", "psync", "1"},
		{"qd16", "libaio", "16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			probetest.Start(t, "fio", "--name=w", "--filename="+filepath.Join(dir, "f"+tc.name), "--rw=randwrite", "--bs=4k",
				"--direct=1", "--ioengine="+tc.engine, "--iodepth="+tc.depth, "--size=32M", "--time_based", "--runtime=30", "--output=/dev/null")
			time.Sleep(800 * time.Millisecond) // file layout
			ours, io := sampleWithIostat(t, dev, 3)
			compareIostat(t, ours, io)
			if ours.WritesPerS < 100 {
				t.Errorf("a direct writer gave %.0f writes/s", ours.WritesPerS)
			}
		})
	}
}
