package netstat

import (
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
	"github.com/diagnose-sh/diagnose/probes/probetest"
)

func fixtureRoots(t *testing.T, scenario string) ([]string, []time.Duration, int) {
	t.Helper()
	rec := probetest.LoadRecording(t, scenario)
	return rec.Roots, rec.Times, rec.PID
}

func replay(r probe.Reader, roots []string, times []time.Duration) (any, probe.Statuses) {
	return probetest.ReplayAt(r, roots, times)
}

func TestFixtures(t *testing.T) {
	tests := map[string]func(t *testing.T, f Facts){
		"proc-slowpeer": func(t *testing.T, f Facts) {
			// The client: one connected socket to the forked server on loopback.
			if f.TCPEstablished != 1 || f.SocketCount != 1 || len(f.Sockets) != 1 {
				t.Fatalf("sockets: %+v", f)
			}
			s := f.Sockets[0]
			if s.Proto != "tcp" || s.State != "ESTABLISHED" || !strings.HasPrefix(s.Peer, "127.0.0.1:") || s.RecvQueueBytes != 0 {
				t.Errorf("socket %+v", s)
			}
		},
		"proc-epollserver": func(t *testing.T, f Facts) {
			if f.TCPListen != 2 || f.TCPEstablished != 0 || f.AcceptQueueMax != 0 {
				t.Errorf("listeners: %+v", f)
			}
		},
		"proc-sleeper": func(t *testing.T, f Facts) {
			if f.SocketCount != 0 || f.Sockets == nil {
				t.Errorf("sleeper has sockets: %+v", f)
			}
		},
	}
	for scenario, check := range tests {
		t.Run(scenario, func(t *testing.T) {
			roots, times, pid := fixtureRoots(t, scenario)
			got, st := replay(New(probe.Target{PID: pid}, probe.Options{}), roots, times)
			for k, s := range st {
				if s.State != probe.OK {
					t.Errorf("%s: %+v", k, s)
				}
			}
			f := got.(Facts)
			if f.RmemMaxBytes == 0 || f.Somaxconn == 0 {
				t.Errorf("sysctls: %+v", f)
			}
			check(t, f)
			probetest.Golden(t, filepath.Join(probetest.Fixture(t, scenario), "net.golden.json"), got)
		})
	}
}

// Counters that went up between two hand-made readings.
func TestRates(t *testing.T) {
	snmp := func(retrans, out int) string {
		return "Tcp: RtoAlgorithm OutSegs RetransSegs\nTcp: 1 " + strconv.Itoa(out) + " " + strconv.Itoa(retrans) + "\n" +
			"Udp: InErrors RcvbufErrors SndbufErrors\nUdp: 5 " + strconv.Itoa(retrans) + " 0\n"
	}
	netstat := func(ov int) string {
		return "TcpExt: ListenOverflows ListenDrops TCPTimeouts TCPSynRetrans\nTcpExt: " + strings.Repeat(strconv.Itoa(ov)+" ", 4) + "\n"
	}
	mk := func(retrans, out, ov int) string {
		root := t.TempDir()
		dir := filepath.Join(root, "proc", "net")
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "snmp"), []byte(snmp(retrans, out)), 0o644)
		os.WriteFile(filepath.Join(dir, "netstat"), []byte(netstat(ov)), 0o644)
		os.WriteFile(filepath.Join(dir, "snmp6"), []byte("Udp6RcvbufErrors 7\n"), 0o644)
		return root
	}
	got, st := replay(New(probe.Target{}, probe.Options{}), []string{mk(10, 1000, 3), mk(60, 3000, 13)}, []time.Duration{0, 2 * time.Second})
	f := got.(Facts)
	if f.TCPRetransPerS != 25 || f.TCPOutSegsPerS != 1000 || f.TCPRetransPct != 2.5 || f.ListenOverflowsPerS != 5 || f.UDPRcvbufErrorsPerS != 25 {
		t.Errorf("rates %+v", f)
	}
	if st["sockets"].State != probe.Unavailable {
		t.Errorf("sockets without a pid: %+v", st["sockets"])
	}
	if st["rmem_max_bytes"].State != probe.Unavailable {
		t.Errorf("rmem_max missing from the tree: %+v", st["rmem_max_bytes"])
	}
	// A counter going backwards (netns re-created) is not a negative rate.
	got, _ = replay(New(probe.Target{}, probe.Options{}), []string{mk(60, 3000, 13), mk(10, 1000, 3)}, []time.Duration{0, time.Second})
	if f := got.(Facts); f.TCPRetransPerS != 0 || f.TCPRetransPct != 0 {
		t.Errorf("backwards counters: %+v", f)
	}
	// One reading: rates unknown.
	_, st = replay(New(probe.Target{}, probe.Options{}), []string{mk(1, 1, 1)}, []time.Duration{0})
	if st["tcp_retrans_per_s"].State != probe.Unavailable {
		t.Errorf("one reading: %+v", st["tcp_retrans_per_s"])
	}
}

func TestProcessGone(t *testing.T) {
	_, st := replay(New(probe.Target{PID: 999999}, probe.Options{}), []string{t.TempDir(), t.TempDir()}, []time.Duration{0, time.Second})
	if st["sockets"].State != probe.Unavailable || !strings.Contains(st["sockets"].Reason, "does not exist") {
		t.Errorf("sockets: %+v", st["sockets"])
	}
}

func TestParseSockets(t *testing.T) {
	tcp := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:B270 00000000:0000 0A 00000000:00000002 00:00000000 00000000     0        0 12158 1 00000000034dab55 100 0 0 10 0
   6: 0100007F:CD18 0100007F:B270 01 00000010:00000020 00:00000000 00000003     0        0 12159 1 00000000958be475 20 0 0 10 -1
`
	rows, err := parseSockets([]byte(tcp))
	if err != nil || len(rows) != 2 {
		t.Fatalf("%v %v", rows, err)
	}
	want := sockRow{Local: netip.MustParseAddrPort("127.0.0.1:52504"), Remote: netip.MustParseAddrPort("127.0.0.1:45680"),
		State: 1, TxQueue: 16, RxQueue: 32, Retransmits: 3, Inode: 12159}
	if rows[1] != want {
		t.Errorf("%+v\nwant %+v", rows[1], want)
	}
	if rows[0].State != 10 || rows[0].RxQueue != 2 {
		t.Errorf("listen row %+v", rows[0])
	}
	udp := `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  12216: 0100007F:8BBE 00000000:0000 07 00000000:00001E00 00:00000000 00000000     0        0 29050 2 00000000d93397f5 4994
`
	rows, err = parseSockets([]byte(udp))
	if err != nil || rows[0].Drops != 4994 || rows[0].RxQueue != 0x1e00 {
		t.Fatalf("%+v %v", rows, err)
	}
	tcp6 := `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 777 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000100007F:D000 01 00000000:00000000 00:00000000 00000000     0        0 778 1 0000000000000000 100 0 0 10 0
`
	rows, err = parseSockets([]byte(tcp6))
	if err != nil || rows[0].Local.String() != "[::1]:8080" || rows[1].Local.String() != "127.0.0.1:8080" {
		t.Fatalf("%+v %v", rows, err)
	}
	bad := []string{"", "garbage\n", "  sl  local_address\n 0: 0100007F:B270\n",
		"  sl  local_address\n 0: 0100007Z:B270 00000000:0000 0A 0:0 00:0 0 0 0 1\n",
		"  sl  local_address\n 0: 0100007F:B270 00000000:0000 0A 00000000 00:0 0 0 0 1\n",
		"  sl  local_address\n 0: 0100007F:FFFFF 00000000:0000 0A 0:0 00:0 0 0 0 1\n",
		"  sl  local_address\n 0: 01007F:B270 00000000:0000 0A 0:0 00:0 0 0 0 1\n",
		"  sl  local_address\n 0: 0100007F:B270 00000000:0000 ZZ 0:0 00:0 0 0 0 1\n",
		"  sl  local_address\n 0: 0100007F:B270 00000000:0000 0A 0:0 00:0 0 0 0 x\n"}
	for _, in := range bad {
		if _, err := parseSockets([]byte(in)); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

func TestParseSNMP6(t *testing.T) {
	m, err := parseSNMP6([]byte("Ip6InReceives                   \t1\nUdp6RcvbufErrors 3\n"))
	if err != nil || m["Udp6RcvbufErrors"] != 3 {
		t.Fatalf("%v %v", m, err)
	}
	if _, err := parseSNMP6([]byte("a b c\n")); err == nil {
		t.Error("snmp6: no error")
	}
	if ino, ok := probe.SocketInode("socket:[12158]"); !ok || ino != 12158 {
		t.Error("socket link")
	}
	for _, l := range []string{"pipe:[1]", "socket:[x]", "socket:[1", "/dev/null"} {
		if _, ok := probe.SocketInode(l); ok {
			t.Errorf("%q taken for a socket", l)
		}
	}
}

func FuzzParseSockets(f *testing.F) {
	f.Add([]byte("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   6: 0100007F:CD18 0100007F:B270 01 00000010:00000020 00:00000000 00000003     0        0 12159 1 00000000958be475 20 0 0 10 -1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rows, err := parseSockets(b)
		if err == nil {
			for _, r := range rows {
				_ = r.Local.String() + stateName(r.State)
			}
		}
	})
}

func FuzzParseSNMP(f *testing.F) {
	f.Add([]byte("Tcp: RtoAlgorithm OutSegs RetransSegs\nTcp: 1 1583 0\n"))
	f.Fuzz(func(t *testing.T, b []byte) { probe.HeaderValues(b, "fuzz"); parseSNMP6(b) })
}
