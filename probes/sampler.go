package probes

import (
	"context"
	"fmt"
	"sync"
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

// Run samples the given probes (see Select) and returns the facts and every
// status. It returns early, with what it has, when ctx ends.
func (s Sampler) Run(ctx context.Context, chosen []Probe) (Facts, probe.Statuses) {
	type result struct {
		p      Probe
		reader probe.Reader
	}
	readers := make([]result, 0, len(chosen))
	for _, p := range chosen {
		readers = append(readers, result{p, p.New(s.Target, s.Options)})
	}
	start := s.Clock.Now()
	end := start.Add(s.Window)
	var wg sync.WaitGroup
	for _, r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.drive(ctx, r.reader, r.p.Interval, end)
		}()
	}
	if s.Progress != nil {
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
	progress:
		for {
			s.Progress(s.Clock.Now().Sub(start), s.Window)
			select {
			case <-done:
				break progress
			case <-s.Clock.After(100 * time.Millisecond):
			}
		}
	}
	wg.Wait()

	var facts Facts
	statuses := probe.Statuses{}
	for _, r := range readers {
		v, st := r.reader.Finish()
		if !r.p.set(&facts, v) {
			st = probe.Statuses{"": {State: probe.Error, Reason: fmt.Sprintf("probe returned %T, not its section type", v)}}
		}
		if _, ok := st[""]; !ok {
			st[""] = probe.Status{State: probe.Error, Reason: "probe reported no status"}
		}
		for k, v := range st {
			statuses[join(r.p.Name, k)] = v
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
		r.Read(h)
	}
	read()
	for {
		wait := end.Sub(s.Clock.Now())
		if wait <= 0 {
			break
		}
		if interval > 0 && interval < wait {
			wait = interval
		}
		select {
		case <-ctx.Done():
			read()
			return
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
