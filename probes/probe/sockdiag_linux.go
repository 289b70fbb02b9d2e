package probe

import (
	"encoding/binary"
	"fmt"
	"os"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// NetlinkSockDiag is the live SockDiagDialer: a NETLINK_SOCK_DIAG socket
// opened inside the namespace (the netlink library enters it with setns on
// a locked OS thread, as nsenter -n does, and leaves the rest of diagnose
// where it was).
func NetlinkSockDiag(netns string) (SockDiagConn, error) {
	// A 64 KiB receive buffer: the kernel then fills dump datagrams to it
	// (netlink_dump sizes them by the largest buffer seen), a third of the
	// per-socket cost of page-sized datagrams.
	cfg := &netlink.Config{MessageBufferSize: 64 << 10}
	if netns != "" {
		f, err := os.Open(netns)
		if err != nil {
			return nil, err
		}
		defer f.Close() // the socket stays in the namespace once created
		cfg.NetNS = int(f.Fd())
	}
	c, err := netlink.Dial(unix.NETLINK_SOCK_DIAG, cfg)
	if err != nil {
		return nil, fmt.Errorf("open sock_diag netlink socket: %w", err)
	}
	return &sockDiagConn{c: c}, nil
}

type sockDiagConn struct {
	c   *netlink.Conn
	req [60]byte
}

const (
	// inetDiagInfo is INET_DIAG_INFO, the tcp_info attribute.
	inetDiagInfo = 2
	// tcpDiagGetSock is TCPDIAG_GETSOCK, the original inet_diag request:
	// the kernel answers it for both address families in one walk of its
	// socket tables (SOCK_DIAG_BY_FAMILY walks them once per family, and a
	// walk costs about a millisecond even of an empty namespace).
	tcpDiagGetSock = 18
)

func (s *sockDiagConn) DumpTCP(states uint32, each func(payload []byte)) error {
	// struct inet_diag_req: family, src_len, dst_len, ext, a zero
	// inet_diag_sockid (a dump matches every socket), states, dbs.
	s.req[0], s.req[3] = unix.AF_INET, 1<<(inetDiagInfo-1)
	binary.NativeEndian.PutUint32(s.req[52:], states)
	_, err := s.c.Send(netlink.Message{
		Header: netlink.Header{Type: tcpDiagGetSock, Flags: netlink.Request | netlink.Dump},
		Data:   s.req[:],
	})
	if err != nil {
		return fmt.Errorf("sock_diag request: %w", err)
	}
	for m, err := range s.c.ReceiveIter() {
		if err != nil {
			return fmt.Errorf("sock_diag dump: %w", err)
		}
		each(m.Data)
	}
	return nil
}

func (s *sockDiagConn) Close() error { return s.c.Close() }
