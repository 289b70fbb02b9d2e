package probes

import (
	"context"
	"fmt"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

// Clock is the sampler's time source; tests inject a fake one.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns the current time.
func (RealClock) Now() time.Time { return time.Now() }

// After waits for d on the wall clock.
func (RealClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Sampler drives the chosen probes over one window: every probe reads at the
// start and the end of the same window (and at its interval in between), all
// concurrently, so a run costs the window and not the sum of the probes.
type Sampler struct {
	Host     probe.Host // Root and Run; Now is set per reading
	Clock    Clock
	Window   time.Duration
	Target   probe.Target
	Options  probe.Options
	Progress func(elapsed, window time.Duration) // called about every 100 ms; may be nil
}

// GraceAfterTimeout is how long probes may take to finish with what they
// have once the run's deadline has passed.
const GraceAfterTimeout = 250 * time.Millisecond

// Run samples the given probes (see Select) and returns the facts and every
// status. When ctx ends (--timeout) it returns at once with what the probes
// that finished delivered; a probe stuck in a read (a hung filesystem, a
// strace that does not detach) is reported as timed out instead of hanging
// diagnose. A probe that panics is reported as an error, not a crash.
func (s Sampler) Run(ctx context.Context, chosen []Probe) (Facts, probe.Statuses) {
	type result struct {
		i  int
		v  any
		st probe.Statuses
	}
	results := make(chan result, len(chosen))
	start := s.Clock.Now()
	end := start.Add(s.Window)
	for i, p := range chosen {
		go func() {
			defer func() {
				if e := recover(); e != nil {
					results <- result{i, nil, probe.Statuses{"": {State: probe.Error,
						Reason: fmt.Sprintf("probe failed: %v (a bug: please report it)", e)}}}
				}
			}()
			r := p.reader(s.Target, s.Options)
			s.drive(ctx, r, p.Interval, end)
			h := s.Host
			h.Now = s.Clock.Now()
			v, st := probe.Complete(ctx, r, h)
			results <- result{i, v, st}
		}()
	}

	var facts Facts
	statuses := probe.Statuses{}
	done := make([]bool, len(chosen))
	var tick, grace <-chan time.Time
	expired := ctx.Done()
	if s.Progress != nil {
		s.Progress(0, s.Window)
		tick = s.Clock.After(100 * time.Millisecond)
	}
	for pending := len(chosen); pending > 0; {
		select {
		case r := <-results:
			pending--
			done[r.i] = true
			p := chosen[r.i]
			st := r.st
			if r.v != nil && !p.set(&facts, r.v) {
				st = probe.Statuses{"": {State: probe.Error, Reason: fmt.Sprintf("probe returned %T, not its section type", r.v)}}
			}
			if _, ok := st[""]; !ok {
				st[""] = probe.Status{State: probe.Error, Reason: "probe reported no status"}
			}
			for k, v := range st {
				statuses[join(p.Name, k)] = v
			}
		case <-tick:
			s.Progress(s.Clock.Now().Sub(start), s.Window)
			tick = s.Clock.After(100 * time.Millisecond)
		case <-expired:
			// Probes stop at once and finish with what they read; give them a
			// moment to deliver before the stragglers are declared stuck.
			expired = nil
			grace = time.After(GraceAfterTimeout)
		case <-grace:
			for i, p := range chosen {
				if !done[i] {
					statuses[p.Name] = probe.Status{State: probe.Error,
						Reason: fmt.Sprintf("timed out after %s: a read did not return", s.Clock.Now().Sub(start).Round(time.Millisecond)),
						Fix:    "raise --timeout, or look for a hung filesystem or process"}
				}
			}
			return facts, statuses
		}
	}
	return facts, statuses
}

func join(section, rel string) string {
	if rel == "" {
		return section
	}
	return section + "." + rel
}

// drive reads at the start, every interval, and at the end of the window.
func (s Sampler) drive(ctx context.Context, r probe.Reader, interval time.Duration, end time.Time) {
	read := func() {
		h := s.Host
		h.Now = s.Clock.Now()
		r.Read(ctx, h)
	}
	read()
	for {
		wait := end.Sub(s.Clock.Now())
		if wait <= 0 {
			break
		}
		if interval > 0 && interval < wait {
			wait = interval
			if p, ok := r.(probe.Pacer); ok {
				wait = min(end.Sub(s.Clock.Now()), max(wait, p.NextRead().Sub(s.Clock.Now())))
			}
		}
		select {
		case <-ctx.Done():
			return // Run reports what was gathered
		case <-s.Clock.After(wait):
		}
		if !s.Clock.Now().Before(end) {
			break
		}
		read()
	}
	read()
}

// Select returns the registry entries named (all when names is nil), in
// registry order.
func Select(names []string) []Probe {
	all := Registry()
	if names == nil {
		return all
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var out []Probe
	for _, p := range all {
		if want[p.Name] {
			out = append(out, p)
		}
	}
	return out
}
