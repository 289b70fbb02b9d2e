package memory

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
	"github.com/diagnose-sh/diagnose/probes/probetest"
)

func TestParseVmstat(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     vmstat
		err      bool
	}{
		{name: "6.18", in: "nr_free_pages 1\npswpin 5\npswpout 6\npgmajfault 7\npgscan_kswapd 8\npgscan_direct 9\npgscan_khugepaged 10\npgscan_direct_throttle 99\n",
			want: vmstat{pswpin: 5, pswpout: 6, pgmajfault: 7, scanKswapd: 8, scanDirect: 9, scanKhugepaged: 10, has: hasSwap | hasMajflt | hasScanKswapd | hasScanDirect | hasScanKhugepaged}},
		{name: "per-zone (before 4.8)", in: "pgscan_kswapd_dma 1\npgscan_kswapd_normal 2\npgscan_direct_dma32 3\npgscan_direct_normal 4\n",
			want: vmstat{scanKswapd: 3, scanDirect: 7, has: hasScanKswapd | hasScanDirect}},
		{name: "no newline", in: "pgmajfault 3", want: vmstat{pgmajfault: 3, has: hasMajflt}},
		{name: "empty", in: "", err: true},
		{name: "none of ours", in: "nr_free_pages 1\n", err: true},
		{name: "no value", in: "pswpin\n", err: true},
		{name: "negative", in: "pswpin -1\n", err: true},
		{name: "garbled", in: "pgmajfault 1e3\n", err: true},
		{name: "binary", in: "pswpin \xff\x00\n", err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseVmstat([]byte(tc.in))
			if tc.err {
				if !errors.Is(err, probe.ErrFormat) {
					t.Fatalf("err = %v, want probe.ErrFormat", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func FuzzParseVmstat(f *testing.F) {
	for _, s := range []string{"sys-idle", "sys-swapping", "sys-garbled"} {
		if b, err := os.ReadFile(probetest.Fixture(f, s, "t0", "proc", "vmstat")); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := parseVmstat(b)
		if err == nil && v.has == 0 {
			t.Fatal("no error and nothing parsed")
		}
	})
}

func replay(t *testing.T, scenario string, readings ...string) (Facts, probe.Statuses) {
	t.Helper()
	r := &reader{pageSize: 4096} // fixed, so golden files do not depend on the machine
	return probetest.ReplayFixture[Facts](t, r, scenario, readings...)
}

func TestFixtures(t *testing.T) {
	for _, s := range probetest.SystemScenarios {
		t.Run(s, func(t *testing.T) {
			f, st := replay(t, s, "t0", "t1")
			probetest.Golden(t, probetest.Fixture(t, s, "memory.golden.json"), probetest.Result{Facts: f, Status: st})
			for _, x := range []float64{f.UsedPct, f.SwapUsedPct, f.SwapInPagesPerS, f.SwapOutPagesPerS, f.MajorFaultsPerS, f.PageScansPerS, f.DirectReclaimScansPerS} {
				if x < 0 || math.IsNaN(x) || math.IsInf(x, 0) || (x > 100 && (x == f.UsedPct || x == f.SwapUsedPct)) {
					t.Errorf("fact %v out of range in %+v", x, f)
				}
			}
		})
	}
}

func TestFixtureValues(t *testing.T) {
	f, st := replay(t, "sys-swapping", "t0", "t1")
	want := Facts{SwapInPagesPerS: 2400, SwapOutPagesPerS: 5100, MajorFaultsPerS: 2600, PageScansPerS: 168000, DirectReclaimScansPerS: 48000}
	if f.SwapInPagesPerS != want.SwapInPagesPerS || f.SwapOutPagesPerS != want.SwapOutPagesPerS || f.MajorFaultsPerS != want.MajorFaultsPerS ||
		f.PageScansPerS != want.PageScansPerS || f.DirectReclaimScansPerS != want.DirectReclaimScansPerS {
		t.Errorf("got %+v", f)
	}
	if f.SwapTotalBytes != 4<<30 || f.SwapUsedBytes != (4194304-3125248)<<10 || f.UsedPct < 97 || f.UsedPct > 99 {
		t.Errorf("levels %+v", f)
	}
	if st[""].State != probe.OK {
		t.Errorf("status %+v", st)
	}
	f, _ = replay(t, "sys-counter-wrap", "t0", "t1")
	if f.MajorFaultsPerS != 0 || f.SwapOutPagesPerS != 20 {
		t.Errorf("pgmajfault went backwards: %v (want 0); pswpout %v (want 20)", f.MajorFaultsPerS, f.SwapOutPagesPerS)
	}
	_, st = replay(t, "sys-garbled", "t0", "t1")
	if st[""].State != probe.Error || st["used_pct"].State != probe.Error || st["swap_in_pages_per_s"].State != probe.Error {
		t.Errorf("garbled: %+v", st)
	}
}

func TestOneReadingAndMissing(t *testing.T) {
	_, st := replay(t, "sys-idle", "t0")
	if st[""].State != probe.OK || st["used_pct"].State != "" || st["major_faults_per_s"].State != probe.Unavailable {
		t.Errorf("one reading: %+v", st)
	}
	_, st = probetest.Replay(New(probe.Target{}, probe.Options{}), time.Second, t.TempDir(), t.TempDir())
	if st[""].State != probe.Unavailable {
		t.Errorf("missing files: %+v", st)
	}
}

// gopsutil reads meminfo without a bound: the probe refuses a special file
// (a --root whose meminfo is /dev/zero) and a huge one before it gets there.
func TestHostileMeminfo(t *testing.T) {
	for name, setup := range map[string]func(path string) error{
		"not a regular file": func(p string) error { return os.Symlink("/dev/zero", p) },
		"larger than 1 MiB": func(p string) error {
			return os.WriteFile(p, []byte("MemTotal: 1 kB\n"+strings.Repeat("X: 1 kB\n", 300000)), 0o644)
		},
	} {
		root := t.TempDir()
		os.MkdirAll(filepath.Join(root, "proc"), 0o755)
		if err := setup(filepath.Join(root, "proc", "meminfo")); err != nil {
			t.Fatal(err)
		}
		r := New(probe.Target{}, probe.Options{})
		r.Read(t.Context(), probe.Host{Root: root, Now: time.Unix(0, 0)})
		_, st := r.Finish()
		found := false
		for _, s := range st {
			if strings.Contains(s.Reason, name) && s.State != probe.OK {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: statuses %v", name, st)
		}
	}
}
