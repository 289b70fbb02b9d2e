// Package netstat reads the network side of a slow process: the target's
// own sockets (through /proc/PID/fd -> socket:[inode] -> /proc/PID/net/tcp,
// tcp6, udp, udp6, in the target's network namespace), TCP retransmits,
// listen-queue overflows and UDP buffer errors over the window (from
// /proc/PID/net/snmp, netstat and snmp6, or /proc/net/... without a target),
// and the socket-buffer limits net.core.rmem_max / wmem_max / somaxconn.
package netstat

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

// maxSockets bounds the listed sockets (counts and sums cover all).
const maxSockets = 100

// Socket is one socket of the target process at the start of the window.
type Socket struct {
	PID            int    `expr:"pid" json:"pid" doc:"the target's process holding it (for a container, one of its processes)"`
	FD             int    `expr:"fd" json:"fd" doc:"file descriptor number in that process"`
	Proto          string `expr:"proto" json:"proto" doc:"tcp, tcp6, udp or udp6"`
	State          string `expr:"state" json:"state" doc:"TCP state (ESTABLISHED, LISTEN, SYN_SENT ...); CLOSE for unconnected UDP"`
	Local          string `expr:"local" json:"local" doc:"local address:port"`
	Peer           string `expr:"peer" json:"peer" doc:"remote address:port (0.0.0.0:0 when none)"`
	SendQueueBytes uint64 `expr:"send_queue_bytes" json:"send_queue_bytes" doc:"bytes sent but not acknowledged or not yet sent (tx_queue)"`
	RecvQueueBytes uint64 `expr:"recv_queue_bytes" json:"recv_queue_bytes" doc:"bytes received but not read by the process (rx_queue); for LISTEN: connections waiting in the accept queue"`
	Retransmits    uint64 `expr:"retransmits" json:"retransmits" doc:"current retransmit count of this socket"`
	Drops          uint64 `expr:"drops" json:"drops" doc:"datagrams dropped on this UDP socket since it was created"`
}

// Facts is the target's sockets and the network counters of its namespace.
type Facts struct {
	Sockets          []Socket `expr:"sockets" json:"sockets" doc:"the target's TCP/UDP sockets at the start of the window (at most 100 listed; tcp.* follows them across it)"`
	SocketCount      int      `expr:"socket_count" json:"socket_count" doc:"TCP and UDP sockets the target has open"`
	TCPEstablished   int      `expr:"tcp_established" json:"tcp_established" doc:"target's TCP sockets in ESTABLISHED"`
	TCPListen        int      `expr:"tcp_listen" json:"tcp_listen" doc:"target's listening TCP sockets"`
	TCPSynSent       int      `expr:"tcp_syn_sent" json:"tcp_syn_sent" doc:"target's TCP sockets still connecting (SYN_SENT): peer unreachable or slow"`
	TCPCloseWait     int      `expr:"tcp_close_wait" json:"tcp_close_wait" doc:"target's TCP sockets in CLOSE_WAIT (peer closed, the process has not)"`
	SendQueueBytes   uint64   `expr:"send_queue_bytes" json:"send_queue_bytes" doc:"bytes queued for sending or unacknowledged, summed over the target's connected TCP sockets"`
	RecvQueueBytes   uint64   `expr:"recv_queue_bytes" json:"recv_queue_bytes" doc:"bytes received but not yet read, summed over the target's connected sockets"`
	AcceptQueueMax   uint64   `expr:"accept_queue_max" json:"accept_queue_max" doc:"longest current accept queue among the target's listeners (connections not yet accepted)"`
	SocketRetransmit uint64   `expr:"socket_retransmits" json:"socket_retransmits" doc:"current retransmit counts summed over the target's TCP sockets"`

	TCPOutSegsPerS      float64 `expr:"tcp_out_segs_per_s" json:"tcp_out_segs_per_s" doc:"TCP segments sent per second (namespace-wide)"`
	TCPRetransPerS      float64 `expr:"tcp_retrans_per_s" json:"tcp_retrans_per_s" doc:"TCP segments retransmitted per second (namespace-wide)"`
	TCPRetransPct       float64 `expr:"tcp_retrans_pct" json:"tcp_retrans_pct" doc:"retransmitted / sent TCP segments over the window, 0-100 (0 when nothing was sent)"`
	TCPTimeoutsPerS     float64 `expr:"tcp_timeouts_per_s" json:"tcp_timeouts_per_s" doc:"TCP retransmission timeouts per second"`
	TCPSynRetransPerS   float64 `expr:"tcp_syn_retrans_per_s" json:"tcp_syn_retrans_per_s" doc:"SYN retransmits per second (connects not answered)"`
	ListenOverflowsPerS float64 `expr:"listen_overflows_per_s" json:"listen_overflows_per_s" doc:"connections dropped because an accept queue was full, per second"`
	ListenDropsPerS     float64 `expr:"listen_drops_per_s" json:"listen_drops_per_s" doc:"connection requests dropped at listen sockets per second"`
	UDPRcvbufErrorsPerS float64 `expr:"udp_rcvbuf_errors_per_s" json:"udp_rcvbuf_errors_per_s" doc:"UDP datagrams dropped because a receive buffer was full, per second (IPv4+IPv6)"`
	UDPSndbufErrorsPerS float64 `expr:"udp_sndbuf_errors_per_s" json:"udp_sndbuf_errors_per_s" doc:"UDP send-buffer errors per second (IPv4+IPv6)"`
	UDPInErrorsPerS     float64 `expr:"udp_in_errors_per_s" json:"udp_in_errors_per_s" doc:"UDP receive errors per second (IPv4+IPv6)"`

	RmemMaxBytes uint64 `expr:"rmem_max_bytes" json:"rmem_max_bytes" doc:"net.core.rmem_max: largest receive buffer SO_RCVBUF may set"`
	WmemMaxBytes uint64 `expr:"wmem_max_bytes" json:"wmem_max_bytes" doc:"net.core.wmem_max: largest send buffer SO_SNDBUF may set"`
	Somaxconn    uint64 `expr:"somaxconn" json:"somaxconn" doc:"net.core.somaxconn: cap on listen backlogs"`
}

type counters struct {
	at   time.Time
	snmp map[string]int64 // "Tcp.RetransSegs", "TcpExt.ListenOverflows", "Udp6RcvbufErrors"
}

type reader struct {
	pid         int
	pids        []int // every process of the target, pid first
	first, last *counters
	counterErr  error
	sockets     []Socket
	sum         Facts // socket summary of the first good reading
	sockErr     error
	sockOK      bool
	sockTried   bool
	sysctlRead  bool
	sysctl      [3]uint64
	sysctlErr   [3]error
}

// New returns a reader; with t.PID 0 only the namespace counters are read.
func New(t probe.Target, _ probe.Options) probe.Reader {
	return &reader{pid: t.PID, pids: t.Processes()}
}

func (r *reader) netDir() []string {
	if r.pid > 0 {
		return []string{"proc", strconv.Itoa(r.pid), "net"}
	}
	return []string{"proc", "net"}
}

func (r *reader) Read(ctx context.Context, h probe.Host) {
	if !r.sysctlRead {
		r.sysctlRead = true
		for i, k := range []string{"rmem_max", "wmem_max", "somaxconn"} {
			b, err := h.ReadFile("proc", "sys", "net", "core", k)
			if err == nil {
				r.sysctl[i], err = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
			}
			r.sysctlErr[i] = err
		}
	}
	c, err := r.readCounters(h)
	if err != nil {
		if r.first == nil {
			r.counterErr = err
		}
	} else {
		if r.first == nil {
			r.first = c
		}
		r.last = c
	}
	// The tables are read once, at the start, whatever the outcome: the
	// kernel generates them by walking all its socket tables, which at the
	// end of the window would delay the verdict on a busy host; the tcp
	// probe follows the connections across the window.
	if r.pid > 0 && !r.sockTried {
		r.sockTried = true
		socks, sum, err := r.readSockets(h)
		if err != nil {
			if !r.sockOK {
				r.sockErr = err
			}
			return
		}
		r.sockets, r.sum, r.sockOK, r.sockErr = socks, sum, true, nil
	}
}

func (r *reader) readCounters(h probe.Host) (*counters, error) {
	dir := r.netDir()
	c := &counters{at: h.Now, snmp: map[string]int64{}}
	for _, name := range []string{"snmp", "netstat"} {
		b, err := h.ReadFile(append(dir, name)...)
		if err != nil {
			return nil, err
		}
		m, err := probe.HeaderValues(b, "/"+path.Join(append(dir, name)...))
		if err != nil {
			return nil, err
		}
		for k, v := range m {
			c.snmp[k] = v
		}
	}
	if b, err := h.ReadFile(append(dir, "snmp6")...); err == nil { // absent without IPv6
		if m, err := parseSNMP6(b); err == nil {
			for k, v := range m {
				c.snmp[k] = v
			}
		}
	}
	return c, nil
}

func (r *reader) readSockets(h probe.Host) ([]Socket, Facts, error) {
	pid := strconv.Itoa(r.pid)
	var sum Facts
	type holder struct{ pid, fd int }
	inodes := map[uint64]holder{}
	read := 0
	var fdErr error
	for _, p := range r.pids {
		ps := strconv.Itoa(p)
		names, err := h.DirNames(probe.MaxFDs, "proc", ps, "fd")
		if err != nil {
			fdErr = cmp.Or(fdErr, err)
			continue
		}
		read++
		for _, n := range names {
			fd, err := strconv.Atoi(n)
			if err != nil {
				continue
			}
			if link, err := h.Readlink("proc", ps, "fd", n); err == nil {
				if ino, ok := probe.SocketInode(link); ok {
					inodes[ino] = holder{p, fd}
				}
			}
		}
	}
	if read == 0 {
		return nil, sum, fdErr
	}
	var socks []Socket
	var tableErr error
	for _, proto := range []string{"tcp", "tcp6", "udp", "udp6"} {
		if len(inodes) == 0 {
			break
		}
		b, err := h.ReadFile("proc", pid, "net", proto)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) || proto == "tcp" {
				tableErr = errors.Join(tableErr, err)
			}
			continue
		}
		rows, err := parseSockets(b)
		if err != nil {
			tableErr = errors.Join(tableErr, fmt.Errorf("%s: %w", proto, err))
			continue
		}
		tcp := strings.HasPrefix(proto, "tcp")
		for _, row := range rows {
			at, ok := inodes[row.Inode]
			if !ok || row.Inode == 0 {
				continue
			}
			delete(inodes, row.Inode)
			s := Socket{PID: at.pid, FD: at.fd, Proto: proto, Local: row.Local.String(), Peer: row.Remote.String(),
				SendQueueBytes: row.TxQueue, RecvQueueBytes: row.RxQueue, Retransmits: row.Retransmits, Drops: row.Drops}
			if tcp {
				s.State = stateName(row.State)
			} else if row.State == 1 {
				s.State = "ESTABLISHED"
			} else {
				s.State = "CLOSE"
			}
			socks = append(socks, s)
			sum.SocketCount++
			switch {
			case tcp && row.State == 10:
				sum.TCPListen++
				sum.AcceptQueueMax = max(sum.AcceptQueueMax, row.RxQueue)
				continue
			case tcp && row.State == 1:
				sum.TCPEstablished++
			case tcp && row.State == 2:
				sum.TCPSynSent++
			case tcp && row.State == 8:
				sum.TCPCloseWait++
			}
			if tcp {
				sum.SendQueueBytes += row.TxQueue
				sum.SocketRetransmit += row.Retransmits
			}
			sum.RecvQueueBytes += row.RxQueue
		}
	}
	if tableErr != nil && len(socks) == 0 {
		return nil, sum, tableErr
	}
	sort.Slice(socks, func(i, j int) bool { return socks[i].FD < socks[j].FD })
	if len(socks) > maxSockets {
		socks = socks[:maxSockets]
	}
	return socks, sum, nil
}

var rateFields = []string{"tcp_out_segs_per_s", "tcp_retrans_per_s", "tcp_retrans_pct", "tcp_timeouts_per_s",
	"tcp_syn_retrans_per_s", "listen_overflows_per_s", "listen_drops_per_s", "udp_rcvbuf_errors_per_s",
	"udp_sndbuf_errors_per_s", "udp_in_errors_per_s"}

var socketFields = []string{"sockets", "socket_count", "tcp_established", "tcp_listen", "tcp_syn_sent",
	"tcp_close_wait", "send_queue_bytes", "recv_queue_bytes", "accept_queue_max", "socket_retransmits"}

func (r *reader) Finish() (any, probe.Statuses) {
	st := probe.Statuses{"": {State: probe.OK}}
	var f Facts
	// Sockets.
	switch {
	case r.pid <= 0:
		s := probe.Status{State: probe.Unavailable, Reason: "no target process", Fix: "pass --pid"}
		for _, k := range socketFields {
			st[k] = s
		}
	case !r.sockOK:
		s := probe.StatusOf(r.sockErr, fmt.Sprintf("sockets of process %d", r.pid))
		if errors.Is(r.sockErr, os.ErrNotExist) {
			s = probe.Status{State: probe.Unavailable, Reason: fmt.Sprintf("process %d does not exist", r.pid)}
		}
		for _, k := range socketFields {
			st[k] = s
		}
	default:
		f = r.sum
		f.Sockets = r.sockets
		if f.Sockets == nil {
			f.Sockets = []Socket{}
		}
	}
	// Counters.
	switch {
	case r.first == nil:
		s := probe.StatusOf(r.counterErr, "network counters")
		if r.pid > 0 && errors.Is(r.counterErr, os.ErrNotExist) {
			s = probe.Status{State: probe.Unavailable, Reason: fmt.Sprintf("process %d does not exist", r.pid)}
		}
		for _, k := range rateFields {
			st[k] = s
		}
	case r.first == r.last || !r.last.at.After(r.first.at):
		for _, k := range rateFields {
			st[k] = probe.Status{State: probe.Unavailable, Reason: "only one reading of the network counters"}
		}
	default:
		dt := r.last.at.Sub(r.first.at).Seconds()
		d := func(keys ...string) (float64, bool) {
			var sum float64
			found := false
			for _, k := range keys {
				a, ok1 := r.first.snmp[k]
				b, ok2 := r.last.snmp[k]
				if ok1 && ok2 {
					found = true
					if b > a {
						sum += float64(b - a)
					}
				}
			}
			return sum, found
		}
		set := func(field string, dst *float64, keys ...string) {
			v, ok := d(keys...)
			if !ok {
				st[field] = probe.Status{State: probe.Unavailable, Reason: "counter " + strings.Join(keys, "/") + " not in /proc/net/snmp or netstat"}
				return
			}
			*dst = v / dt
		}
		set("tcp_out_segs_per_s", &f.TCPOutSegsPerS, "Tcp.OutSegs")
		set("tcp_retrans_per_s", &f.TCPRetransPerS, "Tcp.RetransSegs")
		if out, ok := d("Tcp.OutSegs"); ok && out > 0 {
			re, _ := d("Tcp.RetransSegs")
			f.TCPRetransPct = re / out * 100
		}
		set("tcp_timeouts_per_s", &f.TCPTimeoutsPerS, "TcpExt.TCPTimeouts")
		set("tcp_syn_retrans_per_s", &f.TCPSynRetransPerS, "TcpExt.TCPSynRetrans")
		set("listen_overflows_per_s", &f.ListenOverflowsPerS, "TcpExt.ListenOverflows")
		set("listen_drops_per_s", &f.ListenDropsPerS, "TcpExt.ListenDrops")
		set("udp_rcvbuf_errors_per_s", &f.UDPRcvbufErrorsPerS, "Udp.RcvbufErrors", "Udp6RcvbufErrors")
		set("udp_sndbuf_errors_per_s", &f.UDPSndbufErrorsPerS, "Udp.SndbufErrors", "Udp6SndbufErrors")
		set("udp_in_errors_per_s", &f.UDPInErrorsPerS, "Udp.InErrors", "Udp6InErrors")
	}
	for i, k := range []string{"rmem_max_bytes", "wmem_max_bytes", "somaxconn"} {
		if r.sysctlErr[i] != nil || !r.sysctlRead {
			st[k] = probe.StatusOf(r.sysctlErr[i], "net.core sysctl")
		}
	}
	f.RmemMaxBytes, f.WmemMaxBytes, f.Somaxconn = r.sysctl[0], r.sysctl[1], r.sysctl[2]
	return f, st
}
