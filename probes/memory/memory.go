// Package memory reads memory and swap use (/proc/meminfo, through gopsutil)
// and paging activity over the sampling window (/proc/vmstat): the signals
// behind vmstat's si/so and sar -B's majflt/s, pgscank/s and pgscand/s.
//
// /proc/vmstat (Documentation/admin-guide/mm, include/linux/vm_event_item.h) is
// "key value" per line, cumulative since boot:
//
//	pswpin 0            pages swapped in
//	pswpout 0           pages swapped out
//	pgmajfault 928      major page faults (a read from disk or swap was needed)
//	pgscan_kswapd 0     pages scanned by kswapd (background reclaim)
//	pgscan_direct 0     pages scanned by allocating tasks (direct reclaim: they stall)
//	pgscan_khugepaged 0 pages scanned by khugepaged (5.x+)
//
// Kernels before 4.8 split the scan counters per zone (pgscan_kswapd_normal,
// pgscan_direct_dma32, ...): keys with those prefixes are summed.
// pgscan_direct_throttle counts throttling events, not pages, and is skipped.
package memory

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	gmem "github.com/shirou/gopsutil/v4/mem"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

// Facts is memory use at the end of the window and paging over it.
type Facts struct {
	TotalBytes             uint64  `expr:"total_bytes" json:"total_bytes" doc:"usable RAM, bytes (MemTotal)"`
	AvailableBytes         uint64  `expr:"available_bytes" json:"available_bytes" doc:"memory available for new allocations without swapping, bytes (MemAvailable)"`
	SwapTotalBytes         uint64  `expr:"swap_total_bytes" json:"swap_total_bytes" doc:"configured swap, bytes (SwapTotal; 0 = no swap)"`
	SwapUsedBytes          uint64  `expr:"swap_used_bytes" json:"swap_used_bytes" doc:"swap in use, bytes (SwapTotal - SwapFree)"`
	UsedPct                float64 `expr:"used_pct" json:"used_pct" doc:"memory in use: (total - available) / total, %"`
	SwapUsedPct            float64 `expr:"swap_used_pct" json:"swap_used_pct" doc:"swap in use / swap configured, % (0 without swap)"`
	SwapInPagesPerS        float64 `expr:"swap_in_pages_per_s" json:"swap_in_pages_per_s" doc:"pages swapped in per second (vmstat si, in pages)"`
	SwapOutPagesPerS       float64 `expr:"swap_out_pages_per_s" json:"swap_out_pages_per_s" doc:"pages swapped out per second (vmstat so, in pages)"`
	MajorFaultsPerS        float64 `expr:"major_faults_per_s" json:"major_faults_per_s" doc:"major page faults per second, each one waited for disk or swap (sar -B majflt/s)"`
	PageScansPerS          float64 `expr:"page_scans_per_s" json:"page_scans_per_s" doc:"pages scanned for reclaim per second by kswapd, direct reclaim and khugepaged (sar -B pgscank/s + pgscand/s)"`
	DirectReclaimScansPerS float64 `expr:"direct_reclaim_scans_per_s" json:"direct_reclaim_scans_per_s" doc:"pages scanned per second by allocating tasks in direct reclaim: they stall (sar -B pgscand/s)"`
	PageSizeBytes          uint64  `expr:"page_size_bytes" json:"page_size_bytes" doc:"page size the *_pages_per_s rates count in, bytes"`
}

// vmstat holds the /proc/vmstat counters we use.
type vmstat struct {
	pswpin, pswpout, pgmajfault, scanKswapd, scanDirect, scanKhugepaged uint64
	has                                                                 uint8
}

const (
	hasSwap uint8 = 1 << iota
	hasMajflt
	hasScanKswapd
	hasScanDirect
	hasScanKhugepaged
)

type sample struct {
	at     time.Time
	vm     vmstat
	vmErr  error
	mem    *gmem.VirtualMemoryStat
	memErr error
}

type reader struct {
	samples  []sample
	pageSize uint64
}

// New returns a reader for one run; the target is ignored (system-wide).
func New(probe.Target, probe.Options) probe.Reader {
	return &reader{pageSize: uint64(os.Getpagesize())}
}

// errNoMemTotal is returned when /proc/meminfo has no usable MemTotal.
var errNoMemTotal = errors.New("/proc/meminfo has no MemTotal")

// Virtual reads /proc/meminfo (gopsutil's VirtualMemory, which estimates
// MemAvailable from /proc/zoneinfo on kernels before 3.14).
func Virtual(ctx context.Context, h probe.Host) (*gmem.VirtualMemoryStat, error) {
	m, err := probe.Gopsutil(ctx, h, gmem.VirtualMemoryWithContext, "proc/meminfo", "proc/zoneinfo")
	if err == nil && m.Total == 0 {
		err = errNoMemTotal
	}
	return m, err
}

// Read takes one reading of /proc/meminfo and /proc/vmstat.
func (r *reader) Read(ctx context.Context, h probe.Host) {
	s := sample{at: h.Now}
	s.mem, s.memErr = Virtual(ctx, h)
	b, err := h.ReadFile("proc", "vmstat")
	if err == nil {
		s.vm, err = parseVmstat(b)
	}
	s.vmErr = err
	r.samples = append(r.samples, s)
}

// Finish computes the facts over the window.
func (r *reader) Finish() (any, probe.Statuses) {
	f := Facts{PageSizeBytes: r.pageSize}
	st := probe.Statuses{}

	// Levels: the last good meminfo reading.
	var mem *gmem.VirtualMemoryStat
	var memErr error = errors.New("no reading taken")
	for _, s := range r.samples {
		if s.memErr == nil {
			mem, memErr = s.mem, nil
		} else if mem == nil {
			memErr = s.memErr
		}
	}
	levels := []string{"total_bytes", "available_bytes", "swap_total_bytes", "swap_used_bytes", "used_pct", "swap_used_pct"}
	if mem != nil {
		f.TotalBytes = mem.Total
		f.AvailableBytes = min(mem.Available, mem.Total)
		f.UsedPct = 100 * float64(f.TotalBytes-f.AvailableBytes) / float64(f.TotalBytes)
		f.SwapTotalBytes = mem.SwapTotal
		if mem.SwapTotal > 0 {
			f.SwapUsedBytes = mem.SwapTotal - min(mem.SwapFree, mem.SwapTotal)
			f.SwapUsedPct = 100 * float64(f.SwapUsedBytes) / float64(f.SwapTotalBytes)
		}
	} else {
		for _, k := range levels {
			st[k] = probe.StatusOf(memErr, "/proc/meminfo")
		}
	}

	// Rates: the first and last good vmstat readings.
	var good []sample
	var vmErr error = errors.New("no reading taken")
	for _, s := range r.samples {
		if s.vmErr == nil {
			good = append(good, s)
		} else if len(good) == 0 {
			vmErr = s.vmErr
		}
	}
	type rate struct {
		name string
		bit  uint8
		dst  *float64
		get  func(v vmstat) uint64
		key  string
	}
	rates := []rate{
		{"swap_in_pages_per_s", hasSwap, &f.SwapInPagesPerS, func(v vmstat) uint64 { return v.pswpin }, "pswpin"},
		{"swap_out_pages_per_s", hasSwap, &f.SwapOutPagesPerS, func(v vmstat) uint64 { return v.pswpout }, "pswpout"},
		{"major_faults_per_s", hasMajflt, &f.MajorFaultsPerS, func(v vmstat) uint64 { return v.pgmajfault }, "pgmajfault"},
		{"page_scans_per_s", hasScanKswapd | hasScanDirect, &f.PageScansPerS, func(v vmstat) uint64 { return v.scanKswapd + v.scanDirect + v.scanKhugepaged }, "pgscan_kswapd and pgscan_direct"},
		{"direct_reclaim_scans_per_s", hasScanDirect, &f.DirectReclaimScansPerS, func(v vmstat) uint64 { return v.scanDirect }, "pgscan_direct"},
	}
	var dt float64
	if len(good) >= 2 {
		dt = good[len(good)-1].at.Sub(good[0].at).Seconds()
	}
	switch {
	case len(good) == 0:
		for _, x := range rates {
			st[x.name] = probe.StatusOf(vmErr, "/proc/vmstat")
		}
	case len(good) < 2 || dt <= 0:
		for _, x := range rates {
			st[x.name] = probe.Status{State: probe.Unavailable, Reason: "needs two readings of /proc/vmstat some time apart; the window had one", Fix: "sample for a longer window (--duration)"}
		}
	default:
		a, z := good[0].vm, good[len(good)-1].vm
		for _, x := range rates {
			if a.has&z.has&x.bit != x.bit {
				st[x.name] = probe.Status{State: probe.Unavailable, Reason: fmt.Sprintf("/proc/vmstat has no %s on this kernel", x.key)}
				continue
			}
			*x.dst = float64(probe.Delta(x.get(a), x.get(z))) / dt
		}
	}

	st[""] = probe.Status{State: probe.OK}
	if mem == nil && len(good) == 0 {
		st[""] = probe.StatusOf(memErr, "/proc/meminfo")
	}
	return f, st
}
