package httptiming

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
	"github.com/diagnose-sh/diagnose/probes/probetest"
)

// http-local: a recorded /proc/net/tcp with a listener on 127.0.0.1:18089
// (3 connections waiting), held by pid 4242 (nginx); /proc/net/netstat.
func TestLocalServer(t *testing.T) {
	h := probe.Host{Root: probetest.Fixture(t, "http-local", "t0")}
	if s := local(h, "127.0.0.1:18089"); s != (server{local: true, pid: 4242, name: "nginx", queue: 3}) {
		t.Errorf("%+v", s)
	}
	if s := local(h, "127.0.0.1:18090"); s.local || s.pid != 0 {
		t.Errorf("another port: %+v", s)
	}
	if s := local(h, "10.1.2.3:18089"); s.local {
		t.Errorf("another host's address: %+v", s)
	}
	if n := listenOverflows(h); n != 0 {
		t.Errorf("ListenOverflows %d, the recorded file has 0", n)
	}
	if n := listenOverflows(probe.Host{Root: t.TempDir()}); n != 0 {
		t.Errorf("no file: %d", n)
	}
}

func TestSummarize(t *testing.T) {
	ms := time.Millisecond
	var f Facts
	summarize(&f, []result{
		{dns: 1 * ms, connect: 2 * ms, server: 300 * ms, transfer: 1 * ms, total: 304 * ms, status: 200, proto: "HTTP/1.1", addr: "127.0.0.1:80"},
		{dns: 1 * ms, connect: 2 * ms, server: 100 * ms, transfer: 1 * ms, total: 104 * ms, status: 503, proto: "HTTP/1.1", addr: "127.0.0.1:80"},
		{dns: 3 * ms, connect: 4 * ms, server: 500 * ms, transfer: 1 * ms, total: 508 * ms, status: 200, proto: "HTTP/1.1", addr: "127.0.0.1:80"},
		{err: &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}},
	})
	if f.Requests != 4 || f.Responses != 3 || f.Failures != 1 || f.FailureKind != "refused" || f.ErrorStatus != 1 {
		t.Errorf("counts %+v", f)
	}
	if f.ServerMs != 300 || f.TotalMs != 304 || f.TotalMaxMs != 508 || f.DNSMs != 1 || f.SlowestPhase != "server" || f.SlowestPhasePct != 98.68 {
		t.Errorf("medians %+v", f)
	}
	if f.ServerMaxMs != 500 || f.DNSMaxMs != 3 || f.ConnectMaxMs != 4 || len(f.Each) != 4 || f.Each[1].Status != 503 ||
		f.Each[3].Error == "" || f.Each[3].Status != 0 || f.Each[2].ServerMs != 500 {
		t.Errorf("per request %+v", f.Each)
	}
	f = Facts{}
	summarize(&f, []result{{err: errors.New("x")}})
	if f.Responses != 0 || f.TotalMs != 0 || f.SlowestPhase != "" || f.FailureKind != "other" {
		t.Errorf("no response: %+v", f)
	}
}

func TestClassify(t *testing.T) {
	for want, err := range map[string]error{
		"dns":             fmt.Errorf("get: %w", &net.DNSError{Err: "no such host", Name: "x.test", IsNotFound: true}),
		"refused":         &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED},
		"reset":           &net.OpError{Op: "read", Err: syscall.ECONNRESET},
		"connect-timeout": &net.OpError{Op: "dial", Err: timeoutErr{}},
		"timeout":         fmt.Errorf("get: %w", timeoutErr{}),
		"tls":             errors.New("remote error: tls: handshake failure"),
		"other":           errors.New("EOF"),
	} {
		if got := classify(err); got != want {
			t.Errorf("%v: %s, want %s", err, got, want)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestParseResolve(t *testing.T) {
	m, err := parseResolve("app.test:443:127.0.0.1")
	if err != nil || m["app.test:443"] != "127.0.0.1:443" {
		t.Errorf("%v %v", m, err)
	}
	if m, err := parseResolve("app.test:443:[::1]"); err != nil || m["app.test:443"] != "[::1]:443" {
		t.Errorf("v6: %v %v", m, err)
	}
	for _, bad := range []string{"app.test", "app.test:443", ":443:127.0.0.1", "app.test:x:127.0.0.1", "app.test:443:nowhere"} {
		if _, err := parseResolve(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// Without a URL the probe has nothing to do; a bad URL is said so, before
// anything is sent.
func TestReaderWithoutRequests(t *testing.T) {
	r := New(probe.Target{}, probe.Options{})
	r.Read(t.Context(), probe.Host{})
	if _, st := r.Finish(); st[""].State != probe.Unavailable || st[""].Fix != "pass --url" {
		t.Errorf("no url: %v", st)
	}
	r = New(probe.Target{HTTP: &probe.HTTPRequest{URL: "ftp://x/"}}, probe.Options{})
	r.Read(t.Context(), probe.Host{})
	if _, st := r.Finish(); st[""].State != probe.Unavailable {
		t.Errorf("ftp: %v", st)
	}
}

func FuzzParseResolve(f *testing.F) {
	f.Add("app.test:443:127.0.0.1")
	f.Fuzz(func(t *testing.T, s string) {
		if m, err := parseResolve(s); err == nil && s != "" && len(m) != 1 {
			t.Fatalf("%q: %v", s, m)
		}
	})
}

// The requests run in the sample phase under the run's context, and the
// after-window phase waits for them: all complete when the deadline allows.
func TestAfterWindowWaitsForRequests(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(100 * time.Millisecond)
		fmt.Fprint(w, "ok")
	}))
	defer srv.Close()
	r := New(probe.Target{HTTP: &probe.HTTPRequest{URL: srv.URL, Count: 3}}, probe.Options{})
	h := probe.Host{Root: t.TempDir(), Now: time.Now()}
	r.Read(t.Context(), h)
	r.Read(t.Context(), h) // the window ends while the first request is in flight
	v, st := probe.Complete(t.Context(), r, h)
	if f := v.(Facts); f.Responses != 3 || f.Unfinished != 0 || f.Failures != 0 || st[""].State != probe.OK || len(st) != 1 {
		t.Errorf("responses %d, unfinished %d, failures %d, %v; want 3, 0, 0", f.Responses, f.Unfinished, f.Failures, st)
	}
}

// At the run's deadline the request in flight is cancelled (the server sees
// it go), and it and the rest count as unfinished, not as failures.
func TestDeadlineCancelsRequests(t *testing.T) {
	arrived, gone := make(chan struct{}, 1), make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, req *http.Request) {
		arrived <- struct{}{}
		<-req.Context().Done()
		gone <- struct{}{}
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(t.Context())
	r := New(probe.Target{HTTP: &probe.HTTPRequest{URL: srv.URL, Count: 4}}, probe.Options{})
	h := probe.Host{Root: t.TempDir(), Now: time.Now()}
	r.Read(ctx, h)
	r.Read(ctx, h)
	<-arrived
	cancel()
	select {
	case <-gone:
	case <-time.After(requestTimeout):
		t.Fatal("the request in flight was not cancelled with the run")
	}
	v, _ := probe.Complete(ctx, r, h)
	if f := v.(Facts); f.Unfinished != 4 || f.Failures != 0 || f.Responses != 0 {
		t.Errorf("unfinished %d, failures %d (%q), responses %d; want 4, 0, 0", f.Unfinished, f.Failures, f.FailureError, f.Responses)
	}
}
