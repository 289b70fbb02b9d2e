package cpu

import (
	"bytes"
	"fmt"
	"os"
	"strconv"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

// procStat holds the /proc/stat lines gopsutil has no reader for.
//
//	intr 2307213 0 9 0 0 ...   first number = total interrupts since boot
//	ctxt 4263921
//	procs_running 3
//	procs_blocked 0
type procStat struct {
	intr, ctxt                 uint64
	procsRunning, procsBlocked uint64
	has                        uint8 // which of the lines were present
}

const (
	hasIntr uint8 = 1 << iota
	hasCtxt
	hasRunning
	hasBlocked
)

// parseProcStat reads the intr, ctxt, procs_running and procs_blocked lines
// of /proc/stat. Other lines are ignored; a file with none of the four, or
// with a malformed one, is an error.
func parseProcStat(b []byte) (procStat, error) {
	var s procStat
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		key, rest, _ := bytes.Cut(line, []byte(" "))
		var dst *uint64
		var bit uint8
		switch string(key) {
		case "intr":
			dst, bit = &s.intr, hasIntr
		case "ctxt":
			dst, bit = &s.ctxt, hasCtxt
		case "procs_running":
			dst, bit = &s.procsRunning, hasRunning
		case "procs_blocked":
			dst, bit = &s.procsBlocked, hasBlocked
		default:
			continue
		}
		if s.has&bit != 0 {
			return procStat{}, fmt.Errorf("%w: duplicate %s line", probe.ErrFormat, key)
		}
		fields := bytes.Fields(rest)
		if len(fields) == 0 {
			return procStat{}, fmt.Errorf("%w: %s line has no value", probe.ErrFormat, key)
		}
		v, err := strconv.ParseUint(string(fields[0]), 10, 64)
		if err != nil {
			return procStat{}, fmt.Errorf("%w: %s: %w", probe.ErrFormat, key, err)
		}
		*dst = v
		s.has |= bit
	}
	if s.has == 0 {
		return procStat{}, fmt.Errorf("%w: /proc/stat has none of intr, ctxt, procs_running, procs_blocked", probe.ErrFormat)
	}
	return s, nil
}

// ownRunning counts diagnose's own threads that are running or runnable
// (state R) right after /proc/stat was read.
//
// procs_running is nr_running(): every runnable task on every CPU's run
// queue, and that always includes the thread reading /proc/stat, plus any
// other diagnose thread busy at that moment (another probe reading, the Go
// runtime's spinning threads). vmstat's r has the same bias (it counts
// vmstat itself). To make run_queue describe the system and not diagnose,
// we list /proc/self/task (under the host root: a fixture may model the
// reader's threads too) and subtract the threads in state R. The thread doing
// this listing is itself R, which stands for the thread that read /proc/stat.
// The two reads are microseconds apart, so the count is the same instant's
// to within one thread. If the listing fails we subtract nothing.
func ownRunning(h probe.Host) int {
	tids, err := h.DirNames(probe.MaxThreads, "proc", "self", "task")
	if err != nil {
		return 0
	}
	dir := h.Path("proc", "self", "task")
	n := 0
	var buf [512]byte
	for _, tid := range tids {
		f, err := os.Open(dir + "/" + tid + "/stat")
		if err != nil {
			continue // the thread ended
		}
		k, _ := f.Read(buf[:])
		f.Close()
		if st, err := parseTaskState(buf[:k]); err == nil && st == 'R' {
			n++
		}
	}
	return n
}

// parseTaskState returns the state letter of a /proc/PID/task/TID/stat line:
//
//	6808 (cat) R 6806 6806 ...
//
// The name may contain spaces and parentheses; the state follows the last ')'.
func parseTaskState(b []byte) (byte, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) || b[i+1] != ' ' {
		return 0, fmt.Errorf("%w: task stat: no state after the name", probe.ErrFormat)
	}
	c := b[i+2]
	if c < 'A' || c > 'z' {
		return 0, fmt.Errorf("%w: task stat: state %q", probe.ErrFormat, c)
	}
	return c, nil
}
