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
	cfg := &netlink.Config{}
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
	req [56]byte
}

// inetDiagInfo is INET_DIAG_INFO, the tcp_info attribute.
const inetDiagInfo = 2

func (s *sockDiagConn) DumpTCP(family uint8, states uint32, each func(payload []byte)) error {
	// struct inet_diag_req_v2: family, protocol, ext, pad, states, then a
	// zero inet_diag_sockid (a dump matches every socket).
	s.req[0], s.req[1], s.req[2] = family, unix.IPPROTO_TCP, 1<<(inetDiagInfo-1)
	binary.NativeEndian.PutUint32(s.req[4:], states)
	_, err := s.c.Send(netlink.Message{
		Header: netlink.Header{Type: unix.SOCK_DIAG_BY_FAMILY, Flags: netlink.Request | netlink.Dump},
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
