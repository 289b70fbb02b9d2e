package cli

// Live end-to-end tests of `diagnose slow-app`: real workloads from
// testdata/workloads, the real CLI entry, the shipped playbook. They need
// root (cgroup, other users' /proc files) and hold the live-test lock.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/internal/testcgroup"
	"github.com/diagnose-sh/diagnose/probes/probetest"
)

// runSlowApp runs `diagnose slow-app --pid PID --format json`.
func runSlowApp(t *testing.T, pid int, extra ...string) (liveReport, int) {
	t.Helper()
	return runJSON(t, append([]string{"slow-app", "--pid", strconv.Itoa(pid)}, extra...)...)
}

// startJava runs testdata/workloads/CLASS.java with the JVM flags given
// (-Xmx64m when none).
func startJava(t *testing.T, class string, flags ...string) int {
	t.Helper()
	probetest.Need(t, "java")
	src := filepath.Join(probetest.RepoRoot(t), "testdata", "workloads", class+".java")
	if len(flags) == 0 {
		flags = []string{"-Xmx64m"}
	}
	cmd, _ := probetest.StartPrinting(t, "started", "java", append(flags, src)...)
	time.Sleep(1500 * time.Millisecond) // past JIT warm-up
	return cmd.Process.Pid
}

// cpuQuota puts pid in a new cgroup v1 cpu child with a CFS quota of
// quotaUS per 100 ms, removed when the test ends.
func cpuQuota(t *testing.T, pid, quotaUS int) {
	t.Helper()
	var base string
	for _, d := range []string{"/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpu"} {
		if _, err := os.Stat(filepath.Join(d, "cpu.cfs_quota_us")); err == nil {
			base = d
			break
		}
	}
	if base == "" {
		probetest.Skip(t, "no cgroup v1 cpu controller mounted")
	}
	childCgroup(t, base, "cpu.cfs_quota_us", quotaUS, pid)
}

// childCgroup makes a child of a v1 controller's root, writes its limit
// file, moves pid into it, and at the end moves the survivors back and
// removes it. Only the test writes cgroup files; diagnose only reads them.
func childCgroup(t *testing.T, base, limitFile string, limit, pid int) string {
	t.Helper()
	dir := makeCgroup(t, base, fmt.Sprintf("diagnose-test-%d", os.Getpid()))
	if err := os.WriteFile(filepath.Join(dir, limitFile), []byte(strconv.Itoa(limit)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// makeCgroup makes the cgroup rel under a v1 controller's root, removed
// when the test ends (testcgroup.Make).
func makeCgroup(t *testing.T, base, rel string) string {
	t.Helper()
	dir, remove, err := testcgroup.Make(base, rel)
	t.Cleanup(func() {
		if err := remove(); err != nil {
			t.Error(err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// slowAppCase is a workload and the verdict slow-app must give it.
type slowAppCase struct {
	name  string
	class string
	rule  string // a rule that must fire ("" for none)
	pid   func(t *testing.T) int
	// again: a second run on the same process with these flags, which must
	// give the same verdict and fire againRule too.
	again     []string
	againRule string
	// peer, when set by pid, is the loopback server the finding must name,
	// with a response time within 20% of delayMS.
	peer    *string
	delayMS float64
	// evidence, when set, must appear in the rule's evidence.
	evidence string
}

// slowAppWorkloads builds the workloads (C ones compiled once per test).
func slowAppWorkloads(t *testing.T) []slowAppCase {
	bin := func(name string) string { return probetest.BuildC(t, name) }
	spinner, mutex, slowpeer := bin("spinner"), bin("mutex"), bin("slowpeer")
	odirect, sleeper, epoll := bin("odirect"), bin("sleeper"), bin("epollserver")
	unreaped, fdhog, manyThreads := bin("unreaped"), bin("fdhog"), bin("many_threads")
	// O_DIRECT needs a disk-backed file system (not tmpfs): use the repository's.
	odFile := filepath.Join(probetest.RepoRoot(t), "testdata", "workloads", fmt.Sprintf(".odirect-%d", os.Getpid()))
	t.Cleanup(func() { os.Remove(odFile) })

	start := func(t *testing.T, name string, args ...string) int {
		cmd := probetest.Start(t, name, args...)
		time.Sleep(300 * time.Millisecond)
		return cmd.Process.Pid
	}
	// Loopback HTTP: a server answering after delay, and clients of it.
	httpload := probetest.BuildGo(t, "httpload")
	server := func(t *testing.T, delay string) (string, string) {
		_, addr := probetest.StartPrinting(t, "listening", httpload, "server", "-delay", delay)
		return addr, "http://" + addr + "/"
	}
	client := func(t *testing.T, name string, args ...string) int {
		cmd, _ := probetest.StartPrinting(t, "started", name, args...)
		time.Sleep(500 * time.Millisecond) // every connection past its first exchange
		return cmd.Process.Pid
	}
	var goPeer, jdkPeer, pyPeer, backend string
	return []slowAppCase{
		// On a quiet host cpu-busy fires; when other work holds the CPUs the
		// spinner is starved instead (cpu-starved): both are class cpu.
		{name: "spinner", class: "cpu", rule: "", pid: func(t *testing.T) int { return start(t, spinner) }},
		{name: "pthread-mutex", class: "locks", rule: "mutex-convoy", pid: func(t *testing.T) int { return start(t, mutex, "16") }},
		{name: "slow-peer", class: "network", rule: "peer-wait", pid: func(t *testing.T) int { return start(t, slowpeer, "200") }},
		{name: "odirect-fsync", class: "io", rule: "disk-wait", pid: func(t *testing.T) int { return start(t, odirect, odFile) }},
		{name: "throttled-spinner", class: "throttled", rule: "cpu-throttled", pid: func(t *testing.T) int {
			pid := start(t, spinner, "2")
			cpuQuota(t, pid, 20000)
			time.Sleep(300 * time.Millisecond)
			return pid
		}},
		{name: "sleeper", class: "none", rule: "", pid: func(t *testing.T) int { return start(t, sleeper) }},
		// Limits: a parent that never reaps, 994 of 1,024 descriptors open, 46 of a cgroup's pids.max 50 tasks.
		{name: "unreaping-parent", class: "limits", rule: "zombie-children", evidence: "children exited and were not reaped",
			pid: func(t *testing.T) int { return start(t, unreaped, "50") }},
		{name: "fd-near-limit", class: "limits", rule: "fd-limit-near", evidence: "994 of its 1024 file descriptors are open",
			pid: func(t *testing.T) int {
				cmd, _ := probetest.StartPrinting(t, "started", fdhog, "994", "1024")
				return cmd.Process.Pid
			}},
		{name: "pids-near-max", class: "limits", rule: "pids-limit-near", evidence: "46 of its pids.max 50 tasks", pid: func(t *testing.T) int {
			cmd, _ := probetest.StartPrinting(t, "started", manyThreads, "45")
			pidsCgroup(t, cmd.Process.Pid, 50)
			return cmd.Process.Pid
		}},
		{name: "idle-epoll-server", class: "none", rule: "", pid: func(t *testing.T) int { return start(t, epoll) }},
		{name: "jvm-synchronized", class: "locks", rule: "lock-churn", pid: func(t *testing.T) int { return startJava(t, "Contend") },
			again: []string{"--jcmd"}, againRule: "jvm-monitor-blocked"},
		{name: "idle-jvm", class: "none", rule: "", pid: func(t *testing.T) int { return startJava(t, "Idle") }},
		// A live set that fills a small heap: collections back to back (hsperfdata), memory, not locks.
		{name: "jvm-gc-thrash", class: "memory", rule: "gc-pressure", evidence: "in garbage collection (GarbageFirst",
			pid: func(t *testing.T) int { return startJava(t, "GcThrash", "-Xmx48m") }},
		{name: "jvm-gc-thrash-parallel", class: "memory", rule: "gc-pressure", evidence: "in garbage collection (ParScav:MSC",
			pid: func(t *testing.T) int { return startJava(t, "GcThrash", "-XX:+UseParallelGC", "-Xmx48m") }},
		// Young garbage in a roomy heap: a collection now and then is no finding.
		{name: "jvm-gc-roomy", class: "none", rule: "", pid: func(t *testing.T) int { return startJava(t, "GcRoomy", "-XX:+UseSerialGC", "-Xmx256m") }},
		// Event loops and pools: the threads sit in epoll_wait, futex or poll while the sockets await replies.
		{name: "go-http-client", class: "network", rule: "backend-wait", peer: &goPeer, delayMS: 300, pid: func(t *testing.T) int {
			addr, url := server(t, "300ms")
			goPeer = addr
			return client(t, httpload, "client", "-url", url, "-concurrency", "4")
		}},
		{name: "jdk-httpclient", class: "network", rule: "backend-wait", peer: &jdkPeer, delayMS: 300, pid: func(t *testing.T) int {
			probetest.Need(t, "java")
			addr, url := server(t, "300ms")
			jdkPeer = addr
			src := filepath.Join(probetest.RepoRoot(t), "testdata", "workloads", "HttpClientLoad.java")
			pid := client(t, "java", "-Xmx64m", src, url, "8")
			time.Sleep(time.Second) // past JIT warm-up
			return pid
		}},
		{name: "python-timeout-client", class: "network", rule: "backend-wait", peer: &pyPeer, delayMS: 300, pid: func(t *testing.T) int {
			probetest.Need(t, "python3")
			addr, url := server(t, "300ms")
			pyPeer = addr
			return client(t, "python3", filepath.Join(probetest.RepoRoot(t), "testdata", "workloads", "timeout_client.py"), url)
		}},
		// A server slow because its backend is: the finding names the backend.
		{name: "proxy-slow-backend", class: "network", rule: "backend-wait", peer: &backend, delayMS: 300, pid: func(t *testing.T) int {
			addr, url := server(t, "300ms")
			backend = addr
			proxy, paddr := probetest.StartPrinting(t, "listening", httpload, "proxy", "-backend", url)
			client(t, httpload, "client", "-url", "http://"+paddr+"/", "-concurrency", "2")
			return proxy.Process.Pid
		}},
		// Connects that the peer never answers (its accept queue full): SYN_SENT, whatever the threads do.
		{name: "connect-stall", class: "network", rule: "backend-wait", evidence: "stuck connecting (SYN_SENT)", pid: func(t *testing.T) int {
			cmd, _ := probetest.StartPrinting(t, "listening", httpload, "connectstall", "-dialers", "2")
			time.Sleep(300 * time.Millisecond)
			return cmd.Process.Pid
		}},
		// Traps: a keep-alive pool asking once every 3 s, an idle server holding its clients' connections.
		{name: "keepalive-poller", class: "none", rule: "", pid: func(t *testing.T) int {
			_, url := server(t, "300ms")
			return client(t, httpload, "keepalive", "-url", url, "-every", "3s")
		}},
		{name: "idle-go-server", class: "none", rule: "", pid: func(t *testing.T) int {
			srv, addr := probetest.StartPrinting(t, "listening", httpload, "server", "-delay", "0s")
			client(t, httpload, "idleclients", "-url", "http://"+addr+"/", "-conns", "8")
			return srv.Process.Pid
		}},
	}
}

// TestLiveSlowApp classifies real workloads. About 30 s.
func TestLiveSlowApp(t *testing.T) {
	probetest.Live(t)
	tests := slowAppWorkloads(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pid := tc.pid(t)
			rep, code := runSlowApp(t, pid)
			t.Logf("%s: verdict %s also %v, findings %v", tc.name, rep.Verdict.Class, rep.Verdict.Also, rep.rules())
			for _, f := range rep.Findings {
				t.Logf("  %s: %s", f.Rule, f.Evidence)
			}
			if rep.Verdict.Class != tc.class {
				t.Errorf("verdict %q, want %q; findings %v; threads %v; unknown %v", rep.Verdict.Class, tc.class, rep.rules(), rep.Facts.Threads, rep.Unknown)
			}
			fired := false
			for _, f := range rep.Findings {
				fired = fired || f.Rule == tc.rule
			}
			if tc.rule != "" && !fired {
				t.Errorf("rule %s did not fire: %v", tc.rule, rep.rules())
			}
			if tc.peer != nil {
				checkPeer(t, rep, tc.rule, *tc.peer, tc.delayMS)
			}
			if f, _ := rep.finding(tc.rule); tc.evidence != "" && !strings.Contains(f.Evidence, tc.evidence) {
				t.Errorf("%s evidence lacks %q: %s", tc.rule, tc.evidence, f.Evidence)
			}
			wantCode := exitFindings
			if tc.class == "none" {
				wantCode = exitOK
			}
			if code != wantCode {
				t.Errorf("exit %d, want %d", code, wantCode)
			}
			if tc.again != nil {
				rep, _ := runSlowApp(t, pid, tc.again...)
				t.Logf("%s %v: verdict %s, findings %v", tc.name, tc.again, rep.Verdict.Class, rep.rules())
				for _, f := range rep.Findings {
					t.Logf("  %s: %s", f.Rule, f.Evidence)
				}
				if rep.Verdict.Class != tc.class || !strings.Contains(strings.Join(rep.rules(), " "), tc.againRule) {
					t.Errorf("with %v: verdict %s, findings %v; want %s and %s", tc.again, rep.Verdict.Class, rep.rules(), tc.class, tc.againRule)
				}
			}
		})
	}
}

// checkPeer: the finding names the peer, and the probe measured its
// response time close to the server's delay.
func checkPeer(t *testing.T, rep liveReport, rule, peer string, delayMS float64) {
	t.Helper()
	f, _ := rep.finding(rule)
	if !strings.Contains(f.Evidence, peer) {
		t.Errorf("%s evidence does not name the peer %s: %s", rule, peer, f.Evidence)
	}
	top := rep.Facts.TCP.TopPeer
	if top.Addr != peer || top.LocalPID == 0 {
		t.Errorf("top peer %+v, want %s with its local PID", top, peer)
	}
	if rt := top.ResponseP50MS; rt < 0.8*delayMS || rt > 1.2*delayMS {
		t.Errorf("response time median %.1f ms, want about %.0f ms", rt, delayMS)
	}
	if !slices.ContainsFunc(f.Next, func(n string) bool { return strings.Contains(n, "diagnose slow-app --pid "+strconv.Itoa(top.LocalPID)) }) {
		t.Errorf("no next step for the local peer: %v", f.Next)
	}
}

// TestLiveSlowAppEdges: a PID that never existed, a process that exits
// mid-window, a non-root caller, and --strace. About 12 s.
func TestLiveSlowAppEdges(t *testing.T) {
	probetest.Live(t)
	mutex := probetest.BuildC(t, "mutex")

	t.Run("no-such-pid", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		code := Main([]string{"slow-app", "--pid", "999999999", "--format", "json"}, strings.NewReader(""), &stdout, &stderr)
		if code != exitUsage || !strings.Contains(stderr.String(), "999999999") {
			t.Errorf("exit %d, stderr %q", code, stderr.String())
		}
	})

	t.Run("zombie", func(t *testing.T) {
		// sh starts a child that exits at once, then becomes sleep, which
		// never waits: the child stays a zombie of the sleep process.
		parent := probetest.Start(t, "sh", "-c", "true & exec sleep 30")
		zombie := 0
		for deadline := time.Now().Add(5 * time.Second); zombie == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", parent.Process.Pid, parent.Process.Pid))
			for _, f := range strings.Fields(string(b)) {
				stat, _ := os.ReadFile("/proc/" + f + "/stat")
				if i := bytes.LastIndexByte(stat, ')'); i > 0 && bytes.HasPrefix(stat[i+1:], []byte(" Z ")) {
					zombie, _ = strconv.Atoi(f)
				}
			}
		}
		if zombie == 0 {
			t.Fatal("no zombie child appeared")
		}
		var stdout, stderr bytes.Buffer
		code := Main([]string{"slow-app", "--pid", strconv.Itoa(zombie)}, strings.NewReader(""), &stdout, &stderr)
		want := fmt.Sprintf("PID %d exited and was not reaped by its parent %d (sleep)", zombie, parent.Process.Pid)
		next := fmt.Sprintf("diagnose slow-app --pid %d", parent.Process.Pid)
		if code != exitUsage || !strings.Contains(stderr.String(), want) || !strings.Contains(stderr.String(), next) || stdout.Len() > 0 {
			t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and %q, %q", code, stdout.String(), stderr.String(), want, next)
		}
	})

	t.Run("exits-mid-window", func(t *testing.T) {
		cmd := probetest.Start(t, mutex, "8")
		time.Sleep(200 * time.Millisecond)
		go func() { time.Sleep(900 * time.Millisecond); cmd.Process.Kill() }()
		rep, code := runSlowApp(t, cmd.Process.Pid)
		t.Logf("verdict %s, findings %v, process %v", rep.Verdict.Class, rep.rules(), rep.Facts.Process)
		if code == exitUsage {
			t.Fatalf("exit %d for a process that existed at the start", code)
		}
		if !rep.Facts.Process.Exited {
			t.Errorf("process.exited not set: %v", rep.Facts.Process)
		}
		ended := false
		for _, f := range rep.Findings {
			ended = ended || f.Rule == "process-ended"
		}
		if !ended {
			t.Errorf("no process-ended finding: %v", rep.rules())
		}
		if rep.Verdict.Class != "locks" {
			t.Errorf("verdict %s from the observed part, want locks", rep.Verdict.Class)
		}
	})

	t.Run("non-root", func(t *testing.T) {
		// The test binary re-runs itself as nobody against a root-owned workload.
		cmd := probetest.Start(t, mutex, "8")
		time.Sleep(200 * time.Millisecond)
		helper := probetest.AsNobody(t, "^TestSlowAppHelperProcess$", "DIAGNOSE_HELPER_PID="+strconv.Itoa(cmd.Process.Pid))
		var stdout, stderr bytes.Buffer
		helper.Stdout, helper.Stderr = &stdout, &stderr
		err := helper.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		out := stdout.Bytes()
		if i := bytes.LastIndex(out, []byte("\nPASS")); i >= 0 {
			out = out[:i]
		}
		rep, _ := decodeReport(t, code, out, stderr.String())
		t.Logf("non-root: verdict %s, findings %v, unknown %d", rep.Verdict.Class, rep.rules(), len(rep.Unknown))
		// Blocked threads cannot be classified: lock rules are unknown with
		// the reason, never a clean bill from zeros.
		if rep.Verdict.Class != "inconclusive" && rep.Verdict.Class != "cpu" {
			t.Errorf("verdict %s, want inconclusive (or cpu from CPU facts alone)", rep.Verdict.Class)
		}
		reason := ""
		for _, u := range rep.Unknown {
			if u.Rule == "mutex-convoy" {
				reason = u.Reason
			}
		}
		if !strings.Contains(reason, "permission") && !strings.Contains(reason, "ptrace") {
			t.Errorf("mutex-convoy unknown reason %q", reason)
		}
		if rep.Facts.Threads.LockPct != 0 {
			t.Errorf("lock_pct %v reported without permission", rep.Facts.Threads.LockPct)
		}
	})

	t.Run("strace", func(t *testing.T) {
		probetest.Need(t, "strace", "timeout")
		cmd := probetest.Start(t, mutex, "8")
		time.Sleep(200 * time.Millisecond)
		rep, _ := runSlowApp(t, cmd.Process.Pid, "--strace")
		if st := rep.Probes["syscalls"]; st.State != "ok" {
			t.Fatalf("syscalls probe %+v", st)
		}
		fired := false
		for _, f := range rep.Findings {
			fired = fired || f.Rule == "strace-futex"
		}
		if !fired || rep.Verdict.Class != "locks" {
			t.Errorf("verdict %s, findings %v", rep.Verdict.Class, rep.rules())
		}
	})
}

// TestSlowAppHelperProcess is the non-root half of TestLiveSlowAppEdges.
func TestSlowAppHelperProcess(t *testing.T) {
	pid := os.Getenv("DIAGNOSE_HELPER_PID")
	if pid == "" {
		t.Skip("helper process for TestLiveSlowAppEdges/non-root")
	}
	code := Main([]string{"slow-app", "--pid", pid, "--format", "json"}, strings.NewReader(""), os.Stdout, os.Stderr)
	if code == exitUsage {
		t.Fatalf("exit %d", code)
	}
}

// snapshotPath is where a workload's recorded snapshot lives.
func snapshotPath(t *testing.T, name string) string {
	return filepath.Join(probetest.RepoRoot(t), "testdata", "hosts", "proc-slowapp-"+name, "snapshot.json")
}

// collectTo runs diagnose collect with args into path (its directory made).
func collectTo(t *testing.T, path string, args ...string) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	var stdout, stderr bytes.Buffer
	if code := Main(append([]string{"collect", "-o", path}, args...), strings.NewReader(""), &stdout, &stderr); code != 0 {
		t.Fatalf("collect %v: exit %d: %s", args, code, stderr.String())
	}
}

// TestRecordSlowAppSnapshots records `diagnose collect` snapshots of the
// workloads for TestSlowAppSnapshots. Run by hand, as root:
//
//	DIAGNOSE_RECORD=1 go test -run TestRecordSlowAppSnapshots ./internal/cli
func TestRecordSlowAppSnapshots(t *testing.T) {
	if os.Getenv("DIAGNOSE_RECORD") == "" {
		t.Skip("set DIAGNOSE_RECORD=1 to re-record slow-app snapshots")
	}
	probetest.Live(t)
	for _, tc := range slowAppWorkloads(t) {
		t.Run(tc.name, func(t *testing.T) {
			pid := tc.pid(t)
			collectTo(t, snapshotPath(t, tc.name), "--pid", strconv.Itoa(pid))
		})
	}
}

// TestSlowAppSnapshots replays snapshots recorded from the live workloads
// through the shipped playbook: the same verdicts, deterministically.
func TestSlowAppSnapshots(t *testing.T) {
	for _, tc := range []struct{ name, class string }{
		{"spinner", "cpu"}, {"pthread-mutex", "locks"}, {"slow-peer", "network"}, {"odirect-fsync", "io"},
		{"throttled-spinner", "throttled"}, {"sleeper", "none"}, {"idle-epoll-server", "none"},
		{"jvm-synchronized", "locks"}, {"idle-jvm", "none"}, {"jvm-gc-thrash", "memory"}, {"jvm-gc-thrash-parallel", "memory"},
		{"jvm-gc-roomy", "none"}, {"unreaping-parent", "limits"}, {"fd-near-limit", "limits"}, {"pids-near-max", "limits"},
		{"go-http-client", "network"}, {"jdk-httpclient", "network"},
		{"python-timeout-client", "network"}, {"proxy-slow-backend", "network"}, {"connect-stall", "network"}, {"keepalive-poller", "none"}, {"idle-go-server", "none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main([]string{"slow-app", "--snapshot", snapshotPath(t, tc.name), "--format", "json"}, strings.NewReader(""), &stdout, &stderr)
			rep, _ := decodeReport(t, code, stdout.Bytes(), stderr.String())
			if rep.Verdict.Class != tc.class {
				t.Errorf("verdict %s, want %s; findings %v; unknown %v", rep.Verdict.Class, tc.class, rep.rules(), rep.Unknown)
			}
		})
	}
}

// TestSlowAppEditedSnapshots edits recorded snapshots into the cases no
// safe live workload produces here (swap-ins and page faults, retransmits,
// listen overflows, a process too private to classify) and checks the verdict.
func TestSlowAppEditedSnapshots(t *testing.T) {
	tests := []struct {
		name, base, class, rule string
		edit                    func(facts map[string]map[string]any, status map[string]any)
	}{
		{"page-faults", "sleeper", "memory", "page-faults", func(f map[string]map[string]any, _ map[string]any) {
			f["process"]["major_faults_per_s"] = 850.0
			f["threads"]["paging_threads"] = 0.7
			f["threads"]["paging_pct"] = 70.0
		}},
		{"retransmits", "slow-peer", "network", "tcp-retransmits", func(f map[string]map[string]any, _ map[string]any) {
			f["threads"]["network_threads"] = 0.3
			f["net"]["tcp_out_segs_per_s"] = 400.0
			f["net"]["tcp_retrans_per_s"] = 40.0
			f["net"]["tcp_retrans_pct"] = 10.0
		}},
		{"listen-overflow", "idle-epoll-server", "network", "listen-overflow", func(f map[string]map[string]any, _ map[string]any) {
			f["net"]["listen_overflows_per_s"] = 36.0
			f["tcp"]["accept_queue_max"] = 16.0
		}},
		{"idle-jvm-stays-none", "idle-jvm", "none", "", func(f map[string]map[string]any, _ map[string]any) {
			f["process"]["voluntary_ctx_switches_per_s"] = 5000.0 // switches alone are not contention
		}},
		// Without socket facts (no netlink, a namespace that cannot be entered) the
		// thread evidence still decides what it can; futex churn alone is not called a lock.
		{"no-tcp-blocking-peer", "slow-peer", "network", "peer-wait", func(_ map[string]map[string]any, st map[string]any) {
			st["tcp"] = map[string]any{"state": "unavailable", "reason": "cannot enter the target's network namespace"}
		}},
		{"no-tcp-jdk-httpclient", "jdk-httpclient", "inconclusive", "", func(_ map[string]map[string]any, st map[string]any) {
			st["tcp"] = map[string]any{"state": "unavailable", "reason": "cannot enter the target's network namespace"}
		}},
		{"no-ptrace-permission", "pthread-mutex", "inconclusive", "", func(f map[string]map[string]any, st map[string]any) {
			s := map[string]any{"state": "unavailable", "reason": "blocked threads cannot be classified: wchan reads 0 and syscall is unreadable without ptrace permission"}
			for _, k := range []string{"lock_pct", "lock_threads", "contending_threads", "lock_wakeups_per_s", "same_futex_waiters_avg",
				"network_threads", "network_pct", "poll_pct", "idle_pct", "top_wchans", "top_syscalls"} {
				st["threads."+k] = s
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := os.ReadFile(snapshotPath(t, tc.base))
			if err != nil {
				t.Fatal(err)
			}
			var snap map[string]json.RawMessage
			if err := json.Unmarshal(b, &snap); err != nil {
				t.Fatal(err)
			}
			var facts map[string]map[string]any
			var status map[string]any
			if err := json.Unmarshal(snap["facts"], &facts); err != nil {
				t.Fatal(err)
			}
			json.Unmarshal(snap["status"], &status)
			tc.edit(facts, status)
			snap["facts"], _ = json.Marshal(facts)
			snap["status"], _ = json.Marshal(status)
			out, _ := json.Marshal(snap)
			path := filepath.Join(t.TempDir(), "snapshot.json")
			os.WriteFile(path, out, 0o644)
			var stdout, stderr bytes.Buffer
			code := Main([]string{"slow-app", "--snapshot", path, "--format", "json"}, strings.NewReader(""), &stdout, &stderr)
			rep, _ := decodeReport(t, code, stdout.Bytes(), stderr.String())
			if rep.Verdict.Class != tc.class {
				t.Errorf("verdict %s, want %s; findings %v; unknown %v", rep.Verdict.Class, tc.class, rep.rules(), rep.Unknown)
			}
			if tc.rule != "" && !strings.Contains(strings.Join(rep.rules(), " "), tc.rule) {
				t.Errorf("rule %s did not fire: %v", tc.rule, rep.rules())
			}
		})
	}
}
