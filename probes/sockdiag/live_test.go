package sockdiag_test

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/probes"
	"github.com/diagnose-sh/diagnose/probes/probe"
	"github.com/diagnose-sh/diagnose/probes/probetest"
)

// sample runs the tcp probe alone over a live window.
func sample(t *testing.T, pid int, window time.Duration) (probes.Facts, probe.Statuses) {
	t.Helper()
	s := probes.Sampler{Host: probe.Host{Root: "/", SockDiag: probe.NetlinkSockDiag}, Clock: probes.RealClock{},
		Window: window, Target: probe.Target{PID: pid}}
	return s.Run(context.Background(), probes.Select([]string{"tcp"}))
}

// A target in a network namespace of its own (a container's): the probe
// enters it (setns on a locked thread) and sees its connections, named by
// the local server's PID.
func TestLiveOtherNamespace(t *testing.T) {
	probetest.Live(t)
	probetest.Need(t, "unshare", "nsenter", "ip")
	bin := probetest.BuildGo(t, "httpload")
	srv, addr := probetest.StartPrinting(t, "listening", "unshare", "-n", "sh", "-c",
		"ip link set lo up && exec "+bin+" server -delay 300ms")
	client, _ := probetest.StartPrinting(t, "started", "nsenter", "-t", strconv.Itoa(srv.Process.Pid), "-n",
		bin, "client", "-url", "http://"+addr+"/", "-concurrency", "3")
	ours, _ := os.Readlink("/proc/self/ns/net")
	theirs, _ := os.Readlink("/proc/" + strconv.Itoa(client.Process.Pid) + "/ns/net")
	if ours == theirs {
		t.Fatalf("the client runs in our namespace %s", ours)
	}
	time.Sleep(500 * time.Millisecond)
	f, st := sample(t, client.Process.Pid, time.Second)
	if st["tcp"].State != probe.OK {
		t.Fatalf("tcp %+v", st["tcp"])
	}
	top := f.TCP.TopPeer
	t.Logf("namespace %s: awaiting %.2f, top peer %+v", theirs, f.TCP.AwaitingReplyAvg, top)
	if f.TCP.AwaitingReplyAvg < 2 || top.Addr != addr || top.LocalPID != srv.Process.Pid {
		t.Errorf("awaiting %.2f, top peer %s (pid %d); want ≈3 on %s served by pid %d",
			f.TCP.AwaitingReplyAvg, top.Addr, top.LocalPID, addr, srv.Process.Pid)
	}
}

// An unprivileged diagnose cannot enter another namespace: the facts are
// unavailable with the reason and the fix, nothing is made up.
func TestLiveNamespaceNotEnterable(t *testing.T) {
	probetest.Live(t)
	probetest.Need(t, "unshare")
	cmd := probetest.AsNobody(t, "^TestNamespaceHelper$", "DIAGNOSE_SOCKDIAG_HELPER=1")
	cmd.Args = append(cmd.Args, "-test.v")
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil || !strings.Contains(string(out), "--- PASS: TestNamespaceHelper") {
		t.Errorf("helper as nobody: %v", err)
	}
}

// TestNamespaceHelper is the unprivileged half of TestLiveNamespaceNotEnterable.
func TestNamespaceHelper(t *testing.T) {
	if os.Getenv("DIAGNOSE_SOCKDIAG_HELPER") == "" {
		t.Skip("helper process for TestLiveNamespaceNotEnterable")
	}
	target := exec.Command("unshare", "-Urn", "sleep", "30") // a user and network namespace of its own
	if err := target.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { target.Process.Kill(); target.Wait() }()
	time.Sleep(200 * time.Millisecond)
	_, st := sample(t, target.Process.Pid, 200*time.Millisecond)
	s := st["tcp"]
	t.Logf("tcp status %+v", s)
	if s.State != probe.Unavailable || !strings.Contains(s.Reason, "cannot enter the target's network namespace") ||
		!strings.Contains(s.Fix, "CAP_SYS_ADMIN") {
		t.Errorf("status %+v", s)
	}
}
