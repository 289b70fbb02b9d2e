// Package psi reads pressure stall information for cpu, io and memory from
// /proc/pressure (Documentation/accounting/psi.rst):
//
//	some avg10=2.90 avg60=1.16 avg300=0.85 total=4373194
//	full avg10=0.00 avg60=0.00 avg300=0.00 total=0
//
// avgN are the kernel's decayed percentages over 10/60/300 s; total is the
// cumulative stall time in µs, so Δtotal / window is the share of our own
// window that was stalled. "some": at least one task stalled; "full": all
// non-idle tasks stalled at once (undefined system-wide for cpu: always 0).
// Kernels before 5.13 print no "full" line for cpu.
//
// /proc/pressure exists only with CONFIG_PSI=y and, on kernels built with
// CONFIG_PSI_DEFAULT_DISABLED=y, the psi=1 boot parameter. In a container it
// is the host's pressure, not the container's.
package psi

import (
	"context"
	"errors"
	"io/fs"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

// Facts is pressure for the three resources.
type Facts struct {
	CPU    Pressure `expr:"cpu" json:"cpu" doc:"CPU pressure: runnable tasks waiting for a CPU"`
	IO     Pressure `expr:"io" json:"io" doc:"I/O pressure: tasks waiting on block I/O"`
	Memory Pressure `expr:"memory" json:"memory" doc:"memory pressure: tasks stalled in reclaim, refaults, swap-in"`
}

// Pressure is one resource's stall shares, all in % of wall time.
type Pressure struct {
	SomeAvg10     float64 `expr:"some_avg10" json:"some_avg10" doc:"% of time at least one task stalled, kernel's 10 s average"`
	SomeAvg60     float64 `expr:"some_avg60" json:"some_avg60" doc:"% of time at least one task stalled, kernel's 60 s average"`
	FullAvg10     float64 `expr:"full_avg10" json:"full_avg10" doc:"% of time all non-idle tasks stalled, kernel's 10 s average"`
	FullAvg60     float64 `expr:"full_avg60" json:"full_avg60" doc:"% of time all non-idle tasks stalled, kernel's 60 s average"`
	SomeWindowPct float64 `expr:"some_window_pct" json:"some_window_pct" doc:"% of the sampling window at least one task stalled (Δ some total / window)"`
	FullWindowPct float64 `expr:"full_window_pct" json:"full_window_pct" doc:"% of the sampling window all non-idle tasks stalled (Δ full total / window)"`
}

var resources = []string{"cpu", "io", "memory"}

type sample struct {
	at  time.Time
	rec [3]record
	err [3]error
	dir error // /proc/pressure itself missing
}

type reader struct{ samples []sample }

// New returns a reader for one run; the target is ignored (system-wide).
func New(probe.Target, probe.Options) probe.Reader { return &reader{} }

// Read takes one reading of the three pressure files.
func (r *reader) Read(ctx context.Context, h probe.Host) {
	s := sample{at: h.Now}
	for i, res := range resources {
		b, err := h.ReadFile("proc", "pressure", res)
		if err == nil {
			s.rec[i], err = parsePressure(b)
		}
		s.err[i] = err
	}
	if errors.Is(s.err[0], fs.ErrNotExist) && errors.Is(s.err[1], fs.ErrNotExist) && errors.Is(s.err[2], fs.ErrNotExist) {
		s.dir = fs.ErrNotExist
	}
	r.samples = append(r.samples, s)
}

var noPSI = probe.Status{
	State:  probe.Unavailable,
	Reason: "/proc/pressure does not exist: kernel built without CONFIG_PSI or booted without psi=1",
	Fix:    "boot with psi=1 on the kernel command line (kernels with CONFIG_PSI_DEFAULT_DISABLED), or use a kernel with CONFIG_PSI=y (4.20+)",
}

// Finish computes the facts over the window.
func (r *reader) Finish() (any, probe.Statuses) {
	var f Facts
	st := probe.Statuses{}
	if len(r.samples) == 0 {
		st[""] = probe.Status{State: probe.Error, Reason: "no reading taken"}
		return f, st
	}
	allMissing := true
	for _, s := range r.samples {
		if s.dir == nil {
			allMissing = false
		}
	}
	if allMissing {
		st[""] = noPSI
		return f, st
	}
	st[""] = probe.Status{State: probe.OK}
	dst := []*Pressure{&f.CPU, &f.IO, &f.Memory}
	okAny := false
	var firstErr error
	for i, res := range resources {
		var good []sample
		var err error = errors.New("no reading taken")
		for _, s := range r.samples {
			if s.err[i] == nil {
				good = append(good, s)
			} else if len(good) == 0 {
				err = s.err[i]
			}
		}
		if len(good) == 0 {
			st[res] = probe.StatusOf(err, "/proc/pressure/"+res)
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		okAny = true
		first, last := good[0], good[len(good)-1]
		p := dst[i]
		a, z := first.rec[i], last.rec[i]
		p.SomeAvg10, p.SomeAvg60 = z.some.avg10, z.some.avg60
		if z.hasFull {
			p.FullAvg10, p.FullAvg60 = z.full.avg10, z.full.avg60
		} else {
			noFull := probe.Status{State: probe.Unavailable, Reason: "/proc/pressure/" + res + " has no full line (kernel older than 5.13)"}
			for _, k := range []string{"full_avg10", "full_avg60", "full_window_pct"} {
				st[res+"."+k] = noFull
			}
		}
		dt := last.at.Sub(first.at)
		if len(good) < 2 || dt <= 0 {
			one := probe.Status{State: probe.Unavailable, Reason: "needs two readings of /proc/pressure/" + res + " some time apart; the window had one", Fix: "sample for a longer window (--duration)"}
			st[res+".some_window_pct"] = one
			if z.hasFull {
				st[res+".full_window_pct"] = one
			}
			continue
		}
		us := float64(dt.Microseconds())
		p.SomeWindowPct = windowPct(a.some.total, z.some.total, us)
		if a.hasFull && z.hasFull {
			p.FullWindowPct = windowPct(a.full.total, z.full.total, us)
		}
	}
	if !okAny {
		st[""] = probe.StatusOf(firstErr, "/proc/pressure")
	}
	return f, st
}

// windowPct is the stalled share of a window: Δtotal µs / window µs, in %.
// A total that went backwards counts as no stall; the share is capped at 100
// (the file and the clock are read a few µs apart).
func windowPct(a, b uint64, windowUS float64) float64 {
	if b < a || windowUS <= 0 {
		return 0
	}
	return min(100, 100*float64(b-a)/windowUS)
}
