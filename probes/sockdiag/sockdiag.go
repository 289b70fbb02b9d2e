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
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
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

// Owner is the process holding a listener.
type Owner struct {
	PID  int
	Comm string
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

// Read takes a reading whenever the sampler asks (at the start and end of
// the window always, in between as NextRead paces it).
func (r *reader) Read(ctx context.Context, h probe.Host) {
	if r.pid <= 0 || r.stopped {
		return
	}
	// The reading's CPU cost paces the next one: CPU, not wall time, which
	// grows when other work holds the CPUs and would starve the sampling
	// (naming a local peer is a one-time scan of other processes, not a cost
	// of every reading).
	meter := probe.StartCPU()
	r.naming = 0
	defer func() {
		cost := meter.Elapsed() - r.naming
		meter.Stop()
		r.next = h.Now.Add(max(minInterval, time.Duration(float64(cost)/budgetShare)))
	}()
	if r.conn == nil {
		if r.err = r.open(h); r.err != nil {
			r.stopped = true
			return
		}
	}
	if r.samples == 0 || h.Now.Sub(r.scannedAt) >= min(rescanEvery, max(rescanMin, time.Duration(r.fds)*rescanPerFD)) {
		if err := r.scanFDs(h); err != nil {
			// Before the first dump: no facts; after: the process ended.
			r.stopped = true
			if r.samples == 0 {
				r.err = err
			}
			return
		}
		r.scannedAt = h.Now
	}
	answers := r.nsSockets
	if r.samples == 0 || r.unknownInode() || h.Now.Sub(r.dumpedAt) >= recheckEvery {
		var err error
		r.dumpedAt = h.Now
		if answers, err = r.dump(); err != nil {
			r.dumpFailures++
			if r.samples == 0 {
				r.err, r.stopped = err, true
			}
			return
		}
	} else {
		r.batch = r.batch[:0]
	}
	since := r.lastAt
	if r.samples == 0 {
		r.firstAt, since = h.Now, h.Now
	}
	r.take(h, since)
	r.samples++
	r.lastAt = h.Now
	r.nsSockets = answers
}

// unknownInode says whether the target has a socket that the last dumps
// did not show to be something else than TCP (a Unix socket, a pipe's
// peer): a process without TCP sockets costs a dump every recheckEvery.
func (r *reader) unknownInode() bool {
	for ino := range r.inodes {
		if !r.notTCP[ino] {
			return true
		}
	}
	return false
}

// open connects to sock_diag in the target's network namespace.
func (r *reader) open(h probe.Host) error {
	if h.SockDiag == nil {
		return errNoNetlink
	}
	pid := strconv.Itoa(r.pid)
	theirs, err := h.Readlink("proc", pid, "ns", "net")
	if err != nil {
		return fmt.Errorf("network namespace of process %d: %w", r.pid, err)
	}
	if !strings.HasPrefix(theirs, "net:[") {
		return fmt.Errorf("%w: /proc/%d/ns/net is %q", errNotNamespace, r.pid, theirs)
	}
	ns := h.Path("proc", pid, "ns", "net")
	if ours, err := h.Readlink("proc", "self", "ns", "net"); err == nil && ours == theirs {
		ns = "" // ours: no setns, works without privileges
	}
	c, err := h.SockDiag(ns)
	if err != nil {
		if ns != "" && errors.Is(err, fs.ErrPermission) {
			return fmt.Errorf("%w: %v", errEnterNamespace, err)
		}
		return err
	}
	r.conn = c
	return nil
}

var (
	errNoNetlink      = errors.New("socket dumps need the live kernel's sock_diag netlink interface, which this run may not open (a recorded --root tree)")
	errNotNamespace   = errors.New("not a network namespace")
	errEnterNamespace = errors.New("cannot enter the target's network namespace")
)

// scanFDs maps the socket inodes of the target's processes; it fails only
// when none of them can be read (they all ended).
func (r *reader) scanFDs(h probe.Host) error {
	inodes := make(map[uint64]int, len(r.inodes))
	fds, read := 0, 0
	var firstErr error
	for _, pid := range r.pids {
		ps := strconv.Itoa(pid)
		names, err := h.DirNames(probe.MaxFDs, "proc", ps, "fd")
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("descriptors of process %d: %w", pid, err)
			}
			continue
		}
		read++
		fds += len(names)
		for _, n := range names {
			if link, err := h.Readlink("proc", ps, "fd", n); err == nil {
				if ino, ok := probe.SocketInode(link); ok {
					inodes[ino] = pid
				}
			}
		}
	}
	if read == 0 {
		return firstErr
	}
	r.inodes, r.fds = inodes, fds
	return nil
}

// dump takes one dump of both address families and keeps the target's
// answers in r.batch and the namespace's listeners; it returns the number
// of answers.
func (r *reader) dump() (int, error) {
	r.batch = r.batch[:0]
	clear(r.listeners)
	n := 0
	var parseErr error
	each := func(b []byte) {
		n++
		ino, ok := InodeOf(b)
		if !ok {
			parseErr = errShort
			return
		}
		st, _ := StateOf(b)
		if _, ours := r.inodes[ino]; !ours && st != stateListen {
			return
		}
		s, err := ParseMsg(b)
		if err != nil {
			parseErr = err
			return
		}
		if st == stateListen && len(r.listeners) < maxListeners {
			r.listeners[s.Local.Port()] = append(r.listeners[s.Local.Port()], listener{s.Local, s.Inode, s.UID})
		}
		if _, ours := r.inodes[ino]; ours {
			r.batch = append(r.batch, s)
		}
	}
	if err := r.conn.DumpTCP(DumpStates, each); err != nil {
		return 0, err
	}
	clear(r.notTCP)
	for ino := range r.inodes {
		r.notTCP[ino] = true
	}
	for _, s := range r.batch {
		delete(r.notTCP, s.Inode)
	}
	if parseErr != nil {
		if len(r.batch) == 0 {
			return 0, parseErr
		}
		r.parseErrors++
	}
	return n, nil
}

// take feeds the target's answers of one dump into the connections.
func (r *reader) take(h probe.Host, since time.Time) {
	first := r.samples == 0
	awaiting, accept := 0, 0
	for _, s := range r.batch {
		if s.State == stateListen {
			r.targetLn[s.Local] = true
			accept += int(s.RecvQueue)
		}
	}
	for _, s := range r.batch {
		if s.State == stateListen || s.Peer.Port() == 0 {
			continue
		}
		if !s.HasCounters {
			r.noCounters = true
			continue
		}
		c := r.conns[s.Cookie]
		seen := c != nil
		if !seen {
			if len(r.conns) >= maxConns {
				continue
			}
			c = &conn{outbound: !r.accepted(s.Local), local: s.Local, peer: s.Peer, newInWindow: !first, pid: r.inodes[s.Inode]}
			r.conns[s.Cookie] = c
		}
		e := view(s, h.Now, c.outbound)
		if !seen {
			c.first = e
			if c.newInWindow { // opened during the window: count from zero
				c.first.askBy, c.first.answerBy, c.first.retrans = 0, 0, 0
			}
		}
		c.observe(e, since, seen)
		c.seenAt = h.Now
		if c.outbound && c.last.open && !c.oneWay {
			awaiting++
		}
		if c.outbound && (c.last.open || c.last.state == stateSynSent) && c.listener == 0 {
			r.resolve(h, c) // only peers the target waits on are named
		}
	}
	r.awaitMax = max(r.awaitMax, awaiting)
	r.acceptSum += float64(accept)
	r.acceptMax = max(r.acceptMax, accept)
}

// accepted says whether a local address belongs to one of the target's
// listeners (its port, on that address or a wildcard one).
func (r *reader) accepted(local netip.AddrPort) bool {
	for ln := range r.targetLn {
		if ln.Port() == local.Port() && (ln.Addr().IsUnspecified() || ln.Addr() == local.Addr()) {
			return true
		}
	}
	return false
}

// resolve names the local process behind an outbound peer: a listener of
// the namespace on the peer's port, on its address or a wildcard one when
// the peer is this host (loopback, or the connection's own address).
func (r *reader) resolve(h probe.Host, c *conn) {
	here := c.peer.Addr().IsLoopback() || c.peer.Addr() == c.local.Addr()
	for _, ln := range r.listeners[c.peer.Port()] {
		if ln.addr.Addr() == c.peer.Addr() || here && ln.addr.Addr().IsUnspecified() {
			if _, done := r.owners[ln.inode]; !done {
				naming := probe.StartCPU()
				r.owners[ln.inode] = FindOwner(h, ln.inode, ln.uid)
				r.naming += naming.Elapsed()
				naming.Stop()
			}
			c.listener = ln.inode
			return
		}
	}
}

// FindOwner looks for the process holding the listener's socket. A server
// opens its listener early, so the first pass reads only descriptors 0-15
// of each process (no listing of a process's thousands of connections),
// the listener's user first; the full scan after it reads at most
// maxOwnerLinks links.
func FindOwner(h probe.Host, inode uint64, uid uint32) Owner {
	procs, err := h.ReadDir(probe.MaxProcesses, "proc")
	if err != nil {
		return Owner{}
	}
	want := "socket:[" + strconv.FormatUint(inode, 10) + "]"
	found := func(pid string, fd string) bool {
		link, err := h.Readlink("proc", pid, "fd", fd)
		return err == nil && link == want
	}
	named := func(pid string) Owner {
		n, _ := strconv.Atoi(pid)
		comm, _ := h.ReadFile("proc", pid, "comm")
		return Owner{PID: n, Comm: probe.Sanitize(strings.TrimSpace(string(comm)))}
	}
	var pids, others []string
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		if info, err := p.Info(); err == nil {
			if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Uid != uid {
				others = append(others, p.Name())
				continue
			}
		}
		pids = append(pids, p.Name())
	}
	pids = append(pids, others...)
	for _, pid := range pids {
		for fd := range 16 {
			if found(pid, strconv.Itoa(fd)) {
				return named(pid)
			}
		}
	}
	budget := maxOwnerLinks
	for _, pid := range pids {
		fds, err := h.DirNames(budget, "proc", pid, "fd")
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if n, _ := strconv.Atoi(fd); n >= 16 && found(pid, fd) {
				return named(pid)
			}
		}
		if budget -= len(fds); budget <= 0 {
			break
		}
	}
	return Owner{}
}

var fields = []string{"samples", "sample_hz", "namespace_sockets", "outbound", "inbound", "listeners",
	"awaiting_reply_avg", "awaiting_reply_max", "replies", "response_p50_ms", "response_max_ms", "connects_per_s",
	"connecting_avg", "one_way", "retransmits", "inbound_pending_avg", "accept_queue_avg", "accept_queue_max",
	"peers", "top_peer", "connections"}

func (r *reader) Finish() (any, probe.Statuses) {
	if r.conn != nil {
		r.conn.Close()
	}
	st := probe.Statuses{"": {State: probe.OK}}
	switch {
	case r.pid <= 0:
		return Facts{}, probe.Statuses{"": {State: probe.Unavailable, Reason: "no target process", Fix: "pass --pid"}}
	case r.samples == 0:
		return Facts{}, probe.Statuses{"": unavailable(r.pid, r.err)}
	case r.noCounters && len(r.conns) == 0:
		return Facts{}, probe.Statuses{"": {State: probe.Unavailable,
			Reason: "this kernel's tcp_info has no data segment counters (Linux 4.6 or later is needed)"}}
	}
	if r.samples < 2 {
		for _, k := range fields {
			st[k] = probe.Status{State: probe.Unavailable, Reason: "only one socket dump in the window", Fix: "raise --duration"}
		}
	}
	if r.dumpFailures > 0 || r.parseErrors > 0 {
		st[""] = probe.Status{State: probe.OK, Reason: fmt.Sprintf("%d of %d socket dumps failed, %d had garbled answers",
			r.dumpFailures, r.dumpFailures+r.samples, r.parseErrors)}
	}
	f := r.facts()
	// Replies counted but none timed (several exchanges between two
	// readings): the response time is unknown, not 0 ms.
	untimed := probe.Status{State: probe.Unavailable,
		Reason: "replies were seen but none could be timed: the readings were further apart than the exchanges", Fix: "raise --duration"}
	if f.Replies > 0 && f.ResponseP50MS == 0 {
		st["response_p50_ms"], st["response_max_ms"] = untimed, untimed
	}
	if f.TopPeer.Replies > 0 && f.TopPeer.ResponseP50MS == 0 {
		st["top_peer.response_p50_ms"], st["top_peer.response_max_ms"] = untimed, untimed
	}
	return f, st
}

func unavailable(pid int, err error) probe.Status {
	switch {
	case errors.Is(err, errNoNetlink), errors.Is(err, errNotNamespace):
		return probe.Status{State: probe.Unavailable, Reason: err.Error(), Fix: "run diagnose live on the host of the process"}
	case errors.Is(err, errEnterNamespace):
		return probe.Status{State: probe.Unavailable, Reason: err.Error(), Fix: "run as root or with CAP_SYS_ADMIN (setns into /proc/PID/ns/net)"}
	case errors.Is(err, fs.ErrNotExist):
		return probe.Status{State: probe.Unavailable, Reason: fmt.Sprintf("process %d does not exist", pid)}
	case errors.Is(err, syscall.EPROTONOSUPPORT), errors.Is(err, syscall.ENOENT):
		return probe.Status{State: probe.Unavailable, Reason: fmt.Sprintf("sock_diag: %v", err), Fix: "load the inet_diag and tcp_diag kernel modules"}
	}
	return probe.StatusOf(err, "TCP connections")
}

// facts sums the connections up.
func (r *reader) facts() Facts {
	window := r.lastAt.Sub(r.firstAt).Seconds()
	f := Facts{Samples: r.samples, NamespaceSockets: r.nsSockets, AwaitingReplyMax: r.awaitMax,
		AcceptQueueMax: r.acceptMax, AcceptQueueAvg: probe.Round2(r.acceptSum / float64(r.samples))}
	f.Listeners = len(r.targetLn)
	if window <= 0 {
		return f
	}
	if r.samples > 1 {
		f.SampleHz = probe.Round2(float64(r.samples-1) / window)
	}
	type key struct {
		addr     netip.AddrPort
		outbound bool
	}
	peers := map[key]*Peer{}
	rts := map[key][]float64{}
	var allRT []float64
	var waitOut, waitIn, connecting float64
	var conns []Connection
	for _, c := range r.conns {
		k := key{c.peer, c.outbound}
		if !c.outbound {
			k.addr = netip.AddrPortFrom(c.peer.Addr(), 0) // clients by address, not ephemeral port
		}
		p := peers[k]
		if p == nil {
			p = &Peer{Addr: k.addr.String(), Outbound: c.outbound}
			if !c.outbound {
				p.Addr = c.peer.Addr().String()
			}
			peers[k] = p
		}
		p.Connections++
		if !slices.Contains(p.PIDs, c.pid) {
			p.PIDs = append(p.PIDs, c.pid)
			slices.Sort(p.PIDs)
		}
		wait := c.waitS
		if c.oneWay {
			wait = 0
			f.OneWay++
		}
		p.AwaitingAvg += wait / window
		p.Replies += c.replies
		p.ConnectingAvg += c.connectingS / window
		cn := r.connection(c, wait)
		conns = append(conns, cn)
		p.BytesSent += cn.BytesSent
		p.BytesReceived += cn.BytesReceived
		p.Retransmits += cn.Retransmits
		f.Retransmits += cn.Retransmits
		if c.seenAt.Equal(r.lastAt) {
			p.RTTMS = max(p.RTTMS, float64(c.last.rttUS)/1000)
			if c.last.open && !c.oneWay {
				p.OutstandingMaxMS = max(p.OutstandingMaxMS, float64(r.lastAt.Sub(c.last.askAt))/float64(time.Millisecond))
			}
		}
		rts[k] = append(rts[k], c.rtMS...)
		if o := r.owners[c.listener]; o.PID > 0 {
			p.LocalPID, p.LocalComm = o.PID, o.Comm
		}
		if c.outbound {
			f.Outbound++
			f.Replies += c.replies
			waitOut += wait
			connecting += c.connectingS
			allRT = append(allRT, c.rtMS...)
			if c.newInWindow {
				f.ConnectsPerS++
			}
		} else {
			f.Inbound++
			waitIn += wait
		}
	}
	f.AwaitingReplyAvg = probe.Round2(waitOut / window)
	f.InboundPendingAvg = probe.Round2(waitIn / window)
	f.ConnectingAvg = probe.Round2(connecting / window)
	f.ConnectsPerS = probe.Round2(f.ConnectsPerS / window)
	f.ResponseP50MS, f.ResponseMaxMS = median(allRT), maxOf(allRT)
	list := make([]Peer, 0, len(peers))
	for k, p := range peers {
		p.ResponseP50MS, p.ResponseMaxMS = median(rts[k]), maxOf(rts[k])
		p.AwaitingAvg, p.ConnectingAvg = probe.Round2(p.AwaitingAvg), probe.Round2(p.ConnectingAvg)
		p.RTTMS, p.OutstandingMaxMS = probe.Round2(p.RTTMS), probe.Round2(p.OutstandingMaxMS)
		list = append(list, *p)
	}
	sort.Slice(list, func(i, j int) bool {
		a, b := list[i], list[j]
		if a.AwaitingAvg+a.ConnectingAvg != b.AwaitingAvg+b.ConnectingAvg {
			return a.AwaitingAvg+a.ConnectingAvg > b.AwaitingAvg+b.ConnectingAvg
		}
		if a.Outbound != b.Outbound {
			return a.Outbound
		}
		if a.Replies != b.Replies {
			return a.Replies > b.Replies
		}
		return a.Addr < b.Addr
	})
	for _, p := range list {
		if p.Outbound {
			f.TopPeer = p
			break
		}
	}
	f.Peers = list[:min(len(list), topPeers)]
	sort.Slice(conns, func(i, j int) bool {
		a, b := conns[i], conns[j]
		if a.WaitedS != b.WaitedS {
			return a.WaitedS > b.WaitedS
		}
		if a.Outbound != b.Outbound {
			return a.Outbound
		}
		return a.Local+a.Peer < b.Local+b.Peer
	})
	f.Connections = conns[:min(len(conns), topConns)]
	return f
}

// connection describes one tracked connection; wait is its credited wait.
func (r *reader) connection(c *conn, wait float64) Connection {
	e := c.last
	asked, answered := sub(e.askBy, c.first.askBy), sub(e.answerBy, c.first.answerBy)
	sentAt, recvAt := e.askAt, e.answerAt
	cn := Connection{PID: c.pid, Outbound: c.outbound, Local: c.local.String(), Peer: c.peer.String(), State: stateName(e.state),
		Ended: !c.seenAt.Equal(r.lastAt), AwaitingReply: e.open && !c.oneWay, WaitedS: probe.Round2(wait), Replies: c.replies,
		RTTMS: probe.Round2(float64(e.rttUS) / 1000), Unacked: int(e.unacked), BytesSent: asked, BytesReceived: answered}
	if !c.outbound {
		sentAt, recvAt = recvAt, sentAt
		cn.BytesSent, cn.BytesReceived = answered, asked
	}
	cn.LastSendAgoMS = probe.Round2(float64(e.at.Sub(sentAt)) / float64(time.Millisecond))
	cn.LastRecvAgoMS = probe.Round2(float64(e.at.Sub(recvAt)) / float64(time.Millisecond))
	if e.retrans > c.first.retrans {
		cn.Retransmits = uint64(e.retrans - c.first.retrans)
	}
	return cn
}

func sub(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return 0
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + m) / 2
	}
	return probe.Round2(m)
}

func maxOf(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, x)
	}
	return probe.Round2(m)
}
