// Package oomlog reads kernel OOM-kill records from the kernel log
// (/dev/kmsg, read with O_RDONLY|O_NONBLOCK until EAGAIN, so it never
// blocks) and counts those that hit the target's cgroup.
//
// The log needs CAP_SYSLOG (root) unless kernel.dmesg_restrict=0; when it
// cannot be read the section is unavailable — never "no OOM kills". The ring
// buffer is finite: log_start_s says how far back it reaches. Record formats
// for every kernel generation are in parse.go and
// ../../docs/probes-memory-limits.md.
package oomlog

import (
	"context"
	"errors"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/diagnose-sh/diagnose/probes/cgroup"
	"github.com/diagnose-sh/diagnose/probes/probe"
)

// Facts is what the kernel log says about OOM kills.
type Facts struct {
	TargetCgroup   string  `expr:"target_cgroup" json:"target_cgroup" doc:"the target's cgroup path that kills are matched against (as the kernel log prints it)"`
	Count          int     `expr:"count" json:"count" doc:"OOM kills anywhere on the host still in the kernel log"`
	GlobalCount    int     `expr:"global_count" json:"global_count" doc:"system-wide OOM kills (the host ran out of memory) in the kernel log"`
	TargetCount    int     `expr:"target_count" json:"target_count" doc:"OOM kills in the target cgroup or below it (or of the target pid), in the kernel log"`
	TargetInWindow int     `expr:"target_in_window" json:"target_in_window" doc:"OOM kills of the target that appeared in the log during the sampling window"`
	Last           Kill    `expr:"last" json:"last" doc:"the most recent OOM kill in the target (empty when none)"`
	LastAny        Kill    `expr:"last_any" json:"last_any" doc:"the most recent OOM kill anywhere on the host (empty when none)"`
	Kills          []Kill  `expr:"kills" json:"kills" doc:"OOM kills in the kernel log, newest first (at most 50)"`
	LogStartS      float64 `expr:"log_start_s" json:"log_start_s" doc:"seconds since boot of the oldest record still in the kernel log: kills before it are no longer visible"`
	RecordsLost    bool    `expr:"records_lost" json:"records_lost" doc:"records were overwritten while reading (EPIPE): some kills may be missing"`
}

// New returns a reader for one run.
func New(t probe.Target, _ probe.Options) probe.Reader {
	return &reader{target: t, seen: map[uint64]bool{}}
}

type reader struct {
	target   probe.Target
	resolved bool
	path     string
	pathOK   bool
	reads    int
	okReads  int
	err      error
	kills    []Kill
	newSeq   map[uint64]bool
	seen     map[uint64]bool
	lost     bool
	start    float64
	uptime   float64
	hasUp    bool
	now      time.Time
}

// maxLogBytes bounds one read of the kernel log (the ring buffer is at most
// a few MiB; a fixture file may be anything).
const maxLogBytes = 32 << 20

func (r *reader) Read(ctx context.Context, h probe.Host) {
	r.reads++
	if !r.resolved {
		r.resolved = true
		if loc, err := cgroup.Resolve(h, r.target); err == nil {
			r.path, r.pathOK = loc.Path, true
			if loc.Version == 0 {
				r.path = "/"
			}
		}
	}
	b, lost, err := readKmsg(h.Path("dev", "kmsg"))
	if err != nil {
		r.err = err
		return
	}
	recs, err := parseRecords(b)
	if err != nil && len(recs) == 0 {
		r.err = err
		return
	}
	r.okReads++
	r.lost = r.lost || lost
	if len(recs) > 0 && (r.start == 0 || float64(recs[0].tsUs)/1e6 < r.start) {
		r.start = float64(recs[0].tsUs) / 1e6
	}
	for _, k := range parseKills(recs) {
		if r.seen[k.Seq] {
			continue
		}
		r.seen[k.Seq] = true
		if r.okReads > 1 {
			if r.newSeq == nil {
				r.newSeq = map[uint64]bool{}
			}
			r.newSeq[k.Seq] = true
		}
		r.kills = append(r.kills, k)
	}
	if up, err := h.ReadFile("proc", "uptime"); err == nil {
		if f := strings.Fields(string(up)); len(f) > 0 {
			if v, err := strconv.ParseFloat(f[0], 64); err == nil && v >= 0 {
				r.uptime, r.hasUp = v, true
			}
		}
	}
	r.now = h.Now
}

// readKmsg reads the whole kernel log without blocking: /dev/kmsg returns
// one record per read() and EAGAIN at the end; a regular file (fixture)
// reads to EOF. EPIPE (records overwritten under us) is noted and skipped.
func readKmsg(p string) ([]byte, bool, error) {
	fd, err := syscall.Open(p, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, false, &fs.PathError{Op: "open", Path: p, Err: err}
	}
	defer syscall.Close(fd)
	var out []byte
	buf := make([]byte, 16384)
	lost := false
	for len(out) < maxLogBytes {
		n, err := syscall.Read(fd, buf)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return out, lost, nil
		case err == syscall.EPIPE:
			lost = true
			continue
		case err != nil:
			return out, lost, &fs.PathError{Op: "read", Path: p, Err: err}
		case n == 0:
			return out, lost, nil
		}
		out = append(out, buf[:n]...)
	}
	return out, lost, nil
}

func inCgroup(k Kill, target string) bool {
	if target == "" {
		return false
	}
	if target == "/" {
		return true
	}
	for _, c := range []string{k.Cgroup, k.OOMCgroup} {
		if c == target || strings.HasPrefix(c, strings.TrimSuffix(target, "/")+"/") {
			return true
		}
	}
	return false
}

func (r *reader) Finish() (any, probe.Statuses) {
	var f Facts
	st := probe.Statuses{}
	if r.okReads == 0 {
		err := r.err
		if err == nil {
			err = errors.New("no reading taken")
		}
		switch {
		case errors.Is(err, fs.ErrPermission):
			st[""] = probe.Status{State: probe.Unavailable,
				Reason: "the kernel log (/dev/kmsg) is not readable: needs root or CAP_SYSLOG (or kernel.dmesg_restrict=0)",
				Fix:    "run as root or with CAP_SYSLOG, or set sysctl kernel.dmesg_restrict=0; in a container read the log on the host"}
		case errors.Is(err, fs.ErrNotExist):
			st[""] = probe.Status{State: probe.Unavailable, Reason: "no /dev/kmsg on this system (containers often lack it)", Fix: "run diagnose on the host"}
		default:
			st[""] = probe.StatusOf(err, "kernel log")
		}
		return f, st
	}
	st[""] = probe.Status{State: probe.OK}
	if r.lost {
		st["count"] = probe.Status{State: probe.OK, Reason: "some records were overwritten while reading"}
	}
	f.TargetCgroup = probe.Sanitize(r.path)
	f.LogStartS = r.start
	f.RecordsLost = r.lost
	sort.SliceStable(r.kills, func(i, j int) bool { return r.kills[i].Seq > r.kills[j].Seq })
	for i := range r.kills {
		k := &r.kills[i]
		k.Name, k.Trigger = probe.Sanitize(k.Name), probe.Sanitize(k.Trigger)
		k.Cgroup, k.OOMCgroup, k.Message = probe.Sanitize(k.Cgroup), probe.Sanitize(k.OOMCgroup), probe.Sanitize(k.Message)
		if r.hasUp && r.uptime >= k.SinceBootS {
			k.AgoS = r.uptime - k.SinceBootS
			k.At = r.now.Add(-time.Duration(k.AgoS * float64(time.Second))).UTC().Format(time.RFC3339)
		}
	}
	for _, k := range r.kills {
		f.Count++
		if k.Global {
			f.GlobalCount++
		}
		if f.Count == 1 {
			f.LastAny = k
		}
		if inCgroup(k, r.path) || (r.target.PID > 0 && k.PID == r.target.PID) {
			f.TargetCount++
			if f.TargetCount == 1 {
				f.Last = k
			}
			if r.newSeq[k.Seq] {
				f.TargetInWindow++
			}
		}
	}
	f.Kills = r.kills
	if len(f.Kills) > 50 {
		f.Kills = f.Kills[:50]
	}
	if !r.pathOK && r.target.PID == 0 {
		s := probe.Status{State: probe.Unavailable, Reason: "the target's cgroup could not be resolved: kills cannot be matched to it"}
		st["target_count"], st["target_in_window"], st["last"] = s, s, s
	}
	return f, st
}
