package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

type cpuReading struct {
	quotaCores                      float64
	limited                         bool
	usageNs                         uint64
	periods, throttled, throttledNs uint64
	usageErr, throttleErr, quotaErr error
}

func readCPU(h probe.Host, loc Location) cpuReading {
	var c cpuReading
	d := loc.CPUDir
	if d == "" {
		return c
	}
	// Quota: the tightest along the ancestors.
	for x := d; ; x = path.Dir(x) {
		var cores float64
		var ok bool
		var err error
		if loc.Version == 2 {
			if x == loc.CPUMount {
				break
			}
			var b []byte
			if b, err = read(h, x, "cpu.max"); err == nil {
				var q, p int64
				if q, p, err = parseCPUMax(b); err == nil && q > 0 {
					cores, ok = float64(q)/float64(p), true
				}
			}
		} else {
			var qb, pb []byte
			if qb, err = read(h, x, "cpu.cfs_quota_us"); err == nil {
				if pb, err = read(h, x, "cpu.cfs_period_us"); err == nil {
					var q, p int64
					if q, err = parseInt(qb); err == nil {
						if p, err = parseInt(pb); err == nil && q > 0 && p > 0 {
							cores, ok = float64(q)/float64(p), true
						}
					}
				}
			}
		}
		if err != nil {
			if x == d && !(loc.Version == 2 && errors.Is(err, fs.ErrNotExist)) {
				c.quotaErr = err
			}
		} else if ok && (!c.limited || cores < c.quotaCores) {
			c.quotaCores, c.limited = cores, true
		}
		if x == loc.CPUMount || !strings.HasPrefix(x, loc.CPUMount+"/") {
			break
		}
	}
	if loc.Version == 2 && d == loc.CPUMount {
		c.quotaErr = nil
	}
	// cpu.stat: throttling (and v2 usage).
	kv, err := readKV(h, d, "cpu.stat")
	if err != nil {
		c.throttleErr = err
	} else if loc.Version == 2 {
		if _, ok := kv["nr_periods"]; !ok {
			c.throttleErr = fmt.Errorf("%w: cpu.stat has no throttling counters (the cpu controller is not enabled for this cgroup)", errNotApplicable)
		}
		c.periods, c.throttled, c.throttledNs = kv["nr_periods"], kv["nr_throttled"], kv["throttled_usec"]*1000
	} else {
		c.periods, c.throttled, c.throttledNs = kv["nr_periods"], kv["nr_throttled"], kv["throttled_time"]
	}
	if loc.Version == 2 {
		if u, ok := kv["usage_usec"]; ok {
			c.usageNs = u * 1000
		} else {
			c.usageErr = fmt.Errorf("cpu.stat usage_usec: %w", fs.ErrNotExist)
		}
		return c
	}
	acct := loc.CPUAcctDir
	if acct == "" {
		acct = d
	}
	if b, err := read(h, acct, "cpuacct.usage"); err == nil {
		c.usageNs, c.usageErr = parseUint(b)
	} else if loc.UnifiedDir != "" {
		// Hybrid: the controller-less v2 tree still counts usage_usec.
		if kv, err2 := readKV(h, loc.UnifiedDir, "cpu.stat"); err2 == nil && kv["usage_usec"] > 0 {
			c.usageNs = kv["usage_usec"] * 1000
		} else {
			c.usageErr = err
		}
	} else {
		c.usageErr = err
	}
	return c
}

// ReadCPUQuota returns the effective CFS quota in CPUs of a resolved cgroup.
func ReadCPUQuota(h probe.Host, loc Location) (float64, bool) {
	if loc.CPUDir == "" {
		return 0, false
	}
	c := readCPU(h, loc)
	return c.quotaCores, c.limited
}

// cpuFacts fills the quota and the usage and throttling rates over the window.
func (r *reader) cpuFacts(f *Facts, st probe.Statuses) {
	loc := r.loc
	c0, c1 := r.first.cpu, r.last.cpu
	dt := r.last.now.Sub(r.first.now).Seconds()
	switch {
	case loc.Version == 0 || loc.CPUDir == "":
		for _, k := range []string{"cpu_quota_cores", "cpu_usage_cores", "cpu_throttled_periods_pct", "cpu_throttled_s_per_s"} {
			st[k] = probe.Status{State: probe.Unavailable, Reason: "the cpu controller is not mounted: no CPU quota applies"}
		}
	default:
		f.CPULimited, f.CPUQuotaCores = c1.limited, c1.quotaCores
		if c1.quotaErr != nil {
			st["cpu_limited"] = statusFor(c1.quotaErr, "cpu quota")
			st["cpu_quota_cores"] = st["cpu_limited"]
		}
		needTwo := probe.Status{State: probe.Unavailable, Reason: "rates need two readings over a window", Fix: "sample over a window (--window > 0)"}
		switch {
		case loc.CPUAcctElsewhere != "":
			st["cpu_usage_cores"] = probe.Status{State: probe.Unavailable,
				Reason: fmt.Sprintf("cpu and cpuacct are mounted apart and the process's cpuacct group (%s) is not its cpu group: its usage would be another group's", probe.Sanitize(loc.CPUAcctElsewhere))}
		case c0.usageErr != nil || c1.usageErr != nil:
			st["cpu_usage_cores"] = statusFor(errors.Join(c0.usageErr, c1.usageErr), "cgroup CPU usage")
		case dt <= 0:
			st["cpu_usage_cores"] = needTwo
		case c1.usageNs >= c0.usageNs:
			f.CPUUsageCores = float64(c1.usageNs-c0.usageNs) / 1e9 / dt
		}
		switch {
		case !c1.limited && c1.quotaErr == nil:
			// No quota: nothing throttles this cgroup's own CFS bandwidth.
		case c0.throttleErr != nil || c1.throttleErr != nil:
			s := statusFor(errors.Join(c0.throttleErr, c1.throttleErr), "cgroup cpu.stat throttling")
			st["cpu_throttled_periods_pct"], st["cpu_throttled_s_per_s"] = s, s
		case dt <= 0:
			st["cpu_throttled_periods_pct"], st["cpu_throttled_s_per_s"] = needTwo, needTwo
		default:
			if c1.periods > c0.periods && c1.throttled >= c0.throttled {
				f.CPUThrottledPeriodsPct = min(100, 100*float64(c1.throttled-c0.throttled)/float64(c1.periods-c0.periods))
			}
			if c1.throttledNs >= c0.throttledNs {
				f.CPUThrottledSPerS = float64(c1.throttledNs-c0.throttledNs) / 1e9 / dt
			}
		}
	}
}
