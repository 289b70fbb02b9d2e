package cli

import (
	"errors"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/internal/testcgroup"
	"github.com/diagnose-sh/diagnose/probes/probetest"
)

// dockerCgroup puts pids in a cgroup named like a Docker container
// (testcgroup.Docker), removed when the test ends, and returns the ID.
func dockerCgroup(t *testing.T, pids ...int) string {
	t.Helper()
	id, remove, err := testcgroup.Docker(pids...)
	t.Cleanup(func() {
		if err := remove(); err != nil {
			t.Error(err)
		}
	})
	switch {
	case errors.Is(err, testcgroup.ErrNoMemory):
		probetest.Skip(t, "%v", err)
	case err != nil:
		t.Fatal(err)
	}
	return id
}

// A container is one target: found by its ID prefix, its processes are
// diagnosed together and the finding names the busy one, though it is not
// the container's main (oldest) process.
func TestLiveContainerTarget(t *testing.T) {
	probetest.Live(t)
	sleeper := probetest.Start(t, probetest.BuildC(t, "sleeper")).Process.Pid
	time.Sleep(20 * time.Millisecond) // the sleeper is the older: the main process
	spinner := probetest.Start(t, probetest.BuildC(t, "spinner")).Process.Pid
	id := dockerCgroup(t, sleeper, spinner)
	time.Sleep(300 * time.Millisecond)

	rep, code := runJSON(t, "slow-app", "--container", id[:12], "--duration", "2s")
	if rep.Verdict.Class != "cpu" || code != exitFindings {
		t.Fatalf("verdict %+v (exit %d), findings %v", rep.Verdict, code, rep.rules())
	}
	if !slices.ContainsFunc(rep.Notes, func(n string) bool {
		return strings.Contains(n, "docker container "+id[:12]) && strings.Contains(n, "2 processes diagnosed together, main PID "+strconv.Itoa(sleeper))
	}) {
		t.Errorf("notes %q: the target's processes", rep.Notes)
	}
	if rep.Parameters["pid"] != float64(sleeper) || rep.Facts.Process.PID != sleeper {
		t.Errorf("pid parameter %v, process.pid %d: want the main process %d", rep.Parameters["pid"], rep.Facts.Process.PID, sleeper)
	}
	procs := rep.Facts.Process.Processes
	if len(procs) != 2 || procs[0].PID != spinner || procs[0].CPUPct < 20 || procs[1].PID != sleeper {
		t.Errorf("process.processes %+v: spinner %d first", procs, spinner)
	}
	waits := rep.Facts.Threads.Processes
	if len(waits) != 2 || waits[0].PID != spinner || waits[0].RunningThreads+waits[0].RunnableThreads < 0.8 {
		t.Errorf("threads.processes %+v: spinner %d first, on or waiting for a CPU", waits, spinner)
	}
	f := rep.Findings[0]
	if want := "by process: spinner (pid " + strconv.Itoa(spinner) + ")"; !strings.Contains(f.Evidence, want) {
		t.Errorf("%s evidence %q does not name %q", f.Rule, f.Evidence, want)
	}
	if f.Rule == "cpu-busy" && !slices.Contains(f.Next, "diagnose slow-app --pid "+strconv.Itoa(spinner)+"   (its busiest process alone)") {
		t.Errorf("next %q: the busiest process alone", f.Next)
	}

	// A recorded container replays as one target.
	snap := filepath.Join(t.TempDir(), "ctr.json")
	var stderr strings.Builder
	if code := Main([]string{"collect", "--container", id[:12], "-o", snap}, strings.NewReader(""), &strings.Builder{}, &stderr); code != 0 {
		t.Fatalf("collect exit %d: %s", code, stderr.String())
	}
	replay, _ := runJSON(t, "slow-app", "--snapshot", snap)
	if replay.Verdict.Class != "cpu" || !strings.Contains(replay.Findings[0].Evidence, "spinner (pid "+strconv.Itoa(spinner)+")") {
		t.Errorf("replay: verdict %+v, findings %v", replay.Verdict, replay.Findings)
	}

	// oom-container reads the same container's cgroup.
	oom, _ := runJSON(t, "oom-container", "--container", id[:16])
	if got := oom.Facts.Cgroup.Path; got != "/docker/"+id {
		t.Errorf("oom-container cgroup %q, want /docker/%s", got, id)
	}
}

// A container of one process reads as --pid does: no per-process clause.
func TestLiveContainerSingleProcess(t *testing.T) {
	probetest.Live(t)
	spinner := probetest.Start(t, probetest.BuildC(t, "spinner")).Process.Pid
	id := dockerCgroup(t, spinner)
	time.Sleep(300 * time.Millisecond)
	rep, _ := runJSON(t, "slow-app", "--container", strings.ToUpper(id[:12]))
	if rep.Verdict.Class != "cpu" || rep.Facts.Process.PID != spinner || len(rep.Facts.Process.Processes) != 1 {
		t.Fatalf("verdict %+v, process %d %+v", rep.Verdict, rep.Facts.Process.PID, rep.Facts.Process.Processes)
	}
	if f := rep.Findings[0]; strings.Contains(f.Evidence, "by process") {
		t.Errorf("%s evidence %q: one process needs no breakdown", f.Rule, f.Evidence)
	}
}
