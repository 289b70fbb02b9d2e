package limits

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
	"github.com/diagnose-sh/diagnose/probes/probetest"
)

// limits-v1 and limits-v2: a process (4242) with 56 then 60 of its 64
// descriptors open, 3 then 6 unreaped children, in a cgroup with 44 then 47
// of its pids.max 50 tasks (2 forks refused), on a system with another
// parent's zombies; the readings are 2 s apart.
func replay(t *testing.T, scenario string, target probe.Target) (Facts, probe.Statuses) {
	t.Helper()
	v, st := probetest.Replay(New(target, probe.Options{}), 2*time.Second,
		probetest.Fixture(t, scenario, "t0"), probetest.Fixture(t, scenario, "t1"))
	return v.(Facts), st
}

func TestFixtures(t *testing.T) {
	for _, scenario := range []string{"limits-v1", "limits-v2"} {
		t.Run(scenario, func(t *testing.T) {
			f, st := replay(t, scenario, probe.Target{PID: 4242})
			if len(st) != 1 || st[""].State != probe.OK {
				t.Errorf("statuses %v", st)
			}
			if !f.PIDsLimited || f.PIDsCurrent != 47 || f.PIDsMax != 50 || f.PIDsPct != 94 || f.PIDsPerS != 1.5 || f.PIDsMaxEvents != 2 {
				t.Errorf("pids %+v", f)
			}
			if f.OpenFilesSoft != 64 || f.OpenFilesHard != 4096 || f.ProcessesSoft != 96362 || f.StackSoft != 8388608 || f.StackHard != Unlimited ||
				f.CoreSoft != 0 || f.CoreHard != Unlimited || f.LockedMemorySoft != 8388608 {
				t.Errorf("rlimits %+v", f)
			}
			if f.Children != 7 || f.ZombieChildren != 6 || f.ZombieChildrenPer != 1.5 || f.OldestZombieS != 200 {
				t.Errorf("children %+v", f)
			}
			// The comm "a) Z 4242 (b" is read as a name: those are 77's zombies, not 4242's.
			if f.Zombies != 9 || f.ZombiesPerS != 2 || len(f.ZombieParents) != 2 ||
				f.TopZombieParent != (ZombieParent{PID: 4242, Name: "forker", Zombies: 6}) || f.ZombieParents[1] != (ZombieParent{PID: 77, Name: "supervisor", Zombies: 3}) {
				t.Errorf("zombies %d (%v/s), parents %+v", f.Zombies, f.ZombiesPerS, f.ZombieParents)
			}
			if f.Tasks != 320 || f.TasksMax != 32768 || f.TasksPerS != 10 || f.ForksPerS != 200 || f.FileHandlesPct != 89.21 || f.CommittedPct != 95.03 {
				t.Errorf("system %+v", f)
			}
			probetest.Golden(t, probetest.Fixture(t, scenario, "limits.golden.json"), f)
		})
	}
	f, _ := replay(t, "limits-v1", probe.Target{PID: 4242})
	if f.OpenFiles != 60 || f.OpenFilesPct != 93.75 || f.OpenFilesPerS != 2 {
		t.Errorf("descriptors %+v", f)
	}
}

// Without a target the system's limits are there and the target's are
// unknown, never zero.
func TestNoTarget(t *testing.T) {
	f, st := replay(t, "limits-v1", probe.Target{})
	if st[""].State != probe.OK || st["open_files_pct"].Fix != "pass --pid" || st["zombie_children"].State != probe.Unavailable {
		t.Errorf("statuses %v", st)
	}
	if f.Zombies != 9 || f.TasksMax != 32768 {
		t.Errorf("system facts %+v", f)
	}
}

func TestGoneProcess(t *testing.T) {
	_, st := replay(t, "limits-v1", probe.Target{PID: 999})
	if st["open_files"].State != probe.Unavailable || st["open_files_soft"].State != probe.Unavailable || st["pids_max"].State != probe.Unavailable {
		t.Errorf("statuses %v", st)
	}
}

func TestParseLimits(t *testing.T) {
	l := ParseLimits([]byte("Limit                     Soft Limit           Hard Limit           Units     \n" +
		"Max open files            1024                 524288               files     \n" +
		"Max nice priority         0                    0                    \n" + // no unit
		"Max realtime timeout      unlimited            unlimited            us        \n" +
		"Max processes 7\n" + // one value: not a limit line
		"Max stack size            -1                   unlimited            bytes\n" + // negative: not a value
		"\x1b[31m garbage 12 13\n" +
		"max Locked Memory 65536 65536 bytes\n")) // another kernel's capitals
	want := map[string]Limit{
		"max open files":       {1024, 524288},
		"max nice priority":    {0, 0},
		"max realtime timeout": {Unlimited, Unlimited},
		"max locked memory":    {65536, 65536},
		"\x1b[31m garbage":     {12, 13},
	}
	if len(l) != len(want) {
		t.Errorf("parsed %v", l)
	}
	for k, v := range want {
		if l[k] != v {
			t.Errorf("%q = %v, want %v (all: %v)", k, l[k], v, l)
		}
	}
}

func TestParseStat(t *testing.T) {
	for _, tc := range []struct {
		in    string
		state byte
		ppid  int
		ok    bool
	}{
		{"5 (a) Z 4242 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777 0", 'Z', 4242, true},
		{"5 (x) y) S 3 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777 0", 'S', 3, true},
		{"5 (a) Z", 0, 0, false},
		{"5 a Z 3", 0, 0, false},
		{"", 0, 0, false},
		{"5 (a) ZZ 3 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777 0", 0, 0, false},
	} {
		state, ppid, _, ok := parseStat([]byte(tc.in))
		if state != tc.state || ppid != tc.ppid || ok != tc.ok {
			t.Errorf("%q: %c %d %v", tc.in, state, ppid, ok)
		}
	}
}

func FuzzParseLimits(f *testing.F) {
	f.Add([]byte("Max open files            1024                 524288               files\n"))
	f.Add([]byte("Max nice priority 0 0\nunlimited unlimited\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for name, l := range ParseLimits(b) {
			if name == "" || l.Soft < Unlimited || l.Hard < Unlimited || strings.Contains(name, "\n") {
				t.Fatalf("%q: %v", name, l)
			}
		}
	})
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("5 (a) Z 4242 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777 0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if state, _, _, ok := parseStat(b); ok && state == 0 {
			t.Fatal("ok without a state")
		}
	})
}

// BenchmarkRead is one reading of this machine: the /proc scan for zombies
// and children dominates, and grows with the number of processes.
func BenchmarkRead(b *testing.B) {
	h := probe.Host{Root: "/", Now: time.Now()}
	r := New(probe.Target{PID: 1}, probe.Options{})
	r.Read(b.Context(), h) // resolves the cgroup once, as a window's first reading does
	b.ReportAllocs()
	for b.Loop() {
		r.Read(b.Context(), h)
	}
}

// A container's processes are one target: the children of each add up
// (77's three zombies join 4242's six); the descriptors are of the process
// nearest its limit among those readable (77 has no fd directory here).
func TestSeveralProcesses(t *testing.T) {
	f, st := replay(t, "limits-v1", probe.Target{PID: 4242, PIDs: []int{4242, 77}})
	if st[""].State != probe.OK {
		t.Fatalf("statuses %v", st)
	}
	if f.PID != 4242 || f.OpenFiles != 60 || f.OpenFilesSoft != 64 {
		t.Errorf("descriptors %+v", f)
	}
	if f.ZombieChildren != 9 || f.Children != 10 {
		t.Errorf("children %d, zombies %d", f.Children, f.ZombieChildren)
	}
}

// The limits are read after the window; a run whose deadline came first
// says so for each fact that needs them, and still gives the counters.
func TestCutBeforeTheLimitsAreRead(t *testing.T) {
	r := New(probe.Target{PID: os.Getpid()}, probe.Options{})
	h := probe.Host{Root: "/", Now: time.Now()}
	r.Read(t.Context(), h)
	h.Now = h.Now.Add(time.Second)
	r.Read(t.Context(), h)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	v, st := probe.Complete(ctx, r, h)
	f := v.(Facts)
	for _, k := range []string{"open_files_soft", "open_files_pct", "tasks_max", "file_max", "committed_pct"} {
		if st[k].State != probe.Unavailable || st[k].Reason != probe.CutByTimeout {
			t.Errorf("%s: %+v, want unavailable: %s", k, st[k], probe.CutByTimeout)
		}
	}
	if st[""].State != probe.OK || f.OpenFiles == 0 || f.Tasks == 0 {
		t.Errorf("the readings' own counters: %v, open files %d, tasks %d", st[""], f.OpenFiles, f.Tasks)
	}
	r = New(probe.Target{PID: os.Getpid()}, probe.Options{})
	r.Read(t.Context(), h)
	v, st = probe.Complete(t.Context(), r, h)
	if f := v.(Facts); f.OpenFilesSoft <= 0 || f.TasksMax <= 0 || st["open_files_soft"].State != "" && st["open_files_soft"].State != probe.OK {
		t.Errorf("not cut: soft %d, tasks max %d, %+v", f.OpenFilesSoft, f.TasksMax, st["open_files_soft"])
	}
}
