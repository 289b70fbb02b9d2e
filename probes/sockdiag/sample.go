package sockdiag

// The sample phase: each reading maps the target's socket inodes (now and
// then), dumps the namespace's TCP sockets and tracks the target's.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

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
