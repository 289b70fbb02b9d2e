// Package hostinfo reads what a person checks first about a machine: kernel,
// CPU count, uptime, load averages and whether this is a container's view.
//
// Sources:
//
//	/proc/cpuinfo         "processor : N" lines (gopsutil cpu.CountsWithContext; falls back to cpuN lines of /proc/stat)
//	/proc/sys/kernel/osrelease   6.18.44-fc-v857
//	/proc/uptime          300.29 553.94          (seconds since boot, idle seconds)
//	/proc/loadavg         0.20 0.18 0.09 1/85 6815
//
// gopsutil's load.AvgWithContext and host.KernelVersionWithContext fall back
// to sysinfo(2)/uname(2) of the live machine, which ignore the host root, so
// those two files are parsed here.
package hostinfo

import (
	"context"
	"errors"
	"fmt"
	"strings"

	gcpu "github.com/shirou/gopsutil/v4/cpu"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

// Facts describes the machine.
type Facts struct {
	CPUCount          int     `expr:"cpu_count" json:"cpu_count" doc:"logical CPUs (processor entries of /proc/cpuinfo)"`
	Kernel            string  `expr:"kernel" json:"kernel" doc:"kernel release (uname -r)"`
	Hostname          string  `expr:"hostname" json:"hostname" doc:"the host's name (/proc/sys/kernel/hostname): which machine a snapshot or baseline was recorded on"`
	UptimeS           float64 `expr:"uptime_s" json:"uptime_s" doc:"seconds since boot"`
	Load1             float64 `expr:"load1" json:"load1" doc:"1-minute load average: runnable plus uninterruptible (D) tasks"`
	Load5             float64 `expr:"load5" json:"load5" doc:"5-minute load average"`
	Load15            float64 `expr:"load15" json:"load15" doc:"15-minute load average"`
	InContainer       bool    `expr:"in_container" json:"in_container" doc:"diagnose runs in a container: /proc/stat, diskstats, loadavg and /proc/pressure are the host's"`
	ContainerEvidence string  `expr:"container_evidence" json:"container_evidence" doc:"what showed the container view (empty when none)"`
}

type reading struct {
	count              int
	kernel, hostname   string
	uptime             float64
	load               loadavg
	container          bool
	evidence           string
	countErr, kernErr  error
	hostErr            error
	uptimeErr, loadErr error
}

type reader struct{ readings []reading }

// New returns a reader for one run; the target is ignored.
func New(probe.Target, probe.Options) probe.Reader { return &reader{} }

var errNoCPUs = errors.New("no processor entries in /proc/cpuinfo and no cpuN lines in /proc/stat")

// CPUCount is the number of online CPUs: the processor entries of
// /proc/cpuinfo, else the cpuN lines of /proc/stat (gopsutil's logical
// count).
func CPUCount(ctx context.Context, h probe.Host) (int, error) {
	n, err := probe.Gopsutil(ctx, h, func(ctx context.Context) (int, error) {
		return gcpu.CountsWithContext(ctx, true)
	}, "proc/stat", "proc/cpuinfo")
	if err == nil && n <= 0 {
		err = errNoCPUs
	}
	return n, err
}

// Read takes one reading.
func (r *reader) Read(ctx context.Context, h probe.Host) {
	var x reading
	x.count, x.countErr = CPUCount(ctx, h)
	b, err := h.ReadFile("proc", "sys", "kernel", "osrelease")
	if err == nil {
		x.kernel, err = parseOSRelease(b)
	}
	x.kernErr = err
	x.hostname, x.hostErr = Hostname(h)
	b, err = h.ReadFile("proc", "uptime")
	if err == nil {
		x.uptime, err = parseUptime(b)
	}
	x.uptimeErr = err
	b, err = h.ReadFile("proc", "loadavg")
	if err == nil {
		x.load, err = parseLoadavg(b)
	}
	x.loadErr = err
	x.container, x.evidence = detectContainer(h)
	r.readings = append(r.readings, x)
}

// Hostname reads the host's name.
func Hostname(h probe.Host) (string, error) {
	b, err := h.ReadFile("proc", "sys", "kernel", "hostname")
	if err != nil {
		return "", err
	}
	return probe.Sanitize(strings.TrimSpace(string(b))), nil
}

// Finish returns the last reading's facts (levels, not rates).
func (r *reader) Finish() (any, probe.Statuses) {
	var f Facts
	st := probe.Statuses{}
	if len(r.readings) == 0 {
		st[""] = probe.Status{State: probe.Error, Reason: "no reading taken"}
		return f, st
	}
	x := r.readings[len(r.readings)-1]
	ok := 0
	if x.countErr == nil {
		f.CPUCount = x.count
		ok++
	} else {
		st["cpu_count"] = probe.StatusOf(x.countErr, "/proc/cpuinfo")
	}
	if x.kernErr == nil {
		f.Kernel = x.kernel
		ok++
	} else {
		st["kernel"] = probe.StatusOf(x.kernErr, "/proc/sys/kernel/osrelease")
	}
	if x.hostErr == nil {
		f.Hostname = x.hostname
	} else {
		st["hostname"] = probe.StatusOf(x.hostErr, "/proc/sys/kernel/hostname")
	}
	if x.uptimeErr == nil {
		f.UptimeS = x.uptime
		ok++
	} else {
		st["uptime_s"] = probe.StatusOf(x.uptimeErr, "/proc/uptime")
	}
	if x.loadErr == nil {
		f.Load1, f.Load5, f.Load15 = x.load.l1, x.load.l5, x.load.l15
		ok++
	} else {
		s := probe.StatusOf(x.loadErr, "/proc/loadavg")
		st["load1"], st["load5"], st["load15"] = s, s, s
	}
	f.InContainer, f.ContainerEvidence = x.container, x.evidence
	st[""] = probe.Status{State: probe.OK}
	if ok == 0 {
		st[""] = probe.Status{State: probe.Unavailable, Reason: fmt.Sprintf("none of /proc/cpuinfo, osrelease, uptime, loadavg could be read (%s)", st["cpu_count"].Reason)}
	}
	return f, st
}
