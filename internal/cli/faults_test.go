package cli

// Faults diagnose must survive with honest output, end to end through the
// CLI: a target that exits, threads that come and go, files that vanish,
// no permission, hidden /proc, missing or stuck programs, every cgroup
// layout, a target with 10,000 threads. Live tests hold the live-test lock.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probetest"
)

// faultCLI runs diagnose in-process and returns stdout, stderr and the exit code.
func faultCLI(args ...string) (string, string, int) {
	var stdout, stderr bytes.Buffer
	code := Main(args, strings.NewReader(""), &stdout, &stderr)
	return stdout.String(), stderr.String(), code
}

// jsonReport decodes a --format json report into a generic tree.
func jsonReport(t *testing.T, out string, code int, stderr string) map[string]any {
	t.Helper()
	var rep map[string]any
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("exit %d, output not JSON: %v\n%s\nstderr: %s", code, err, out, stderr)
	}
	return rep
}

// at walks a decoded JSON tree: at(rep, "probes", "oom", "state").
func at(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// noProbeErrors fails on any probe whose state is "error" (a crash or a bug,
// as opposed to "unavailable" with a reason).
func noProbeErrors(t *testing.T, rep map[string]any) {
	t.Helper()
	probes, _ := rep["probes"].(map[string]any)
	for name, st := range probes {
		if at(st, "state") == "error" {
			t.Errorf("probe %s: error %v", name, at(st, "reason"))
		}
	}
}

// TestFaultTargetExitsMidWindowText: the text report of a process killed
// during the window says it ended; nothing was guessed for the rest and the
// exit code is not "target error". (The JSON side is in TestLiveSlowAppEdges.)
func TestFaultTargetExitsMidWindowText(t *testing.T) {
	probetest.Live(t)
	cmd := probetest.Start(t, "sleep", "600")
	time.Sleep(100 * time.Millisecond)
	timer := time.AfterFunc(500*time.Millisecond, func() { cmd.Process.Kill() })
	defer timer.Stop()
	out, stderr, code := faultCLI("slow-app", "--pid", strconv.Itoa(cmd.Process.Pid), "--duration", "1500ms")
	if code == exitUsage {
		t.Fatalf("exit 2 for a process that existed at the start\n%s\n%s", out, stderr)
	}
	if !strings.Contains(out, "process-ended") || !strings.Contains(strings.ToLower(out), "ended") {
		t.Errorf("the report does not say the process ended:\n%s", out)
	}
}

// TestFaultThreadChurn: threads created and joined as fast as four workers
// can (they vanish between the listing of /proc/PID/task and the reads
// inside it) give no probe error and a sane profile.
func TestFaultThreadChurn(t *testing.T) {
	probetest.Live(t)
	bin := probetest.BuildC(t, "thread_churn", "-pthread")
	cmd := probetest.Start(t, bin, "4")
	time.Sleep(200 * time.Millisecond)
	out, stderr, code := faultCLI("slow-app", "--pid", strconv.Itoa(cmd.Process.Pid), "--duration", "1s", "--format", "json")
	rep := jsonReport(t, out, code, stderr)
	if code == exitUsage {
		t.Fatalf("exit 2: %s", stderr)
	}
	noProbeErrors(t, rep)
	for _, p := range []string{"process", "threads"} {
		if st := at(rep, "probes", p, "state"); st != "ok" {
			t.Errorf("probe %s: %v %v", p, st, at(rep, "probes", p, "reason"))
		}
	}
	threads, _ := at(rep, "facts", "threads", "threads").(float64)
	samples, _ := at(rep, "facts", "threads", "thread_samples").(float64)
	if threads < 5 || samples < threads {
		t.Errorf("threads %v, thread samples %v: want the 5 lasting threads at least", threads, samples)
	}
	sum := 0.0
	for _, k := range []string{"running_pct", "runnable_pct", "lock_pct", "disk_pct", "paging_pct", "network_pct", "poll_pct", "idle_pct", "other_pct"} {
		v, _ := at(rep, "facts", "threads", k).(float64)
		if v < 0 || v > 100 {
			t.Errorf("threads.%s = %v", k, v)
		}
		sum += v
	}
	if sum < 95 || sum > 105 {
		t.Errorf("thread shares sum to %.1f%%, want about 100", sum)
	}
	if v := at(rep, "verdict", "class"); v != "cpu" && v != "locks" {
		// creating threads is CPU work (and mmap_lock waits in the kernel)
		t.Errorf("verdict %v", v)
	}
}

// TestFaultFilesVanish: a fixture where /proc/PID/task lists threads whose
// files are gone (a thread that exited between listing and reading), one
// with only some of its files, and a target whose io and fd entries
// vanished. diagnose reads what is there and does not fail.
func TestFaultFilesVanish(t *testing.T) {
	root := probetest.Fixture(t, "fault-vanish", "t0")
	out, stderr, code := faultCLI("slow-app", "--root", root, "--pid", "25672", "--duration", "200ms", "--format", "json")
	rep := jsonReport(t, out, code, stderr)
	if code == exitUsage {
		t.Fatalf("exit 2: %s", stderr)
	}
	if st := at(rep, "probes", "process", "state"); st != "ok" {
		t.Errorf("process probe %v %v", st, at(rep, "probes", "process", "reason"))
	}
	if st := at(rep, "probes", "threads", "state"); st == "error" {
		t.Errorf("threads probe %v", at(rep, "probes", "threads", "reason"))
	}
	if n, _ := at(rep, "facts", "process", "threads").(float64); n != 17 {
		t.Errorf("process.threads %v, want 17 (from status)", n)
	}
	if n, _ := at(rep, "facts", "threads", "threads").(float64); n < 15 || n > 16 {
		t.Errorf("threads.threads %v, want the 15 or 16 threads whose files were there", n)
	}
}

// TestFaultOOMContainerKernelLogUnreadable: as an unprivileged user the
// kernel log cannot be read (kernel.dmesg_restrict=1): the OOM rules are
// unknown with the fix, the verdict inconclusive and the exit code 3;
// never "no OOM kills".
func TestFaultOOMContainerKernelLogUnreadable(t *testing.T) {
	probetest.Live(t)
	if b, _ := os.ReadFile("/proc/sys/kernel/dmesg_restrict"); strings.TrimSpace(string(b)) != "1" {
		probetest.Skip(t, "kernel.dmesg_restrict is not 1: an unprivileged user may read the kernel log here")
	}
	bin := buildBinary(t)
	target := probetest.Start(t, "sleep", "600")
	out, code := asNobody(t, bin, "oom-container", "--pid", strconv.Itoa(target.Process.Pid), "--duration", "300ms", "--format", "json")
	if code != exitInconclusive {
		t.Fatalf("exit %d, want 3\n%s", code, out)
	}
	rep := jsonReport(t, out, code, "")
	if v := at(rep, "verdict", "class"); v != "inconclusive" {
		t.Errorf("verdict %v, want inconclusive", v)
	}
	if st := at(rep, "probes", "oom", "state"); st != "unavailable" {
		t.Errorf("oom probe %v", st)
	}
	if r, _ := at(rep, "probes", "oom", "fix").(string); !strings.Contains(r, "CAP_SYSLOG") {
		t.Errorf("oom fix %q does not name CAP_SYSLOG", r)
	}
	unknown := map[string]bool{}
	for _, u := range rep["unknown"].([]any) {
		unknown[at(u, "rule").(string)] = true
	}
	if !unknown["oom-killed-earlier"] {
		t.Errorf("oom-killed-earlier is not unknown: %v", rep["unknown"])
	}
	text, _ := asNobody(t, bin, "oom-container", "--pid", strconv.Itoa(target.Process.Pid), "--duration", "300ms")
	if !strings.Contains(text, "inconclusive") || strings.Contains(text, "no problem found") || !strings.Contains(text, "CAP_SYSLOG") {
		t.Errorf("text report:\n%s", text)
	}
}

// mountHidepid mounts a proc with hidepid=2 and a bind of /sys in a
// directory nobody can use as --root, and unmounts them at the end.
func mountHidepid(t *testing.T) string {
	t.Helper()
	probetest.Need(t, "mount", "umount")
	dir, err := os.MkdirTemp("", "diagnose-hidepid-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	for _, d := range []string{"proc", "sys"} {
		os.Mkdir(filepath.Join(dir, d), 0o755)
	}
	if out, err := exec.Command("mount", "-t", "proc", "-o", "hidepid=2", "proc", filepath.Join(dir, "proc")).CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		probetest.Skip(t, "cannot mount proc with hidepid=2 here: %v %s", err, out)
	}
	t.Cleanup(func() {
		exec.Command("umount", filepath.Join(dir, "sys")).Run()
		exec.Command("umount", filepath.Join(dir, "proc")).Run()
		os.Remove(filepath.Join(dir, "proc"))
		os.Remove(filepath.Join(dir, "sys"))
		os.Remove(dir)
	})
	if out, err := exec.Command("mount", "--bind", "/sys", filepath.Join(dir, "sys")).CombinedOutput(); err != nil {
		t.Fatalf("bind /sys: %v %s", err, out)
	}
	return dir
}

// TestFaultHidepid: with /proc mounted hidepid=2, an unprivileged user sees
// no other user's processes. slow-app on a root process is a target error
// that says why (not "check the PID"); the system playbook still runs.
func TestFaultHidepid(t *testing.T) {
	probetest.Live(t)
	bin := buildBinary(t)
	root := mountHidepid(t)
	target := probetest.Start(t, "sleep", "600")
	out, code := asNobody(t, bin, "slow-app", "--root", root, "--pid", strconv.Itoa(target.Process.Pid), "--duration", "300ms")
	if code != exitUsage {
		t.Errorf("slow-app: exit %d, want 2 (the target cannot be seen)\n%s", code, out)
	}
	if !strings.Contains(out, "hidepid") || !strings.Contains(out, "run as root") {
		t.Errorf("slow-app does not say /proc hides the process:\n%s", out)
	}
	out, code = asNobody(t, bin, "system", "--root", root, "--duration", "300ms", "--format", "json")
	if code == exitUsage {
		t.Fatalf("system: exit 2\n%s", out)
	}
	rep := jsonReport(t, out, code, "")
	noProbeErrors(t, rep)
	if st := at(rep, "probes", "cpu", "state"); st != "ok" {
		t.Errorf("cpu probe %v under hidepid", st)
	}
}

// pathWith makes a directory holding links to the named programs only, for
// a PATH that lacks everything else.
func pathWith(t *testing.T, programs ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, p := range programs {
		full, err := exec.LookPath(p)
		if err != nil {
			probetest.Skip(t, "%s not installed", p)
		}
		if err := os.Symlink(full, filepath.Join(dir, p)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestFaultNoStraceOrJcmd: --strace without strace (or without timeout) and
// --jcmd without jcmd are unavailable with the reason and the fix, not a
// crash or an error.
func TestFaultNoStraceOrJcmd(t *testing.T) {
	probetest.Live(t)
	target := probetest.Start(t, "sleep", "600")
	pid := strconv.Itoa(target.Process.Pid)
	cases := []struct {
		name, path, reason string
	}{
		{"no-strace", pathWith(t, "timeout"), "strace is not installed"},
		{"no-timeout", t.TempDir(), "timeout (coreutils) is not installed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PATH", tc.path)
			out, stderr, code := faultCLI("slow-app", "--pid", pid, "--duration", "200ms", "--strace", "--format", "json")
			rep := jsonReport(t, out, code, stderr)
			if code == exitUsage {
				t.Fatalf("exit 2: %s", stderr)
			}
			if st, r := at(rep, "probes", "syscalls", "state"), at(rep, "probes", "syscalls", "reason"); st != "unavailable" || !strings.Contains(fmt.Sprint(r), tc.reason) {
				t.Errorf("syscalls %v %q, want unavailable %q", st, r, tc.reason)
			}
			if fix, _ := at(rep, "probes", "syscalls", "fix").(string); !strings.Contains(fix, "apt-get install") {
				t.Errorf("no fix: %q", fix)
			}
		})
	}
	t.Run("no-jcmd", func(t *testing.T) {
		// The recorded JVM of cg-v2-jvm-over, with --jcmd and no jcmd on PATH.
		root := withStat(t, "cg-v2-jvm-over", "4242")
		t.Setenv("PATH", t.TempDir())
		out, stderr, code := faultCLI("oom-container", "--root", root, "--pid", "4242", "--jcmd", "--duration", "200ms", "--format", "json")
		rep := jsonReport(t, out, code, stderr)
		if code == exitUsage {
			t.Fatalf("exit 2: %s", stderr)
		}
		noProbeErrors(t, rep)
		// The JVM is still measured from its flags; the note says jcmd could not run.
		note, _ := json.Marshal(at(rep, "facts", "jvm"))
		if !strings.Contains(string(note), `jcmd VM.flags failed`) || !strings.Contains(string(note), "not found") {
			t.Errorf("jvm facts do not say jcmd is missing: %s", note)
		}
	})
}

// TestFaultStuckStrace: a strace that never exits and ignores SIGINT (a
// fake one first on PATH) does not hang diagnose: the run returns at
// --timeout and reports the probe as timed out. The watchdog only catches a
// hang; it asserts no duration.
func TestFaultStuckStrace(t *testing.T) {
	probetest.Live(t)
	dir := t.TempDir()
	fake := "#!/bin/sh\n# a strace that attaches and never comes back, deaf to SIGINT\ntrap '' INT TERM\nexec sleep 100000\n"
	if err := os.WriteFile(filepath.Join(dir, "strace"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	target := probetest.Start(t, "sleep", "600")
	type result struct {
		out, stderr string
		code        int
	}
	done := make(chan result, 1)
	go func() {
		out, stderr, code := faultCLI("slow-app", "--pid", strconv.Itoa(target.Process.Pid), "--duration", "300ms", "--strace", "--timeout", "3s", "--format", "json")
		done <- result{out, stderr, code}
	}()
	var r result
	select {
	case r = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("diagnose hung on a stuck strace")
	}
	rep := jsonReport(t, r.out, r.code, r.stderr)
	if r.code == exitUsage {
		t.Fatalf("exit 2: %s", r.stderr)
	}
	st, reason := at(rep, "probes", "syscalls", "state"), fmt.Sprint(at(rep, "probes", "syscalls", "reason"))
	if st == "ok" || !strings.Contains(reason, "timed out") {
		t.Errorf("syscalls %v %q, want timed out", st, reason)
	}
	if st := at(rep, "probes", "process", "state"); st != "ok" {
		t.Errorf("the other probes' results must stand: process %v", st)
	}
	// The stuck strace is not left attached: timeout's -k kills it soon
	// after the run gave up on it (the bound only catches a leak).
	for i := 0; ; i++ {
		b, err := exec.Command("pgrep", "-f", "^sleep 100000$").Output()
		if err != nil || len(b) == 0 {
			break
		}
		if i == 300 {
			t.Errorf("a stuck strace outlived diagnose by 30 s: %s", b)
			for _, p := range strings.Fields(string(b)) {
				if n, err := strconv.Atoi(p); err == nil {
					syscall.Kill(n, syscall.SIGKILL)
				}
			}
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// withStat copies a fixture reading and gives its process a
// /proc/PID/stat (the cgroup fixtures record only what their probes read;
// the CLI checks that the target exists).
func withStat(t *testing.T, scenario, pid string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("cp", "-r", probetest.Fixture(t, scenario, "t0")+"/.", dir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	if pid != "" {
		stat := pid + " (java) S 1 " + pid + " " + pid + " 0 -1 4194560 100 0 0 0 50 10 0 0 20 0 30 0 1000 3000000000 60000 18446744073709551615 1 1 0 0 0 0 0 4096 16796879 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
		if err := os.WriteFile(filepath.Join(dir, "proc", pid, "stat"), []byte(stat), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestFaultCgroupLayouts: over the recorded cgroup v1, v2, hybrid and
// no-cgroup hosts and a kernel without PSI, the CLI says unavailable or
// unknown where it cannot know, and never reports a clean result from
// facts it did not read.
func TestFaultCgroupLayouts(t *testing.T) {
	cases := []struct {
		scenario, playbook string
		target             []string
		probe, state, text string // a probe's expected status, and text its reason or fix holds
		unknown, why       string // a rule that must be unknown, and text its reason holds
	}{
		{"cg-v1-oomkilled", "oom-container", []string{"--cgroup", "/sys/fs/cgroup/memory/parent/sig_oom_b"}, "cgroup", "ok", "", "", ""},
		{"cg-v1-jvm-nocontainer", "oom-container", []string{"--pid", "900"}, "cgroup", "ok", "", "", ""},
		{"cg-v2-jvm-over", "oom-container", []string{"--pid", "4242"}, "cgroup", "ok", "", "", ""},
		{"cg-hybrid-nojava", "oom-container", []string{"--pid", "15058"}, "cgroup", "ok", "", "", ""},
		// No cgroup at all: the section reads, its fields are unavailable.
		{"cg-none", "oom-container", []string{"--pid", "321"}, "cgroup", "ok", "", "oom-killed", "no cgroup filesystem is mounted"},
		{"sys-no-psi", "system", nil, "psi", "unavailable", "psi=1", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.scenario, func(t *testing.T) {
			pid := ""
			if len(tc.target) == 2 && tc.target[0] == "--pid" {
				pid = tc.target[1]
			}
			root := withStat(t, tc.scenario, pid)
			args := append([]string{tc.playbook, "--root", root, "--duration", "200ms", "--format", "json"}, tc.target...)
			out, stderr, code := faultCLI(args...)
			rep := jsonReport(t, out, code, stderr)
			if code == exitUsage {
				t.Fatalf("exit 2: %s", stderr)
			}
			noProbeErrors(t, rep)
			st, reason := at(rep, "probes", tc.probe, "state"), fmt.Sprint(at(rep, "probes", tc.probe, "reason"), at(rep, "probes", tc.probe, "fix"))
			if st != tc.state || !strings.Contains(reason, tc.text) {
				t.Errorf("probe %s: %v %q, want %s %q", tc.probe, st, reason, tc.state, tc.text)
			}
			verdict := at(rep, "verdict", "class")
			t.Logf("%s: exit %d, verdict %v, %s %v", tc.scenario, code, verdict, tc.probe, st)
			if tc.unknown != "" {
				found := false
				for _, u := range rep["unknown"].([]any) {
					if at(u, "rule") == tc.unknown {
						found = true
						if r := fmt.Sprint(at(u, "reason")); !strings.Contains(r, tc.why) {
							t.Errorf("%s unknown because %q, want %q", tc.unknown, r, tc.why)
						}
					}
				}
				if !found {
					t.Errorf("rule %s is not unknown: %v", tc.unknown, rep["unknown"])
				}
			}
			if tc.state == "ok" {
				return
			}
			// Rules over the missing facts are unknown with a reason, and a
			// clean verdict is not made from them.
			unknown, _ := rep["unknown"].([]any)
			if len(unknown) == 0 {
				t.Errorf("%s unavailable but no rule is unknown", tc.probe)
			}
			for _, u := range unknown {
				if fmt.Sprint(at(u, "reason")) == "" {
					t.Errorf("unknown rule without a reason: %v", u)
				}
			}
			if verdict == "none" || code == exitOK {
				t.Errorf("verdict %v, exit %d although %s is unavailable", verdict, code, tc.probe)
			}
		})
	}
}

// TestFaultTenThousandThreads: a target with 10,000 threads is diagnosed
// within its --timeout with a sane profile (sampled, not choked on), and
// diagnose's own peak RSS stays under 64 MiB.
func TestFaultTenThousandThreads(t *testing.T) {
	probetest.Live(t)
	work := probetest.BuildC(t, "many_threads", "-pthread")
	target, _ := probetest.StartPrinting(t, "started", work, "10000")

	bin := buildBinary(t)
	cmd := exec.Command(bin, "slow-app", "--pid", strconv.Itoa(target.Process.Pid), "--duration", "2s", "--timeout", "30s", "--format", "json")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		t.Fatal(err)
	}
	rep := jsonReport(t, out.String(), code, errb.String())
	if code == exitUsage {
		t.Fatalf("exit 2: %s", errb.String())
	}
	noProbeErrors(t, rep)
	for _, p := range []string{"process", "threads"} {
		if st := at(rep, "probes", p, "state"); st != "ok" {
			t.Errorf("probe %s: %v %v", p, st, at(rep, "probes", p, "reason"))
		}
	}
	if n, _ := at(rep, "facts", "process", "threads").(float64); n != 10001 {
		t.Errorf("process.threads %v, want 10001", n)
	}
	threads, _ := at(rep, "facts", "threads", "threads").(float64)
	samples, _ := at(rep, "facts", "threads", "samples").(float64)
	idle, _ := at(rep, "facts", "threads", "idle_pct").(float64)
	// The thread profile samples (at most 1000 threads a round), so it
	// sees a bounded share of the threads, nearly all idle (pause).
	if threads < 1000 || samples < 2 || idle < 90 {
		t.Errorf("threads %v, rounds %v, idle %v%%: want 1000+ threads seen over 2+ rounds, nearly all idle", threads, samples, idle)
	}
	// The process's rates need two readings, however many threads it has.
	if cpu, ok := at(rep, "facts", "process", "cpu_pct").(float64); !ok || cpu > 50 {
		t.Errorf("process.cpu_pct %v for 10,000 paused threads", at(rep, "facts", "process", "cpu_pct"))
	}
	for _, u := range rep["unknown"].([]any) {
		if r := fmt.Sprint(at(u, "reason")); strings.Contains(r, "only one reading of the process") {
			t.Errorf("rule %v unknown: %s", at(u, "rule"), r)
		}
	}
	if v := at(rep, "verdict", "class"); v != "none" && v != "inconclusive" {
		t.Errorf("verdict %v for 10,000 paused threads", v)
	}
	rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss * 1024
	t.Logf("diagnose peak RSS %.1f MiB on 10,001 threads; %v rounds at %v Hz", float64(rss)/(1<<20), samples, at(rep, "facts", "threads", "sample_hz"))
	if rss > 64<<20 {
		t.Errorf("diagnose peak RSS %d MiB, want under 64 MiB", rss>>20)
	}
}

// TestFaultHostileProcessNames: a live process whose name (comm), argv[0]
// and arguments hold terminal escapes, control bytes and invalid UTF-8 is
// diagnosed: the text report holds no raw control byte, and the JSON is
// valid and round-trips.
func TestFaultHostileProcessNames(t *testing.T) {
	probetest.Live(t)
	sleeper := probetest.BuildC(t, "sleeper")
	evil := "\x1b]0;pwned\x07\x1b[2J\x9b\x01"
	dir := t.TempDir()
	exe := filepath.Join(dir, evil) // comm is the file name: ESC ] 0 ; p w n e d BEL ...
	b, err := os.ReadFile(sleeper)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := &exec.Cmd{Path: exe, Args: []string{evil + "argv0", "--x=\x1b[31mred\x1b[0m\r\n\x7f\xff"}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	time.Sleep(200 * time.Millisecond)
	pid := strconv.Itoa(cmd.Process.Pid)
	if comm, _ := os.ReadFile("/proc/" + pid + "/comm"); !bytes.Contains(comm, []byte("\x1b")) {
		t.Fatalf("comm %q holds no escape: the test proves nothing", comm)
	}

	// slow-app's text does not print the name; a playbook whose evidence
	// does carries the live strings through the templates to the terminal.
	show := filepath.Join(t.TempDir(), "show.yaml")
	pbSrc := "name: show\nparameters:\n  - name: pid\n    type: int\n    required: true\nclasses: [cpu]\nrules:\n  - id: name\n    class: cpu\n    severity: warning\n    when: process.name != \"\"\n    evidence: \"name {{ process.name }} cmdline {{ process.cmdline }}\"\n    next: [\"ps -p {{ params.pid }}\"]\n"
	if err := os.WriteFile(show, []byte(pbSrc), 0o644); err != nil {
		t.Fatal(err)
	}
	text, stderr, code := faultCLI("run", show, "--pid", pid, "--duration", "300ms")
	if code != exitFindings || !strings.Contains(text, `\x1b]0;pwned\x07`) {
		t.Fatalf("exit %d: the evidence does not show the escaped name:\n%s\n%s", code, text, stderr)
	}
	more, stderr2, _ := faultCLI("slow-app", "--pid", pid, "--duration", "300ms", "--fail-on", "info")
	text, stderr = text+more, stderr+stderr2
	for i, c := range []byte(text + stderr) {
		if (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f {
			t.Fatalf("raw control byte %#x at %d in the text report:\n%q", c, i, text)
		}
	}
	if strings.Contains(text, "\u009b") || strings.Contains(text, "\xff") || strings.Contains(text, "\x9b") {
		t.Errorf("raw C1 control or invalid UTF-8 in the text report: %q", text)
	}

	out, stderr, code := faultCLI("slow-app", "--pid", pid, "--duration", "500ms", "--format", "json")
	rep := jsonReport(t, out, code, stderr)
	name, _ := at(rep, "facts", "process", "name").(string)
	cmdline, _ := at(rep, "facts", "process", "cmdline").(string)
	if !strings.Contains(name, "pwned") || !strings.Contains(cmdline, "red") {
		t.Errorf("name %q cmdline %q: the hostile strings were not reported at all", name, cmdline)
	}
	for _, s := range []string{name, cmdline} {
		if strings.ContainsAny(s, "\x1b\x07\r\x7f\u009b") {
			t.Errorf("JSON fact %q holds a raw control character (after decoding)", s)
		}
	}
	again, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var rep2 map[string]any
	if err := json.Unmarshal(again, &rep2); err != nil {
		t.Fatalf("re-encoded JSON does not decode: %v", err)
	}
	if fmt.Sprint(rep2) != fmt.Sprint(rep) {
		t.Error("JSON report does not round-trip")
	}
}

// A FIFO where a file is expected (a playbook, a snapshot, a test's
// snapshot, an entry of a --playbooks folder, a --root tree's /proc file)
// is refused at once, never read: reading it would block forever.
func TestFIFOsAreRefused(t *testing.T) {
	dir := t.TempDir()
	fifo := func(name string) string {
		p := filepath.Join(dir, name)
		if err := syscall.Mkfifo(p, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pbDir := filepath.Join(dir, "pb")
	os.Mkdir(pbDir, 0o755)
	if err := syscall.Mkfifo(filepath.Join(pbDir, "stuck.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	snap := fifo("snap.json")
	os.WriteFile(filepath.Join(dir, "t.test.yaml"), []byte("playbook: system\ntests:\n  - name: x\n    snapshot: snap.json\n    expect: {verdict: none}\n"), 0o644)
	root := filepath.Join(dir, "root")
	os.MkdirAll(filepath.Join(root, "proc", "sys", "kernel"), 0o755)
	syscall.Mkfifo(filepath.Join(root, "proc", "loadavg"), 0o644)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"run", fifo("p.yaml")}, exitUsage, "not a regular file"},
		{[]string{"validate", fifo("v.yaml")}, exitUsage, "not a regular file"},
		{[]string{"system", "--snapshot", snap}, exitUsage, "not a regular file"},
		{[]string{"test", filepath.Join(dir, "t.test.yaml")}, exitUsage, "not a regular file"},
		{[]string{"list", "--playbooks", pbDir}, exitOK, "does not load"},
		{[]string{"stuck", "--playbooks", pbDir}, exitUsage, "not a regular file"},
		{[]string{"system", "--root", root, "--format", "json"}, -1, `"host": {`}, // the probes report it, not hang
	} {
		done := make(chan struct{})
		var stdout, stderr string
		var code int
		go func() { stdout, stderr, code = faultCLI(tc.args...); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Fatalf("%v: still running after 15 s: a FIFO was read", tc.args)
		}
		if tc.code >= 0 && code != tc.code || !strings.Contains(stdout+stderr, tc.want) {
			t.Errorf("%v: exit %d, want %d and %q\n%s%s", tc.args, code, tc.code, tc.want, stdout, stderr)
		}
	}
}

// A standard output closed at start (`collect >&-`) fails with the reason
// instead of exit 0 and no snapshot; a redirect to /dev/null is the
// person's choice and stays exit 0; -o FILE needs no standard output.
func TestClosedStdout(t *testing.T) {
	bin := buildBinary(t)
	snap := filepath.Join(t.TempDir(), "s.json")
	for _, tc := range []struct {
		shell string
		code  int
		want  string
	}{
		{bin + " list >&-", exitUsage, "standard output is closed"},
		{bin + " collect --duration 100ms >&-", exitUsage, "standard output is closed"},
		{bin + " list >/dev/null", exitOK, ""},
		{bin + " collect --duration 100ms -o " + snap + " >&-", exitOK, "wrote " + snap},
	} {
		out, err := exec.Command("sh", "-c", tc.shell).CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		if code != tc.code || !strings.Contains(string(out), tc.want) {
			t.Errorf("%s: exit %d, want %d and %q: %s", tc.shell, code, tc.code, tc.want, out)
		}
	}
}

// An output that cannot be written fails before the window, not after it;
// a symlink planted at the output path is replaced, not written through.
func TestOutputsCheckedFirst(t *testing.T) {
	for _, args := range [][]string{
		{"system", "--duration", "30s", "--output", "json=/nonexistent/x.json"},
		{"collect", "--duration", "30s", "-o", "/nonexistent/s.json"},
	} {
		start := time.Now()
		_, stderr, code := faultCLI(args...)
		if code != exitUsage || !strings.Contains(stderr, "/nonexistent/") || time.Since(start) > 10*time.Second {
			t.Errorf("%v: exit %d after %s: %s", args, code, time.Since(start).Round(time.Millisecond), stderr)
		}
	}
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("keep"), 0o644)
	out := filepath.Join(dir, "report.json")
	os.Symlink(victim, out)
	snap := filepath.Join(dir, "s.json")
	os.WriteFile(snap, []byte(`{"version": 1, "status": {}, "facts": {}}`), 0o644)
	faultCLI("system", "--snapshot", snap, "--output", "json="+out)
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Errorf("the report was written through the symlink: %q", b)
	}
	if fi, err := os.Lstat(out); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("the output is not a regular file: %v %v", fi, err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*tmp-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// Ctrl-C while strace is attached: strace is stopped (the target is no
// longer traced), and the report of what was gathered is still printed,
// with exit 130.
func TestLiveInterruptStopsStrace(t *testing.T) {
	probetest.Live(t)
	probetest.Need(t, "strace", "timeout")
	bin := buildBinary(t)
	target := probetest.Start(t, "sleep", "600")
	pid := target.Process.Pid
	cmd := exec.Command(bin, "slow-app", "--pid", strconv.Itoa(pid), "--strace", "--duration", "2s", "--format", "json")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tracer := func() string {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "TracerPid:"); ok {
				return strings.TrimSpace(v)
			}
		}
		return "?"
	}
	// Wait for strace to attach after the 2 s window, then interrupt.
	for deadline := time.Now().Add(10 * time.Second); tracer() == "0" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
	}
	if tracer() == "0" {
		t.Fatalf("strace never attached: %s", stderr.String())
	}
	interrupted := time.Now()
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	took := time.Since(interrupted)
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	if code != exitInterrupted || took > 5*time.Second {
		t.Errorf("exit %d after %s, want 130 within 5 s: %s", code, took.Round(time.Millisecond), stderr.String())
	}
	time.Sleep(200 * time.Millisecond)
	if tr := tracer(); tr != "0" {
		t.Errorf("the target is still traced by %s after the interrupt", tr)
	}
	rep := jsonReport(t, stdout.String(), code, stderr.String())
	if notes, _ := json.Marshal(rep["notes"]); !strings.Contains(string(notes), "interrupted after") {
		t.Errorf("no note of the interrupt: %s", notes)
	}
}

// --timeout ends strace too: when the run stops at its deadline, the
// target is no longer traced (strace had its own, longer, timeout).
func TestLiveTimeoutStopsStrace(t *testing.T) {
	probetest.Live(t)
	probetest.Need(t, "strace", "timeout")
	bin := buildBinary(t)
	target := probetest.Start(t, "sleep", "600")
	pid := target.Process.Pid
	cmd := exec.Command(bin, "slow-app", "--pid", strconv.Itoa(pid), "--strace", "--duration", "1s", "--timeout", "1500ms", "--format", "json")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	began := time.Now()
	err := cmd.Run()
	took := time.Since(began)
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if !strings.Contains(string(b), "TracerPid:\t0\n") {
		t.Errorf("after a run cut at --timeout 1.5s (it took %s), the target is still traced:\n%s", took.Round(time.Millisecond), b)
	}
	if took > 4*time.Second {
		t.Errorf("the run took %s with --timeout 1.5s", took.Round(time.Millisecond))
	}
}
