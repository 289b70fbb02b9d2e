package sockdiag

// Pure parsers for sock_diag answers (linux/inet_diag.h, linux/tcp.h). An
// answer is a struct inet_diag_msg (72 bytes) followed by netlink
// attributes; INET_DIAG_INFO carries struct tcp_info, whose length grows
// with the kernel (104 bytes in 3.x, 232 in 5.x, 248+ in 6.x): fields past
// its end are reported as absent, never as zero.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/mdlayher/netlink"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

// TCP states (include/net/tcp_states.h) and the dump's state mask.
const (
	stateEstablished = 1
	stateSynSent     = 2
	stateTimeWait    = 6
	stateListen      = 10
	stateNewSynRecv  = 12
)

// DumpStates asks for every state but TIME_WAIT and the request minisocks
// (SYN_RECV, NEW_SYN_RECV): those belong to no process's descriptor.
const DumpStates = 0xfff &^ (1<<stateTimeWait | 1<<3 | 1<<stateNewSynRecv)

var stateNames = [...]string{1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2",
	6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING", 12: "NEW_SYN_RECV"}

func stateName(s uint8) string {
	if int(s) < len(stateNames) && stateNames[s] != "" {
		return stateNames[s]
	}
	return fmt.Sprintf("STATE_%d", s)
}

const (
	diagMsgLen   = 72
	attrInfo     = 2 // INET_DIAG_INFO
	tcpInfoBase  = 104
	offBytesRecv = 128 // tcpi_bytes_received (Linux 4.1)
	offDataSegs  = 160 // end of tcpi_data_segs_out (Linux 4.6)
)

// Sock is one answer: the socket's identity, queues and, for TCP sockets
// that have it, the tcp_info fields diagnose uses.
type Sock struct {
	Family       uint8
	State        uint8
	Local, Peer  netip.AddrPort
	Cookie       uint64
	RecvQueue    uint32 // idiag_rqueue: unread bytes; LISTEN: connections waiting to be accepted
	SendQueue    uint32 // idiag_wqueue: unacknowledged bytes; LISTEN: the backlog
	UID          uint32
	Inode        uint64
	HasInfo      bool
	RTTMicros    uint32 // smoothed round-trip time
	Unacked      uint32 // segments in flight
	TotalRetrans uint32 // segments retransmitted over the connection's life
	// Milliseconds since the last data was sent / received: with the time
	// of the dump, when a request left and when its reply came back.
	LastDataSentMS, LastDataRecvMS uint32
	// LastAckRecvMS: milliseconds since the last ACK from the peer. A pure
	// ACK after its last data means the peer acknowledged data sent after
	// it: a request sent in the same jiffy as the previous reply.
	LastAckRecvMS             uint32
	HasCounters               bool   // the counters below are present (Linux 4.6+)
	BytesAcked, BytesReceived uint64 // payload bytes acknowledged by the peer / received
	DataSegsOut, DataSegsIn   uint32 // segments that carried data
	SegsOut, SegsIn           uint32 // all segments, pure ACKs included
}

var errShort = fmt.Errorf("%w: sock_diag answer shorter than struct inet_diag_msg", probe.ErrFormat)

// InodeOf returns an answer's socket inode without parsing the rest, so
// the sockets of other processes cost one load each.
func InodeOf(b []byte) (uint64, bool) {
	if len(b) < diagMsgLen {
		return 0, false
	}
	return uint64(binary.NativeEndian.Uint32(b[68:])), true
}

// StateOf returns an answer's TCP state.
func StateOf(b []byte) (uint8, bool) {
	if len(b) < diagMsgLen {
		return 0, false
	}
	return b[1], true
}

// ParseMsg parses one inet_diag answer.
func ParseMsg(b []byte) (Sock, error) {
	var s Sock
	if len(b) < diagMsgLen {
		return s, errShort
	}
	s.Family, s.State = b[0], b[1]
	sport, dport := binary.BigEndian.Uint16(b[4:]), binary.BigEndian.Uint16(b[6:])
	switch s.Family {
	case 2: // AF_INET
		s.Local = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[8:12])), sport)
		s.Peer = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[24:28])), dport)
	case 10: // AF_INET6; v4-mapped peers read as IPv4
		s.Local = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[8:24])).Unmap(), sport)
		s.Peer = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[24:40])).Unmap(), dport)
	default:
		return s, fmt.Errorf("%w: sock_diag answer of address family %d", probe.ErrFormat, s.Family)
	}
	s.Cookie = uint64(binary.NativeEndian.Uint32(b[44:])) | uint64(binary.NativeEndian.Uint32(b[48:]))<<32
	s.RecvQueue = binary.NativeEndian.Uint32(b[56:])
	s.SendQueue = binary.NativeEndian.Uint32(b[60:])
	s.UID = binary.NativeEndian.Uint32(b[64:])
	s.Inode = uint64(binary.NativeEndian.Uint32(b[68:]))
	ad, err := netlink.NewAttributeDecoder(b[diagMsgLen:])
	if err != nil {
		return s, fmt.Errorf("%w: sock_diag attributes: %v", probe.ErrFormat, err)
	}
	for ad.Next() {
		if ad.Type() == attrInfo {
			parseTCPInfo(&s, ad.Bytes())
		}
	}
	if err := ad.Err(); err != nil {
		return s, fmt.Errorf("%w: sock_diag attributes: %v", probe.ErrFormat, err)
	}
	return s, nil
}

// parseTCPInfo reads struct tcp_info; a kernel older than the fields
// leaves HasInfo or HasCounters false.
func parseTCPInfo(s *Sock, t []byte) {
	if len(t) < tcpInfoBase {
		return
	}
	u32 := func(off int) uint32 { return binary.NativeEndian.Uint32(t[off:]) }
	s.HasInfo = true
	s.Unacked = u32(24)
	s.LastDataSentMS = u32(44)
	s.LastDataRecvMS = u32(52)
	s.LastAckRecvMS = u32(56)
	s.RTTMicros = u32(68)
	s.TotalRetrans = u32(100)
	if len(t) >= offDataSegs {
		s.HasCounters = true
		s.BytesAcked = binary.NativeEndian.Uint64(t[120:])
		s.BytesReceived = binary.NativeEndian.Uint64(t[offBytesRecv:])
		s.SegsOut = u32(136)
		s.SegsIn = u32(140)
		s.DataSegsIn = u32(152)
		s.DataSegsOut = u32(156)
	}
}

// ErrDumpFraming is returned for a recorded dump whose netlink framing is broken.
var ErrDumpFraming = errors.New("sock_diag dump: broken netlink framing")

// EachMessage splits a recorded dump (netlink messages as the kernel sent
// them, headers included) and calls each with every payload up to NLMSG_DONE.
func EachMessage(b []byte, each func(payload []byte)) error {
	for len(b) > 0 {
		if len(b) < 16 {
			return fmt.Errorf("%w: %d trailing bytes", ErrDumpFraming, len(b))
		}
		n := int(binary.NativeEndian.Uint32(b))
		aligned := (n + 3) &^ 3
		if n < 16 || aligned > len(b) {
			return fmt.Errorf("%w: message length %d of %d bytes left", ErrDumpFraming, n, len(b))
		}
		var m netlink.Message
		if err := m.UnmarshalBinary(b[:aligned]); err != nil {
			return fmt.Errorf("%w: %v", ErrDumpFraming, err)
		}
		switch m.Header.Type {
		case netlink.Done:
			return nil
		case netlink.Error:
			return fmt.Errorf("%w: the recorded dump ends in an error message", ErrDumpFraming)
		}
		each(m.Data)
		b = b[aligned:]
	}
	return nil
}
