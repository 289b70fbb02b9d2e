package limits

import (
	"testing"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

func TestMergeTakesTheProcessNearestItsLimit(t *testing.T) {
	ok := probe.Statuses{"": {State: probe.OK}}
	v, _ := Merge([]probe.Part{
		{PID: 1, Statuses: ok, Facts: Facts{PID: 1, OpenFiles: 10, OpenFilesSoft: 1024, OpenFilesPct: 0.98, Children: 1,
			PIDsCurrent: 40, PIDsMax: 50, Tasks: 300}},
		{PID: 2, Statuses: ok, Facts: Facts{PID: 2, OpenFiles: 1000, OpenFilesSoft: 1024, OpenFilesPct: 97.66, OpenFilesPerS: 5,
			Children: 3, ZombieChildren: 3, OldestZombieS: 12, PIDsCurrent: 41, Tasks: 301}},
	})
	f := v.(Facts)
	if f.PID != 2 || f.OpenFiles != 1000 || f.OpenFilesPct != 97.66 || f.OpenFilesPerS != 5 {
		t.Errorf("descriptors: %+v", f)
	}
	if f.Children != 4 || f.ZombieChildren != 3 || f.OldestZombieS != 12 {
		t.Errorf("children: %+v", f)
	}
	if f.PIDsCurrent != 40 || f.PIDsMax != 50 || f.Tasks != 300 {
		t.Errorf("cgroup and system facts are the first's: %+v", f)
	}
}
