package cli

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/probes"
	"github.com/diagnose-sh/diagnose/probes/cgroup"
	"github.com/diagnose-sh/diagnose/probes/cpu"
	"github.com/diagnose-sh/diagnose/probes/disk"
	"github.com/diagnose-sh/diagnose/probes/hostinfo"
	"github.com/diagnose-sh/diagnose/probes/limits"
	"github.com/diagnose-sh/diagnose/probes/memory"
	"github.com/diagnose-sh/diagnose/probes/probe"
	"github.com/diagnose-sh/diagnose/probes/probetest"
	"github.com/diagnose-sh/diagnose/probes/psi"
)

// runSystem runs `diagnose system` (the embedded playbook) with extra args.
func runSystem(t *testing.T, args ...string) (liveReport, int) {
	t.Helper()
	return runJSON(t, append([]string{"system"}, args...)...)
}

// More busy loops than CPUs: the verdict is cpu, via cpu-saturated.
func TestLiveSystemCPUSaturated(t *testing.T) {
	probetest.Live(t)
	for range 2*runtime.NumCPU() + 1 {
		probetest.Start(t, "sh", "-c", "while :; do :; done")
	}
	time.Sleep(300 * time.Millisecond)
	rep, code := runSystem(t, "--duration", "2s")
	t.Logf("verdict %s, rules %v, r %.2f busy %.1f", rep.Verdict.Class, rep.rules(), rep.Facts.CPU.RunQueue, rep.Facts.CPU.BusyPct)
	if rep.Verdict.Class != "cpu" || !rep.fired("cpu-saturated") || code != exitFindings {
		t.Errorf("verdict %s (exit %d), rules %v; want cpu via cpu-saturated, exit 1", rep.Verdict.Class, code, rep.rules())
	}
}

// Direct-I/O writers on the real disk (the test's temp dir): tasks block on
// I/O, so io-wait fires. Eight writers, not four: on a fast virtio disk with
// the CPUs busy elsewhere (other packages' tests), iowait reads near 0 and
// four writers left b below 1; eight keep several tasks in D state. A fast disk is busy but its await stays low: the
// playbook must then not call it saturated.
func TestLiveSystemIOWait(t *testing.T) {
	probetest.Live(t)
	probetest.Need(t, "fio")
	dir := t.TempDir()
	probetest.Start(t, "fio", "--name=w", "--directory="+dir, "--numjobs=8", "--rw=randwrite", "--bs=4k",
		"--direct=1", "--ioengine=psync", "--size=16M", "--time_based", "--runtime=30", "--output=/dev/null")
	time.Sleep(time.Second) // file layout
	rep, _ := runSystem(t, "--duration", "2s")
	b := rep.Facts.Disks.Busiest
	t.Logf("verdict %s also %v, rules %v; iowait %.1f b %.2f; %s util %.1f await %.3f aqu %.2f",
		rep.Verdict.Class, rep.Verdict.Also, rep.rules(), rep.Facts.CPU.IowaitPct, rep.Facts.CPU.Blocked, b.Name, b.UtilPct, b.AwaitMs, b.AquSz)
	if !rep.fired("io-wait") {
		t.Errorf("io-wait did not fire: rules %v", rep.rules())
	}
	if rep.Verdict.Class != "io" && !contains(rep.Verdict.Also, "io") {
		t.Errorf("verdict %s also %v: io missing", rep.Verdict.Class, rep.Verdict.Also)
	}
	saturated := false
	for _, d := range rep.Facts.Disks.Devices {
		saturated = saturated || (d.UtilPct >= 80 && d.AwaitMs >= 5 && d.AquSz >= 1)
	}
	if rep.fired("disk-saturated") != saturated {
		t.Errorf("disk-saturated fired %v, facts say %v: %+v", rep.fired("disk-saturated"), saturated, rep.Facts.Disks.Devices)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// fixtureSnapshot replays the system probes over a fixture scenario and
// writes the facts as a snapshot, so the playbook can be checked against
// recorded and hand-made machines (swapping, no PSI) that a test cannot
// safely create live. edit may change the facts first.
func fixtureSnapshot(t *testing.T, scenario string, edit func(*probes.Facts)) string {
	t.Helper()
	roots := []string{probetest.Fixture(t, scenario, "t0"), probetest.Fixture(t, scenario, "t1")}
	var f probes.Facts
	st := probe.Statuses{}
	add := func(section string, r probe.Reader) any {
		v, s := probetest.Replay(r, time.Second, roots...)
		for k, x := range s {
			if k == "" {
				st[section] = x
			} else {
				st[section+"."+k] = x
			}
		}
		return v
	}
	f.Host = add("host", hostinfo.New(probe.Target{}, probe.Options{})).(hostinfo.Facts)
	f.CPU = add("cpu", cpu.New(probe.Target{}, probe.Options{})).(cpu.Facts)
	f.Memory = add("memory", memory.New(probe.Target{}, probe.Options{})).(memory.Facts)
	f.PSI = add("psi", psi.New(probe.Target{}, probe.Options{})).(psi.Facts)
	f.Disks = add("disks", disk.New(probe.Target{}, probe.Options{})).(disk.Facts)
	f.Cgroup = add("cgroup", cgroup.New(probe.Target{}, probe.Options{})).(cgroup.Facts)
	f.Limits = add("limits", limits.New(probe.Target{}, probe.Options{})).(limits.Facts)
	if edit != nil {
		edit(&f)
	}
	snap := probes.Snapshot{Version: probes.SnapshotVersion, Tool: "test", CollectedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		WindowSeconds: 1, Status: st, Facts: f}
	p := filepath.Join(t.TempDir(), scenario+".json")
	var buf bytes.Buffer
	if err := probes.WriteSnapshot(&buf, snap); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSystemPlaybookOnFixtures(t *testing.T) {
	for _, tc := range []struct {
		scenario string
		edit     func(*probes.Facts)
		class    string
		fired    []string
		notFired []string
	}{
		{scenario: "sys-idle", class: "none", notFired: []string{"cpu-saturated", "io-wait", "swapping", "disk-saturated"}},
		{scenario: "sys-cpu-saturated", class: "cpu", fired: []string{"cpu-saturated"}},
		{scenario: "sys-iowait", class: "io", fired: []string{"io-wait", "disk-busy-not-saturated"}, notFired: []string{"disk-saturated"}},
		{scenario: "sys-swapping", class: "memory", fired: []string{"swapping-in", "direct-reclaim", "memory-pressure", "major-faults", "memory-low"}},
		// Without PSI only info rules are unknown: the verdict stays decided.
		{scenario: "sys-no-psi", class: "none"},
		{scenario: "sys-many-disks", class: "none", fired: []string{"disk-busy-not-saturated"}, notFired: []string{"disk-saturated"}},
		{scenario: "sys-many-disks", class: "io", edit: func(f *probes.Facts) {
			d := &f.Disks.Devices[3] // sda: a slow disk with a queue
			d.UtilPct, d.AwaitMs, d.RAwaitMs, d.WAwaitMs, d.AquSz = 97, 35, 30, 40, 6
		}, fired: []string{"disk-saturated"}},
		{scenario: "sys-idle", class: "throttled", edit: func(f *probes.Facts) { f.CPU.StealPct = 25 }, fired: []string{"cpu-steal"}},
		// Limits, from the recorded sysctls with the use edited.
		{scenario: "sys-idle", class: "limits", edit: func(f *probes.Facts) { f.Limits.Tasks, f.Limits.TasksPct = 29800, 90.94 },
			fired: []string{"tasks-near-max"}},
		{scenario: "sys-idle", class: "limits", edit: func(f *probes.Facts) { f.Limits.TasksPerS = 60 }, // 32768 reached in 9 min
			fired: []string{"tasks-near-max"}},
		{scenario: "sys-idle", class: "none", edit: func(f *probes.Facts) { f.Limits.TasksPerS = 40 }, // in 13 min
			notFired: []string{"tasks-near-max"}},
		{scenario: "sys-idle", class: "limits", edit: func(f *probes.Facts) { f.Limits.FileHandles, f.Limits.FileHandlesPct = 2300000, 93.27 },
			fired: []string{"file-handles-near-max"}},
		{scenario: "sys-idle", class: "limits", edit: func(f *probes.Facts) {
			f.Cgroup.VM.OvercommitMemory, f.Limits.CommittedPct = 2, 96
		}, fired: []string{"commit-limit-near"}},
		{scenario: "sys-idle", class: "none", edit: func(f *probes.Facts) { f.Limits.CommittedPct = 96 }, // mode 0: no commit limit
			notFired: []string{"commit-limit-near"}},
	} {
		t.Run(tc.scenario+"-"+tc.class, func(t *testing.T) {
			snap := fixtureSnapshot(t, tc.scenario, tc.edit)
			rep, _ := runSystem(t, "--snapshot", snap)
			if rep.Verdict.Class != tc.class {
				t.Errorf("verdict %s, want %s (rules %v, unknown %v)", rep.Verdict.Class, tc.class, rep.rules(), rep.Unknown)
			}
			for _, r := range tc.fired {
				if !rep.fired(r) {
					t.Errorf("%s did not fire: %v", r, rep.rules())
				}
			}
			for _, r := range tc.notFired {
				if rep.fired(r) {
					t.Errorf("%s fired", r)
				}
			}
			if tc.scenario == "sys-no-psi" {
				if len(rep.Unknown) == 0 || !strings.Contains(rep.Unknown[0].Reason, "CONFIG_PSI") {
					t.Errorf("PSI rules should be unknown with the reason: %+v", rep.Unknown)
				}
			}
		})
	}
}

// A --timeout shorter than --duration cuts the window: the report says how
// long it sampled, what was asked, and that --timeout (not a longer
// --duration) is the fix.
func TestLiveTimeoutCutsWindow(t *testing.T) {
	probetest.Live(t)
	rep, code := runJSON(t, "system", "--duration", "20s", "--timeout", "500ms")
	if code == exitUsage {
		t.Fatalf("exit %d", code)
	}
	if rep.WindowSeconds != 0.5 || rep.WindowRequestedSeconds != 20 {
		t.Errorf("window %.2fs, requested %.2fs; want 0.50 and 20", rep.WindowSeconds, rep.WindowRequestedSeconds)
	}
	if !slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.Contains(n, "--timeout 500ms cut the sampling window") }) {
		t.Errorf("no note of the cut window: %q", rep.Notes)
	}
	for path, st := range rep.Probes {
		if strings.Contains(st.Fix, "--duration") && !strings.Contains(st.Fix, "--timeout") {
			t.Errorf("%s: fix %q asks for a longer --duration, which --timeout would cut again", path, st.Fix)
		}
	}
	var text bytes.Buffer
	Main([]string{"system", "--duration", "20s", "--timeout", "300ms"}, strings.NewReader(""), &text, io.Discard)
	if !strings.Contains(text.String(), "0.3s window (cut short of the 20.0s asked for)") {
		t.Errorf("text header does not show the cut:\n%s", text.String())
	}
}

// The runbook's htop step: diagnose system names a spinning process while
// it spins, with the next step for it.
func TestLiveSystemNamesTheBusyProcess(t *testing.T) {
	probetest.Live(t)
	spinner := probetest.Start(t, probetest.BuildC(t, "spinner"))
	time.Sleep(300 * time.Millisecond)
	rep, _ := runSystem(t)
	f, ok := rep.finding("top-cpu")
	want := "diagnose slow-app --pid " + strconv.Itoa(spinner.Process.Pid)
	found := false
	for _, p := range rep.Facts.Top.CPU {
		found = found || p.PID == spinner.Process.Pid && p.CPUPct >= 50
	}
	if !ok || !found || !strings.Contains(f.Evidence, "spinner (pid "+strconv.Itoa(spinner.Process.Pid)+")") {
		t.Fatalf("top-cpu %v %q, top %+v", ok, f.Evidence, rep.Facts.Top.CPU)
	}
	if rep.Facts.Top.TopCPU.PID == spinner.Process.Pid && (len(f.Next) == 0 || !strings.HasPrefix(f.Next[0], want)) {
		t.Errorf("next %v, want %q", f.Next, want)
	}
}
