package probe

import (
	"context"
	"fmt"
	"time"
)

// Part is one process's result within a multi-process target.
type Part struct {
	PID      int
	Facts    any
	Statuses Statuses
}

// OK says whether the part's section was read.
func (p Part) OK() bool { return p.Statuses[""].State == OK }

// Group drives one reader per process of a multi-process target and merges
// their results, so a probe keeps its one-process logic and its merge alone
// says how a container's numbers add up.
func Group(t Target, o Options, newReader func(Target, Options) Reader, merge func([]Part) (any, Statuses)) Reader {
	g := &group{merge: merge}
	for _, pid := range t.Processes() {
		one := t
		one.PID = pid
		g.pids = append(g.pids, pid)
		g.readers = append(g.readers, newReader(one, o))
	}
	return g
}

type group struct {
	pids    []int
	readers []Reader
	merge   func([]Part) (any, Statuses)
}

func (g *group) Read(ctx context.Context, h Host) {
	for _, r := range g.readers {
		r.Read(ctx, h)
	}
}

// NextRead is the earliest of the members' (Pacer).
func (g *group) NextRead() time.Time {
	var next time.Time
	for _, r := range g.readers {
		p, ok := r.(Pacer)
		if !ok {
			return time.Time{}
		}
		if n := p.NextRead(); next.IsZero() || n.Before(next) {
			next = n
		}
	}
	return next
}

// AfterWindow runs the members' after-window phase (probe.AfterWindow).
func (g *group) AfterWindow(ctx context.Context, h Host) {
	for _, r := range g.readers {
		if a, ok := r.(AfterWindow); ok && ctx.Err() == nil {
			a.AfterWindow(ctx, h)
		}
	}
}

func (g *group) Finish() (any, Statuses) {
	parts := make([]Part, len(g.readers))
	for i, r := range g.readers {
		v, st := r.Finish()
		parts[i] = Part{PID: g.pids[i], Facts: v, Statuses: st}
	}
	return g.merge(parts)
}

// MergeStatuses is the statuses of a merged section: unavailable when no
// process could be read (the main one's reason), else ok with a note of the
// processes missed; a fact keeps a status only when every read process has
// it (where one process has the fact, the merge has it).
func MergeStatuses(parts []Part) Statuses {
	var read []Part
	for _, p := range parts {
		if p.OK() {
			read = append(read, p)
		}
	}
	if len(read) == 0 {
		if len(parts) == 0 {
			return Statuses{"": {State: Unavailable, Reason: "no target process"}}
		}
		st := Statuses{}
		for k, v := range parts[0].Statuses {
			st[k] = v
		}
		return st
	}
	st := Statuses{"": {State: OK}}
	if missed := len(parts) - len(read); missed > 0 {
		st[""] = Status{State: OK, Reason: fmt.Sprintf("%d of the target's %d processes could not be read (ended during the window); facts cover the rest", missed, len(parts))}
	}
	for k, v := range read[0].Statuses {
		if k == "" {
			continue
		}
		all := true
		for _, p := range read[1:] {
			if _, ok := p.Statuses[k]; !ok {
				all = false
				break
			}
		}
		if all {
			st[k] = v
		}
	}
	return st
}

// Merged returns the facts of the parts that were read, typed, and the
// statuses of the merged section (MergeStatuses).
func Merged[T any](parts []Part) ([]T, Statuses) {
	var facts []T
	for _, p := range parts {
		if f, ok := p.Facts.(T); ok && p.OK() {
			facts = append(facts, f)
		}
	}
	return facts, MergeStatuses(parts)
}
