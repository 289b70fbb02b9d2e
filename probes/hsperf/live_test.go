package hsperf

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
	"github.com/diagnose-sh/diagnose/probes/probetest"
)

func startJVM(t *testing.T, flags ...string) int {
	t.Helper()
	probetest.Need(t, "java", "jstat")
	src := filepath.Join(probetest.RepoRoot(t), "testdata", "workloads", "GcRoomy.java")
	cmd, _ := probetest.StartPrinting(t, "started", "java", append(flags, src)...)
	time.Sleep(time.Second)
	return cmd.Process.Pid
}

// jstatGC runs jstat -gc once and returns its columns by name (sizes in KB,
// times in seconds).
func jstatGC(t *testing.T, pid int) map[string]float64 {
	t.Helper()
	out, err := exec.Command("jstat", "-gc", strconv.Itoa(pid)).CombinedOutput()
	if err != nil {
		t.Fatalf("jstat: %v %s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	names, values := strings.Fields(lines[0]), strings.Fields(lines[len(lines)-1])
	m := map[string]float64{}
	for i, n := range names {
		if v, err := strconv.ParseFloat(values[i], 64); err == nil && i < len(values) {
			m[n] = v
		}
	}
	return m
}

// The counters are jstat's: read before and after jstat -gc, its numbers lie
// between ours (counts exactly, sizes within 1 MiB of the range: the JVM
// allocates while jstat starts), and reading attaches nothing.
func TestLiveMatchesJstat(t *testing.T) {
	probetest.Live(t)
	pid := startJVM(t, "-XX:+UseSerialGC", "-Xmx256m")
	h := probe.Host{Root: "/"}
	file, err := Find(h, pid)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Open(h, file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a, err := f.Read()
	if err != nil {
		t.Fatal(err)
	}
	js := jstatGC(t, pid)
	b, err := f.Read()
	if err != nil {
		t.Fatal(err)
	}
	between := func(name string, got, lo, hi, slack float64) {
		t.Logf("%-4s jstat %12.3f  ours %12.3f .. %12.3f", name, got, lo, hi)
		if got < min(lo, hi)-slack || got > max(lo, hi)+slack {
			t.Errorf("%s: jstat %.3f, ours %.3f..%.3f (slack %.3f)", name, got, lo, hi, slack)
		}
	}
	kb := func(v int64) float64 { return float64(v) / 1024 }
	sec := func(c Counters, v int64) float64 { return float64(v) / float64(c.Frequency) }
	between("YGC", js["YGC"], float64(a.Collectors[0].Invocations), float64(b.Collectors[0].Invocations), 0)
	between("FGC", js["FGC"], float64(a.Collectors[1].Invocations), float64(b.Collectors[1].Invocations), 0)
	between("YGCT", js["YGCT"], sec(a, a.Collectors[0].Ticks), sec(b, b.Collectors[0].Ticks), 0.001)
	between("OU", js["OU"], kb(a.Generations[1].Used), kb(b.Generations[1].Used), 1024)
	between("OC", js["OC"], kb(a.Generations[1].Committed), kb(b.Generations[1].Committed), 1)
	between("MU", js["MU"], kb(a.MetaspaceUsed), kb(b.MetaspaceUsed), 1024)
	between("MC", js["MC"], kb(a.MetaspaceCommitted), kb(b.MetaspaceCommitted), 1024)
	between("CCSU", js["CCSU"], kb(a.ClassUsed), kb(b.ClassUsed), 1024)
	for i := 0; i < 50; i++ {
		f.Read()
	}
	tasks, _ := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "task"))
	for _, task := range tasks {
		comm, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "task", task.Name(), "comm"))
		if strings.TrimSpace(string(comm)) == "Attach Listener" {
			t.Errorf("the JVM started an Attach Listener: something attached")
		}
	}
}

// The probe over a live window: a roomy JVM is present, collects now and then.
func TestLiveProbe(t *testing.T) {
	probetest.Live(t)
	pid := startJVM(t, "-Xmx256m")
	r := New(probe.Target{PID: pid}, probe.Options{})
	for i := 0; i < 5; i++ {
		r.Read(t.Context(), probe.Host{Root: "/", Now: time.Now()})
		time.Sleep(200 * time.Millisecond)
	}
	v, st := r.Finish()
	f := v.(Facts)
	if st[""].State != probe.OK || !f.Present || f.Policy != "GarbageFirst" || f.WindowS < 0.7 || f.GCTimePct >= 5 || f.ThreadsLive < 2 {
		t.Errorf("facts %+v, statuses %v", f, st)
	}
	// A process that is no JVM: known, not missing.
	r = New(probe.Target{PID: os.Getpid()}, probe.Options{})
	r.Read(t.Context(), probe.Host{Root: "/"})
	if v, st := r.Finish(); v.(Facts).Present || st[""].State != probe.OK {
		t.Errorf("the test binary: %+v %v", v, st)
	}
}

// A JVM that does not publish its counters is unavailable with the reason,
// and nothing attaches to it to find out.
func TestLiveNoPerfData(t *testing.T) {
	probetest.Live(t)
	for _, flag := range []string{"-XX:-UsePerfData", "-XX:+PerfDisableSharedMem"} {
		pid := startJVM(t, flag, "-Xmx64m")
		r := New(probe.Target{PID: pid}, probe.Options{})
		r.Read(t.Context(), probe.Host{Root: "/", Now: time.Now()})
		v, st := r.Finish()
		if v.(Facts).Present || st[""].State != probe.Unavailable || !strings.Contains(st[""].Reason, "-XX:-UsePerfData") {
			t.Errorf("%s: facts %+v, status %+v", flag, v, st[""])
		}
	}
}
