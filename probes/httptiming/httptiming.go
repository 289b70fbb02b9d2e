// Package httptiming is the runbook's curl -w step: it sends the requests a
// person asked for and times each phase (DNS, connect, TLS, server, transfer)
// with net/http/httptrace, and names the local process that serves the URL.
package httptiming

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/diagnose-sh/diagnose/probes/netstat"
	"github.com/diagnose-sh/diagnose/probes/probe"
	"github.com/diagnose-sh/diagnose/probes/sockdiag"
)

// Facts are the requests' timings, medians over the requests that got a
// response, and the serving process when it runs on this host.
type Facts struct {
	URL          string `expr:"url" json:"url" doc:"the URL requested"`
	Method       string `expr:"method" json:"method" doc:"the request method"`
	Requests     int    `expr:"requests" json:"requests" doc:"requests sent"`
	Responses    int    `expr:"responses" json:"responses" doc:"requests that got a response (any status)"`
	Failures     int    `expr:"failures" json:"failures" doc:"requests that got no response"`
	FailureKind  string `expr:"failure_kind" json:"failure_kind" doc:"the first failure's class: dns, refused, connect-timeout, tls, certificate, timeout, reset, other"`
	FailureError string `expr:"failure_error" json:"failure_error" doc:"the first failure's error message"`
	Unfinished   int    `expr:"unfinished" json:"unfinished" doc:"requests still running when the run's deadline came (raise --timeout)"`

	DNSMs      float64 `expr:"dns_ms" json:"dns_ms" doc:"name lookup, median (curl time_namelookup); 0 for an address or --resolve"`
	ConnectMs  float64 `expr:"connect_ms" json:"connect_ms" doc:"TCP connect, median (curl time_connect - time_namelookup)"`
	TLSMs      float64 `expr:"tls_ms" json:"tls_ms" doc:"TLS handshake, median (curl time_appconnect - time_connect); 0 for http"`
	ServerMs   float64 `expr:"server_ms" json:"server_ms" doc:"request written to first response byte, median: the server's time (curl time_starttransfer - time_pretransfer)"`
	TransferMs float64 `expr:"transfer_ms" json:"transfer_ms" doc:"first byte to last, median (curl time_total - time_starttransfer)"`
	TotalMs    float64 `expr:"total_ms" json:"total_ms" doc:"the whole request, median (curl time_total)"`
	TotalMaxMs float64 `expr:"total_max_ms" json:"total_max_ms" doc:"the slowest request"`
	// The slowest of each phase.
	DNSMaxMs        float64   `expr:"dns_max_ms" json:"dns_max_ms" doc:"the slowest name lookup"`
	ConnectMaxMs    float64   `expr:"connect_max_ms" json:"connect_max_ms" doc:"the slowest connect"`
	TLSMaxMs        float64   `expr:"tls_max_ms" json:"tls_max_ms" doc:"the slowest TLS handshake"`
	ServerMaxMs     float64   `expr:"server_max_ms" json:"server_max_ms" doc:"the slowest time to first byte"`
	TransferMaxMs   float64   `expr:"transfer_max_ms" json:"transfer_max_ms" doc:"the slowest transfer"`
	Each            []Request `expr:"each" json:"each" doc:"every request in the order sent (at most 20): its phases, status, bytes, address, version, error"`
	SlowestPhase    string    `expr:"slowest_phase" json:"slowest_phase" doc:"the phase with the largest median: dns, connect, tls, server, transfer"`
	SlowestPhaseMs  float64   `expr:"slowest_phase_ms" json:"slowest_phase_ms" doc:"its median"`
	SlowestPhasePct float64   `expr:"slowest_phase_pct" json:"slowest_phase_pct" doc:"its share of the median total, %"`

	Status      int    `expr:"status" json:"status" doc:"the last response's status code"`
	ErrorStatus int    `expr:"error_statuses" json:"error_statuses" doc:"responses with a status of 400 or more"`
	Bytes       int64  `expr:"bytes" json:"bytes" doc:"the last response body's size, bytes"`
	Proto       string `expr:"proto" json:"proto" doc:"HTTP version of the last response: HTTP/1.1, HTTP/2.0"`
	Address     string `expr:"address" json:"address" doc:"the address connected to (IP:port)"`
	Reused      int    `expr:"reused" json:"reused" doc:"requests that reused a connection (only with --reuse)"`

	TLSVersion      string  `expr:"tls_version" json:"tls_version" doc:"TLS version negotiated, empty for http"`
	CertSubject     string  `expr:"cert_subject" json:"cert_subject" doc:"the server certificate's subject"`
	CertIssuer      string  `expr:"cert_issuer" json:"cert_issuer" doc:"the server certificate's issuer"`
	CertNotAfter    string  `expr:"cert_not_after" json:"cert_not_after" doc:"the server certificate's expiry, RFC 3339"`
	CertExpiresInD  float64 `expr:"cert_expires_in_days" json:"cert_expires_in_days" doc:"days until the server certificate expires (negative: expired)"`
	CertVerified    bool    `expr:"cert_verified" json:"cert_verified" doc:"the certificate chain verified for the host (against the system's CAs, or --cacert)"`
	CertVerifyError string  `expr:"cert_verify_error" json:"cert_verify_error" doc:"why it did not verify, empty when it did"`

	// The local process serving the URL's address, when there is one.
	ServerLocal     bool   `expr:"server_local" json:"server_local" doc:"the address connected to is a listener on this host"`
	ServerPID       int    `expr:"server_pid" json:"server_pid" doc:"the process holding that listener, 0 when not found"`
	ServerName      string `expr:"server_name" json:"server_name" doc:"its name (comm)"`
	ListenQueue     int64  `expr:"listen_queue" json:"listen_queue" doc:"connections waiting in the listener's accept queue at the end (ss Recv-Q)"`
	ListenOverflows int64  `expr:"listen_overflows" json:"listen_overflows" doc:"accept-queue overflows on this host during the window (TcpExt ListenOverflows)"`
}

// Request is one request's outcome.
type Request struct {
	DNSMs      float64 `expr:"dns_ms" json:"dns_ms" doc:"name lookup"`
	ConnectMs  float64 `expr:"connect_ms" json:"connect_ms" doc:"TCP connect"`
	TLSMs      float64 `expr:"tls_ms" json:"tls_ms" doc:"TLS handshake"`
	ServerMs   float64 `expr:"server_ms" json:"server_ms" doc:"request written to first byte"`
	TransferMs float64 `expr:"transfer_ms" json:"transfer_ms" doc:"first byte to last"`
	TotalMs    float64 `expr:"total_ms" json:"total_ms" doc:"the whole request"`
	Status     int     `expr:"status" json:"status" doc:"status code, 0 without a response"`
	Bytes      int64   `expr:"bytes" json:"bytes" doc:"body size, bytes"`
	Address    string  `expr:"address" json:"address" doc:"the address connected to"`
	Proto      string  `expr:"proto" json:"proto" doc:"HTTP version"`
	Reused     bool    `expr:"reused" json:"reused" doc:"the connection was reused"`
	Error      string  `expr:"error" json:"error" doc:"why there was no response, empty when there was"`
}

const maxEach = 20

// requestTimeout bounds one request.
const (
	requestTimeout = 5 * time.Second
	defaultCount   = 5
	maxCount       = 100
	maxBody        = 64 << 20
)

// New sends the target's requests during the window.
func New(t probe.Target, _ probe.Options) probe.Reader { return &reader{req: t.HTTP} }

type reader struct {
	req       *probe.HTTPRequest
	started   bool
	done      chan struct{}
	mu        sync.Mutex
	results   []result
	err       error // a request that cannot be built
	overflowA int64
	overflowB int64
	// What AfterWindow took: the requests' results (final) and the local
	// listener they connected to (server, nil when not looked up).
	final  []result
	server *server
}

// result is one request's phases.
type result struct {
	dns, connect, tls, server, transfer, total time.Duration
	status                                     int
	bytes                                      int64
	proto, addr                                string
	reused                                     bool
	err                                        error
	state                                      *tls.ConnectionState
	verifyErr                                  error
}

func (r *reader) Read(ctx context.Context, h probe.Host) {
	if r.req == nil {
		return
	}
	if !r.started {
		r.started = true
		r.overflowA = listenOverflows(h)
		client, err := newClient(r.req)
		if err != nil {
			r.err = err
			return
		}
		r.done = make(chan struct{})
		go r.run(ctx, client)
		return
	}
	r.overflowB = listenOverflows(h)
}

func (r *reader) count() int {
	switch {
	case r.req.Count <= 0:
		return defaultCount
	case r.req.Count > maxCount:
		return maxCount
	}
	return r.req.Count
}

// run sends the requests one after the other under the run's context: at
// --timeout or an interrupt the request in flight is cancelled, and it and
// the rest count as unfinished, not as failures of the server.
func (r *reader) run(ctx context.Context, c *client) {
	defer close(r.done)
	for i := 0; i < r.count(); i++ {
		res := c.do(ctx, r.req)
		if ctx.Err() != nil {
			return
		}
		r.mu.Lock()
		r.results = append(r.results, res)
		r.mu.Unlock()
	}
}

// AfterWindow waits for the requests still running when the window ended,
// as long as the run's deadline (--timeout; by default the window + 10 s)
// allows, then looks for a local listener at the address they reached.
func (r *reader) AfterWindow(ctx context.Context, h probe.Host) {
	if r.done == nil {
		return
	}
	select {
	case <-r.done:
	case <-ctx.Done():
	}
	r.final = r.resultsSoFar()
	if a := addressOf(r.final); a != "" && ctx.Err() == nil {
		s := local(h, a)
		r.server = &s
	}
}

func (r *reader) resultsSoFar() []result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]result(nil), r.results...)
}

func (r *reader) Finish() (any, probe.Statuses) {
	st := probe.Statuses{}
	if r.req == nil || r.req.URL == "" {
		st[""] = probe.Status{State: probe.Unavailable, Reason: "no URL", Fix: "pass --url"}
		return Facts{Each: []Request{}}, st
	}
	f := Facts{URL: probe.Sanitize(r.req.URL), Method: methodOf(r.req), Each: []Request{}}
	if r.err != nil {
		st[""] = probe.Status{State: probe.Unavailable, Reason: r.err.Error()}
		return f, st
	}
	results := r.final
	if results == nil {
		results = r.resultsSoFar() // the after-window phase was cut
	}
	f.Unfinished = r.count() - len(results)
	summarize(&f, results)
	f.ListenOverflows = max(r.overflowB-r.overflowA, 0)
	st[""] = probe.Status{State: probe.OK}
	switch {
	case r.server != nil:
		f.ServerLocal, f.ServerPID, f.ServerName, f.ListenQueue = r.server.local, r.server.pid, r.server.name, r.server.queue
	case f.Address != "":
		cut := probe.StatusOf(probe.ErrCut, "")
		st["server_local"], st["server_pid"], st["server_name"], st["listen_queue"] = cut, cut, cut, cut
	}
	if f.Responses == 0 {
		reason := "no request got a response"
		if f.FailureError != "" {
			reason += ": " + f.FailureError
		}
		for _, k := range []string{"dns_ms", "connect_ms", "tls_ms", "server_ms", "transfer_ms", "total_ms", "total_max_ms",
			"dns_max_ms", "connect_max_ms", "tls_max_ms", "server_max_ms", "transfer_max_ms",
			"slowest_phase", "slowest_phase_ms", "slowest_phase_pct", "status", "bytes", "proto"} {
			st[k] = probe.Status{State: probe.Unavailable, Reason: reason}
		}
	}
	return f, st
}

func methodOf(req *probe.HTTPRequest) string {
	if req.Method != "" {
		return strings.ToUpper(req.Method)
	}
	if req.Data != "" {
		return http.MethodPost
	}
	return http.MethodGet
}

// addressOf is the address the last request that connected reached.
func addressOf(results []result) string {
	for i := len(results) - 1; i >= 0; i-- {
		if results[i].addr != "" {
			return results[i].addr
		}
	}
	return ""
}

// summarize takes the medians over the requests that got a response.
func summarize(f *Facts, results []result) {
	f.Requests = len(results)
	f.Address = addressOf(results)
	var dns, connect, tlsT, server, transfer, total []float64
	for i, res := range results {
		if i < maxEach {
			rq := Request{DNSMs: ms(res.dns), ConnectMs: ms(res.connect), TLSMs: ms(res.tls), ServerMs: ms(res.server),
				TransferMs: ms(res.transfer), TotalMs: ms(res.total), Status: res.status, Bytes: res.bytes,
				Address: probe.Sanitize(res.addr), Proto: res.proto, Reused: res.reused}
			if res.err != nil {
				rq.Error = probe.Sanitize(res.err.Error())
			}
			f.Each = append(f.Each, rq)
		}
		if res.state != nil {
			setTLS(f, res)
		}
		if res.err != nil {
			f.Failures++
			if f.FailureKind == "" {
				f.FailureKind, f.FailureError = classify(res.err), probe.Sanitize(res.err.Error())
			}
			continue
		}
		f.Responses++
		f.Status, f.Bytes, f.Proto = res.status, res.bytes, res.proto
		if res.status >= 400 {
			f.ErrorStatus++
		}
		if res.reused {
			f.Reused++
		}
		dns, connect, tlsT = append(dns, ms(res.dns)), append(connect, ms(res.connect)), append(tlsT, ms(res.tls))
		server, transfer, total = append(server, ms(res.server)), append(transfer, ms(res.transfer)), append(total, ms(res.total))
		f.TotalMaxMs = max(f.TotalMaxMs, ms(res.total))
		f.DNSMaxMs, f.ConnectMaxMs, f.TLSMaxMs = max(f.DNSMaxMs, ms(res.dns)), max(f.ConnectMaxMs, ms(res.connect)), max(f.TLSMaxMs, ms(res.tls))
		f.ServerMaxMs, f.TransferMaxMs = max(f.ServerMaxMs, ms(res.server)), max(f.TransferMaxMs, ms(res.transfer))
	}
	if f.Responses == 0 {
		return
	}
	f.DNSMs, f.ConnectMs, f.TLSMs = median(dns), median(connect), median(tlsT)
	f.ServerMs, f.TransferMs, f.TotalMs = median(server), median(transfer), median(total)
	for _, p := range []struct {
		name string
		v    float64
	}{{"dns", f.DNSMs}, {"connect", f.ConnectMs}, {"tls", f.TLSMs}, {"server", f.ServerMs}, {"transfer", f.TransferMs}} {
		if p.v > f.SlowestPhaseMs || f.SlowestPhase == "" {
			f.SlowestPhase, f.SlowestPhaseMs = p.name, p.v
		}
	}
	if f.TotalMs > 0 {
		f.SlowestPhasePct = probe.Round2(min(100, 100*f.SlowestPhaseMs/f.TotalMs))
	}
}

func setTLS(f *Facts, res result) {
	cs := res.state
	f.TLSVersion = tls.VersionName(cs.Version)
	if len(cs.PeerCertificates) == 0 {
		return
	}
	c := cs.PeerCertificates[0]
	f.CertSubject, f.CertIssuer = probe.Sanitize(c.Subject.String()), probe.Sanitize(c.Issuer.String())
	f.CertNotAfter = c.NotAfter.UTC().Format(time.RFC3339)
	f.CertExpiresInD = probe.Round2(time.Until(c.NotAfter).Hours() / 24)
	f.CertVerified = res.verifyErr == nil
	if res.verifyErr != nil {
		f.CertVerifyError = probe.Sanitize(res.verifyErr.Error())
	}
}

func ms(d time.Duration) float64 { return probe.Round2(float64(d) / float64(time.Millisecond)) }

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return probe.Round2((s[len(s)/2-1] + s[len(s)/2]) / 2)
}

// classify names a failure the way a person reads it.
func classify(err error) string {
	var dnsErr *net.DNSError
	var certErr *x509.CertificateInvalidError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var verifyErr *tls.CertificateVerificationError
	var opErr *net.OpError
	switch {
	case errors.As(err, &dnsErr):
		return "dns"
	case errors.As(err, &verifyErr), errors.As(err, &certErr), errors.As(err, &unknownCA), errors.As(err, &hostErr):
		return "certificate"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	case errors.As(err, &opErr) && opErr.Op == "dial" && isTimeout(err):
		return "connect-timeout"
	case isTimeout(err):
		return "timeout"
	case strings.Contains(err.Error(), "tls:"):
		return "tls"
	}
	return "other"
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// client sends one request at a time with a trace of its phases.
type client struct {
	http *http.Client
	mu   sync.Mutex
	// verifyErr is the last handshake's verification result: the chain is
	// checked by hand so that an invalid certificate is still described.
	verifyErr error
	state     *tls.ConnectionState
}

func newClient(req *probe.HTTPRequest) (*client, error) {
	u, err := url.Parse(req.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--url %q: give an http:// or https:// URL", probe.Sanitize(req.URL))
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if req.CACert != "" {
		b, err := readCACert(req.CACert)
		if err != nil {
			return nil, fmt.Errorf("--cacert: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("--cacert %s: no PEM certificate in it", req.CACert)
		}
	}
	c := &client{}
	dialer := &net.Dialer{Timeout: requestTimeout}
	if req.DNSServer != "" {
		server := req.DNSServer
		dialer.Resolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{Timeout: requestTimeout}).DialContext(ctx, network, server)
		}}
	}
	override, err := parseResolve(req.Resolve)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		Proxy:             http.ProxyFromEnvironment,
		DisableKeepAlives: !req.Reuse,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if to, ok := override[addr]; ok {
				addr = to
			}
			return dialer.DialContext(ctx, network, addr)
		},
		TLSClientConfig: &tls.Config{
			InsecureSkipVerify: true, // verified below, so that a bad certificate is still described
			VerifyConnection: func(cs tls.ConnectionState) error {
				err := verify(cs, roots)
				c.mu.Lock()
				c.verifyErr, c.state = err, &cs
				c.mu.Unlock()
				if err != nil && !req.Insecure {
					return err
				}
				return nil
			},
		},
		TLSHandshakeTimeout:   requestTimeout,
		ResponseHeaderTimeout: requestTimeout,
		ForceAttemptHTTP2:     true,
	}
	c.http = &http.Client{Transport: tr, Timeout: requestTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return c, nil
}

// verify checks the chain for the host as crypto/tls would.
func verify(cs tls.ConnectionState, roots *x509.CertPool) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("tls: the server sent no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{DNSName: cs.ServerName, Roots: roots, Intermediates: inter})
	if err != nil {
		return &tls.CertificateVerificationError{UnverifiedCertificates: cs.PeerCertificates, Err: err}
	}
	return nil
}

// parseResolve reads curl's --resolve HOST:PORT:ADDR.
func parseResolve(s string) (map[string]string, error) {
	out := map[string]string{}
	if s == "" {
		return out, nil
	}
	host, rest, ok1 := strings.Cut(s, ":")
	port, addr, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 || host == "" || addr == "" {
		return nil, fmt.Errorf("--resolve %q: use HOST:PORT:ADDR, e.g. example.com:443:127.0.0.1", s)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return nil, fmt.Errorf("--resolve %q: port %q is not a number", s, port)
	}
	a, err := netip.ParseAddr(strings.Trim(addr, "[]"))
	if err != nil {
		return nil, fmt.Errorf("--resolve %q: %q is not an IP address", s, addr)
	}
	out[net.JoinHostPort(host, port)] = netip.AddrPortFrom(a, 0).Addr().String() + ":" + port
	if a.Is6() {
		out[net.JoinHostPort(host, port)] = "[" + a.String() + "]:" + port
	}
	return out, nil
}

func (c *client) do(ctx context.Context, req *probe.HTTPRequest) result {
	var res result
	var start, dnsStart, dnsDone, connStart, connDone, tlsStart, tlsDone, wrote, first time.Time
	trace := &httptrace.ClientTrace{
		DNSStart:          func(httptrace.DNSStartInfo) { dnsStart = time.Now() },
		DNSDone:           func(httptrace.DNSDoneInfo) { dnsDone = time.Now() },
		ConnectStart:      func(string, string) { connStart = time.Now() },
		ConnectDone:       func(_, addr string, _ error) { connDone = time.Now(); res.addr = addr },
		TLSHandshakeStart: func() { tlsStart = time.Now() },
		TLSHandshakeDone:  func(tls.ConnectionState, error) { tlsDone = time.Now() },
		GotConn: func(i httptrace.GotConnInfo) {
			res.reused = i.Reused
			if res.addr == "" && i.Conn != nil {
				res.addr = i.Conn.RemoteAddr().String()
			}
		},
		WroteRequest:         func(httptrace.WroteRequestInfo) { wrote = time.Now() },
		GotFirstResponseByte: func() { first = time.Now() },
	}
	ctx, cancel := context.WithTimeout(httptrace.WithClientTrace(ctx, trace), requestTimeout)
	defer cancel()
	var body io.Reader
	if req.Data != "" {
		body = strings.NewReader(req.Data)
	}
	hr, err := http.NewRequestWithContext(ctx, methodOf(req), req.URL, body)
	if err != nil {
		res.err = err
		return res
	}
	hr.Header.Set("User-Agent", "diagnose")
	if name, value, ok := strings.Cut(req.Header, ":"); ok {
		hr.Header.Set(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	start = time.Now()
	resp, err := c.http.Do(hr)
	c.mu.Lock()
	res.state, res.verifyErr = c.state, c.verifyErr
	c.state, c.verifyErr = nil, nil
	c.mu.Unlock()
	if err != nil {
		res.err = err
		return res
	}
	n, err := io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	end := time.Now()
	if err != nil {
		res.err = err
		return res
	}
	res.status, res.bytes, res.proto = resp.StatusCode, n, resp.Proto
	span := func(a, b time.Time) time.Duration {
		if a.IsZero() || b.IsZero() || b.Before(a) {
			return 0
		}
		return b.Sub(a)
	}
	res.dns, res.connect, res.tls = span(dnsStart, dnsDone), span(connStart, connDone), span(tlsStart, tlsDone)
	res.server, res.transfer, res.total = span(wrote, first), span(first, end), span(start, end)
	return res
}

// listenOverflows reads TcpExt ListenOverflows from /proc/net/netstat.
func listenOverflows(h probe.Host) int64 {
	b, err := h.ReadFile("proc", "net", "netstat")
	if err != nil {
		return 0
	}
	m, err := probe.HeaderValues(b, "/proc/net/netstat")
	if err != nil {
		return 0
	}
	return m["TcpExt.ListenOverflows"]
}

// local finds the listener on this host that the requests connected to, and
// the process holding it.
// server is the local listener requests connected to.
type server struct {
	local bool
	pid   int
	name  string
	queue int64
}

func local(h probe.Host, address string) server {
	var s server
	addr, err := netip.ParseAddrPort(address)
	if err != nil {
		return s
	}
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	for _, table := range []string{"tcp", "tcp6"} {
		b, err := h.ReadFile("proc", "net", table)
		if err != nil {
			continue
		}
		lns, err := netstat.Listeners(b)
		if err != nil {
			continue
		}
		for _, ln := range lns {
			la := ln.Local.Addr().Unmap()
			if ln.Local.Port() != addr.Port() || !(la == addr.Addr() || la.IsUnspecified() && addr.Addr().IsLoopback()) {
				continue
			}
			s.local, s.queue = true, int64(ln.Queue)
			if o := sockdiag.FindOwner(h, ln.Inode, ln.UID); o.PID > 0 {
				s.pid, s.name = o.PID, o.Comm
			}
			return s
		}
	}
	return s
}

// readCACert reads a PEM file of at most 1 MiB, never a FIFO.
func readCACert(path string) ([]byte, error) {
	f, err := probe.OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, probe.MaxFileBytes))
}
