package process

import (
	"sort"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

// Merge adds up a container's processes: rates, memory, descriptors and
// threads are sums; what names one process (pid, name, state, command
// line) is the first's, the target's main process; every process is listed.
func Merge(parts []probe.Part) (any, probe.Statuses) {
	fs, st := probe.Merged[Facts](parts)
	if len(fs) == 0 {
		f := Facts{}
		if len(parts) > 0 {
			f.PID = parts[0].PID
		}
		return f, st
	}
	f := fs[0]
	f.Processes = nil
	f.Threads, f.RSSBytes, f.SwapBytes, f.OpenFDs = 0, 0, 0, 0
	f.CPUPct, f.UserPct, f.SystemPct, f.RunqueueDelayPct, f.BlkioDelayPct = 0, 0, 0, 0, 0
	f.VoluntaryCtxSwitchesPerS, f.InvoluntaryCtxSwitchesPerS = 0, 0
	f.ReadBytesPerS, f.WriteBytesPerS, f.MajorFaultsPerS, f.MinorFaultsPerS = 0, 0, 0, 0
	f.Exited = true
	for _, p := range fs {
		f.Processes = append(f.Processes, p.Processes...)
		f.Threads += p.Threads
		f.RSSBytes += p.RSSBytes
		f.SwapBytes += p.SwapBytes
		f.OpenFDs += p.OpenFDs
		f.CPUPct += p.CPUPct
		f.UserPct += p.UserPct
		f.SystemPct += p.SystemPct
		f.RunqueueDelayPct += p.RunqueueDelayPct
		f.BlkioDelayPct += p.BlkioDelayPct
		f.VoluntaryCtxSwitchesPerS += p.VoluntaryCtxSwitchesPerS
		f.InvoluntaryCtxSwitchesPerS += p.InvoluntaryCtxSwitchesPerS
		f.ReadBytesPerS += p.ReadBytesPerS
		f.WriteBytesPerS += p.WriteBytesPerS
		f.MajorFaultsPerS += p.MajorFaultsPerS
		f.MinorFaultsPerS += p.MinorFaultsPerS
		f.WindowS = max(f.WindowS, p.WindowS)
		f.Exited = f.Exited && p.Exited
		if f.TracerPID == 0 {
			f.TracerPID = p.TracerPID
		}
	}
	sort.SliceStable(f.Processes, func(i, j int) bool { return f.Processes[i].CPUPct > f.Processes[j].CPUPct })
	return f, st
}
