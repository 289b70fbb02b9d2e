package probe

import (
	"context"
	"testing"
	"time"
)

// fakeReader counts its readings and reports its pid and a status.
type fakeReader struct {
	pid   int
	reads int
	next  time.Time
	state State
	facts Statuses
}

func (f *fakeReader) Read(context.Context, Host) { f.reads++ }
func (f *fakeReader) NextRead() time.Time        { return f.next }
func (f *fakeReader) Finish() (any, Statuses) {
	st := Statuses{"": {State: f.state}}
	for k, v := range f.facts {
		st[k] = v
	}
	return f.pid, st
}

func TestGroupDrivesOneReaderPerProcess(t *testing.T) {
	base := time.Unix(1000, 0)
	made := map[int]*fakeReader{}
	newReader := func(t Target, _ Options) Reader {
		r := &fakeReader{pid: t.PID, next: base.Add(time.Duration(t.PID) * time.Second), state: OK}
		if t.PID == 3 {
			r.state = Unavailable
		}
		made[t.PID] = r
		return r
	}
	var got []Part
	g := Group(Target{PID: 2, PIDs: []int{2, 3, 1}}, Options{}, newReader, func(parts []Part) (any, Statuses) {
		got = parts
		return nil, MergeStatuses(parts)
	})
	g.Read(t.Context(), Host{})
	g.Read(t.Context(), Host{})
	if len(made) != 3 || made[1].reads != 2 || made[2].reads != 2 || made[3].reads != 2 {
		t.Fatalf("readers %v", made)
	}
	if n := g.(Pacer).NextRead(); !n.Equal(base.Add(time.Second)) {
		t.Errorf("NextRead %v, want the earliest member's", n)
	}
	_, st := g.Finish()
	if len(got) != 3 || got[0].PID != 2 || got[1].PID != 3 || got[2].PID != 1 || got[0].Facts != 2 {
		t.Errorf("parts %+v, want one per process in target order", got)
	}
	if st[""].State != OK || st[""].Reason == "" {
		t.Errorf("section status %+v, want ok with a note of the process missed", st[""])
	}
}

func TestMergeStatuses(t *testing.T) {
	na := Status{State: Unavailable, Reason: "no"}
	ok := func(facts Statuses) Part {
		st := Statuses{"": {State: OK}}
		for k, v := range facts {
			st[k] = v
		}
		return Part{Statuses: st}
	}
	t.Run("a fact keeps its status only when every read process has it", func(t *testing.T) {
		st := MergeStatuses([]Part{ok(Statuses{"a": na, "b": na}), ok(Statuses{"a": na}), {Statuses: Statuses{"": na}}})
		if _, has := st["a"]; !has {
			t.Error("a is unavailable in both read processes: it must stay unavailable")
		}
		if _, has := st["b"]; has {
			t.Error("b is there in one process: the merge has it")
		}
	})
	t.Run("none read: the first process's statuses", func(t *testing.T) {
		st := MergeStatuses([]Part{{Statuses: Statuses{"": na, "x": na}}, {Statuses: Statuses{"": {State: Error}}}})
		if st[""] != na || st["x"] != na {
			t.Errorf("%+v", st)
		}
	})
	t.Run("all read: ok without a note", func(t *testing.T) {
		if st := MergeStatuses([]Part{ok(nil), ok(nil)}); st[""] != (Status{State: OK}) {
			t.Errorf("%+v", st[""])
		}
	})
}
