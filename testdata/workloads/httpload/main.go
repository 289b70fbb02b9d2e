// httpload: HTTP/1.1 workloads over loopback for the live tests: a slow
// server and clients that spend their time waiting on it through Go's event
// loop (goroutines parked on the netpoller: threads in epoll_wait and futex,
// never in read).
//
// Usage:
//
//	httpload server -delay 300ms [-addr 127.0.0.1:0] [-body 64] [-log]
//	httpload client -url URL [-concurrency 4]
//	httpload keepalive -url URL [-every 3s]
//	httpload idleclients -url URL [-conns 8]
//	httpload proxy -backend URL [-addr 127.0.0.1:0] [-log]
//	httpload connectstall [-dialers 2]
//
// connectstall listens with a backlog of 0 and never accepts, fills its
// accept queue, then keeps dialing it: the kernel drops the SYNs, so the
// dialers wait in SYN_SENT (a peer that does not answer connects). It prints
// "listening 127.0.0.1:PORT" once the queue is full.
//
// server and proxy print one line "listening 127.0.0.1:PORT" on stdout; the
// clients print "started" once their first requests completed. -log writes
// one line a second to stderr (requests answered, open connections). Each
// mode runs until SIGINT/SIGTERM or until its parent dies.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const usage = "usage: httpload server|client|keepalive|idleclients|proxy|connectstall [flags]"

func main() {
	setPdeathsig()
	if len(os.Args) < 2 {
		fatal(usage)
	}
	mode, args := os.Args[1], os.Args[2:]
	fs := flag.NewFlagSet(mode, flag.ExitOnError)
	var run func()
	switch mode {
	case "server":
		addr := fs.String("addr", "127.0.0.1:0", "listen address")
		delay := fs.Duration("delay", 300*time.Millisecond, "time to wait before answering each request")
		body := fs.Int("body", 64, "response body size in bytes")
		logf := fs.Bool("log", false, "log requests/s and open connections to stderr every second")
		run = func() { server(*addr, *delay, *body, *logf) }
	case "client":
		url := fs.String("url", "", "URL to GET")
		n := fs.Int("concurrency", 4, "goroutines, each looping GET url")
		run = func() { client(need(*url, "-url"), *n) }
	case "keepalive":
		url := fs.String("url", "", "URL to GET")
		every := fs.Duration("every", 3*time.Second, "interval between requests")
		run = func() { keepalive(need(*url, "-url"), *every) }
	case "idleclients":
		url := fs.String("url", "", "URL to GET")
		n := fs.Int("conns", 8, "idle keep-alive connections to hold")
		run = func() { idleclients(need(*url, "-url"), *n) }
	case "proxy":
		addr := fs.String("addr", "127.0.0.1:0", "listen address")
		backend := fs.String("backend", "", "URL each request is forwarded to")
		logf := fs.Bool("log", false, "log requests/s and open connections to stderr every second")
		run = func() { proxy(*addr, need(*backend, "-backend"), *logf) }
	case "connectstall":
		n := fs.Int("dialers", 2, "goroutines dialing the full listener")
		run = func() { connectstall(*n) }
	default:
		fatal(usage)
	}
	fs.Parse(args)
	if fs.NArg() > 0 {
		fatal("unexpected arguments: " + strings.Join(fs.Args(), " "))
	}
	go run()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	os.Exit(0)
}

func fatal(msg string) {
	fmt.Fprintln(os.Stderr, "httpload:", msg)
	os.Exit(2)
}

func need(v, name string) string {
	if v == "" {
		fatal(name + " is required")
	}
	return v
}

// newClient returns a keep-alive client whose pool holds up to conns idle
// connections to one host, never closes them for idleness, and ignores any
// proxy settings in the environment.
func newClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     0,
	}}
}

// get does one GET and reads the body to EOF, so the connection returns to
// the pool.
func get(c *http.Client, url string) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// serve listens on addr, prints the listening line and serves h, counting
// requests and connections for -log.
func serve(addr string, h http.HandlerFunc, logf bool) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fatal(err.Error())
	}
	var reqs, conns atomic.Int64
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h(w, r)
			reqs.Add(1)
		}),
		ConnState: func(_ net.Conn, s http.ConnState) {
			switch s {
			case http.StateNew:
				conns.Add(1)
			case http.StateClosed, http.StateHijacked:
				conns.Add(-1)
			}
		},
	}
	fmt.Printf("listening %s\n", l.Addr())
	if logf {
		go func() {
			for range time.Tick(time.Second) {
				fmt.Fprintf(os.Stderr, "%s reqs/s=%d conns=%d\n",
					time.Now().Format("15:04:05"), reqs.Swap(0), conns.Load())
			}
		}()
	}
	if err := srv.Serve(l); err != nil {
		fatal(err.Error())
	}
}

func server(addr string, delay time.Duration, size int, logf bool) {
	body := []byte(strings.Repeat("x", size))
	serve(addr, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.Write(body)
	}, logf)
}

func proxy(addr, backend string, logf bool) {
	c := newClient(256)
	serve(addr, func(w http.ResponseWriter, r *http.Request) {
		req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, backend, nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		resp, err := c.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		if resp.ContentLength >= 0 {
			w.Header().Set("Content-Length", fmt.Sprint(resp.ContentLength))
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}, logf)
}

// client: n goroutines each looping GET url on one shared pool.
func client(url string, n int) {
	if n < 1 {
		n = 1
	}
	c := newClient(n)
	var once sync.Once
	for i := 0; i < n; i++ {
		go func() {
			for {
				if err := get(c, url); err != nil {
					fmt.Fprintln(os.Stderr, "httpload:", err)
					time.Sleep(100 * time.Millisecond)
					continue
				}
				once.Do(func() { fmt.Println("started") })
			}
		}()
	}
}

// keepalive: warm up 4 pooled connections, then one request every period.
func keepalive(url string, every time.Duration) {
	const conns = 4
	c := newClient(conns)
	warm(c, url, conns)
	fmt.Println("started")
	for range time.Tick(every) {
		if err := get(c, url); err != nil {
			fmt.Fprintln(os.Stderr, "httpload:", err)
		}
	}
}

// idleclients: open n connections, use each once, then hold them idle.
func idleclients(url string, n int) {
	if n < 1 {
		n = 1
	}
	warm(newClient(n), url, n)
	fmt.Println("started")
}

// warm sends n requests at once and makes them use n distinct connections:
// each request keeps its connection busy (body unread) until every request
// has its response headers, so none can reuse another's connection. It
// retries until the pool holds n connections and exits if it cannot.
func warm(c *http.Client, url string, n int) {
	for attempt := 0; ; attempt++ {
		var mu sync.Mutex
		seen := map[string]bool{}
		var headers, done sync.WaitGroup
		headers.Add(n)
		done.Add(n)
		errs := make(chan error, n)
		start := make(chan struct{})
		for i := 0; i < n; i++ {
			go func() {
				defer done.Done()
				trace := &httptrace.ClientTrace{GotConn: func(ci httptrace.GotConnInfo) {
					mu.Lock()
					seen[ci.Conn.LocalAddr().String()] = true
					mu.Unlock()
				}}
				ctx := httptrace.WithClientTrace(context.Background(), trace)
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				<-start
				resp, err := c.Do(req)
				headers.Done()
				if err != nil {
					errs <- err
					return
				}
				headers.Wait()
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("GET %s: %s", url, resp.Status)
				}
				if err != nil {
					errs <- err
				}
			}()
		}
		close(start)
		done.Wait()
		close(errs)
		err := <-errs
		if err == nil && len(seen) == n {
			return
		}
		if err == nil {
			err = fmt.Errorf("got %d distinct connections, want %d", len(seen), n)
		}
		if attempt == 20 {
			fatal(err.Error())
		}
		fmt.Fprintln(os.Stderr, "httpload: warm-up:", err, "(retrying)")
		c.CloseIdleConnections()
		time.Sleep(250 * time.Millisecond)
	}
}

func connectstall(dialers int) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		fatal(err.Error())
	}
	sa := &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
	if err := syscall.Bind(fd, sa); err != nil {
		fatal(err.Error())
	}
	if err := syscall.Listen(fd, 0); err != nil { // net.Listen would ask for somaxconn
		fatal(err.Error())
	}
	name, _ := syscall.Getsockname(fd)
	addr := fmt.Sprintf("127.0.0.1:%d", name.(*syscall.SockaddrInet4).Port)
	var held []net.Conn
	for range 2 { // the queue of a backlog-0 listener holds one; the second waits too
		d := net.Dialer{Timeout: 50 * time.Millisecond}
		if c, err := d.Dial("tcp", addr); err == nil {
			held = append(held, c)
		}
	}
	fmt.Println("listening " + addr)
	for range dialers {
		go func() {
			for {
				d := net.Dialer{Timeout: 5 * time.Second}
				if c, err := d.Dial("tcp", addr); err == nil {
					held = append(held, c)
				}
			}
		}()
	}
	select {}
}
