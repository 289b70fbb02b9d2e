package probe

// Allocation-free parsing of the per-thread /proc files the process and
// threads probes re-read many times a second (proc_pid_stat(5),
// Documentation/scheduler/sched-stats.rst). On a 200-thread target the
// strings.Fields-based parsers allocated ~50 strings per line read and the
// garbage collector became a tenth of diagnose's CPU.

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ErrFormat is wrapped by every parse error of these helpers.
var ErrFormat = errors.New("unexpected format")

// Field returns the i-th (0-based) space-separated field of b, without
// allocating; ok is false when b has fewer fields.
func Field(b []byte, i int) (field []byte, ok bool) {
	for n := 0; ; n++ {
		for len(b) > 0 && isSpace(b[0]) {
			b = b[1:]
		}
		if len(b) == 0 {
			return nil, false
		}
		end := 0
		for end < len(b) && !isSpace(b[end]) {
			end++
		}
		if n == i {
			return b[:end], true
		}
		b = b[end:]
	}
}

// CountFields returns how many space-separated fields b has.
func CountFields(b []byte) int {
	n := 0
	for i := 0; i < len(b); {
		for i < len(b) && isSpace(b[i]) {
			i++
		}
		if i == len(b) {
			break
		}
		n++
		for i < len(b) && !isSpace(b[i]) {
			i++
		}
	}
	return n
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\t' }

// Uint parses an unsigned decimal without allocating.
func Uint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (1<<64-1-d)/10 {
			return 0, false // overflow
		}
		v = v*10 + d
	}
	return v, true
}

// StatTail returns a /proc/PID/stat line after its comm: field 3 (the
// state) onwards. comm may hold spaces and parentheses, so the tail starts
// after the LAST ')'.
func StatTail(b []byte) ([]byte, error) {
	open, end := -1, -1
	for i, c := range b {
		if c == '(' && open < 0 {
			open = i
		}
		if c == ')' {
			end = i
		}
	}
	if open < 0 || end < open {
		return nil, fmt.Errorf("%w: stat: no (comm)", ErrFormat)
	}
	return b[end+1:], nil
}

// StatField returns proc(5)'s 1-based field n (n >= 3) from a StatTail.
func StatField(tail []byte, n int) ([]byte, bool) { return Field(tail, n-3) }

// Schedstat is /proc/PID/task/TID/schedstat: "run_ns wait_ns timeslices".
type Schedstat struct {
	RunNS  uint64 // time on a CPU
	WaitNS uint64 // time runnable, waiting in a run queue
	Slices uint64 // times scheduled in
}

// ParseSchedstat parses a schedstat line; it must have exactly three numbers.
func ParseSchedstat(b []byte) (Schedstat, error) {
	if n := CountFields(b); n != 3 {
		return Schedstat{}, fmt.Errorf("%w: schedstat: %d fields, want 3", ErrFormat, n)
	}
	var v [3]uint64
	for i := range v {
		f, _ := Field(b, i)
		n, ok := Uint(f)
		if !ok {
			return Schedstat{}, fmt.Errorf("%w: schedstat: %q is not a count", ErrFormat, f)
		}
		v[i] = n
	}
	return Schedstat{RunNS: v[0], WaitNS: v[1], Slices: v[2]}, nil
}

// SocketInode returns the inode of a "socket:[12158]" fd link.
func SocketInode(link string) (uint64, bool) {
	s, ok := strings.CutPrefix(link, "socket:[")
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, "]")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

// Round2 keeps two decimals so golden files are stable and readable (NaN
// and infinities, which JSON cannot carry, become 0).
// Delta is how much a kernel counter grew from a to b; 0 when it went back
// (a reset, or a counter of an exited task replaced by a new one).
func Delta(a, b uint64) uint64 {
	if b < a {
		return 0
	}
	return b - a
}

func Round2(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return math.Round(x*100) / 100
}
