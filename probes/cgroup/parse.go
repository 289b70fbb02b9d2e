package cgroup

// Pure parsers of cgroup control files (Documentation/admin-guide/cgroup-v2.rst,
// Documentation/admin-guide/cgroup-v1/memory.rst).
//
//	memory.stat, cpu.stat, memory.events, memory.oom_control:  "key value" lines
//	    anon 1728512
//	memory.max, memory.high:   "max" or bytes
//	memory.limit_in_bytes:     bytes; unlimited = 9223372036854771712 (PAGE_COUNTER_MAX pages)
//	cpu.max:                   "$MAX $PERIOD" in µs, "max 100000" when unlimited
//	cpu.cfs_quota_us:          -1 when unlimited

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

// unlimitedV1 is the smallest value treated as "no limit" in v1 files: the
// kernel prints PAGE_COUNTER_MAX×PAGE_SIZE (9223372036854771712 with 4 KiB
// pages, a little less with 64 KiB pages).
const unlimitedV1 = uint64(1) << 62

// parseKV parses "key value" lines into a map of unsigned counters. Keys may
// repeat only if the file is garbled; later values win.
func parseKV(b []byte) (map[string]uint64, error) {
	out := map[string]uint64{}
	err := probe.KeyValues(b, "cgroup stat", func(k, s string) error {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			// Some kernels print negative values transiently (per-CPU drift).
			if iv, ierr := strconv.ParseInt(s, 10, 64); ierr == nil && iv < 0 {
				v = 0
			} else {
				return fmt.Errorf("%w: %s: %w", probe.ErrFormat, probe.Truncate(k), err)
			}
		}
		out[k] = v
		return nil
	})
	return out, err
}

// parseLimit parses a memory limit file: ok is false for "max" and for v1's
// page-counter maximum.
func parseLimit(b []byte) (limit uint64, limited bool, err error) {
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return 0, false, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		if iv, ierr := strconv.ParseInt(s, 10, 64); ierr == nil && iv == -1 {
			return 0, false, nil
		}
		return 0, false, fmt.Errorf("%w: limit %q: %w", probe.ErrFormat, probe.Truncate(s), err)
	}
	if v >= unlimitedV1 {
		return 0, false, nil
	}
	return v, true, nil
}

// parseUint parses one unsigned number (memory.current, failcnt ...).
func parseUint(b []byte) (uint64, error) {
	s := strings.TrimSpace(string(b))
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: number %q: %w", probe.ErrFormat, probe.Truncate(s), err)
	}
	return v, nil
}

// parseCPUMax parses v2 cpu.max: quota and period in µs; quota<0 = unlimited.
func parseCPUMax(b []byte) (quotaUs int64, periodUs int64, err error) {
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, 0, fmt.Errorf("%w: cpu.max %q", probe.ErrFormat, probe.Truncate(string(b)))
	}
	periodUs, err = strconv.ParseInt(f[1], 10, 64)
	if err != nil || periodUs <= 0 {
		return 0, 0, fmt.Errorf("%w: cpu.max period %q", probe.ErrFormat, probe.Truncate(f[1]))
	}
	if f[0] == "max" {
		return -1, periodUs, nil
	}
	quotaUs, err = strconv.ParseInt(f[0], 10, 64)
	if err != nil || quotaUs <= 0 {
		return 0, 0, fmt.Errorf("%w: cpu.max quota %q", probe.ErrFormat, probe.Truncate(f[0]))
	}
	return quotaUs, periodUs, nil
}

// parseInt parses one signed number (cpu.cfs_quota_us, oom_score_adj ...).
func parseInt(b []byte) (int64, error) {
	s := strings.TrimSpace(string(b))
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: number %q: %w", probe.ErrFormat, probe.Truncate(s), err)
	}
	return v, nil
}

// parseProcs parses cgroup.procs: one pid per line.
func parseProcs(b []byte) ([]int, error) {
	var out []int
	for _, f := range strings.Fields(string(b)) {
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%w: pid %q", probe.ErrFormat, probe.Truncate(f))
		}
		out = append(out, n)
	}
	return out, nil
}
