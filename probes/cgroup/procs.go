package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strconv"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

// QOSClass maps oom_score_adj to the Kubernetes QoS class kubelet sets it for
// (pkg/kubelet/qos/policy.go): -997 Guaranteed, 1000 BestEffort, 2..999
// Burstable, -999/-998 system (kubelet, runtime, pause). Other values (0 on a
// plain host, -1000) are not set by kubelet: "".
func QOSClass(adj int) string {
	switch {
	case adj == -997:
		return "Guaranteed"
	case adj == 1000:
		return "BestEffort"
	case adj >= 2 && adj <= 999:
		return "Burstable"
	case adj == -999 || adj == -998:
		return "system"
	}
	return ""
}

type procReading struct {
	count int
	list  []Process
	err   error
	read  bool // AfterWindow ran
}

// Members returns the pids in the cgroup's memory (else cpu) directory and
// its descendants, at most maxPIDs; with no cgroup, the target process (or
// none for self: the caller decides).
func Members(h probe.Host, loc Location) ([]int, error) {
	d := loc.MemoryDir
	if d == "" {
		d = loc.CPUDir
	}
	if d == "" {
		return nil, fmt.Errorf("no cgroup directory: %w", fs.ErrNotExist)
	}
	var pids []int
	seen := map[int]bool{}
	dirs := []string{d}
	for n := 0; len(dirs) > 0 && n < maxDirs && len(pids) < maxPIDs; n++ {
		x := dirs[0]
		dirs = dirs[1:]
		b, err := read(h, x, "cgroup.procs")
		if err != nil {
			if x == d {
				return nil, err
			}
			continue
		}
		ps, err := parseProcs(b)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			if !seen[p] && len(pids) < maxPIDs {
				seen[p] = true
				pids = append(pids, p)
			}
		}
		ents, err := h.ReadDir(maxDirEntries, x)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if e.IsDir() {
				dirs = append(dirs, path.Join(x, e.Name()))
			}
		}
	}
	sort.Ints(pids)
	return pids, nil
}

func readProcs(h probe.Host, loc Location, t probe.Target) procReading {
	var pr procReading
	var pids []int
	if loc.Version == 0 {
		who := t.PID
		if who == 0 {
			who = os.Getpid()
			if h.Root != "" && h.Root != "/" {
				who = 0
			}
		}
		if who > 0 {
			pids = []int{who}
		}
	} else {
		pids, pr.err = Members(h, loc)
		if pr.err != nil {
			return pr
		}
	}
	for _, pid := range pids {
		p, err := ReadProcess(h, pid)
		if err != nil {
			continue // ended, or a kernel thread without a status
		}
		pr.list = append(pr.list, p)
	}
	pr.count = len(pr.list)
	sort.SliceStable(pr.list, func(i, j int) bool {
		if pr.list[i].RSSBytes != pr.list[j].RSSBytes {
			return pr.list[i].RSSBytes > pr.list[j].RSSBytes
		}
		return pr.list[i].PID < pr.list[j].PID
	})
	return pr
}

// ReadProcess reads one process's name, RSS and OOM scores.
func ReadProcess(h probe.Host, pid int) (Process, error) {
	ps := strconv.Itoa(pid)
	b, err := h.ReadFile("proc", ps, "status")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Process{}, fmt.Errorf("pid %d: %w", pid, probe.ErrNoProcess)
		}
		return Process{}, err
	}
	s, err := probe.ParseProcStatus(b)
	if err != nil {
		return Process{}, err
	}
	p := Process{PID: pid, Name: probe.Sanitize(s.Name), RSSBytes: s.VmRSSKB * 1024}
	if b, err := h.ReadFile("proc", ps, "oom_score"); err == nil {
		if v, err := parseInt(b); err == nil {
			p.OOMScore = int(v)
		}
	}
	if b, err := h.ReadFile("proc", ps, "oom_score_adj"); err == nil {
		if v, err := parseInt(b); err == nil && v >= -1000 && v <= 1000 {
			p.OOMScoreAdj = int(v)
		}
	}
	p.QOSClass = QOSClass(p.OOMScoreAdj)
	return p, nil
}

// processFacts fills the member processes listed after the window.
func (r *reader) processFacts(f *Facts, st probe.Statuses) {
	p := r.procs
	if !p.read {
		p.err = probe.ErrCut
	}
	if p.err != nil {
		s := statusFor(p.err, "cgroup processes")
		for _, k := range []string{"process_count", "processes", "largest", "unkillable_count", "unkillable"} {
			st[k] = s
		}
	}
	f.ProcessCount, f.Processes = p.count, p.list
	for i, pr := range p.list {
		if i == 0 {
			f.Largest = pr
		}
		if pr.OOMScoreAdj == -1000 {
			if f.UnkillableCount == 0 {
				f.Unkillable = pr
			}
			f.UnkillableCount++
		}
	}
	if len(f.Processes) > maxListed {
		f.Processes = f.Processes[:maxListed]
	}
}
