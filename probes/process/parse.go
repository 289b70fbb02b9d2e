package process

// Pure parsers for the per-process files under /proc/PID (see proc_pid_stat(5),
// proc_pid_status(5), Documentation/scheduler/sched-stats.rst and
// Documentation/filesystems/proc.rst).

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

// procStat holds the fields diagnose uses from /proc/PID/stat or
// /proc/PID/task/TID/stat:
//
//	15371 (mutex) S 15369 15369 2313 0 -1 4194304 121 0 0 0 100 18 0 0 20 0 5 0 159587 ...
//
// comm may contain spaces and parentheses, so fields are counted after the
// LAST ')'. Field numbers below are proc(5)'s 1-based ones.
type procStat struct {
	Comm       string
	State      byte   // 3
	MinFlt     uint64 // 10
	MajFlt     uint64 // 12
	UTime      uint64 // 14, USER_HZ ticks
	STime      uint64 // 15, USER_HZ ticks
	NumThreads int64  // 20
	StartTime  uint64 // 22, ticks since boot
	RSSPages   int64  // 24
	BlkioTicks uint64 // 42 delayacct_blkio_ticks (0 unless delay accounting is on)
	HasBlkio   bool   // the file had field 42
}

func parseStat(b []byte) (procStat, error) {
	var s procStat
	open := bytes.IndexByte(b, '(')
	closeIdx := bytes.LastIndexByte(b, ')')
	if open < 0 || closeIdx < open {
		return s, fmt.Errorf("%w: stat: no (comm)", probe.ErrFormat)
	}
	s.Comm = string(b[open+1 : closeIdx])
	f := strings.Fields(string(b[closeIdx+1:]))
	// f[0] is field 3.
	if len(f) < 22 { // up to field 24
		return s, fmt.Errorf("%w: stat: %d fields after comm, want >= 22", probe.ErrFormat, len(f))
	}
	if len(f[0]) != 1 {
		return s, fmt.Errorf("%w: stat: state %q", probe.ErrFormat, f[0])
	}
	s.State = f[0][0]
	var err error
	u := func(n int) uint64 {
		if err != nil {
			return 0
		}
		var v uint64
		v, err = strconv.ParseUint(f[n-3], 10, 64)
		if err != nil {
			err = fmt.Errorf("%w: stat field %d: %w", probe.ErrFormat, n, err)
		}
		return v
	}
	i := func(n int) int64 {
		if err != nil {
			return 0
		}
		var v int64
		v, err = strconv.ParseInt(f[n-3], 10, 64)
		if err != nil {
			err = fmt.Errorf("%w: stat field %d: %w", probe.ErrFormat, n, err)
		}
		return v
	}
	s.MinFlt = u(10)
	s.MajFlt = u(12)
	s.UTime = u(14)
	s.STime = u(15)
	s.NumThreads = i(20)
	s.StartTime = u(22)
	s.RSSPages = i(24)
	if len(f) >= 40 {
		s.BlkioTicks = u(42)
		s.HasBlkio = true
	}
	return s, err
}

// taskCtxtSwitches reads a thread's voluntary/nonvoluntary_ctxt_switches
// from its status without parsing the other ~55 lines (this runs for every
// thread at every reading).
func taskCtxtSwitches(status []byte) (vol, invol uint64, ok bool) {
	vol, okV := statusCount(status, "\nvoluntary_ctxt_switches:")
	invol, okI := statusCount(status, "\nnonvoluntary_ctxt_switches:")
	return vol, invol, okV && okI
}

func statusCount(b []byte, key string) (uint64, bool) {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return 0, false
	}
	v, ok := probe.Field(b[i+len(key):], 0)
	if !ok {
		return 0, false
	}
	return probe.Uint(v)
}

// taskBlkioTicks reads a thread's stat field 42, delayacct_blkio_ticks.
func taskBlkioTicks(stat []byte) (uint64, bool) {
	tail, err := probe.StatTail(stat)
	if err != nil {
		return 0, false
	}
	f, ok := probe.StatField(tail, 42)
	if !ok {
		return 0, false
	}
	return probe.Uint(f)
}

// procIO is /proc/PID/io ("rchar: 3980" lines).
type procIO struct {
	RChar, WChar, ReadBytes, WriteBytes, CancelledWriteBytes uint64
}

func parseIO(b []byte) (procIO, error) {
	var p procIO
	seen := 0
	err := probe.ColonValues(b, func(k, v string) error {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return fmt.Errorf("%w: io %s: %w", probe.ErrFormat, probe.Truncate(k), err)
		}
		switch k {
		case "rchar":
			p.RChar = n
		case "wchar":
			p.WChar = n
		case "read_bytes":
			p.ReadBytes = n
		case "write_bytes":
			p.WriteBytes = n
		case "cancelled_write_bytes":
			p.CancelledWriteBytes = n
		default:
			return nil
		}
		seen++
		return nil
	})
	if err != nil {
		return p, err
	}
	if seen < 4 {
		return p, fmt.Errorf("%w: io: %d known keys, want 5", probe.ErrFormat, seen)
	}
	return p, nil
}

// parseCmdline turns the NUL-separated /proc/PID/cmdline into one line.
func parseCmdline(b []byte) string {
	b = bytes.TrimRight(b, "\x00")
	return string(bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
}
