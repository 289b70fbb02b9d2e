package process

import (
	"testing"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

func part(f Facts) probe.Part {
	f.Processes = []Member{{PID: f.PID, Name: f.Name, CPUPct: f.CPUPct, RSSBytes: f.RSSBytes, Threads: f.Threads}}
	return probe.Part{PID: f.PID, Facts: f, Statuses: probe.Statuses{"": {State: probe.OK}}}
}

func TestMergeAddsUpAContainer(t *testing.T) {
	gone := probe.Part{PID: 9, Facts: Facts{PID: 9}, Statuses: probe.Statuses{"": {State: probe.Unavailable, Reason: "process 9 does not exist"}}}
	v, st := Merge([]probe.Part{
		part(Facts{PID: 10, Name: "init", Cmdline: "tini -- app", Threads: 1, CPUPct: 1, RSSBytes: 1 << 20, OpenFDs: 4, WindowS: 2, VoluntaryCtxSwitchesPerS: 3}),
		part(Facts{PID: 11, Name: "app", Threads: 8, CPUPct: 150, RSSBytes: 100 << 20, OpenFDs: 40, WindowS: 2, VoluntaryCtxSwitchesPerS: 500, TracerPID: 77}),
		gone,
	})
	f := v.(Facts)
	if f.PID != 10 || f.Name != "init" || f.Cmdline != "tini -- app" {
		t.Errorf("the main process names the target: %+v", f)
	}
	if f.CPUPct != 151 || f.Threads != 9 || f.RSSBytes != 101<<20 || f.OpenFDs != 44 || f.VoluntaryCtxSwitchesPerS != 503 || f.TracerPID != 77 {
		t.Errorf("sums: %+v", f)
	}
	if len(f.Processes) != 2 || f.Processes[0].PID != 11 || f.Processes[1].PID != 10 {
		t.Errorf("processes, busiest first: %+v", f.Processes)
	}
	if f.Exited || st[""].State != probe.OK || st[""].Reason == "" {
		t.Errorf("exited %v, status %+v: ok, noting the process that could not be read", f.Exited, st[""])
	}
}
