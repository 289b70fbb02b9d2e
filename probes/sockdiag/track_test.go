package sockdiag

import (
	"math"
	"net/netip"
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

// ev is one reading of an outbound connection, in milliseconds: when the
// reading is taken, the last data sent and received (absolute), the last ACK
// received, and the segment counters (data out/in, all out/in).
type ev struct {
	at, sent, recv, ack              int
	dataOut, dataIn, segsOut, segsIn uint32
}

func (e ev) sock() Sock {
	return Sock{State: stateEstablished, HasInfo: true, HasCounters: true,
		LastDataSentMS: uint32(e.at - e.sent), LastDataRecvMS: uint32(e.at - e.recv), LastAckRecvMS: uint32(e.at - e.ack),
		DataSegsOut: e.dataOut, DataSegsIn: e.dataIn, SegsOut: e.segsOut, SegsIn: e.segsIn}
}

// run feeds the readings to one outbound connection seen from the first.
func run(evs []ev) *conn {
	t0 := time.Unix(1000, 0)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	c := &conn{outbound: true}
	since := ms(evs[0].at)
	for i, e := range evs {
		c.observe(view(e.sock(), ms(e.at), true), since, i > 0)
		since = ms(e.at)
	}
	return c
}

func TestObserve(t *testing.T) {
	tests := []struct {
		name    string
		evs     []ev
		waitS   float64
		replies int
		rtMS    []float64
		oneWay  bool
	}{
		{name: "request sent later than the last reply: waiting until the reply",
			// asked at 90, answered at 340: waited 100->340 inside the window.
			evs:   []ev{{100, 90, 50, 50, 5, 4, 9, 8}, {200, 90, 50, 95, 5, 4, 9, 9}, {300, 90, 50, 95, 5, 4, 9, 9}, {400, 90, 340, 340, 5, 5, 9, 10}},
			waitS: 0.24, replies: 1, rtMS: []float64{250}},
		{name: "idle keep-alive connection: nothing",
			evs:   []ev{{100, 10, 12, 12, 3, 3, 5, 4}, {200, 10, 12, 12, 3, 3, 5, 4}, {300, 10, 12, 12, 3, 3, 5, 4}},
			waitS: 0, replies: 0},
		{name: "asked and answered between two readings",
			evs:   []ev{{100, 10, 12, 12, 3, 3, 5, 4}, {200, 150, 180, 180, 4, 4, 6, 5}},
			waitS: 0.03, replies: 1, rtMS: []float64{30}},
		{name: "loop on loopback: next request in the reply's jiffy, the peer's pure ACK tells it is open",
			// tie at 80 (reply then request), the peer ACKs the request at once (segsIn +2 for +1 data).
			evs: []ev{{60, 40, 30, 30, 3, 2, 4, 3}, {100, 80, 80, 80, 4, 3, 5, 5}, {200, 80, 80, 80, 4, 3, 5, 5},
				{300, 80, 80, 80, 4, 3, 5, 5}, {400, 380, 380, 380, 5, 4, 6, 7}},
			// 40->80: the request of 40 waits (opened strictly); 80->380 the tied one, resolved at 100.
			waitS: 0.34, replies: 2, rtMS: []float64{40, 300}},
		{name: "poller against a fast peer: we ACK its reply alone, the tie is answered",
			// request and reply in the jiffy of 150; we send a pure ACK (segsOut +2 for +1 data).
			evs:   []ev{{100, 10, 10, 10, 3, 3, 5, 4}, {200, 150, 150, 150, 4, 4, 7, 5}, {300, 150, 150, 150, 4, 4, 7, 5}},
			waitS: 0, replies: 0},
		{name: "tie without pure ACKs either way stays unknown: not counted",
			evs:   []ev{{100, 10, 10, 10, 3, 3, 5, 4}, {200, 150, 150, 150, 4, 4, 6, 5}, {300, 150, 150, 150, 4, 4, 6, 5}},
			waitS: 0, replies: 0},
		{name: "the peer ACKs a tied request in a later jiffy: open from when it was sent",
			evs:   []ev{{100, 80, 80, 80, 4, 3, 5, 4}, {200, 80, 80, 120, 4, 3, 5, 5}},
			waitS: 0.1, replies: 0},
		{name: "several exchanges between two readings: counted, not timed",
			evs:   []ev{{100, 90, 50, 95, 5, 4, 9, 8}, {1000, 995, 990, 996, 8, 7, 12, 11}},
			waitS: 0.895, replies: 3},
		{name: "a stream that keeps sending without replies is one-way",
			evs: []ev{{100, 90, 10, 95, 10, 1, 10, 5}, {200, 190, 10, 195, 20, 1, 20, 6}, {300, 290, 10, 295, 30, 1, 30, 7},
				{400, 390, 10, 395, 40, 1, 40, 8}},
			waitS: 0.3, replies: 0, oneWay: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := run(tc.evs)
			if math.Abs(c.waitS-tc.waitS) > 1e-9 || c.replies != tc.replies || c.oneWay != tc.oneWay {
				t.Errorf("wait %.3f s, %d replies, one-way %v; want %.3f s, %d, %v", c.waitS, c.replies, c.oneWay, tc.waitS, tc.replies, tc.oneWay)
			}
			if len(tc.rtMS) > 0 && !equal(c.rtMS, tc.rtMS) {
				t.Errorf("response times %v, want %v", c.rtMS, tc.rtMS)
			}
		})
	}
}

func equal(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(a[i]-b[i]) > 1e-9 {
			return false
		}
	}
	return true
}

// An accepted connection: the client's request waits on the target until
// the target answers; a server waiting for the next request is idle.
func TestObserveInbound(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	c := &conn{}
	// The target received a request at 150 and answered at 250 (sent/recv swap roles).
	reads := []Sock{
		{State: stateEstablished, HasCounters: true, LastDataSentMS: 90, LastDataRecvMS: 95, DataSegsOut: 3, DataSegsIn: 3, SegsOut: 3, SegsIn: 4},
		{State: stateEstablished, HasCounters: true, LastDataSentMS: 190, LastDataRecvMS: 50, DataSegsOut: 3, DataSegsIn: 4, SegsOut: 4, SegsIn: 5},
		{State: stateEstablished, HasCounters: true, LastDataSentMS: 50, LastDataRecvMS: 150, DataSegsOut: 4, DataSegsIn: 4, SegsOut: 5, SegsIn: 6},
	}
	since := ms(100)
	for i, s := range reads {
		at := ms(100 * (i + 1))
		c.observe(view(s, at, false), since, i > 0)
		since = at
	}
	if math.Abs(c.waitS-0.1) > 1e-9 || c.replies != 1 || !equal(c.rtMS, []float64{100}) {
		t.Errorf("wait %.3f s, %d replies %v; want 0.1 s, 1 reply of 100 ms", c.waitS, c.replies, c.rtMS)
	}
}

// SYN_SENT time is credited between readings.
func TestObserveConnecting(t *testing.T) {
	t0 := time.Unix(1000, 0)
	c := &conn{outbound: true}
	c.observe(view(Sock{State: stateSynSent}, t0, true), t0, false)
	c.observe(view(Sock{State: stateSynSent}, t0.Add(250*time.Millisecond), true), t0, true)
	if c.connectingS != 0.25 || c.waitS != 0 {
		t.Errorf("connecting %v s, waiting %v s", c.connectingS, c.waitS)
	}
}

// Replies counted between two far-apart readings were not timed: their
// response time is unavailable, not 0 ms.
func TestUntimedRepliesAreUnavailable(t *testing.T) {
	at := time.Unix(1000, 0)
	peer := netip.MustParseAddrPort("127.0.0.1:8080")
	r := New(probe.Target{PID: 7}, probe.Options{}).(*reader)
	r.conn = nil
	r.samples, r.firstAt, r.lastAt = 2, at, at.Add(time.Second)
	r.conns[1] = &conn{outbound: true, local: netip.MustParseAddrPort("127.0.0.1:40000"), peer: peer, replies: 3, seenAt: r.lastAt}
	v, st := r.Finish()
	f := v.(Facts)
	if f.Replies != 3 || st["response_p50_ms"].State != probe.Unavailable || st["top_peer.response_p50_ms"].State != probe.Unavailable {
		t.Errorf("replies %d, statuses %v", f.Replies, st)
	}
	r.conns[1].rtMS = []float64{300}
	if _, st = r.Finish(); st["response_p50_ms"].State != "" {
		t.Errorf("a timed reply is unavailable: %v", st["response_p50_ms"])
	}
}
