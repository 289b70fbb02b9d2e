// Package disk reads per-disk I/O over the sampling window the way
// `iostat -x` computes it (sysstat compute_ext_disk_stats), from
// /proc/diskstats (Documentation/ABI/testing/procfs-diskstats):
//
//	254 0 vda 14679 3713 808698 4934 1391 12315 533264 1117 0 4360 6202 ...
//	          reads merged sectors rd_ms writes merged sectors wr_ms inflight io_ms weighted_ms
//
// With Δ over the window and dt its length: r/s = Δreads/dt, rkB/s =
// Δsectors×512/1024/dt, r_await = Δrd_ms/Δreads, w_await likewise, aqu-sz =
// Δweighted_ms/dt_ms, %util = Δio_ms/dt_ms×100 (capped at 100).
//
// Which devices: whole disks only, i.e. the entries of /sys/block, minus
// RAM-backed and loop devices (loop*, ram*, zram*: their I/O lands on a real
// disk or on memory), minus stacked devices (dm-*, md* with members under
// slaves/), whose I/O is already counted on their member disks, which is where
// saturation happens. Partitions are not in /sys/block. Without /sys, the
// names are filtered by pattern (see wholeDiskName). Devices with all-zero
// counters are omitted, as iostat does.
//
// Counter width: the ms fields are printed with %u (32 bits) and wrap after
// 49.7 days of busy time; they are subtracted modulo 2^32. If a device's
// request counts go backwards it was removed and added again: its counters
// restarted from zero, so zero is the baseline.
//
// The file is parsed here, not with gopsutil's disk.IOCounters: for every
// device that also stats /dev, opens /run/udev/data and reads /sys serials
// and labels without a bound (a FIFO there would block), none of which the
// facts use.
package disk

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

// Facts is per-disk I/O over the window.
type Facts struct {
	Devices []Device `expr:"devices" json:"devices" doc:"whole disks (no partitions, loop, ram, zram, or stacked dm/md), sorted by name"`
	Busiest Device   `expr:"busiest" json:"busiest" doc:"the device with the highest util_pct; empty name when there are no devices"`
	Count   int      `expr:"count" json:"count" doc:"number of devices"`
}

// Device is one disk's I/O over the window, as iostat -x shows it.
type Device struct {
	Name        string  `expr:"name" json:"name" doc:"kernel device name (vda, nvme0n1, sda)"`
	UtilPct     float64 `expr:"util_pct" json:"util_pct" doc:"share of the window with at least one request in flight, % (iostat %util; not saturation on NVMe/virtio)"`
	ReadsPerS   float64 `expr:"reads_per_s" json:"reads_per_s" doc:"reads completed per second (iostat r/s)"`
	WritesPerS  float64 `expr:"writes_per_s" json:"writes_per_s" doc:"writes completed per second (iostat w/s)"`
	ReadKBPerS  float64 `expr:"read_kb_per_s" json:"read_kb_per_s" doc:"KiB read per second (iostat rkB/s)"`
	WriteKBPerS float64 `expr:"write_kb_per_s" json:"write_kb_per_s" doc:"KiB written per second (iostat wkB/s)"`
	RAwaitMs    float64 `expr:"r_await_ms" json:"r_await_ms" doc:"average time a read took, queue included, ms (iostat r_await; 0 without reads)"`
	WAwaitMs    float64 `expr:"w_await_ms" json:"w_await_ms" doc:"average time a write took, queue included, ms (iostat w_await; 0 without writes)"`
	AwaitMs     float64 `expr:"await_ms" json:"await_ms" doc:"average time a read or write took, ms (0 without I/O)"`
	AquSz       float64 `expr:"aqu_sz" json:"aqu_sz" doc:"average number of requests in flight (iostat aqu-sz)"`
}

type sample struct {
	at      time.Time
	ctr     map[string]counters
	whole   map[string]bool // nil: /sys/block unreadable, filter by name
	err     error
	wholeOK bool
}

type reader struct{ samples []sample }

// New returns a reader for one run; the target is ignored (system-wide).
func New(probe.Target, probe.Options) probe.Reader { return &reader{} }

// counters are one line of /proc/diskstats: fields 4-14, sectors in bytes.
type counters struct {
	reads, readBytes, readMs, writes, writeBytes, writeMs uint64
	ioMs, weightedMs                                      uint64
}

// Read takes one reading of /proc/diskstats.
func (r *reader) Read(_ context.Context, h probe.Host) {
	s := sample{at: h.Now}
	whole, err := wholeDisks(h)
	s.whole, s.wholeOK = whole, err == nil
	if s.wholeOK && len(whole) == 0 {
		s.ctr = map[string]counters{} // no disks: nothing to read
	} else if b, err := h.ReadFile("proc", "diskstats"); err != nil {
		s.err = err
	} else {
		s.ctr, s.err = parseDiskstats(b)
	}
	r.samples = append(r.samples, s)
}

// maxDevices bounds the listing of /sys/block (a machine with thousands of
// loop devices still lists its disks).
const maxDevices = 10000

// wholeDisks lists /sys/block and keeps whole, real, unstacked disks.
func wholeDisks(h probe.Host) (map[string]bool, error) {
	names, err := h.DirNames(maxDevices, "sys", "block")
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, n := range names {
		if ramOrLoop(n) {
			continue
		}
		if slaves, err := h.DirNames(1, "sys", "block", n, "slaves"); err == nil && len(slaves) > 0 {
			continue // stacked (dm, md): its members carry the I/O
		}
		out[n] = true
	}
	return out, nil
}

func ramOrLoop(n string) bool {
	return strings.HasPrefix(n, "loop") || strings.HasPrefix(n, "ram") || strings.HasPrefix(n, "zram")
}

var wholeDiskRE = regexp.MustCompile(`^((s|v|xv|h)d[a-z]+|nvme\d+n\d+|mmcblk\d+|nbd\d+)$`)

// wholeDiskName is the fallback filter when /sys/block cannot be read:
// common whole-disk names, no partitions (sda1, nvme0n1p2, mmcblk0p1), no
// loop/ram/zram, no dm/md (stacked).
func wholeDiskName(n string) bool { return wholeDiskRE.MatchString(n) }

// parseDiskstats reads the devices of /proc/diskstats with a nonzero
// counter. A line that is not a device line (fewer than 14 fields, or a
// non-numeric counter) is skipped; a file with lines but no device line is
// an error.
func parseDiskstats(b []byte) (map[string]counters, error) {
	out := map[string]counters{}
	devices := 0
lines:
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) < 14 {
			continue
		}
		var n [11]uint64
		for i, x := range f[3:14] {
			v, err := strconv.ParseUint(x, 10, 64)
			if err != nil {
				continue lines
			}
			n[i] = v
		}
		devices++
		c := counters{reads: n[0], readBytes: n[2] * 512, readMs: n[3], writes: n[4], writeBytes: n[6] * 512, writeMs: n[7], ioMs: n[9], weightedMs: n[10]}
		if c != (counters{}) {
			out[f[2]] = c
		}
	}
	if devices == 0 && strings.TrimSpace(string(b)) != "" {
		return nil, fmt.Errorf("%w: /proc/diskstats has no line of at least 14 numeric fields", probe.ErrFormat)
	}
	return out, nil
}

var errNoReading = errors.New("no reading taken")

// Finish computes the facts over the window.
func (r *reader) Finish() (any, probe.Statuses) {
	f := Facts{Devices: []Device{}}
	st := probe.Statuses{}
	var good []sample
	var firstErr error = errNoReading
	for _, s := range r.samples {
		if s.err == nil {
			good = append(good, s)
		} else if len(good) == 0 {
			firstErr = s.err
		}
	}
	if len(good) == 0 {
		st[""] = probe.StatusOf(firstErr, "/proc/diskstats")
		return f, st
	}
	first, last := good[0], good[len(good)-1]
	dt := last.at.Sub(first.at)
	if len(good) < 2 || dt <= 0 {
		st[""] = probe.Status{State: probe.Unavailable, Reason: "needs two readings of /proc/diskstats some time apart; the window had one", Fix: "sample for a longer window (--duration)"}
		return f, st
	}
	st[""] = probe.Status{State: probe.OK}
	keep := func(n string) bool {
		if last.wholeOK {
			return last.whole[n]
		}
		return wholeDiskName(n)
	}
	names := make([]string, 0, len(last.ctr))
	for n := range last.ctr {
		if keep(n) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		d := compute(n, first.ctr[n], last.ctr[n], dt)
		f.Devices = append(f.Devices, d)
		if f.Count == 0 || d.UtilPct > f.Busiest.UtilPct {
			f.Busiest = d
		}
		f.Count++
	}
	return f, st
}

// compute applies iostat -x's formulas to two readings of one device; a
// missing first reading (device appeared, or was all-zero) is zero.
func compute(name string, a, z counters, dt time.Duration) Device {
	if z.reads < a.reads || z.writes < a.writes || z.readBytes < a.readBytes || z.writeBytes < a.writeBytes {
		a = counters{} // removed and re-added: counters restarted at zero
	}
	sec := dt.Seconds()
	ms := float64(dt) / float64(time.Millisecond)
	reads := float64(z.reads - a.reads)
	writes := float64(z.writes - a.writes)
	rt := float64(delta32(a.readMs, z.readMs))
	wt := float64(delta32(a.writeMs, z.writeMs))
	d := Device{
		Name:        probe.Sanitize(name),
		UtilPct:     min(100, 100*float64(delta32(a.ioMs, z.ioMs))/ms),
		ReadsPerS:   reads / sec,
		WritesPerS:  writes / sec,
		ReadKBPerS:  float64(z.readBytes-a.readBytes) / 1024 / sec,
		WriteKBPerS: float64(z.writeBytes-a.writeBytes) / 1024 / sec,
		AquSz:       float64(delta32(a.weightedMs, z.weightedMs)) / ms,
	}
	if reads > 0 {
		d.RAwaitMs = rt / reads
	}
	if writes > 0 {
		d.WAwaitMs = wt / writes
	}
	if reads+writes > 0 {
		d.AwaitMs = (rt + wt) / (reads + writes)
	}
	return d
}

// delta32 subtracts a millisecond field of /proc/diskstats, which the kernel
// prints as a 32-bit unsigned int: a smaller second value has wrapped.
func delta32(a, b uint64) uint64 {
	switch {
	case b >= a:
		return b - a
	case a <= math.MaxUint32 && b <= math.MaxUint32:
		return b + (1 << 32) - a
	default:
		return 0
	}
}
