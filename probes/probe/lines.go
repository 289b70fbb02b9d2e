package probe

import (
	"fmt"
	"strconv"
	"strings"
)

// KeyValues calls each with every "key value" line of b (cgroup memory.stat
// and cpu.stat, /proc/net/snmp6). Blank lines are skipped; any other line
// must have exactly two fields. what names the file in errors.
func KeyValues(b []byte, what string, each func(key, value string) error) error {
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		switch len(f) {
		case 0:
			continue
		case 2:
		default:
			return fmt.Errorf("%w: %s: want \"key value\" lines, got %q", ErrFormat, what, Truncate(strings.TrimSpace(line)))
		}
		if err := each(f[0], f[1]); err != nil {
			return err
		}
	}
	return nil
}

// ColonValues calls each with every "Key: value" line of b (/proc/PID/status
// and io, /proc/meminfo), the value without surrounding space. Lines without
// a colon are skipped.
func ColonValues(b []byte, each func(key, value string) error) error {
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		if err := each(k, strings.TrimSpace(v)); err != nil {
			return err
		}
	}
	return nil
}

// MaxKB bounds a kB value (16 PiB) so that its bytes fit in 64 bits.
const MaxKB = 1 << 44

// ParseKB parses a "1296 kB" value of /proc/meminfo or /proc/PID/status.
func ParseKB(v string) (uint64, error) {
	num, unit, _ := strings.Cut(v, " ")
	if strings.TrimSpace(unit) != "kB" {
		return 0, fmt.Errorf("unit %q, want kB", Truncate(unit))
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err == nil && n > MaxKB {
		err = fmt.Errorf("%d kB is more than any machine has", n)
	}
	return n, err
}

// ProcStatus holds the /proc/PID/status keys diagnose uses ("Key:\tvalue"
// lines, proc(5)).
type ProcStatus struct {
	Name        string
	State       string
	Threads     int64
	VmRSSKB     uint64
	VmSwapKB    uint64
	TracerPID   int64
	Voluntary   uint64
	Involuntary uint64
	// NSpid is the process's PID in its innermost PID namespace (the last
	// NSpid number), its own PID without namespaces or on old kernels: "".
	NSpid   string
	HasRSS  bool // kernel threads and zombies have no Vm* lines
	HasCtxt bool
}

// ParseProcStatus parses /proc/PID/status. A malformed value of a key it
// reads is an error, as is a file without Name and State.
func ParseProcStatus(b []byte) (ProcStatus, error) {
	var s ProcStatus
	err := ColonValues(b, func(k, v string) error {
		var err error
		switch k {
		case "Name":
			s.Name = v
		case "State":
			s.State = v
		case "Threads":
			s.Threads, err = strconv.ParseInt(v, 10, 64)
		case "VmRSS":
			s.VmRSSKB, err = ParseKB(v)
			s.HasRSS = err == nil
		case "VmSwap":
			s.VmSwapKB, err = ParseKB(v)
		case "TracerPid":
			s.TracerPID, err = strconv.ParseInt(v, 10, 64)
		case "voluntary_ctxt_switches":
			s.Voluntary, err = strconv.ParseUint(v, 10, 64)
			s.HasCtxt = err == nil
		case "nonvoluntary_ctxt_switches":
			s.Involuntary, err = strconv.ParseUint(v, 10, 64)
		case "NSpid":
			if f := strings.Fields(v); len(f) > 0 {
				s.NSpid = f[len(f)-1]
			}
		}
		if err != nil {
			return fmt.Errorf("%w: status %s: %w", ErrFormat, Truncate(k), err)
		}
		return nil
	})
	if err == nil && s.Name == "" && s.State == "" {
		err = fmt.Errorf("%w: status: no Name/State lines", ErrFormat)
	}
	return s, err
}

// HeaderValues parses a table of header and value line pairs, the format
// of /proc/net/snmp and /proc/net/netstat:
//
//	Tcp: RtoAlgorithm RtoMin ... RetransSegs
//	Tcp: 1 200 ... 1583
//
// into "Tcp.RetransSegs" -> 1583. what names the file in errors.
func HeaderValues(b []byte, what string) (map[string]int64, error) {
	out := map[string]int64{}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) < 2 || len(lines)%2 != 0 {
		return nil, fmt.Errorf("%w: %s: %d lines, want header/value pairs", ErrFormat, what, len(lines))
	}
	for i := 0; i+1 < len(lines); i += 2 {
		h := strings.Fields(lines[i])
		v := strings.Fields(lines[i+1])
		if len(h) == 0 || len(h) != len(v) || h[0] != v[0] || !strings.HasSuffix(h[0], ":") {
			return nil, fmt.Errorf("%w: %s: mismatched lines %q", ErrFormat, what, Truncate(lines[i]))
		}
		prefix := strings.TrimSuffix(h[0], ":")
		for j := 1; j < len(h); j++ {
			n, err := strconv.ParseInt(v[j], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%w: %s %s.%s: %q", ErrFormat, what, Truncate(prefix), Truncate(h[j]), Truncate(v[j]))
			}
			out[prefix+"."+h[j]] = n
		}
	}
	return out, nil
}
