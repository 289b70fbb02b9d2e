// Package probetest holds what probe tests share: fixture readings, golden
// files with an -update flag, and the lock that keeps live workload tests
// from disturbing each other when packages are tested in parallel.
package probetest

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

var update = flag.Bool("update", false, "rewrite golden files (facts, CLI output, generated docs) with what the code now produces")

// Update reports whether the test run was asked to rewrite golden files.
func Update() bool { return *update }

// RepoRoot returns the repository root (the directory holding go.mod).
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate probetest source")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Fixture returns the path of a fixture directory under testdata/hosts.
func Fixture(t testing.TB, elem ...string) string {
	t.Helper()
	return filepath.Join(append([]string{RepoRoot(t), "testdata", "hosts"}, elem...)...)
}

// Replay drives r over recorded readings: each root is one reading, taken
// step apart starting at a fixed time, and returns Finish's result.
func Replay(r probe.Reader, step time.Duration, roots ...string) (any, probe.Statuses) {
	at := make([]time.Duration, len(roots))
	for i := range at {
		at[i] = time.Duration(i) * step
	}
	return ReplayAt(r, roots, at)
}

// ReplayAt drives r over readings taken at the given offsets from a fixed
// start, then its after-window phase on the last, and returns Finish's
// result.
func ReplayAt(r probe.Reader, roots []string, at []time.Duration) (any, probe.Statuses) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ctx := context.Background()
	var h probe.Host
	for i, root := range roots {
		h = probe.Host{Root: root, Now: t0.Add(at[i])}
		r.Read(ctx, h)
	}
	return probe.Complete(ctx, r, h)
}

// ReplayFixture replays readings of a system scenario (t0, t1, …) one
// second apart and returns the section's facts.
func ReplayFixture[F any](t testing.TB, r probe.Reader, scenario string, readings ...string) (F, probe.Statuses) {
	t.Helper()
	roots := make([]string, len(readings))
	for i, name := range readings {
		roots[i] = Fixture(t, scenario, name)
	}
	v, st := Replay(r, time.Second, roots...)
	f, _ := v.(F)
	return f, st
}

// Result is what a probe's golden file holds.
type Result struct {
	Facts  any            `json:"facts"`
	Status probe.Statuses `json:"status"`
}

// SystemScenarios are the system-wide fixture trees every system probe
// (cpu, memory, psi, disks, host) is replayed on.
var SystemScenarios = []string{"sys-idle", "sys-cpu-saturated", "sys-iowait", "sys-swapping", "sys-no-psi",
	"sys-many-disks", "sys-counter-wrap", "sys-container", "sys-garbled"}

// Recording is a fixture recorded from a live process: readings t0, t1, …
// in order, when each was taken (times.txt: microseconds since the first,
// one per line), and the process's PID (the numeric directory in t0/proc).
type Recording struct {
	Roots []string
	Times []time.Duration
	PID   int
}

// LoadRecording reads a recorded scenario under testdata/hosts.
func LoadRecording(t testing.TB, scenario string) Recording {
	t.Helper()
	dir := Fixture(t, scenario)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	byIndex := map[int]string{}
	var idx []int
	for _, e := range ents {
		if n, err := strconv.Atoi(strings.TrimPrefix(e.Name(), "t")); e.IsDir() && err == nil && strings.HasPrefix(e.Name(), "t") {
			byIndex[n] = e.Name()
			idx = append(idx, n)
		}
	}
	sort.Ints(idx) // numeric: t2 before t10, whether or not names are zero-padded
	var rec Recording
	for _, n := range idx {
		rec.Roots = append(rec.Roots, filepath.Join(dir, byIndex[n]))
	}
	if len(rec.Roots) == 0 {
		t.Fatalf("%s: no readings", scenario)
	}
	b, err := os.ReadFile(filepath.Join(dir, "times.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range strings.Fields(string(b)) {
		us, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			t.Fatalf("%s/times.txt: %v", scenario, err)
		}
		rec.Times = append(rec.Times, time.Duration(us)*time.Microsecond)
	}
	if len(rec.Times) < len(rec.Roots) {
		t.Fatalf("%s: %d readings but %d times", scenario, len(rec.Roots), len(rec.Times))
	}
	procs, _ := os.ReadDir(filepath.Join(rec.Roots[0], "proc"))
	for _, p := range procs {
		if pid, err := strconv.Atoi(p.Name()); err == nil {
			rec.PID = pid
			return rec
		}
	}
	t.Fatalf("%s: no process directory in t0/proc", scenario)
	return rec
}

// Replay drives r over the recording at its recorded times.
func (rec Recording) Replay(r probe.Reader) (any, probe.Statuses) {
	return ReplayAt(r, rec.Roots, rec.Times)
}

// Golden compares got, as indented JSON, with the golden file at path;
// with -update it rewrites the file instead.
func Golden(t testing.TB, path string, got any) {
	t.Helper()
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	b = append(b, '\n')
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create it): %v", err)
	}
	if string(want) != string(b) {
		t.Errorf("facts differ from %s (run with -update if the change is intended)\n--- got ---\n%s\n--- want ---\n%s", path, b, want)
	}
}

// Live marks a test that runs real workloads on this machine: it needs root
// and Linux, and holds a machine-wide lock for its duration so that live tests
// of different packages (run in parallel by go test) do not skew each other's
// measurements. Set DIAGNOSE_SKIP_LIVE=1 to skip them.
// Skip skips a test for a reason of this machine (no root, a program or a
// kernel feature missing) and, when DIAGNOSE_SKIP_LOG names a file, appends
// the reason there: make test ends with the list, so a green run says what
// it did not test.
func Skip(t testing.TB, format string, args ...any) {
	t.Helper()
	reason := fmt.Sprintf(format, args...)
	if path := os.Getenv("DIAGNOSE_SKIP_LOG"); path != "" {
		if f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o666); err == nil {
			fmt.Fprintf(f, "%s: %s\n", t.Name(), reason)
			f.Close()
		}
	}
	t.Skip(reason)
}

func Live(t testing.TB) {
	t.Helper()
	if runtime.GOOS != "linux" {
		Skip(t, "live test needs Linux")
	}
	if os.Getenv("DIAGNOSE_SKIP_LIVE") != "" {
		Skip(t, "DIAGNOSE_SKIP_LIVE is set")
	}
	if os.Geteuid() != 0 {
		Skip(t, "live test needs root")
	}
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "diagnose-live-tests.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	})
	// Runs before the lock is released and after the test's own workloads
	// were stopped (cleanups run last-registered first).
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("other load when the test ended (live classifications need idle CPUs): %s", BusyProcesses(200*time.Millisecond))
		}
	})
}

// BusyProcesses names the processes that used at least a tenth of a CPU
// over d, busiest first, with the load average: after a live test failed,
// the load that may have skewed it (once a forgotten 200-thread convoy
// holding a CPU made the io-wait test read cpu-saturated).
func BusyProcesses(d time.Duration) string {
	ticks := func() map[int]uint64 {
		out := map[int]uint64{}
		dirs, _ := filepath.Glob("/proc/[0-9]*")
		for _, dir := range dirs {
			pid, _ := strconv.Atoi(filepath.Base(dir))
			b, err := os.ReadFile(filepath.Join(dir, "stat"))
			if err != nil {
				continue
			}
			tail, err := probe.StatTail(b)
			if err != nil {
				continue
			}
			u, _ := probe.StatField(tail, 14)
			s, _ := probe.StatField(tail, 15)
			ut, ok1 := probe.Uint(u)
			st, ok2 := probe.Uint(s)
			if ok1 && ok2 {
				out[pid] = ut + st
			}
		}
		return out
	}
	before := ticks()
	time.Sleep(d)
	type busy struct {
		pid int
		pct float64
	}
	var list []busy
	for pid, t1 := range ticks() {
		if t0, ok := before[pid]; ok && t1 > t0 {
			// USER_HZ is 100 on every Linux architecture diagnose supports.
			if pct := float64(t1-t0) / 100 / d.Seconds() * 100; pct >= 10 {
				list = append(list, busy{pid, pct})
			}
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].pct > list[j].pct })
	load, _ := os.ReadFile("/proc/loadavg")
	out := "load average " + strings.TrimSpace(string(load))
	if len(list) == 0 {
		return out + "; no process above 10 % of a CPU"
	}
	for _, b := range list {
		cmd, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(b.pid), "cmdline"))
		name := strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " "))
		if len(name) > 80 {
			name = name[:80] + "…"
		}
		out += fmt.Sprintf("; pid %d %q %.0f%%", b.pid, name, b.pct)
	}
	return out
}

// Need skips the test unless the named programs are installed; in CI
// (CI=true) a missing program fails the test instead, since .ci/run installs them.
func Need(t testing.TB, programs ...string) {
	t.Helper()
	for _, p := range programs {
		if _, err := exec.LookPath(p); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is not installed; .ci/run must install it", p)
			}
			Skip(t, "%s is not installed", p)
		}
	}
}

// BuildC compiles a C workload from testdata/workloads into a temporary
// directory and returns the binary's path.
func BuildC(t testing.TB, name string, flags ...string) string {
	t.Helper()
	Need(t, "gcc")
	out := filepath.Join(t.TempDir(), name)
	src := filepath.Join(RepoRoot(t), "testdata", "workloads", name+".c")
	args := append([]string{"-O1", "-o", out, src}, flags...)
	if b, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc %s: %v\n%s", name, err, b)
	}
	return out
}

// Start starts a workload that is stopped when the test ends: SIGINT first
// (fio then stops its job processes, which run in sessions of their own and
// would otherwise keep writing into the next live test), then SIGKILL to the
// workload's whole process group.
func Start(t testing.TB, name string, args ...string) *exec.Cmd {
	t.Helper()
	return startCmd(t, exec.Command(name, args...))
}

func startCmd(t testing.TB, cmd *exec.Cmd) *exec.Cmd {
	t.Helper()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	t.Cleanup(func() { Stop(cmd) })
	return cmd
}

// Stop ends a workload started with Start and waits for it.
func Stop(cmd *exec.Cmd) {
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-done:
	case <-time.After(3 * time.Second):
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	cmd.Process.Kill()
	<-done
}
