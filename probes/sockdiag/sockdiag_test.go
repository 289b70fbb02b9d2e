package sockdiag_test

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
	"github.com/diagnose-sh/diagnose/probes/probetest"
	"github.com/diagnose-sh/diagnose/probes/sockdiag"
)

// replayConn serves the dumps recorded in the current reading's root.
type replayConn struct{ root *string }

func (c replayConn) DumpTCP(_ uint32, each func([]byte)) error {
	b, err := os.ReadFile(filepath.Join(*c.root, dumpFile))
	if err != nil {
		return err
	}
	return sockdiag.EachMessage(b, each)
}

func (replayConn) Close() error { return nil }

// replay drives the probe over a recorded scenario at its recorded times.
func replay(t *testing.T, name string) (sockdiag.Facts, probe.Statuses) {
	t.Helper()
	rec := probetest.LoadRecording(t, "tcp-"+name)
	r := sockdiag.New(probe.Target{PID: targetPID(t, name)}, probe.Options{})
	var cur string
	dial := func(string) (probe.SockDiagConn, error) { return replayConn{&cur}, nil }
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, root := range rec.Roots {
		cur = root
		r.Read(t.Context(), probe.Host{Root: root, Now: t0.Add(rec.Times[i]), SockDiag: dial})
	}
	v, st := r.Finish()
	return v.(sockdiag.Facts), st
}

// targetPID is the diagnosed process of a recorded scenario.
func targetPID(t testing.TB, name string) int {
	t.Helper()
	b, err := os.ReadFile(probetest.Fixture(t, "tcp-"+name, "target.txt"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("target.txt: %v", err)
	}
	return pid
}

// The recorded workloads: golden facts, and the properties each must show
// whatever the golden says (a re-recording must keep them).
func TestRecordedScenarios(t *testing.T) {
	for _, sc := range scenarios(t) {
		t.Run(sc.name, func(t *testing.T) {
			f, st := replay(t, sc.name)
			probetest.Golden(t, probetest.Fixture(t, "tcp-"+sc.name, "tcp.golden.json"), probetest.Result{Facts: f, Status: st})
			if st[""].State != probe.OK {
				t.Fatalf("status %+v", st[""])
			}
			if a := f.AwaitingReplyAvg; a < sc.wantAwaiting[0] || a > sc.wantAwaiting[1] {
				t.Errorf("awaiting_reply_avg %v, want %v", a, sc.wantAwaiting)
			}
			if p := f.InboundPendingAvg; p < sc.wantPending[0] || p > sc.wantPending[1] {
				t.Errorf("inbound_pending_avg %v, want %v", p, sc.wantPending)
			}
			if sc.wantPeerRTMS > 0 && math.Abs(f.TopPeer.ResponseP50MS-sc.wantPeerRTMS) > 0.15*sc.wantPeerRTMS {
				t.Errorf("top peer %s response median %v ms, want about %v", f.TopPeer.Addr, f.TopPeer.ResponseP50MS, sc.wantPeerRTMS)
			}
			if sc.wantLocalOwner && (f.TopPeer.LocalPID == 0 || f.TopPeer.LocalComm == "") {
				t.Errorf("top peer %s not named by its local process: %+v", f.TopPeer.Addr, f.TopPeer)
			}
			if !strings.HasPrefix(f.TopPeer.Addr, "127.0.0.1:") && f.Outbound > 0 {
				t.Errorf("top peer %q, want the loopback server", f.TopPeer.Addr)
			}
		})
	}
}

// A tree for the unavailable cases: pid 42 with one socket descriptor.
func tree(t *testing.T, theirNS, ourNS string) string {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "proc", "42", "fd"), 0o755)
	os.MkdirAll(filepath.Join(root, "proc", "42", "ns"), 0o755)
	os.MkdirAll(filepath.Join(root, "proc", "self", "ns"), 0o755)
	os.Symlink("socket:[7]", filepath.Join(root, "proc", "42", "fd", "3"))
	os.Symlink(theirNS, filepath.Join(root, "proc", "42", "ns", "net"))
	os.Symlink(ourNS, filepath.Join(root, "proc", "self", "ns", "net"))
	return root
}

func TestUnavailable(t *testing.T) {
	eperm := func(ns string) (probe.SockDiagConn, error) {
		if ns == "" {
			t.Error("dialed our own namespace for a foreign one")
		}
		return nil, fmt.Errorf("setns: %w", syscall.EPERM)
	}
	noDiag := func(string) (probe.SockDiagConn, error) {
		return nil, fmt.Errorf("open sock_diag netlink socket: %w", syscall.EPROTONOSUPPORT)
	}
	tests := []struct {
		name, root  string
		pid         int
		dial        probe.SockDiagDialer
		reason, fix string
	}{
		{name: "no-target", pid: 0, reason: "no target process", fix: "--pid"},
		{name: "no-netlink", root: tree(t, "net:[1]", "net:[1]"), pid: 42, reason: "sock_diag netlink", fix: "live"},
		{name: "recorded-tree", root: tree(t, "/redacted/file", "net:[1]"), pid: 42, dial: eperm, reason: "not a network namespace"},
		{name: "foreign-namespace-no-privilege", root: tree(t, "net:[2]", "net:[1]"), pid: 42, dial: eperm,
			reason: "cannot enter the target's network namespace", fix: "CAP_SYS_ADMIN"},
		{name: "no-inet-diag", root: tree(t, "net:[1]", "net:[1]"), pid: 42, dial: noDiag, reason: "sock_diag", fix: "inet_diag"},
		{name: "gone", root: t.TempDir(), pid: 42, dial: eperm, reason: "does not exist"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := sockdiag.New(probe.Target{PID: tc.pid}, probe.Options{})
			for i := range 3 {
				r.Read(t.Context(), probe.Host{Root: tc.root, Now: time.Unix(100, 0).Add(time.Duration(i) * 50 * time.Millisecond), SockDiag: tc.dial})
			}
			_, st := r.Finish()
			s := st[""]
			if s.State != probe.Unavailable || !strings.Contains(s.Reason, tc.reason) || !strings.Contains(s.Fix, tc.fix) {
				t.Errorf("status %+v, want unavailable: %q, fix %q", s, tc.reason, tc.fix)
			}
		})
	}
}

// Descriptors that cannot be read (another user's process, no ptrace
// access) are unavailable with the ptrace fix, not an empty list.
func TestDescriptorsPermission(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads any directory")
	}
	root := tree(t, "net:[1]", "net:[1]")
	os.Chmod(filepath.Join(root, "proc", "42", "fd"), 0)
	defer os.Chmod(filepath.Join(root, "proc", "42", "fd"), 0o755)
	r := sockdiag.New(probe.Target{PID: 42}, probe.Options{})
	r.Read(t.Context(), probe.Host{Root: root, Now: time.Unix(100, 0), SockDiag: func(string) (probe.SockDiagConn, error) {
		return replayConn{new(string)}, nil
	}})
	_, st := r.Finish()
	if s := st[""]; s.State != probe.Unavailable || s.Fix != probe.PtraceFix {
		t.Errorf("status %+v", s)
	}
}

// Every recorded answer parses; broken framing and truncation are errors.
func TestRecordedDumpsParse(t *testing.T) {
	files, _ := filepath.Glob(probetest.Fixture(t, "tcp-*", "t00", "sock_diag.nl"))
	if len(files) == 0 {
		t.Fatal("no recorded dumps")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		err = sockdiag.EachMessage(b, func(p []byte) {
			n++
			s, err := sockdiag.ParseMsg(p)
			if err != nil {
				t.Errorf("%s answer %d: %v", f, n, err)
			}
			if s.State == 1 && (!s.HasInfo || !s.HasCounters || s.Inode == 0) {
				t.Errorf("%s answer %d: established socket without tcp_info counters: %+v", f, n, s)
			}
		})
		if err != nil {
			t.Errorf("%s: %v", f, err)
		}
		if len(b) > 20 {
			if err := sockdiag.EachMessage(b[:len(b)-9], func([]byte) {}); !errors.Is(err, sockdiag.ErrDumpFraming) {
				t.Errorf("%s truncated: %v", f, err)
			}
		}
	}
}
