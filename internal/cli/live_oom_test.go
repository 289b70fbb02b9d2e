package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probetest"
)

// memoryCgroup creates a memory-limited cgroup for the test (v1 memory
// controller, else v2 with the memory controller) and removes it at the end.
func memoryCgroup(t *testing.T, limit uint64) string {
	t.Helper()
	name := fmt.Sprintf("diagnose-oom-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	var dir, limitFile string
	switch {
	case fileExists("/sys/fs/cgroup/memory/memory.limit_in_bytes") || fileExists("/sys/fs/cgroup/memory/cgroup.procs"):
		dir, limitFile = filepath.Join("/sys/fs/cgroup/memory", name), "memory.limit_in_bytes"
	case strings.Contains(readString("/sys/fs/cgroup/cgroup.subtree_control"), "memory"):
		dir, limitFile = filepath.Join("/sys/fs/cgroup", name), "memory.max"
	default:
		probetest.Skip(t, "no cgroup memory controller to create a limited cgroup in")
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatalf("create cgroup: %v", err)
	}
	t.Cleanup(func() {
		// The processes are killed by earlier cleanups (they run last-in first-out).
		for i := 0; i < 50; i++ {
			if err := os.Remove(dir); err == nil || errors.Is(err, os.ErrNotExist) {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("could not remove cgroup %s", dir)
	})
	if err := os.WriteFile(filepath.Join(dir, limitFile), []byte(fmt.Sprint(limit)), 0o644); err != nil {
		t.Fatalf("set limit: %v", err)
	}
	return dir
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func readString(p string) string { b, _ := os.ReadFile(p); return string(b) }

// startJVM starts java in the cgroup (a shell joins it, then execs java so
// every page is charged there) and waits for its "ready" line.
func startJVM(t *testing.T, cg, classes string, args ...string) (*exec.Cmd, io.WriteCloser, *bytes.Buffer, <-chan struct{}) {
	t.Helper()
	script := `echo $$ > "$0/cgroup.procs" && exec java "$@"`
	cmd := exec.Command("sh", append([]string{"-c", script, cg, "-cp", classes}, args...)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatalf("start java: %v", err)
	}
	exited := make(chan struct{})
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	var out bytes.Buffer
	ready := make(chan bool, 1)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if sc.Text() == "ready" {
				ready <- true
			}
			out.WriteString(sc.Text() + "\n")
		}
	}()
	go func() {
		cmd.Wait()
		pw.Close()
		<-scanned // out is complete (and ours to read) once exited is closed
		close(exited)
	}()
	select {
	case <-ready:
	case <-exited:
		t.Fatalf("java exited before it was ready: %s", errOut.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("java not ready after 30 s: %s", errOut.String())
	}
	return cmd, stdin, &out, exited
}

func runOOMPlaybook(t *testing.T, cg string) liveReport {
	t.Helper()
	pb := filepath.Join(probetest.RepoRoot(t), "playbooks", "oom-container.yaml")
	rep, code := runJSON(t, "run", pb, "--cgroup", cg, "--duration", "1s")
	if code == exitUsage {
		t.Fatalf("diagnose exit %d", code)
	}
	for _, f := range rep.Findings {
		t.Logf("finding %s (%s): %s", f.Rule, f.Severity, f.Evidence)
	}
	for _, u := range rep.Unknown {
		t.Logf("unknown %s: %s", u.Rule, u.Reason)
	}
	return rep
}

func compileOOMWorkloads(t *testing.T) string {
	t.Helper()
	probetest.Need(t, "java", "javac")
	dir := t.TempDir()
	src := filepath.Join(probetest.RepoRoot(t), "testdata", "workloads")
	out, err := exec.Command("javac", "-d", dir, filepath.Join(src, "OomDirect.java"), filepath.Join(src, "OomIdle.java")).CombinedOutput()
	if err != nil {
		t.Fatalf("javac: %v\n%s", err, out)
	}
	return dir
}

// TestLiveOOMKilledJVM: a JVM whose direct buffers may grow past a 256 MiB
// limit is first flagged while alive, then killed by the kernel (exit 137),
// and the report names the kill, the victim and the limit.
func TestLiveOOMKilledJVM(t *testing.T) {
	probetest.Live(t)
	classes := compileOOMWorkloads(t)
	const limit = 256 << 20
	cg := memoryCgroup(t, limit)
	cmd, stdin, out, exited := startJVM(t, cg, classes, "-Xmx128m", "-XX:MaxDirectMemorySize=1g", "OomDirect")
	pid := cmd.Process.Pid

	// Alive: the budget finding names the cause.
	rep := runOOMPlaybook(t, cg)
	if rep.Facts.Cgroup.MemoryLimitBytes != limit {
		t.Errorf("cgroup.memory_limit_bytes = %d, want %d", rep.Facts.Cgroup.MemoryLimitBytes, limit)
	}
	if !rep.Facts.JVM.Present || rep.Facts.JVM.Main.PID != pid {
		t.Errorf("jvm.main.pid = %d (present %v), want the JVM %d", rep.Facts.JVM.Main.PID, rep.Facts.JVM.Present, pid)
	}
	if rep.Facts.JVM.Main.DirectMemoryMaxBytes != 1<<30 {
		t.Errorf("jvm.main.direct_memory_max_bytes = %d, want 1 GiB", rep.Facts.JVM.Main.DirectMemoryMaxBytes)
	}
	for _, rule := range []string{"jvm-direct-memory-over-limit", "jvm-budget-exceeds-limit"} {
		f, ok := rep.finding(rule)
		ev := f.Evidence + " / " + f.Explain
		if !ok {
			t.Errorf("no %s finding for a JVM allowed 128 MiB heap + 1 GiB direct in 256 MiB", rule)
			continue
		}
		if !strings.Contains(ev, "256.0 MiB") || !strings.Contains(ev, "1.0 GiB") {
			t.Errorf("%s evidence does not name the limit and the direct cap: %s", rule, ev)
		}
		if rule == "jvm-budget-exceeds-limit" && !strings.Contains(ev, "measured from hsperfdata") {
			t.Errorf("%s evidence does not say where the numbers came from: %s", rule, ev)
		}
	}
	if _, ok := rep.finding("oom-killed"); ok {
		t.Errorf("oom-killed before anything was killed")
	}

	// Let it allocate: the kernel must kill it.
	if _, err := io.WriteString(stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) {
		if st := readString(fmt.Sprintf("/proc/%d/stat", pid)); strings.Contains(st, ") Z ") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	// Wait runs in the start helper: its state is ours to read once it
	// closed exited (reading it earlier is a data race).
	var ps *os.ProcessState
	select {
	case <-exited:
		ps = cmd.ProcessState
	case <-time.After(5 * time.Second):
	}
	if ps == nil {
		t.Fatalf("java still running after 30 s of allocation; output:\n%s", out.String())
	}
	ws, _ := ps.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("java ended with %v, want SIGKILL (exit 137) from the OOM killer; output tail:\n%s", ps, tail(out.String(), 5))
	}
	t.Logf("java %d killed by SIGKILL (exit 137) after: %s", pid, strings.TrimSpace(tail(out.String(), 1)))

	// Dead: the report names the kill, the victim and the limit.
	rep = runOOMPlaybook(t, cg)
	f, ok := rep.finding("oom-killed")
	ev := f.Evidence + " / " + f.Explain
	if !ok {
		t.Fatalf("no oom-killed finding after the kernel killed java; verdict %q", rep.Verdict.Class)
	}
	if rep.Verdict.Class != "memory" {
		t.Errorf("verdict %q, want memory", rep.Verdict.Class)
	}
	if rep.Facts.Cgroup.OOMKills < 1 {
		t.Errorf("cgroup.oom_kills = %d, want >= 1", rep.Facts.Cgroup.OOMKills)
	}
	if !strings.Contains(ev, "256.0 MiB") {
		t.Errorf("oom-killed evidence does not name the 256 MiB limit: %s", ev)
	}
	if rep.Facts.OOM.TargetCount < 1 || rep.Facts.OOM.Last.PID != pid || rep.Facts.OOM.Last.Name != "java" {
		t.Errorf("oom.last = %+v (target_count %d), want java pid %d", rep.Facts.OOM.Last, rep.Facts.OOM.TargetCount, pid)
	} else if !strings.Contains(ev, fmt.Sprintf("java (pid %d)", pid)) {
		t.Errorf("oom-killed evidence does not name the victim java (pid %d): %s", pid, ev)
	}
	if rep.Facts.OOM.Last.Constraint != "CONSTRAINT_MEMCG" || rep.Facts.OOM.Last.LimitBytes != limit {
		t.Errorf("oom.last constraint %q limit %d, want CONSTRAINT_MEMCG at %d", rep.Facts.OOM.Last.Constraint, rep.Facts.OOM.Last.LimitBytes, limit)
	}
}

// TestLiveOOMFittingJVM: a default JVM in a 1 GiB cgroup is no alarm.
func TestLiveOOMFittingJVM(t *testing.T) {
	probetest.Live(t)
	classes := compileOOMWorkloads(t)
	cg := memoryCgroup(t, 1<<30)
	cmd, _, _, _ := startJVM(t, cg, classes, "OomIdle")
	rep := runOOMPlaybook(t, cg)
	if !rep.Facts.JVM.Present || rep.Facts.JVM.Main.PID != cmd.Process.Pid {
		t.Fatalf("JVM %d not found in the cgroup: %+v", cmd.Process.Pid, rep.Facts.JVM)
	}
	for _, f := range rep.Findings {
		if f.Severity != "info" {
			t.Errorf("false alarm for a JVM that fits its limit: %s (%s): %s", f.Rule, f.Severity, f.Evidence)
		}
	}
	if rep.Verdict.Class != "none" && rep.Verdict.Class != "" {
		t.Errorf("verdict %q, want none", rep.Verdict.Class)
	}
	t.Logf("fitting JVM footprint %d bytes in a 1 GiB limit", rep.Facts.JVM.Main.FootprintBytes)
	// Without --jcmd the budget still measures what the JVM's hsperfdata holds.
	m := rep.Facts.JVM.Main
	// (A JVM that has not collected yet has no metaspace counters: estimated.)
	if !m.PerfData || !m.HeapMeasured || m.HeapCommittedBytes == 0 || m.Components.MetaspaceBytes == 0 || m.Components.CodeCacheBytes == 0 ||
		!strings.Contains(m.Sources, "heap: hsperfdata") || !strings.Contains(m.Sources, "code cache: hsperfdata") {
		t.Errorf("budget not measured from hsperfdata: perf_data %v, sources %q, components %+v", m.PerfData, m.Sources, m.Components)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
