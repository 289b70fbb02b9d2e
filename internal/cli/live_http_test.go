package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/diagnose-sh/diagnose/probes/probetest"
)

// serve starts an HTTP server on a loopback port for the test.
func serve(t *testing.T, ln net.Listener, h http.HandlerFunc) string {
	t.Helper()
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func loopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// testCA makes a CA and a certificate for 127.0.0.1 and app.test signed by
// it, valid from notBefore to notAfter; it writes the CA's PEM to a file.
func testCA(t *testing.T, notBefore, notAfter time.Time) (tls.Certificate, string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "diagnose test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "app.test"},
		NotBefore: notBefore, NotAfter: notAfter, DNSNames: []string{"app.test"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, path
}

// dnsServer answers A queries on a loopback UDP port after delay: with
// 127.0.0.1 for app.test, NXDOMAIN for anything else.
func dnsServer(t *testing.T, delay time.Duration) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			resp := dnsmessage.Message{Header: dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true}, Questions: []dnsmessage.Question{q}}
			switch {
			case q.Name.String() != "app.test.":
				resp.RCode = dnsmessage.RCodeNameError
			case q.Type == dnsmessage.TypeA:
				resp.Answers = []dnsmessage.Resource{{Header: dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 1},
					Body: &dnsmessage.AResource{A: [4]byte{127, 0, 0, 1}}}}
			}
			out, _ := resp.Pack()
			time.Sleep(delay)
			pc.WriteTo(out, from)
		}
	}()
	return pc.LocalAddr().String()
}

// slowAcceptListener listens with a backlog of 1 and accepts nothing for
// wait: connections past the full accept queue have their SYNs dropped and
// retransmitted a second later.
func slowAcceptListener(t *testing.T, wait time.Duration, h http.HandlerFunc) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 1); err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "listener")
	ln, err := net.FileListener(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	// Fill the queue (backlog 1 holds 2) with idle connections.
	for i := 0; i < 2; i++ {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
	}
	go func() {
		time.Sleep(wait)
		serve(t, ln, h)
	}()
	return addr
}

// TestLiveHTTP classifies requests to loopback servers by their phase.
// About 15 s.
func TestLiveHTTP(t *testing.T) {
	probetest.Live(t)
	ok := func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") }
	validCert, caFile := testCA(t, time.Now().Add(-time.Hour), time.Now().Add(90*24*time.Hour))
	expiredCert, expiredCA := testCA(t, time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	soonCert, soonCA := testCA(t, time.Now().Add(-time.Hour), time.Now().Add(5*24*time.Hour))
	tlsServer := func(t *testing.T, cert tls.Certificate) string {
		return serve(t, tls.NewListener(loopback(t), &tls.Config{Certificates: []tls.Certificate{cert}}), ok)
	}
	closed := func(t *testing.T) string { ln := loopback(t); addr := ln.Addr().String(); ln.Close(); return addr }

	for _, tc := range []struct {
		name        string
		args        func(t *testing.T) []string
		class, rule string
		evidence    string
	}{
		{"fast", func(t *testing.T) []string { return []string{"--url", "http://" + serve(t, loopback(t), ok) + "/"} },
			"none", "timing", "HTTP/1.1 200 from 127.0.0.1:"},
		{"slow-first-byte", func(t *testing.T) []string {
			addr := serve(t, loopback(t), func(w http.ResponseWriter, r *http.Request) { time.Sleep(300 * time.Millisecond); ok(w, r) })
			return []string{"--url", "http://" + addr + "/", "--count", "3"}
		}, "server", "slow-server", "; it is cli.test (pid " + strconv.Itoa(os.Getpid()) + ") on this host"},
		{"slow-body", func(t *testing.T) []string {
			addr := serve(t, loopback(t), func(w http.ResponseWriter, _ *http.Request) {
				w.Write([]byte("head\n"))
				w.(http.Flusher).Flush()
				time.Sleep(300 * time.Millisecond)
				w.Write([]byte("tail\n"))
			})
			return []string{"--url", "http://" + addr + "/", "--count", "3"}
		}, "transfer", "slow-transfer", "takes"},
		{"slow-accept", func(t *testing.T) []string {
			return []string{"--url", "http://" + slowAcceptListener(t, 300*time.Millisecond, ok) + "/", "--count", "1"}
		}, "connect", "slow-connect", "TCP connect takes"},
		{"slow-dns", func(t *testing.T) []string {
			addr := serve(t, loopback(t), ok)
			_, port, _ := net.SplitHostPort(addr)
			return []string{"--url", "http://app.test:" + port + "/", "--dns-server", dnsServer(t, 300*time.Millisecond), "--count", "2"}
		}, "dns", "slow-dns", "name lookup takes"},
		{"no-such-name", func(t *testing.T) []string {
			return []string{"--url", "http://nowhere.test/", "--dns-server", dnsServer(t, 0), "--count", "1"}
		}, "failure", "request-failed", "got no response: dns:"},
		{"refused", func(t *testing.T) []string { return []string{"--url", "http://" + closed(t) + "/", "--count", "1"} },
			"failure", "request-failed", "got no response: refused:"},
		{"error-status", func(t *testing.T) []string {
			addr := serve(t, loopback(t), func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "down", 503) })
			return []string{"--url", "http://" + addr + "/", "--count", "2"}
		}, "failure", "error-status", "(last: 503)"},
		{"tls-valid", func(t *testing.T) []string {
			return []string{"--url", "https://" + tlsServer(t, validCert) + "/", "--cacert", caFile, "--count", "2"}
		}, "none", "timing", "200 from 127.0.0.1:"},
		{"tls-by-name-with-resolve", func(t *testing.T) []string {
			_, port, _ := net.SplitHostPort(tlsServer(t, validCert))
			return []string{"--url", "https://app.test:" + port + "/", "--resolve", "app.test:" + port + ":127.0.0.1", "--cacert", caFile, "--count", "1"}
		}, "none", "timing", "200 from 127.0.0.1:"},
		{"tls-unknown-ca", func(t *testing.T) []string {
			return []string{"--url", "https://" + tlsServer(t, validCert) + "/", "--count", "1"}
		}, "failure", "certificate-invalid", "certificate signed by unknown authority"},
		{"tls-expired", func(t *testing.T) []string {
			return []string{"--url", "https://" + tlsServer(t, expiredCert) + "/", "--cacert", expiredCA, "--count", "1", "--insecure"}
		}, "certificate", "certificate-invalid", "expired"},
		{"tls-expiring", func(t *testing.T) []string {
			return []string{"--url", "https://" + tlsServer(t, soonCert) + "/", "--cacert", soonCA, "--count", "1"}
		}, "certificate", "certificate-expiring", "expires in 5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, code := runJSON(t, append([]string{"http"}, tc.args(t)...)...)
			t.Logf("%s: verdict %s, findings %v, exit %d", tc.name, rep.Verdict.Class, rep.rules(), code)
			for _, f := range rep.Findings {
				t.Logf("  %s: %s", f.Rule, f.Evidence)
			}
			if rep.Verdict.Class != tc.class {
				t.Errorf("verdict %s, want %s", rep.Verdict.Class, tc.class)
			}
			f, fired := rep.finding(tc.rule)
			if !fired || !strings.Contains(f.Evidence, tc.evidence) {
				t.Errorf("%s (fired %v) evidence %q lacks %q", tc.rule, fired, f.Evidence, tc.evidence)
			}
		})
	}
}
