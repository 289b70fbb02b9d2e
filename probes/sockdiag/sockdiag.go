// Package sockdiag samples the target's TCP connections across the window
// from the kernel's sock_diag netlink interface (INET_DIAG with tcp_info,
// what ss -ti reads), inside the target's network namespace, and turns them
// into what the target waits *for*: which peers it has asked and not yet
// heard from, for how long, and how long their replies took; and, on the
// connections it accepted, which clients wait on it.
//
// Sockets are mapped to the target by inode through /proc/PID/fd. A reading
// costs one dump of the namespace's TCP sockets (every state but TIME_WAIT
// and request minisocks) and, at most every rescanEvery, a re-read of the
// target's descriptors. Only the target's answers and listeners are parsed;
// the reading rate adapts to the namespace's size (see NextRead).
package sockdiag

import (
	"errors"
	"net/netip"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

const (
	// budgetShare is the share of one CPU the readings may cost: after
	// each reading the next waits its cost divided by this share (the
	// time the reading took, nearly all of it system time in /proc and
	// netlink). A dump walks every TCP socket of the namespace, so a big
	// namespace is read less often; its timestamps keep the accounting
	// exact between readings.
	budgetShare = 0.012
	// minInterval is the fastest reading rate, for small namespaces.
	minInterval = 20 * time.Millisecond
	// recheckEvery: sockets a dump did not show (Unix sockets, or a TCP
	// socket not yet connected, which no table holds) are looked for again.
	recheckEvery = time.Second
	// The descriptors are re-read every rescanPerFD per descriptor, between
	// rescanMin and rescanEvery apart: a connection found late is still
	// credited from its kernel timestamps, only one that closed unseen is
	// missed.
	rescanMin   = 100 * time.Millisecond
	rescanEvery = 250 * time.Millisecond
	rescanPerFD = 250 * time.Microsecond
	// maxConns bounds the connections tracked.
	maxConns = 20000
	// maxListeners bounds the namespace's listeners kept to name local peers.
	maxListeners = 4096
	// maxOwnerLinks bounds the descriptor links read to name one local peer.
	maxOwnerLinks = 50000
	// topPeers and topConns are how many peers and connections are listed.
	topPeers = 10
	topConns = 20
)

// Peer is a remote address:port the target talks to, over the window.
type Peer struct {
	Addr             string  `expr:"addr" json:"addr" doc:"the peer's address:port"`
	Outbound         bool    `expr:"outbound" json:"outbound" doc:"the target connected to this peer (false: the peer connected to one of the target's listeners)"`
	Connections      int     `expr:"connections" json:"connections" doc:"connections to or from this peer seen over the window"`
	AwaitingAvg      float64 `expr:"awaiting_avg" json:"awaiting_avg" doc:"outbound: connections to this peer with a request awaiting its reply, on average; inbound: connections whose request awaits the target's reply"`
	Replies          int     `expr:"replies" json:"replies" doc:"replies observed (request sent, then data back; inbound: the target's replies to this client); at most one per connection per reading"`
	ResponseP50MS    float64 `expr:"response_p50_ms" json:"response_p50_ms" doc:"median response time (request sent to reply data received, kernel timestamps at jiffy resolution; inbound: the target's own), ms; 0 without replies"`
	ResponseMaxMS    float64 `expr:"response_max_ms" json:"response_max_ms" doc:"longest response time observed, ms"`
	OutstandingMaxMS float64 `expr:"outstanding_max_ms" json:"outstanding_max_ms" doc:"age of the oldest request still unanswered at the last reading, ms (a stalled peer has no replies but this)"`
	BytesSent        uint64  `expr:"bytes_sent" json:"bytes_sent" doc:"payload bytes the target sent that the peer acknowledged over the window"`
	BytesReceived    uint64  `expr:"bytes_received" json:"bytes_received" doc:"payload bytes received from the peer over the window"`
	Retransmits      uint64  `expr:"retransmits" json:"retransmits" doc:"segments retransmitted to the peer over the window"`
	RTTMS            float64 `expr:"rtt_ms" json:"rtt_ms" doc:"largest smoothed round-trip time of its connections at the last reading, ms (network latency, without the peer's think time)"`
	ConnectingAvg    float64 `expr:"connecting_avg" json:"connecting_avg" doc:"connections to this peer in SYN_SENT, on average"`
	LocalPID         int     `expr:"local_pid" json:"local_pid" doc:"the process on this host listening on the peer's address (0 when the peer is remote or its owner cannot be seen)"`
	LocalComm        string  `expr:"local_comm" json:"local_comm" doc:"that process's command name"`
	PIDs             []int   `expr:"pids" json:"pids" doc:"the target's processes holding connections to or from this peer (for a container, which of its processes wait on it)"`
}

// Connection is one TCP connection of the target over the window (what
// ss -ti shows of it, plus what the window made of it).
type Connection struct {
	PID           int     `expr:"pid" json:"pid" doc:"the target's process holding it"`
	Outbound      bool    `expr:"outbound" json:"outbound" doc:"the target opened it (false: accepted from one of its listeners)"`
	Local         string  `expr:"local" json:"local" doc:"local address:port"`
	Peer          string  `expr:"peer" json:"peer" doc:"remote address:port"`
	State         string  `expr:"state" json:"state" doc:"TCP state at its last dump (ESTABLISHED, SYN_SENT, CLOSE_WAIT ...)"`
	Ended         bool    `expr:"ended" json:"ended" doc:"gone before the last dump (closed during the window)"`
	AwaitingReply bool    `expr:"awaiting_reply" json:"awaiting_reply" doc:"at its last dump, data was sent since the last data received (outbound: a request without its reply; inbound: a client's request the target has not answered)"`
	WaitedS       float64 `expr:"waited_s" json:"waited_s" doc:"seconds of the window spent awaiting a reply (outbound) or the target's answer (inbound)"`
	Replies       int     `expr:"replies" json:"replies" doc:"replies observed over the window"`
	LastSendAgoMS float64 `expr:"last_send_ago_ms" json:"last_send_ago_ms" doc:"time since the target last sent data on it, at its last dump, ms"`
	LastRecvAgoMS float64 `expr:"last_recv_ago_ms" json:"last_recv_ago_ms" doc:"time since the target last received data on it, at its last dump, ms"`
	RTTMS         float64 `expr:"rtt_ms" json:"rtt_ms" doc:"smoothed round-trip time at its last dump, ms"`
	Unacked       int     `expr:"unacked" json:"unacked" doc:"segments sent and not yet acknowledged, at its last dump"`
	Retransmits   uint64  `expr:"retransmits" json:"retransmits" doc:"segments retransmitted over the window"`
	BytesSent     uint64  `expr:"bytes_sent" json:"bytes_sent" doc:"payload bytes sent and acknowledged over the window"`
	BytesReceived uint64  `expr:"bytes_received" json:"bytes_received" doc:"payload bytes received over the window"`
}

// Facts is the target's TCP connections over the window.
type Facts struct {
	Samples          int     `expr:"samples" json:"samples" doc:"socket dumps taken over the window"`
	SampleHz         float64 `expr:"sample_hz" json:"sample_hz" doc:"dumps per second (adapts to the number of sockets in the namespace)"`
	NamespaceSockets int     `expr:"namespace_sockets" json:"namespace_sockets" doc:"TCP sockets in the target's network namespace at the last dump (TIME_WAIT excluded)"`

	Outbound  int `expr:"outbound" json:"outbound" doc:"connections the target opened, seen over the window"`
	Inbound   int `expr:"inbound" json:"inbound" doc:"connections the target accepted from its listeners, seen over the window"`
	Listeners int `expr:"listeners" json:"listeners" doc:"the target's listening sockets"`

	AwaitingReplyAvg float64 `expr:"awaiting_reply_avg" json:"awaiting_reply_avg" doc:"outbound connections with a request awaiting the peer's reply, on average over the window (comparable to a thread count; whatever syscall the threads wait in)"`
	AwaitingReplyMax int     `expr:"awaiting_reply_max" json:"awaiting_reply_max" doc:"most outbound connections awaiting a reply at one dump"`
	Replies          int     `expr:"replies" json:"replies" doc:"replies observed on outbound connections"`
	ResponseP50MS    float64 `expr:"response_p50_ms" json:"response_p50_ms" doc:"median response time over all outbound peers, ms"`
	ResponseMaxMS    float64 `expr:"response_max_ms" json:"response_max_ms" doc:"longest response time observed on outbound connections, ms"`
	ConnectsPerS     float64 `expr:"connects_per_s" json:"connects_per_s" doc:"outbound connections opened per second (those that lived until a dump)"`
	ConnectingAvg    float64 `expr:"connecting_avg" json:"connecting_avg" doc:"outbound connections in SYN_SENT on average: time spent connecting"`
	OneWay           int     `expr:"one_way" json:"one_way" doc:"outbound connections that kept sending without any reply (streams, uploads): not counted as awaiting"`
	Retransmits      uint64  `expr:"retransmits" json:"retransmits" doc:"segments the target's connections retransmitted over the window"`

	InboundPendingAvg float64 `expr:"inbound_pending_avg" json:"inbound_pending_avg" doc:"accepted connections whose client's request awaits the target's reply, on average (a server waiting for its client's next request is idle, not counted)"`
	AcceptQueueAvg    float64 `expr:"accept_queue_avg" json:"accept_queue_avg" doc:"connections waiting in the target's accept queues, on average"`
	AcceptQueueMax    int     `expr:"accept_queue_max" json:"accept_queue_max" doc:"longest accept queue at one dump"`

	Peers       []Peer       `expr:"peers" json:"peers" doc:"up to 10 peers, most awaited first (outbound before inbound at equal waits)"`
	Connections []Connection `expr:"connections" json:"connections" doc:"up to 20 connections, longest wait first (outbound before inbound at equal waits)"`
	TopPeer     Peer         `expr:"top_peer" json:"top_peer" doc:"the outbound peer the target waited on most (empty addr when none)"`
}

type listener struct {
	addr  netip.AddrPort
	inode uint64
	uid   uint32
}

type reader struct {
	pid     int
	pids    []int // every process of the target (a container's), pid first
	conn    probe.SockDiagConn
	err     error // why no dump could be taken
	stopped bool  // no further readings: nothing to read, or the process ended

	inodes    map[uint64]int  // socket inode -> the target process holding it
	notTCP    map[uint64]bool // the target's sockets the last dump did not show
	dumpedAt  time.Time
	fds       int
	scannedAt time.Time

	firstAt, lastAt time.Time
	samples         int
	next            time.Time
	nsSockets       int
	dumpFailures    int
	naming          time.Duration // spent naming local peers in this reading
	parseErrors     int
	noCounters      bool

	conns     map[uint64]*conn // by socket cookie
	targetLn  map[netip.AddrPort]bool
	listeners map[uint16][]listener // the namespace's, by port
	owners    map[uint64]Owner      // listener inode -> process
	awaitMax  int
	acceptSum float64
	acceptMax int

	batch []Sock // the target's answers of the current dump
}

// New returns a reader for t.PID.
func New(t probe.Target, _ probe.Options) probe.Reader {
	return &reader{pid: t.PID, pids: t.Processes(), conns: map[uint64]*conn{}, notTCP: map[uint64]bool{}, targetLn: map[netip.AddrPort]bool{},
		listeners: map[uint16][]listener{}, owners: map[uint64]Owner{}}
}

// NextRead keeps the readings within budgetShare of a CPU.
func (r *reader) NextRead() time.Time { return r.next }

var (
	errNoNetlink      = errors.New("socket dumps need the live kernel's sock_diag netlink interface, which this run may not open (a recorded --root tree)")
	errNotNamespace   = errors.New("not a network namespace")
	errEnterNamespace = errors.New("cannot enter the target's network namespace")
)
