package probes

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/probes/memory"

	"github.com/diagnose-sh/diagnose/probes/cpu"
	"github.com/diagnose-sh/diagnose/probes/probe"
)

// fakeClock advances only when waited on, so a window passes instantly and
// every reading time is known.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }
func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.now = c.now.Add(d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

// countingReader records when it was read.
type countingReader struct{ times []time.Time }

func (r *countingReader) Read(ctx context.Context, h probe.Host) { r.times = append(r.times, h.Now) }
func (r *countingReader) Finish() (any, probe.Statuses) {
	return cpu.Facts{Readings: len(r.times)}, probe.Statuses{"": {State: probe.OK}, "run_queue": {State: probe.Unavailable, Reason: "test"}}
}

func TestSamplerReadsAtStartIntervalsAndEnd(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := &countingReader{}
	p := entry("cpu", "test", func(f *Facts) *cpu.Facts { return &f.CPU }, func(probe.Target, probe.Options) probe.Reader { return r })
	p.Interval = 300 * time.Millisecond
	s := Sampler{Clock: &fakeClock{now: start}, Window: time.Second}
	facts, st := s.Run(context.Background(), []Probe{p})
	var offsets []time.Duration
	for _, at := range r.times {
		offsets = append(offsets, at.Sub(start))
	}
	want := []time.Duration{0, 300 * time.Millisecond, 600 * time.Millisecond, 900 * time.Millisecond, time.Second}
	if len(offsets) != len(want) {
		t.Fatalf("read at %v, want %v", offsets, want)
	}
	for i := range want {
		if offsets[i] != want[i] {
			t.Fatalf("read at %v, want %v", offsets, want)
		}
	}
	if facts.CPU.Readings != 5 {
		t.Errorf("facts not stored in the cpu section: %+v", facts.CPU)
	}
	if st["cpu"].State != probe.OK || st["cpu.run_queue"].State != probe.Unavailable {
		t.Errorf("statuses not prefixed with the section: %v", st)
	}
}

// pacedReader wants its next reading 250 ms after each one.
type pacedReader struct {
	countingReader
	next time.Time
}

func (r *pacedReader) Read(ctx context.Context, h probe.Host) {
	r.countingReader.Read(ctx, h)
	r.next = h.Now.Add(250 * time.Millisecond)
}
func (r *pacedReader) NextRead() time.Time { return r.next }

// A Pacer is not woken at every interval for readings it would skip, and
// still gets the window's last reading.
func TestSamplerHonoursPacer(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := &pacedReader{}
	p := entry("cpu", "test", func(f *Facts) *cpu.Facts { return &f.CPU }, func(probe.Target, probe.Options) probe.Reader { return r })
	p.Interval = 10 * time.Millisecond
	s := Sampler{Clock: &fakeClock{now: start}, Window: 600 * time.Millisecond}
	s.Run(context.Background(), []Probe{p})
	var offsets []time.Duration
	for _, at := range r.times {
		offsets = append(offsets, at.Sub(start))
	}
	want := []time.Duration{0, 250 * time.Millisecond, 500 * time.Millisecond, 600 * time.Millisecond}
	if fmt.Sprint(offsets) != fmt.Sprint(want) {
		t.Fatalf("read at %v, want %v", offsets, want)
	}
}

func TestSamplerWrongSectionTypeIsAnError(t *testing.T) {
	p := entry("memory", "test", func(f *Facts) *cpu.Facts { return &f.CPU }, func(probe.Target, probe.Options) probe.Reader { return &wrongReader{} })
	_, st := Sampler{Clock: &fakeClock{}, Window: time.Second}.Run(context.Background(), []Probe{p})
	if st["memory"].State != probe.Error {
		t.Errorf("status %+v, want error for a reader returning the wrong type", st["memory"])
	}
}

type wrongReader struct{}

func (wrongReader) Read(context.Context, probe.Host) {}
func (wrongReader) Finish() (any, probe.Statuses) {
	return "oops", probe.Statuses{"": {State: probe.OK}}
}

func TestRegistryNamesMatchFactsTags(t *testing.T) {
	var f Facts
	for _, p := range Registry() {
		if p.Doc == "" {
			t.Errorf("probe %s has no Doc", p.Name)
		}
		v, _ := p.New(probe.Target{}, probe.Options{}).Finish()
		if !p.set(&f, v) {
			t.Errorf("probe %s returns %T, not its section's type", p.Name, v)
		}
	}
}

// stuckReader blocks in its second read, like a read of a hung NFS mount.
type stuckReader struct {
	reads   int
	release chan struct{}
}

func (r *stuckReader) Read(context.Context, probe.Host) {
	r.reads++
	if r.reads > 1 {
		<-r.release
	}
}
func (r *stuckReader) Finish() (any, probe.Statuses) {
	return cpu.Facts{}, probe.Statuses{"": {State: probe.OK}}
}

type panicReader struct{}

func (panicReader) Read(context.Context, probe.Host) { panic("index out of range") }
func (panicReader) Finish() (any, probe.Statuses)    { return cpu.Facts{}, nil }

func TestSamplerTimeoutReportsStuckProbe(t *testing.T) {
	stuck := &stuckReader{release: make(chan struct{})}
	defer close(stuck.release)
	cpuProbe := entry("cpu", "test", func(f *Facts) *cpu.Facts { return &f.CPU }, func(probe.Target, probe.Options) probe.Reader { return stuck })
	okProbe := entry("memory", "test", func(f *Facts) *memory.Facts { return &f.Memory }, func(probe.Target, probe.Options) probe.Reader {
		return memReader{}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, st := Sampler{Clock: RealClock{}, Window: 10 * time.Millisecond}.Run(ctx, []Probe{cpuProbe, okProbe})
	if st["cpu"].State != probe.Error || !strings.Contains(st["cpu"].Reason, "timed out") {
		t.Errorf("stuck probe status %+v, want a time-out error", st["cpu"])
	}
	if st["memory"].State != probe.OK {
		t.Errorf("the other probe's result was lost: %+v", st["memory"])
	}
}

type memReader struct{}

func (memReader) Read(context.Context, probe.Host) {}
func (memReader) Finish() (any, probe.Statuses) {
	return memory.Facts{TotalBytes: 1}, probe.Statuses{"": {State: probe.OK}}
}

func TestSamplerSurvivesAPanickingProbe(t *testing.T) {
	p := entry("cpu", "test", func(f *Facts) *cpu.Facts { return &f.CPU }, func(probe.Target, probe.Options) probe.Reader { return panicReader{} })
	_, st := Sampler{Clock: &fakeClock{}, Window: time.Second}.Run(context.Background(), []Probe{p})
	if st["cpu"].State != probe.Error || !strings.Contains(st["cpu"].Reason, "index out of range") {
		t.Errorf("status %+v, want the panic reported as an error", st["cpu"])
	}
}
