// manyconns: many TCP connections over loopback, mostly idle, for the
// socket sampling budget of cmd/diagnose-bench: a line echo server and a
// client that holds N connections to it and talks on K of them.
//
// Usage:
//
//	manyconns server [-addr 127.0.0.1:0] [-delay 0]
//	manyconns client -addr HOST:PORT -conns N [-active K] [-every 100ms]
//
// server prints one line "listening 127.0.0.1:PORT" on stdout and answers
// every line it reads with a line, after -delay. client prints "started"
// once its N connections are established, then sends one short line every
// -every on K of them and reads the reply; the others stay idle. Both run
// until SIGINT/SIGTERM or until their parent dies.
//
// Each connection is a descriptor: the client needs an RLIMIT_NOFILE above
// N, and the server above the connections of all its clients. Go raises the
// soft limit to just under the hard one at start (since Go 1.19; hard - 1
// since Go 1.22), so the hard limit is what counts.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

const usage = "usage: manyconns server|client [flags]"

// conns keeps the client's connections reachable: an unreferenced net.Conn
// may be closed by its finalizer.
var conns []net.Conn

func main() {
	// SIGKILL this process when the thread that started it exits, so a
	// workload never outlives the benchmark that started it.
	syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGKILL), 0)
	if len(os.Args) < 2 {
		fatal(usage)
	}
	mode, args := os.Args[1], os.Args[2:]
	fs := flag.NewFlagSet(mode, flag.ExitOnError)
	var run func()
	switch mode {
	case "server":
		addr := fs.String("addr", "127.0.0.1:0", "listen address")
		delay := fs.Duration("delay", 0, "time to wait before answering each line")
		run = func() { server(*addr, *delay) }
	case "client":
		addr := fs.String("addr", "", "server address HOST:PORT")
		n := fs.Int("conns", 1, "connections to open and hold")
		active := fs.Int("active", 0, "connections that send a line every -every (the rest stay idle)")
		every := fs.Duration("every", 100*time.Millisecond, "interval between lines on an active connection")
		run = func() { client(need(*addr, "-addr"), *n, *active, *every) }
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
	fmt.Fprintln(os.Stderr, "manyconns:", msg)
	os.Exit(2)
}

func need(v, name string) string {
	if v == "" {
		fatal(name + " is required")
	}
	return v
}

func server(addr string, delay time.Duration) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fatal(err.Error())
	}
	fmt.Println("listening", ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			if isTemporary(err) {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			fatal(err.Error())
		}
		go answer(c, delay)
	}
}

// isTemporary reports the errors accept recovers from: out of descriptors
// or memory, a connection reset before it was accepted.
func isTemporary(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// answer replies to each line of c with a line, after delay.
func answer(c net.Conn, delay time.Duration) {
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		if _, err := r.ReadSlice('\n'); err != nil {
			return
		}
		if delay > 0 {
			time.Sleep(delay)
		}
		if _, err := c.Write([]byte("ok\n")); err != nil {
			return
		}
	}
}

func client(addr string, n, active int, every time.Duration) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < uint64(n)+64 {
		fatal(fmt.Sprintf("RLIMIT_NOFILE is %d (hard %d): too low for %d connections", lim.Cur, lim.Max, n))
	}
	for range n {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			fatal(fmt.Sprintf("connection %d of %d: %v", len(conns)+1, n, err))
		}
		conns = append(conns, c)
	}
	fmt.Println("started")
	for _, c := range conns[:min(active, n)] {
		go talk(c, every)
	}
}

// talk sends a line on c every interval and reads the reply.
func talk(c net.Conn, every time.Duration) {
	r := bufio.NewReader(c)
	t := time.NewTicker(every)
	defer t.Stop()
	for range t.C {
		if _, err := c.Write([]byte("ping\n")); err != nil {
			fatal(err.Error())
		}
		if _, err := r.ReadSlice('\n'); err != nil {
			fatal(err.Error())
		}
	}
}
