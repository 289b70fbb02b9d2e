package sockdiag

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

// msg builds an inet_diag answer: IPv4 127.0.0.1:sport -> 127.0.0.2:dport,
// inode 99, cookie 5, and a tcp_info attribute of infoLen bytes (none if 0).
func msg(family uint8, infoLen int) []byte {
	b := make([]byte, diagMsgLen)
	b[0], b[1] = family, stateEstablished
	binary.BigEndian.PutUint16(b[4:], 41000)
	binary.BigEndian.PutUint16(b[6:], 8080)
	if family == 10 {
		copy(b[8:], netip.MustParseAddr("::1").AsSlice())
		copy(b[24:], netip.MustParseAddr("::ffff:10.0.0.7").AsSlice())
	} else {
		copy(b[8:], []byte{127, 0, 0, 1})
		copy(b[24:], []byte{127, 0, 0, 2})
	}
	binary.NativeEndian.PutUint32(b[44:], 5)
	binary.NativeEndian.PutUint32(b[56:], 11)
	binary.NativeEndian.PutUint32(b[60:], 22)
	binary.NativeEndian.PutUint32(b[64:], 1000)
	binary.NativeEndian.PutUint32(b[68:], 99)
	if infoLen == 0 {
		return b
	}
	info := make([]byte, infoLen)
	put := func(off int, v uint32) {
		if off+4 <= infoLen {
			binary.NativeEndian.PutUint32(info[off:], v)
		}
	}
	put(24, 3)    // unacked
	put(44, 120)  // last_data_sent
	put(52, 400)  // last_data_recv
	put(56, 110)  // last_ack_recv
	put(68, 1500) // rtt µs
	put(100, 7)   // total_retrans
	put(136, 60)  // segs_out
	put(140, 50)  // segs_in
	put(152, 20)  // data_segs_in
	put(156, 30)  // data_segs_out
	if infoLen >= 136 {
		binary.NativeEndian.PutUint64(info[120:], 4096) // bytes_acked
		binary.NativeEndian.PutUint64(info[128:], 8192) // bytes_received
	}
	attr := make([]byte, 4, 4+infoLen+3)
	binary.NativeEndian.PutUint16(attr[0:], uint16(4+infoLen))
	binary.NativeEndian.PutUint16(attr[2:], attrInfo)
	attr = append(attr, info...)
	for len(attr)%4 != 0 {
		attr = append(attr, 0)
	}
	return append(b, attr...)
}

func TestParseMsg(t *testing.T) {
	t.Run("ipv4 with a 6.x tcp_info", func(t *testing.T) {
		s, err := ParseMsg(msg(2, 248))
		if err != nil {
			t.Fatal(err)
		}
		want := Sock{Family: 2, State: 1, Local: netip.MustParseAddrPort("127.0.0.1:41000"), Peer: netip.MustParseAddrPort("127.0.0.2:8080"),
			Cookie: 5, RecvQueue: 11, SendQueue: 22, UID: 1000, Inode: 99, HasInfo: true, RTTMicros: 1500, Unacked: 3, TotalRetrans: 7,
			LastDataSentMS: 120, LastDataRecvMS: 400, LastAckRecvMS: 110, HasCounters: true, BytesAcked: 4096, BytesReceived: 8192,
			DataSegsOut: 30, DataSegsIn: 20, SegsOut: 60, SegsIn: 50}
		if s != want {
			t.Errorf("got  %+v\nwant %+v", s, want)
		}
	})
	t.Run("ipv6, v4-mapped peer reads as IPv4", func(t *testing.T) {
		s, err := ParseMsg(msg(10, 232))
		if err != nil || s.Local.String() != "[::1]:41000" || s.Peer.String() != "10.0.0.7:8080" {
			t.Errorf("%v %v, %v", s.Local, s.Peer, err)
		}
	})
	t.Run("a 3.x tcp_info has no counters: absent, not zero", func(t *testing.T) {
		s, err := ParseMsg(msg(2, 104))
		if err != nil || !s.HasInfo || s.HasCounters || s.LastDataSentMS != 120 {
			t.Errorf("%+v, %v", s, err)
		}
	})
	t.Run("no tcp_info attribute", func(t *testing.T) {
		s, err := ParseMsg(msg(2, 0))
		if err != nil || s.HasInfo || s.Inode != 99 {
			t.Errorf("%+v, %v", s, err)
		}
	})
	t.Run("short tcp_info is ignored", func(t *testing.T) {
		if s, err := ParseMsg(msg(2, 40)); err != nil || s.HasInfo {
			t.Errorf("%+v, %v", s, err)
		}
	})
	for name, b := range map[string][]byte{
		"shorter than inet_diag_msg": msg(2, 0)[:71],
		"unknown family":             msg(7, 0),
		"attribute longer than data": append(msg(2, 0), 0xff, 0x00, 0x02, 0x00),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseMsg(b); !errors.Is(err, probe.ErrFormat) {
				t.Errorf("error %v, want a format error", err)
			}
		})
	}
}

func TestInodeAndState(t *testing.T) {
	b := msg(2, 0)
	if ino, ok := InodeOf(b); !ok || ino != 99 {
		t.Errorf("inode %d %v", ino, ok)
	}
	if _, ok := InodeOf(b[:10]); ok {
		t.Error("inode of a short answer")
	}
	if st, ok := StateOf(b); !ok || st != stateEstablished || stateName(st) != "ESTABLISHED" || stateName(99) != "STATE_99" {
		t.Errorf("state %d %v", st, ok)
	}
}

func TestEachMessageFraming(t *testing.T) {
	frame := func(typ uint16, p []byte) []byte {
		h := make([]byte, 16)
		binary.NativeEndian.PutUint32(h, uint32(16+len(p)))
		binary.NativeEndian.PutUint16(h[4:], typ)
		return append(h, p...)
	}
	one := msg(2, 232)
	dump := append(append(frame(20, one), frame(20, one)...), frame(3, []byte{0, 0, 0, 0})...)
	n := 0
	if err := EachMessage(dump, func(p []byte) { n++ }); err != nil || n != 2 {
		t.Errorf("%d answers, %v", n, err)
	}
	for name, b := range map[string][]byte{
		"length below a header": append([]byte{4, 0, 0, 0}, make([]byte, 12)...),
		"length past the end":   frame(20, one)[:40],
		"trailing bytes":        append(frame(20, one), 1, 2, 3),
		"error message":         frame(2, make([]byte, 20)),
	} {
		t.Run(name, func(t *testing.T) {
			if err := EachMessage(b, func([]byte) {}); !errors.Is(err, ErrDumpFraming) {
				t.Errorf("error %v", err)
			}
		})
	}
}
