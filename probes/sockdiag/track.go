package sockdiag

// Request/reply accounting over sampled tcp_info. On a connection the
// target opened, data sent more recently than data received is a question
// without an answer: the target waits on its peer, whichever syscall (or
// none: an event loop, a parked goroutine) its threads sit in. On a
// connection the target accepted it is the reverse: the client waits on
// the target. tcp_info's last_data_sent/last_data_recv give when each
// happened (jiffy resolution), its data segment counters whether anything
// happened between two readings, so wait time is credited from the
// kernel's timestamps, not from how often diagnose looked.
//
// A client that sends its next request in the jiffy its last reply came
// (any loop on loopback, where a round trip takes microseconds) shows equal
// timestamps, as does a request answered within the jiffy and then idle.
// The segment counters tell them apart: whoever sent a pure ACK had nothing
// to say. The peer ACKing our data without answering means a question is
// open; our ACKing its data without asking more means the last word was its
// answer. Measured on loopback: a request loop against a 300 ms server adds
// one pure ACK in and none out per exchange, a poller against a fast server
// one out and none in. Without pure ACKs either way the tie stays unknown
// and is not counted as waiting (answers within ~40 ms on sub-jiffy paths
// may go unseen).

import (
	"net/netip"
	"time"
)

const (
	// oneWayAfter: a connection that keeps sending without any answer over
	// this many readings is a stream or an upload, not a request waiting.
	oneWayAfter = 3
	// maxRTPerConn bounds the response times kept per connection.
	maxRTPerConn = 256
)

// exchange is one reading of a connection from the asking side's view:
// outbound, the target asks and the peer answers; inbound, the reverse.
type exchange struct {
	at              time.Time
	state           uint8
	askAt, answerAt time.Time // last data sent by the asker / by the answerer
	asks, answers   uint32    // data segments sent by each side
	askBy, answerBy uint64    // payload bytes sent by each side
	retrans, rttUS  uint32
	unacked         uint32
	// All segments and data segments each side sent (pure ACKs are the difference).
	askSegs, answerSegs uint32
	open                bool // asked and not answered yet
	tied                bool // asked in the jiffy of the last answer: open or not, not known yet
}

func view(s Sock, at time.Time, outbound bool) exchange {
	ago := func(ms uint32) time.Time { return at.Add(-time.Duration(ms) * time.Millisecond) }
	sent, recv := ago(s.LastDataSentMS), ago(s.LastDataRecvMS)
	e := exchange{at: at, state: s.State, retrans: s.TotalRetrans, rttUS: s.RTTMicros, unacked: s.Unacked}
	if outbound {
		e.askAt, e.answerAt, e.asks, e.answers, e.askBy, e.answerBy = sent, recv, s.DataSegsOut, s.DataSegsIn, s.BytesAcked, s.BytesReceived
		e.askSegs, e.answerSegs = s.SegsOut, s.SegsIn
	} else {
		e.askAt, e.answerAt, e.asks, e.answers, e.askBy, e.answerBy = recv, sent, s.DataSegsIn, s.DataSegsOut, s.BytesReceived, s.BytesAcked
		e.askSegs, e.answerSegs = s.SegsIn, s.SegsOut
	}
	if s.State != stateEstablished || e.asks == 0 {
		return e
	}
	e.open = e.askAt.After(e.answerAt)
	e.tied = e.askAt.Equal(e.answerAt)
	if outbound && e.tied && s.LastAckRecvMS < s.LastDataRecvMS {
		e.open, e.tied = true, false // the peer ACKed, in a later jiffy, data sent after its reply
	}
	return e
}

// untie decides a tied reading e from what happened since p.
func untie(e *exchange, p exchange) {
	if !e.tied {
		return
	}
	// Nothing sent either way since p (timestamps jitter by the dump's
	// distance from the jiffy; the counters do not).
	same := e.askSegs == p.askSegs && e.answerSegs == p.answerSegs
	pureAsker := int64(e.askSegs-p.askSegs) - int64(e.asks-p.asks)
	pureAnswerer := int64(e.answerSegs-p.answerSegs) - int64(e.answers-p.answers)
	switch {
	case same && p.open:
		e.open, e.tied = true, false
	case same && !p.tied:
		e.tied = false // known answered
	case pureAsker > 0:
		e.tied = false // the asker acknowledged an answer and asked nothing more
	case pureAnswerer > 0:
		e.open, e.tied = true, false // the answerer acknowledged a question without answering
	}
}

// conn accumulates one connection of the target over the window.
type conn struct {
	outbound    bool
	local, peer netip.AddrPort
	newInWindow bool      // not there at the first reading: opened during the window
	from        time.Time // the window start, or the reading before it was first seen
	first, last exchange
	waitS       float64 // seconds the asker spent waiting for an answer
	connectingS float64 // seconds in SYN_SENT
	replies     int
	rtMS        []float64
	unanswered  int  // consecutive readings with more asks and no answer
	oneWay      bool // a stream or upload: not counted as waiting
	seenAt      time.Time
	listener    uint64 // inode of the local listener serving the peer (0: none seen)
	pid         int    // the target's process holding it
}

func dur(a, b time.Time) float64 {
	if !b.After(a) {
		return 0
	}
	return b.Sub(a).Seconds()
}

func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlierOf(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// observe takes one reading e of c. since is the previous reading (the
// window start at the first reading): what happened before it is not part
// of the window.
func (c *conn) observe(e exchange, since time.Time, seen bool) {
	defer func() { c.last = e }()
	if e.state == stateSynSent {
		c.connectingS += dur(since, e.at)
	}
	if !seen {
		c.from = since
		if e.open {
			c.waitS += dur(laterOf(e.askAt, since), e.at)
		} else if !e.tied && e.asks > 0 && e.askAt.After(since) && e.answerAt.After(e.askAt) {
			c.exchanged(e) // opened, asked and answered between two readings
		}
		return
	}
	p := c.last
	untie(&e, p)
	answered, asked := e.answers > p.answers, e.asks > p.asks
	switch {
	case p.open && answered:
		c.waitS += dur(p.at, earlierOf(e.answerAt, e.at))
		c.unanswered = 0
		switch more := e.asks - p.asks; {
		case more == 0 || more == 1 && e.open:
			c.reply(e.answerAt.Sub(p.askAt)) // its answer (then, maybe, the next question)
		case more == 1 && e.answerAt.After(e.askAt):
			c.reply(0) // its answer, unseen, then one more exchange:
			c.reply(e.answerAt.Sub(e.askAt))
		default:
			// Several exchanges between two readings (the reading rate
			// adapts to the namespace's size): counted, not timed.
			c.replies += int(min(more, 1000))
		}
	case p.open:
		c.waitS += dur(p.at, e.at)
		if asked {
			if c.unanswered++; c.unanswered >= oneWayAfter {
				c.oneWay = true
			}
		}
		return
	case p.tied && !asked && e.open:
		// The tied question was open after all: its wait began when it was sent.
		c.waitS += dur(laterOf(p.askAt, c.from), e.at)
		return
	case answered && asked && !e.open && !e.tied && e.askAt.After(since) && e.answerAt.After(e.askAt):
		c.exchanged(e)
		return
	}
	if e.open && (asked || answered) {
		c.waitS += dur(laterOf(e.askAt, since), e.at) // a question asked since the last reading
	}
}

// exchanged counts a question asked and answered between two readings.
func (c *conn) exchanged(e exchange) {
	c.waitS += dur(e.askAt, e.answerAt)
	c.reply(e.answerAt.Sub(e.askAt))
}

func (c *conn) reply(rt time.Duration) {
	c.replies++
	if rt > 0 && len(c.rtMS) < maxRTPerConn {
		c.rtMS = append(c.rtMS, float64(rt)/float64(time.Millisecond))
	}
}
