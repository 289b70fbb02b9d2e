package sockdiag

// The finish phase: the tracked connections become peers, waits and
// response times.

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"slices"
	"sort"
	"syscall"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

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
