// Package top names the processes behind a busy system, as the runbook's
// htop step does: the top ones by CPU over the window, by time blocked in
// uninterruptible sleep (D: disk or NFS), and by memory growth.
package top

import (
	"bytes"
	"context"
	"os"
	"sort"
	"strconv"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

// Facts are the top processes of the window, at most maxTop of each.
type Facts struct {
	Processes  int       `expr:"processes" json:"processes" doc:"processes seen in the window"`
	WindowS    float64   `expr:"window_s" json:"window_s" doc:"seconds between the first and last scan"`
	CPU        []Process `expr:"cpu" json:"cpu" doc:"the processes using the most CPU over the window (at most 5), most first"`
	Blocked    []Process `expr:"blocked" json:"blocked" doc:"the processes most often in uninterruptible sleep (D: disk, NFS) over the window's scans (at most 5)"`
	Growing    []Process `expr:"growing" json:"growing" doc:"the processes whose resident memory grew most over the window (at most 5)"`
	TopCPU     Process   `expr:"top_cpu" json:"top_cpu" doc:"the process using the most CPU (pid 0 when none used any)"`
	TopBlocked Process   `expr:"top_blocked" json:"top_blocked" doc:"the process most often in state D (pid 0 when none was)"`
	TopGrowing Process   `expr:"top_growing" json:"top_growing" doc:"the process whose memory grew most (pid 0 when none grew)"`
}

// Process is one process of a top list.
type Process struct {
	PID            int     `expr:"pid" json:"pid" doc:"process id"`
	Name           string  `expr:"name" json:"name" doc:"process name (comm)"`
	CPUPct         float64 `expr:"cpu_pct" json:"cpu_pct" doc:"CPU time (user+system) per wall time over the window, 100 = one core"`
	BlockedPct     float64 `expr:"blocked_pct" json:"blocked_pct" doc:"share of the window's scans that found it in state D, %"`
	RSSBytes       int64   `expr:"rss_bytes" json:"rss_bytes" doc:"resident memory at the last scan, bytes"`
	RSSGrowthBytes int64   `expr:"rss_growth_bytes" json:"rss_growth_bytes" doc:"resident memory growth over the window, bytes"`
}

const (
	maxTop = 5
	// USER_HZ: utime and stime in /proc/PID/stat count these.
	ticksPerSecond = 100
)

// New scans every process at the window's start, at its interval and at
// its end.
func New(probe.Target, probe.Options) probe.Reader { return &reader{} }

type reader struct {
	first, last time.Time
	scans       int
	seen        map[int]*proc
	err         error
}

// proc is what the scans saw of one process.
type proc struct {
	name             string
	ticks0, ticks    uint64 // utime+stime at its first and last scan
	at0, at          time.Time
	rss0, rss        int64
	blocked, sampled int
}

func (r *reader) Read(ctx context.Context, h probe.Host) {
	if r.seen == nil {
		r.seen, r.first = map[int]*proc{}, h.Now
	}
	names, err := h.DirNames(probe.MaxProcesses, "proc")
	if err != nil {
		if r.scans == 0 {
			r.err = err
		}
		return
	}
	r.scans++
	r.last = h.Now
	pageSize := int64(os.Getpagesize())
	self := -1
	if h.Root == "" || h.Root == "/" {
		self = os.Getpid() // diagnose itself, on the live system
	}
	for _, n := range names {
		if n[0] < '0' || n[0] > '9' {
			continue
		}
		pid, err := strconv.Atoi(n)
		if err != nil || pid == self {
			continue
		}
		b, err := h.ReadFile("proc", n, "stat")
		if err != nil {
			continue // gone since the listing
		}
		s, ok := parseStat(b)
		if !ok {
			continue
		}
		p := r.seen[pid]
		if p == nil {
			p = &proc{name: probe.Sanitize(s.comm), ticks0: s.ticks, at0: h.Now, rss0: s.rssPages * pageSize}
			r.seen[pid] = p
		}
		p.ticks, p.at, p.rss = s.ticks, h.Now, s.rssPages*pageSize
		p.sampled++
		if s.state == 'D' {
			p.blocked++
		}
	}
}

// stat is what top reads of /proc/PID/stat.
type stat struct {
	comm     string
	state    byte
	ticks    uint64 // utime + stime (fields 14, 15)
	rssPages int64  // field 24
}

func parseStat(b []byte) (stat, bool) {
	var s stat
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return s, false
	}
	tail, err := probe.StatTail(b)
	if err != nil {
		return s, false
	}
	st, ok1 := probe.StatField(tail, 3)
	ut, ok2 := probe.StatField(tail, 14)
	sy, ok3 := probe.StatField(tail, 15)
	rss, ok4 := probe.StatField(tail, 24)
	if !ok1 || !ok2 || !ok3 || !ok4 || len(st) != 1 {
		return s, false
	}
	u, ok5 := probe.Uint(ut)
	y, ok6 := probe.Uint(sy)
	r, err := strconv.ParseInt(string(rss), 10, 64)
	if !ok5 || !ok6 || err != nil {
		return s, false
	}
	s.comm, s.state, s.ticks, s.rssPages = string(b[open+1:end]), st[0], u+y, r
	return s, true
}

func (r *reader) Finish() (any, probe.Statuses) {
	st := probe.Statuses{}
	f := Facts{CPU: []Process{}, Blocked: []Process{}, Growing: []Process{}}
	if r.scans == 0 {
		st[""] = probe.StatusOf(r.err, "/proc")
		if r.err == nil {
			st[""] = probe.Status{State: probe.Error, Reason: "never read"}
		}
		return f, st
	}
	st[""] = probe.Status{State: probe.OK}
	f.Processes = len(r.seen)
	f.WindowS = probe.Round2(r.last.Sub(r.first).Seconds())
	var all []Process
	for pid, p := range r.seen {
		x := Process{PID: pid, Name: p.name, RSSBytes: p.rss, RSSGrowthBytes: p.rss - p.rss0}
		if span := p.at.Sub(p.at0).Seconds(); span > 0 && p.ticks >= p.ticks0 {
			x.CPUPct = probe.Round2(100 * float64(p.ticks-p.ticks0) / ticksPerSecond / span)
		}
		if p.sampled > 0 {
			x.BlockedPct = probe.Round2(100 * float64(p.blocked) / float64(r.scans))
		}
		all = append(all, x)
	}
	f.CPU = pick(all, func(p Process) float64 { return p.CPUPct })
	f.Blocked = pick(all, func(p Process) float64 { return p.BlockedPct })
	f.Growing = pick(all, func(p Process) float64 { return float64(p.RSSGrowthBytes) })
	for _, l := range []struct {
		list []Process
		top  *Process
	}{{f.CPU, &f.TopCPU}, {f.Blocked, &f.TopBlocked}, {f.Growing, &f.TopGrowing}} {
		if len(l.list) > 0 {
			*l.top = l.list[0]
		}
	}
	if r.scans < 2 || f.WindowS == 0 {
		for _, k := range []string{"cpu", "blocked", "growing", "top_cpu", "top_blocked", "top_growing"} {
			st[k] = probe.Status{State: probe.Unavailable, Reason: "needs two scans of /proc some time apart; the window had one", Fix: "sample for a longer window (--duration)"}
		}
	}
	return f, st
}

// pick returns the processes with the largest positive key, at most maxTop.
func pick(all []Process, key func(Process) float64) []Process {
	out := []Process{}
	for _, p := range all {
		if key(p) > 0 {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if key(out[i]) != key(out[j]) {
			return key(out[i]) > key(out[j])
		}
		return out[i].PID < out[j].PID
	})
	if len(out) > maxTop {
		out = out[:maxTop]
	}
	return out
}
