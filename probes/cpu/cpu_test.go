package cpu

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
	"github.com/diagnose-sh/diagnose/probes/probetest"
)

func TestParseProcStat(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     procStat
		err      bool
	}{
		{name: "full", in: "cpu  1 2 3 4 5 6 7 8 0 0\nintr 2307213 0 9 0\nctxt 4263921\nbtime 1\nprocs_running 3\nprocs_blocked 1\n",
			want: procStat{intr: 2307213, ctxt: 4263921, procsRunning: 3, procsBlocked: 1, has: hasIntr | hasCtxt | hasRunning | hasBlocked}},
		{name: "no trailing newline", in: "procs_running 7", want: procStat{procsRunning: 7, has: hasRunning}},
		{name: "only ctxt", in: "ctxt 5\n", want: procStat{ctxt: 5, has: hasCtxt}},
		{name: "empty", in: "", err: true},
		{name: "none of ours", in: "cpu  1 2 3\nbtime 5\n", err: true},
		{name: "truncated value", in: "procs_running\n", err: true},
		{name: "garbled value", in: "procs_running three\n", err: true},
		{name: "negative", in: "procs_blocked -1\n", err: true},
		{name: "overflow", in: "ctxt 99999999999999999999999\n", err: true},
		{name: "duplicate", in: "ctxt 1\nctxt 2\n", err: true},
		{name: "binary", in: "\x00\xff\nprocs_running \x00\n", err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseProcStat([]byte(tc.in))
			if tc.err {
				if err == nil || !errors.Is(err, probe.ErrFormat) {
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

func TestParseTaskState(t *testing.T) {
	for in, want := range map[string]byte{
		"100 (diagnose) R 1 2": 'R',
		"7 (a) b) (c) S 1":     'S',
		"8 (x y) D 0":          'D',
		"8 ()) R":              'R',
		"no parens":            0,
		"1 (x)":                0,
		"1 (x)R":               0,
		"1 (x) \x01":           0,
	} {
		got, err := parseTaskState([]byte(in))
		if want == 0 {
			if err == nil {
				t.Errorf("%q: no error", in)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%q: got %q, %v; want %q", in, got, err, want)
		}
	}
}

func FuzzParseProcStat(f *testing.F) {
	for _, s := range []string{"sys-idle", "sys-cpu-saturated", "sys-garbled"} {
		if b, err := os.ReadFile(probetest.Fixture(f, s, "t0", "proc", "stat")); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("procs_running 1\nprocs_blocked"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseProcStat(b)
		if err == nil && s.has == 0 {
			t.Fatal("no error and nothing parsed")
		}
		parseTaskState(b)
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
			probetest.Golden(t, probetest.Fixture(t, s, "cpu.golden.json"), probetest.Result{Facts: f, Status: st})
			for _, x := range []float64{f.UserPct, f.SystemPct, f.IdlePct, f.IowaitPct, f.StealPct, f.IRQPct, f.BusyPct, f.RunQueue, f.Blocked, f.CtxSwitchesPerS, f.InterruptsPerS} {
				if x < 0 || math.IsNaN(x) || math.IsInf(x, 0) {
					t.Errorf("fact %v out of range in %+v", x, f)
				}
			}
			if st[""].State == probe.OK {
				if sum := f.UserPct + f.SystemPct + f.IdlePct + f.IowaitPct + f.StealPct; st["user_pct"].State == "" && math.Abs(sum-100) > 1e-9 {
					t.Errorf("shares add up to %v", sum)
				}
			}
		})
	}
}

func TestFixtureValues(t *testing.T) {
	f, st := replay(t, "sys-cpu-saturated", "t0", "t1")
	// procs_running 9 at t0 and 8 at t1 (4 spinners + others), minus our one R thread in proc/self/task.
	if f.RunQueue != 7.5 || f.RunQueueMax != 8 {
		t.Errorf("run_queue %v max %v, want 7.5 and 8 (own R thread subtracted)", f.RunQueue, f.RunQueueMax)
	}
	if f.BusyPct < 99 {
		t.Errorf("busy %v", f.BusyPct)
	}
	if st[""].State != probe.OK {
		t.Errorf("status %+v", st)
	}

	f, st = replay(t, "sys-counter-wrap", "t0", "t1")
	if f.CtxSwitchesPerS != 0 || st["ctx_switches_per_s"].State != "" {
		t.Errorf("ctxt went backwards: rate %v status %+v, want 0 and ok", f.CtxSwitchesPerS, st["ctx_switches_per_s"])
	}
	// idle stepped back 2 ticks: clamped to 0; user 100, system 50, iowait 48 ticks.
	if f.IdlePct != 0 || math.Abs(f.UserPct-100*100.0/198) > 1e-9 {
		t.Errorf("idle stepped back: idle %v user %v", f.IdlePct, f.UserPct)
	}

	_, st = replay(t, "sys-garbled", "t0", "t1")
	if st[""].State != probe.Error || st[""].Reason == "" {
		t.Errorf("garbled: %+v", st[""])
	}
}

func TestOneReading(t *testing.T) {
	f, st := replay(t, "sys-idle", "t0")
	if st[""].State != probe.OK || st["user_pct"].State != probe.Unavailable || st["run_queue"].State != "" {
		t.Errorf("statuses %+v", st)
	}
	if f.Readings != 1 {
		t.Errorf("readings %d", f.Readings)
	}
}

func TestMissingFile(t *testing.T) {
	_, st := probetest.Replay(New(probe.Target{}, probe.Options{}), time.Second, t.TempDir(), t.TempDir())
	if st[""].State != probe.Unavailable || st[""].Reason == "" {
		t.Errorf("missing /proc/stat: %+v", st[""])
	}
}

// The cpu line must come through gopsutil from the host root, not the live /proc.
func TestGopsutilHonoursRoot(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "proc"), 0o755)
	stat := "cpu  100 0 100 800 0 0 0 0 0 0\nprocs_running 2\nprocs_blocked 0\nctxt 1\nintr 1\n"
	os.WriteFile(filepath.Join(dir, "proc", "stat"), []byte(stat), 0o644)
	dir2 := t.TempDir()
	os.MkdirAll(filepath.Join(dir2, "proc"), 0o755)
	stat2 := "cpu  200 0 100 900 0 0 0 0 0 0\nprocs_running 2\nprocs_blocked 0\nctxt 1\nintr 1\n"
	os.WriteFile(filepath.Join(dir2, "proc", "stat"), []byte(stat2), 0o644)
	v, _ := probetest.Replay(New(probe.Target{}, probe.Options{}), time.Second, dir, dir2)
	if f := v.(Facts); f.UserPct != 50 || f.IdlePct != 50 || f.RunQueue != 2 {
		t.Errorf("got %+v, want user 50 idle 50 r 2", f)
	}
}
