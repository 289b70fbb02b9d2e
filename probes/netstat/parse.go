package netstat

// Pure parsers for /proc/net files (Documentation/networking/proc_net_tcp.rst,
// include/net/snmp.h). Formats observed on Linux 6.18:
//
// /proc/PID/net/tcp (tcp6: 4×%08X address words):
//
//	sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ...
//	 6: 0100007F:CD18 0100007F:B270 01 00000000:00000000 00:00000000 00000000     0        0 12159 1 ...
//
// /proc/net/snmp and /proc/net/netstat: pairs of header and value lines
//
//	Tcp: RtoAlgorithm RtoMin ... OutSegs RetransSegs InErrs OutRsts InCsumErrors
//	Tcp: 1 200 120000 -1 22 3 0 0 0 2084 1583 0 0 2 0
//
// /proc/net/snmp6: "Udp6RcvbufErrors   0" one key per line.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

// sockRow is one row of /proc/net/{tcp,tcp6,udp,udp6}.
type sockRow struct {
	Local, Remote netip.AddrPort
	State         uint8
	TxQueue       uint64
	RxQueue       uint64
	Retransmits   uint64
	Inode         uint64
	UID           uint32
	Drops         uint64 // udp only
}

// Listener is a listening TCP socket of a /proc/net/tcp{,6} table.
type Listener struct {
	Local netip.AddrPort
	Queue uint64 // connections waiting to be accepted (rx_queue; the backlog itself is not in this table)
	Inode uint64
	UID   uint32
}

// Listeners returns the LISTEN rows of a /proc/net/tcp or tcp6 table.
func Listeners(b []byte) ([]Listener, error) {
	rows, err := parseSockets(b)
	if err != nil {
		return nil, err
	}
	var out []Listener
	for _, r := range rows {
		if r.State == 10 {
			out = append(out, Listener{Local: r.Local, Queue: r.RxQueue, Inode: r.Inode, UID: r.UID})
		}
	}
	return out, nil
}

// tcpStates maps the st column to its name (include/net/tcp_states.h).
var tcpStates = map[uint8]string{
	1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2", 6: "TIME_WAIT",
	7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING", 12: "NEW_SYN_RECV",
}

func stateName(st uint8) string {
	if n, ok := tcpStates[st]; ok {
		return n
	}
	return fmt.Sprintf("STATE_%02X", st)
}

// parseSockets parses a /proc/net/{tcp,tcp6,udp,udp6} table.
func parseSockets(b []byte) ([]sockRow, error) {
	var rows []sockRow
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	first := true
	for sc.Scan() {
		line := sc.Text()
		if first {
			first = false
			if !strings.Contains(line, "local_address") {
				return nil, fmt.Errorf("%w: socket table header %q", probe.ErrFormat, probe.Truncate(line))
			}
			continue
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) < 10 {
			return nil, fmt.Errorf("%w: socket row with %d fields", probe.ErrFormat, len(f))
		}
		var r sockRow
		var err error
		if r.Local, err = parseAddrPort(f[1]); err != nil {
			return nil, err
		}
		if r.Remote, err = parseAddrPort(f[2]); err != nil {
			return nil, err
		}
		st, err := strconv.ParseUint(f[3], 16, 8)
		if err != nil {
			return nil, fmt.Errorf("%w: socket state %q", probe.ErrFormat, f[3])
		}
		r.State = uint8(st)
		tx, rx, ok := strings.Cut(f[4], ":")
		if !ok {
			return nil, fmt.Errorf("%w: queues %q", probe.ErrFormat, f[4])
		}
		if r.TxQueue, err = strconv.ParseUint(tx, 16, 64); err != nil {
			return nil, fmt.Errorf("%w: tx_queue %q", probe.ErrFormat, tx)
		}
		if r.RxQueue, err = strconv.ParseUint(rx, 16, 64); err != nil {
			return nil, fmt.Errorf("%w: rx_queue %q", probe.ErrFormat, rx)
		}
		if r.Retransmits, err = strconv.ParseUint(f[6], 16, 64); err != nil {
			return nil, fmt.Errorf("%w: retrnsmt %q", probe.ErrFormat, f[6])
		}
		if r.Inode, err = strconv.ParseUint(f[9], 10, 64); err != nil {
			return nil, fmt.Errorf("%w: inode %q", probe.ErrFormat, f[9])
		}
		if uid, err := strconv.ParseUint(f[7], 10, 32); err == nil {
			r.UID = uint32(uid)
		}
		if len(f) == 13 { // udp: ... inode ref pointer drops
			r.Drops, _ = strconv.ParseUint(f[12], 10, 64)
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", probe.ErrFormat, err)
	}
	if first {
		return nil, fmt.Errorf("%w: empty socket table", probe.ErrFormat)
	}
	return rows, nil
}

// parseAddrPort decodes "0100007F:B270" (IPv4, network-order u32 printed
// in host order) or the 32-hex-digit IPv6 form.
func parseAddrPort(s string) (netip.AddrPort, error) {
	a, p, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("%w: address %q", probe.ErrFormat, probe.Truncate(s))
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%w: port %q", probe.ErrFormat, probe.Truncate(p))
	}
	raw, err := hex.DecodeString(a)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%w: address %q", probe.ErrFormat, probe.Truncate(a))
	}
	var addr netip.Addr
	switch len(raw) {
	case 4:
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], binary.LittleEndian.Uint32(raw))
		addr = netip.AddrFrom4(b)
	case 16:
		var b [16]byte
		for i := 0; i < 16; i += 4 {
			binary.BigEndian.PutUint32(b[i:], binary.LittleEndian.Uint32(raw[i:i+4]))
		}
		addr = netip.AddrFrom16(b).Unmap()
	default:
		return netip.AddrPort{}, fmt.Errorf("%w: address length %d", probe.ErrFormat, len(raw))
	}
	return netip.AddrPortFrom(addr, uint16(port)), nil
}

// parseSNMP6 parses "Key value" lines.
func parseSNMP6(b []byte) (map[string]int64, error) {
	out := map[string]int64{}
	err := probe.KeyValues(b, "snmp6", func(k, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("%w: snmp6 %s: %q", probe.ErrFormat, probe.Truncate(k), probe.Truncate(v))
		}
		out[k] = n
		return nil
	})
	return out, err
}
