package threads

// Parser for `jcmd PID Thread.print` (OpenJDK 17 observed). A thread block:
//
//	"worker-3" #15 prio=5 os_prio=0 cpu=62.03ms elapsed=1.42s tid=0x... nid=0x2b66 waiting for monitor entry  [0x...]
//	   java.lang.Thread.State: BLOCKED (on object monitor)
//		at Contend.lambda$main$0(Contend.java:14)
//		- waiting to lock <0x00000000ff6e2348> (a java.lang.Object)
//
// and the holder shows "- locked <0x00000000ff6e2348> (a java.lang.Object)".

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

// monitorDump is what a thread dump says about monitor contention.
type monitorDump struct {
	Threads    int    // threads in the dump
	Blocked    int    // threads BLOCKED (on object monitor)
	TopMonitor string // "<0x...> (a java.lang.Object)" most threads wait to lock
	TopWaiters int    // threads waiting for it
	BlockedAt  string // first frame of a thread waiting for it
	Holder     string // thread that holds it
}

var errNoDump = errors.New("no thread dump in jcmd output")

func parseThreadDump(b []byte) (monitorDump, error) {
	var d monitorDump
	type thread struct {
		name    string
		blocked bool
		frame   string
		waits   string
	}
	var cur *thread
	waiters := map[string][]*thread{}
	holders := map[string]string{}
	full := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		trim := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "Full thread dump"):
			full = true
		case strings.HasPrefix(line, `"`):
			end := strings.Index(line[1:], `"`)
			if end < 0 {
				return d, fmt.Errorf("%w: thread line %q", probe.ErrFormat, probe.Truncate(line))
			}
			cur = &thread{name: line[1 : end+1]}
			d.Threads++
		case cur == nil:
		case strings.HasPrefix(trim, "java.lang.Thread.State: BLOCKED"):
			cur.blocked = true
			d.Blocked++
		case strings.HasPrefix(trim, "at ") && cur.frame == "":
			cur.frame = strings.TrimPrefix(trim, "at ")
		case strings.HasPrefix(trim, "- waiting to lock "):
			m := strings.TrimPrefix(trim, "- waiting to lock ")
			if cur.blocked && cur.waits == "" {
				cur.waits = m
				waiters[m] = append(waiters[m], cur)
			}
		case strings.HasPrefix(trim, "- locked "):
			m := strings.TrimPrefix(trim, "- locked ")
			if _, ok := holders[m]; !ok {
				holders[m] = cur.name
			}
		}
	}
	if err := sc.Err(); err != nil {
		return d, fmt.Errorf("%w: %w", probe.ErrFormat, err)
	}
	if !full || d.Threads == 0 {
		return d, errNoDump
	}
	monitors := make([]string, 0, len(waiters))
	for m := range waiters {
		monitors = append(monitors, m)
	}
	sort.Slice(monitors, func(i, j int) bool {
		if len(waiters[monitors[i]]) != len(waiters[monitors[j]]) {
			return len(waiters[monitors[i]]) > len(waiters[monitors[j]])
		}
		return monitors[i] < monitors[j]
	})
	if len(monitors) > 0 {
		m := monitors[0]
		d.TopMonitor, d.TopWaiters = m, len(waiters[m])
		d.BlockedAt = waiters[m][0].frame
		d.Holder = holders[m]
	}
	return d, nil
}

var jvmFields = []string{"jvm_blocked_threads", "jvm_top_monitor", "jvm_top_monitor_waiters", "jvm_blocked_at", "jvm_monitor_holder"}

// isJVM says whether the target runs a JVM launcher (java).
func isJVM(h probe.Host, pid int) bool {
	b, err := h.ReadFile("proc", strconv.Itoa(pid), "cmdline")
	if err != nil {
		return false
	}
	argv0, _, _ := strings.Cut(string(b), "\x00")
	return filepath.Base(argv0) == "java"
}

// AfterWindow takes a jcmd thread dump of a JVM (--jcmd) right after the
// window, never during it: jcmd attaches, and a safepoint pauses every Java
// thread.
func (r *reader) AfterWindow(ctx context.Context, _ probe.Host) {
	if !r.isJVM || !r.jcmd || r.run == nil || r.ended {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	r.dump, r.dumpErr = r.run(ctx, "jcmd", strconv.Itoa(r.pid), "Thread.print")
	r.dumped = true
}

// jvmEvidence reads the thread dump taken after the window.
func (r *reader) jvmEvidence(f *Facts, st probe.Statuses) {
	set := func(s probe.Status) {
		for _, k := range jvmFields {
			st[k] = s
		}
	}
	switch {
	case !r.isJVM:
		set(probe.Status{State: probe.Unavailable, Reason: "the target is not a JVM"})
		return
	case !r.jcmd:
		set(probe.Status{State: probe.Unavailable, Reason: "no thread dump: jcmd was not allowed",
			Fix: "pass --jcmd (jcmd attaches: the JVM starts a listener and pauses briefly for the dump)"})
		return
	case r.run == nil || r.ended:
		set(probe.Status{State: probe.Unavailable, Reason: "jcmd cannot be run here (or the process ended)"})
		return
	case !r.dumped:
		set(probe.Status{State: probe.Unavailable, Reason: probe.CutByTimeout, Fix: "raise --timeout"})
		return
	}
	out, err := r.dump, r.dumpErr
	d, perr := parseThreadDump(out)
	if perr != nil {
		reason := strings.TrimSpace(string(out))
		if i := strings.IndexByte(reason, '\n'); i >= 0 {
			reason = reason[:i]
		}
		switch {
		case errors.Is(err, fs.ErrNotExist) || strings.Contains(reason, "executable file not found"):
			set(probe.Status{State: probe.Unavailable, Reason: "jcmd is not installed", Fix: "install the JDK (openjdk-17-jdk-headless) that matches the JVM"})
		default:
			set(probe.Status{State: probe.Unavailable, Reason: "jcmd Thread.print failed: " + probe.Truncate(reason)})
		}
		return
	}
	f.JVMBlockedThreads = d.Blocked
	f.JVMTopMonitor = probe.Sanitize(d.TopMonitor)
	f.JVMTopMonitorWaiters = d.TopWaiters
	f.JVMBlockedAt = probe.Sanitize(d.BlockedAt)
	f.JVMMonitorHolder = probe.Sanitize(d.Holder)
}
