package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

type memReading struct {
	limit, high, usage, peak, hits, events, kills uint64
	limited, underOOM, killDisabled               bool
	stat                                          MemoryStat
	errs                                          map[string]error // fact name -> why missing
}

func readMemory(h probe.Host, loc Location) memReading {
	m := memReading{errs: map[string]error{}}
	d := loc.MemoryDir
	if d == "" {
		return m
	}
	miss := func(k string, err error) { m.errs[k] = err }
	if loc.Version == 2 {
		lim, limited, err := effectiveLimitV2(h, d, loc.MemoryMount, "memory.max")
		if err != nil {
			miss("memory_limit_bytes", err)
			miss("memory_limited", err)
		}
		m.limit, m.limited = lim, limited
		if hi, hl, err := effectiveLimitV2(h, d, loc.MemoryMount, "memory.high"); err == nil && hl {
			m.high = hi
		} else if err != nil {
			miss("memory_high_bytes", err)
		}
		num(h, d, "memory.current", &m.usage, "memory_usage_bytes", miss)
		num(h, d, "memory.peak", &m.peak, "memory_peak_bytes", miss)
		if kv, err := readKV(h, d, "memory.events"); err != nil {
			miss("oom_events", err)
			miss("oom_kills", err)
			miss("memory_limit_hits", err)
		} else {
			m.events, m.kills, m.hits = kv["oom"], kv["oom_kill"], kv["max"]
		}
		v1NA := fmt.Errorf("%w: cgroup v1 only", errNotApplicable)
		miss("under_oom", v1NA)
		miss("oom_kill_disabled", v1NA)
		if kv, err := readKV(h, d, "memory.stat"); err != nil {
			miss("memory_stat", err)
		} else {
			s := &m.stat
			s.AnonBytes, s.FileBytes, s.InactiveFileBytes = kv["anon"], kv["file"], kv["inactive_file"]
			s.SlabBytes, s.SockBytes, s.ShmemBytes, s.PgMajFault = kv["slab"], kv["sock"], kv["shmem"], kv["pgmajfault"]
			if k, ok := kv["kernel"]; ok {
				s.KernelBytes = k
			} else {
				// Before 5.18 there is no "kernel" key: sum its parts.
				s.KernelBytes = kv["kernel_stack"] + kv["pagetables"] + kv["slab"] + kv["percpu"] + kv["sock"]
			}
			if b, err := read(h, d, "memory.swap.current"); err == nil {
				if v, err := parseUint(b); err == nil {
					s.SwapBytes = v
				}
			}
		}
		return m
	}
	// v1
	if b, err := read(h, d, "memory.limit_in_bytes"); err != nil {
		miss("memory_limit_bytes", err)
		miss("memory_limited", err)
	} else if v, ok, err := parseLimit(b); err != nil {
		miss("memory_limit_bytes", err)
		miss("memory_limited", err)
	} else {
		m.limit, m.limited = v, ok
	}
	num(h, d, "memory.usage_in_bytes", &m.usage, "memory_usage_bytes", miss)
	num(h, d, "memory.max_usage_in_bytes", &m.peak, "memory_peak_bytes", miss)
	num(h, d, "memory.failcnt", &m.hits, "memory_limit_hits", miss)
	miss("oom_events", fmt.Errorf("%w: cgroup v1 has no OOM event counter (memory.oom_control counts kills only)", errNotApplicable))
	if kv, err := readKV(h, d, "memory.oom_control"); err != nil {
		miss("oom_kills", err)
		miss("under_oom", err)
		miss("oom_kill_disabled", err)
	} else {
		m.underOOM, m.killDisabled = kv["under_oom"] == 1, kv["oom_kill_disable"] == 1
		if k, ok := kv["oom_kill"]; ok {
			m.kills = k
		} else {
			miss("oom_kills", fmt.Errorf("%w: memory.oom_control has no oom_kill counter (needs Linux 4.13+)", errNotApplicable))
		}
	}
	if kv, err := readKV(h, d, "memory.stat"); err != nil {
		miss("memory_stat", err)
	} else {
		pick := func(k string) uint64 {
			if v, ok := kv["total_"+k]; ok {
				return v
			}
			return kv[k]
		}
		s := &m.stat
		s.AnonBytes, s.FileBytes, s.InactiveFileBytes = pick("rss"), pick("cache"), pick("inactive_file")
		s.ShmemBytes, s.SwapBytes, s.PgMajFault = pick("shmem"), pick("swap"), pick("pgmajfault")
		if hl, ok := kv["hierarchical_memory_limit"]; ok && hl < unlimitedV1 && (!m.limited || hl < m.limit) {
			m.limit, m.limited = hl, true
		}
		if b, err := read(h, d, "memory.kmem.usage_in_bytes"); err == nil {
			if v, err := parseUint(b); err == nil {
				s.KernelBytes = v
			}
		} else {
			miss("memory_stat.kernel_bytes", err)
		}
		if b, err := read(h, d, "memory.kmem.tcp.usage_in_bytes"); err == nil {
			if v, err := parseUint(b); err == nil {
				s.SockBytes = v
			}
		} else {
			miss("memory_stat.sock_bytes", err)
		}
		miss("memory_stat.slab_bytes", fmt.Errorf("%w: cgroup v1 memory.stat has no slab key (it is part of kernel_bytes)", errNotApplicable))
	}
	return m
}

func num(h probe.Host, dir, file string, dst *uint64, fact string, miss func(string, error)) {
	b, err := read(h, dir, file)
	if err == nil {
		var v uint64
		if v, err = parseUint(b); err == nil {
			*dst = v
			return
		}
	}
	miss(fact, err)
}

// effectiveLimitV2 returns the smallest limit in file along dir and its
// ancestors up to (excluding) the mount point, where the file does not exist.
func effectiveLimitV2(h probe.Host, dir, mountPoint, file string) (uint64, bool, error) {
	var best uint64
	limited := false
	found := false
	for d := dir; ; d = path.Dir(d) {
		if d == mountPoint || !strings.HasPrefix(d, mountPoint+"/") {
			break
		}
		b, err := read(h, d, file)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && d != dir {
				continue
			}
			if !found {
				return 0, false, err
			}
			break
		}
		found = true
		v, ok, err := parseLimit(b)
		if err != nil {
			return 0, false, err
		}
		if ok && (!limited || v < best) {
			best, limited = v, true
		}
	}
	if !found && dir == mountPoint {
		return 0, false, nil // the root cgroup has no limit files
	}
	return best, limited, nil
}

// ReadMemoryLimit returns the effective memory limit of a resolved cgroup.
func ReadMemoryLimit(h probe.Host, loc Location) (uint64, bool, error) {
	if loc.Version == 0 || loc.MemoryDir == "" {
		return 0, false, nil
	}
	m := readMemory(h, loc)
	if err := m.errs["memory_limit_bytes"]; err != nil {
		return 0, false, err
	}
	return m.limit, m.limited, nil
}

// memoryFacts fills the memory facts from the last reading (OOM kills in the window from the first).
func (r *reader) memoryFacts(f *Facts, st probe.Statuses) {
	loc := r.loc
	m := r.last.mem
	if loc.Version == 0 || loc.MemoryDir == "" {
		why := "no cgroup filesystem is mounted: no memory limit applies"
		if loc.Version != 0 {
			why = "the memory controller is not mounted: no memory limit applies"
		}
		for _, k := range []string{"memory_limit_bytes", "memory_high_bytes", "memory_usage_bytes", "memory_working_set_bytes", "memory_peak_bytes", "memory_peak_ratio", "memory_working_set_ratio", "memory_limit_hits", "oom_events", "oom_kills", "oom_kills_in_window", "under_oom", "oom_kill_disabled", "memory_stat", "memory_usage_ratio"} {
			st[k] = probe.Status{State: probe.Unavailable, Reason: why}
		}
	} else {
		for k, e := range m.errs {
			st[k] = statusFor(e, k)
		}
		f.MemoryLimited, f.MemoryLimitBytes, f.MemoryHighBytes = m.limited, m.limit, m.high
		f.MemoryUsageBytes, f.MemoryPeakBytes, f.MemoryLimitHits = m.usage, m.peak, m.hits
		f.OOMEvents, f.OOMKills, f.UnderOOM, f.OOMKillDisabled = m.events, m.kills, m.underOOM, m.killDisabled
		f.MemoryStat = m.stat
		if m.usage > m.stat.InactiveFileBytes {
			f.MemoryWorkingSetBytes = m.usage - m.stat.InactiveFileBytes
		}
		if f.MemoryLimited && f.MemoryLimitBytes > 0 {
			f.MemoryUsageRatio = float64(f.MemoryUsageBytes) / float64(f.MemoryLimitBytes)
			f.MemoryWorkingSetRatio = float64(f.MemoryWorkingSetBytes) / float64(f.MemoryLimitBytes)
			f.MemoryPeakRatio = float64(f.MemoryPeakBytes) / float64(f.MemoryLimitBytes)
		}
		if _, bad := m.errs["oom_kills"]; !bad {
			if fk := r.first.mem; fk.errs["oom_kills"] == nil && m.kills >= fk.kills {
				f.OOMKillsInWindow = m.kills - fk.kills
			}
		} else {
			st["oom_kills_in_window"] = st["oom_kills"]
		}
		if _, bad := m.errs["memory_usage_bytes"]; bad {
			st["memory_usage_ratio"] = st["memory_usage_bytes"]
			st["memory_working_set_bytes"] = st["memory_usage_bytes"]
		}
	}
}
