package psi

import (
	"errors"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/diagnose-sh/diagnose/probes/probe"
	"github.com/diagnose-sh/diagnose/probes/probetest"
)

func TestParsePressure(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     record
		err      bool
	}{
		{name: "both", in: "some avg10=2.90 avg60=1.16 avg300=0.85 total=4373194\nfull avg10=0.00 avg60=0.01 avg300=0.00 total=7\n",
			want: record{some: line{2.90, 1.16, 0.85, 4373194}, full: line{0, 0.01, 0, 7}, hasFull: true}},
		{name: "some only (cpu before 5.13)", in: "some avg10=1.00 avg60=2.00 avg300=3.00 total=4",
			want: record{some: line{1, 2, 3, 4}}},
		{name: "empty", in: "", err: true},
		{name: "full only", in: "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", err: true},
		{name: "missing total", in: "some avg10=1.00 avg60=1.00 avg300=1.00\n", err: true},
		{name: "bad avg", in: "some avg10=abc avg60=1 avg300=1 total=1\n", err: true},
		{name: "avg over 100", in: "some avg10=101 avg60=1 avg300=1 total=1\n", err: true},
		{name: "NaN", in: "some avg10=NaN avg60=1 avg300=1 total=1\n", err: true},
		{name: "negative total", in: "some avg10=1 avg60=1 avg300=1 total=-1\n", err: true},
		{name: "no equals", in: "some avg10 avg60=1 avg300=1 total=1\n", err: true},
		{name: "unknown line", in: "some avg10=1 avg60=1 avg300=1 total=1\nboth x=1\n", err: true},
		{name: "duplicate", in: "some avg10=1 avg60=1 avg300=1 total=1\nsome avg10=1 avg60=1 avg300=1 total=1\n", err: true},
		{name: "binary", in: "\x00\xff garbage\n", err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parsePressure([]byte(tc.in))
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

func FuzzParsePressure(f *testing.F) {
	for _, s := range []string{"sys-idle", "sys-swapping", "sys-counter-wrap", "sys-garbled"} {
		for _, r := range resources {
			if b, err := os.ReadFile(probetest.Fixture(f, s, "t1", "proc", "pressure", r)); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parsePressure(b)
		if err != nil {
			return
		}
		for _, x := range []float64{r.some.avg10, r.some.avg60, r.some.avg300, r.full.avg10, r.full.avg60, r.full.avg300} {
			if x < 0 || x > 100 || math.IsNaN(x) {
				t.Fatalf("accepted %v", x)
			}
		}
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
			probetest.Golden(t, probetest.Fixture(t, s, "psi.golden.json"), probetest.Result{Facts: f, Status: st})
			for _, p := range []Pressure{f.CPU, f.IO, f.Memory} {
				for _, x := range []float64{p.SomeAvg10, p.SomeAvg60, p.FullAvg10, p.FullAvg60, p.SomeWindowPct, p.FullWindowPct} {
					if x < 0 || x > 100 || math.IsNaN(x) {
						t.Errorf("%v out of range in %+v", x, p)
					}
				}
			}
		})
	}
}

func TestFixtureValues(t *testing.T) {
	f, st := replay(t, "sys-swapping", "t0", "t1")
	if math.Abs(f.Memory.SomeWindowPct-42) > 1e-9 || math.Abs(f.Memory.FullWindowPct-18) > 1e-9 || f.Memory.SomeAvg10 != 40.1 {
		t.Errorf("memory pressure %+v", f.Memory)
	}
	if st[""].State != probe.OK {
		t.Errorf("status %+v", st)
	}

	_, st = replay(t, "sys-no-psi", "t0", "t1")
	if st[""].State != probe.Unavailable || !strings.Contains(st[""].Reason, "CONFIG_PSI") || !strings.Contains(st[""].Fix, "psi=1") {
		t.Errorf("no psi: %+v", st[""])
	}

	f, st = replay(t, "sys-counter-wrap", "t0", "t1")
	if f.IO.SomeWindowPct != 0 || f.CPU.SomeWindowPct != 100 {
		t.Errorf("io total went backwards: %v (want 0); cpu over the window: %v (want capped 100)", f.IO.SomeWindowPct, f.CPU.SomeWindowPct)
	}
	if st["cpu.full_avg10"].State != probe.Unavailable {
		t.Errorf("cpu without a full line at t1: %+v", st)
	}

	_, st = replay(t, "sys-garbled", "t0", "t1")
	if st[""].State != probe.Error || st["io"].State != probe.Error {
		t.Errorf("garbled: %+v", st)
	}
}

func TestOneReading(t *testing.T) {
	_, st := replay(t, "sys-idle", "t0")
	if st[""].State != probe.OK || st["io.some_window_pct"].State != probe.Unavailable {
		t.Errorf("one reading: %+v", st)
	}
}
