package sockdiag_test

// TestRecordFixtures records the fixture trees under testdata/hosts/tcp-*/
// from real loopback workloads (testdata/workloads/httpload and
// timeout_client.py): in each of 24 readings 45 ms apart, the target's
// descriptors, the network namespace links, the local servers'
// descriptors and names, and the sock_diag answers (both address
// families), re-framed as netlink messages exactly as the kernel sent
// their payloads. Run it by hand, as root:
//
//	DIAGNOSE_RECORD=1 go test -run TestRecordFixtures ./probes/sockdiag

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
	"github.com/diagnose-sh/diagnose/probes/probetest"
	"github.com/diagnose-sh/diagnose/probes/sockdiag"
)

const (
	recordReadings = 24
	recordStep     = 45 * time.Millisecond
)

// scenario is a recorded workload: target is the process diagnosed,
// others the local processes whose descriptors name its peers.
type scenario struct {
	name           string
	start          func(t *testing.T) (target int, others []int)
	warmup         time.Duration
	wantAwaiting   [2]float64 // awaiting_reply_avg within [lo, hi]
	wantPending    [2]float64 // inbound_pending_avg within [lo, hi]
	wantPeerRTMS   float64    // top peer's median response time, ±15% (0: no replies expected)
	wantLocalOwner bool       // the top peer is named by its local PID
}

func scenarios(t *testing.T) []scenario {
	var httpload string
	bin := func() string {
		if httpload == "" {
			httpload = probetest.BuildGo(t, "httpload")
		}
		return httpload
	}
	server := func(t *testing.T, delay string) (int, string) {
		cmd, addr := probetest.StartPrinting(t, "listening", bin(), "server", "-delay", delay)
		return cmd.Process.Pid, "http://" + addr + "/"
	}
	client := func(t *testing.T, args ...string) int {
		cmd, _ := probetest.StartPrinting(t, "started", bin(), args...)
		return cmd.Process.Pid
	}
	return []scenario{
		{name: "go-client-slow-server", warmup: 500 * time.Millisecond,
			wantAwaiting: [2]float64{3, 4.1}, wantPeerRTMS: 300, wantLocalOwner: true,
			start: func(t *testing.T) (int, []int) {
				srv, url := server(t, "300ms")
				return client(t, "client", "-url", url, "-concurrency", "4"), []int{srv}
			}},
		{name: "python-timeout-client", warmup: 500 * time.Millisecond,
			wantAwaiting: [2]float64{0.6, 1.05}, wantPeerRTMS: 300, wantLocalOwner: true,
			start: func(t *testing.T) (int, []int) {
				probetest.Need(t, "python3")
				srv, url := server(t, "300ms")
				script := filepath.Join(probetest.RepoRoot(t), "testdata", "workloads", "timeout_client.py")
				cmd, _ := probetest.StartPrinting(t, "started", "python3", script, url)
				return cmd.Process.Pid, []int{srv}
			}},
		{name: "keepalive-poller", warmup: 200 * time.Millisecond,
			wantAwaiting: [2]float64{0, 0.45}, wantLocalOwner: true,
			start: func(t *testing.T) (int, []int) {
				srv, url := server(t, "300ms")
				return client(t, "keepalive", "-url", url, "-every", "700ms"), []int{srv}
			}},
		{name: "idle-server", warmup: 300 * time.Millisecond,
			wantAwaiting: [2]float64{0, 0}, wantPending: [2]float64{0, 0},
			start: func(t *testing.T) (int, []int) {
				srv, url := server(t, "0s")
				c := client(t, "idleclients", "-url", url, "-conns", "8")
				return srv, []int{c}
			}},
		{name: "proxy-slow-backend", warmup: 500 * time.Millisecond,
			wantAwaiting: [2]float64{1.4, 2.1}, wantPending: [2]float64{1.4, 2.1}, wantPeerRTMS: 300, wantLocalOwner: true,
			start: func(t *testing.T) (int, []int) {
				backend, url := server(t, "300ms")
				cmd, addr := probetest.StartPrinting(t, "listening", bin(), "proxy", "-backend", url)
				c := client(t, "client", "-url", "http://"+addr+"/", "-concurrency", "2")
				return cmd.Process.Pid, []int{backend, c}
			}},
	}
}

func TestRecordFixtures(t *testing.T) {
	if os.Getenv("DIAGNOSE_RECORD") == "" {
		t.Skip("set DIAGNOSE_RECORD=1 to re-record fixture trees")
	}
	probetest.Live(t)
	for _, sc := range scenarios(t) {
		t.Run(sc.name, func(t *testing.T) {
			target, others := sc.start(t)
			time.Sleep(sc.warmup)
			dir := probetest.Fixture(t, "tcp-"+sc.name)
			os.RemoveAll(dir)
			live, err := probe.NetlinkSockDiag("")
			if err != nil {
				t.Fatal(err)
			}
			defer live.Close()
			var times []string
			start := time.Now()
			for i := range recordReadings {
				root := filepath.Join(dir, fmt.Sprintf("t%02d", i))
				at := time.Now()
				recordProcess(t, root, target, true)
				for _, pid := range others {
					recordProcess(t, root, pid, false)
				}
				recordDump(t, live, filepath.Join(root, dumpFile))
				times = append(times, strconv.FormatInt(at.Sub(start).Microseconds(), 10))
				time.Sleep(recordStep)
			}
			os.WriteFile(filepath.Join(dir, "times.txt"), []byte(strings.Join(times, "\n")+"\n"), 0o644)
			os.WriteFile(filepath.Join(dir, "target.txt"), []byte(strconv.Itoa(target)+"\n"), 0o644)
		})
	}
}

// dumpFile holds a reading's dump.
const dumpFile = "sock_diag.nl"

// recordProcess copies what the probe reads of a process: its descriptor
// links (sockets as they are, files redacted), its comm and, for the
// target, the namespace links.
func recordProcess(t *testing.T, root string, pid int, target bool) {
	p := strconv.Itoa(pid)
	dir := filepath.Join(root, "proc", p, "fd")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	fds, _ := os.ReadDir(filepath.Join("/proc", p, "fd"))
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join("/proc", p, "fd", fd.Name()))
		if err != nil {
			continue
		}
		if strings.HasPrefix(link, "/") && !strings.HasPrefix(link, "/dev/") {
			link = "/redacted/file"
		}
		os.Symlink(link, filepath.Join(dir, fd.Name()))
	}
	if comm, err := os.ReadFile(filepath.Join("/proc", p, "comm")); err == nil {
		os.WriteFile(filepath.Join(root, "proc", p, "comm"), comm, 0o644)
	}
	if target {
		for _, who := range []string{p, "self"} {
			link, err := os.Readlink(filepath.Join("/proc", who, "ns", "net"))
			if err != nil {
				t.Fatal(err)
			}
			os.MkdirAll(filepath.Join(root, "proc", who, "ns"), 0o755)
			os.Symlink(link, filepath.Join(root, "proc", who, "ns", "net"))
		}
	}
}

// recordDump writes one dump as netlink messages: a header (length, type
// SOCK_DIAG_BY_FAMILY, flags NLM_F_MULTI) before each payload, then NLMSG_DONE.
func recordDump(t *testing.T, c probe.SockDiagConn, path string) {
	var out []byte
	frame := func(typ uint16, payload []byte) {
		n := 16 + len(payload)
		var h [16]byte
		binary.NativeEndian.PutUint32(h[0:], uint32(n))
		binary.NativeEndian.PutUint16(h[4:], typ)
		binary.NativeEndian.PutUint16(h[6:], 2) // NLM_F_MULTI
		out = append(out, h[:]...)
		out = append(out, payload...)
		for len(out)%4 != 0 {
			out = append(out, 0)
		}
	}
	err := c.DumpTCP(sockdiag.DumpStates, func(p []byte) { frame(20, p) })
	if err != nil {
		t.Fatalf("dump: %v", err)
	}
	frame(3, []byte{0, 0, 0, 0}) // NLMSG_DONE
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}
