package cli

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probetest"
)

// pidsCgroup puts pid in a new cgroup v1 pids child with pids.max max,
// removed when the test ends.
func pidsCgroup(t *testing.T, pid, max int) string {
	t.Helper()
	base := "/sys/fs/cgroup/pids"
	if _, err := os.Stat(filepath.Join(base, "cgroup.procs")); err != nil {
		probetest.Skip(t, "no cgroup v1 pids controller mounted")
	}
	return childCgroup(t, base, "pids.max", max, pid)
}

// TestLiveSystemLimits: a parent that never reaps its children shows in
// diagnose system, named with its PID.
func TestLiveSystemLimits(t *testing.T) {
	probetest.Live(t)
	cmd, _ := probetest.StartPrinting(t, "started", probetest.BuildC(t, "unreaped"), "20")
	time.Sleep(500 * time.Millisecond)
	rep, _ := runJSON(t, "system")
	f, ok := rep.finding("zombies-piling-up")
	if !ok || rep.Facts.Limits.TopZombieParent.PID != cmd.Process.Pid || rep.Facts.Limits.TopZombieParent.Name != "unreaped" {
		t.Fatalf("no zombies-piling-up naming pid %d: findings %v, top parent %+v", cmd.Process.Pid, rep.rules(), rep.Facts.Limits.TopZombieParent)
	}
	if want := "diagnose slow-app --pid " + strconv.Itoa(cmd.Process.Pid); len(f.Next) == 0 || f.Next[0] != want {
		t.Errorf("next %v, want %q first", f.Next, want)
	}
}

// TestLiveOOMContainerPids: a container near its pids.max is a limits
// finding of oom-container too (a JVM reports it as "unable to create
// native thread").
func TestLiveOOMContainerPids(t *testing.T) {
	probetest.Live(t)
	cmd, _ := probetest.StartPrinting(t, "started", probetest.BuildC(t, "many_threads"), "45")
	dir := pidsCgroup(t, cmd.Process.Pid, 50)
	rep, _ := runJSON(t, "oom-container", "--pid", strconv.Itoa(cmd.Process.Pid))
	f, ok := rep.finding("pids-limit-near")
	if !ok || rep.Facts.Limits.PIDsCurrent != 46 || rep.Facts.Limits.PIDsMax != 50 || !strings.Contains(f.Evidence, "46 of its pids.max 50") {
		t.Fatalf("findings %v, limits %+v (%s)", rep.rules(), rep.Facts.Limits, dir)
	}
}
