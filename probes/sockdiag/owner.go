package sockdiag

// Naming a local peer: the process that holds a listener.

import (
	"strconv"
	"strings"
	"syscall"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

// Owner is the process holding a listener.
type Owner struct {
	PID  int
	Comm string
}

// FindOwner looks for the process holding the listener's socket. A server
// opens its listener early, so the first pass reads only descriptors 0-15
// of each process (no listing of a process's thousands of connections),
// the listener's user first; the full scan after it reads at most
// maxOwnerLinks links.
func FindOwner(h probe.Host, inode uint64, uid uint32) Owner {
	procs, err := h.ReadDir(probe.MaxProcesses, "proc")
	if err != nil {
		return Owner{}
	}
	want := "socket:[" + strconv.FormatUint(inode, 10) + "]"
	found := func(pid string, fd string) bool {
		link, err := h.Readlink("proc", pid, "fd", fd)
		return err == nil && link == want
	}
	named := func(pid string) Owner {
		n, _ := strconv.Atoi(pid)
		comm, _ := h.ReadFile("proc", pid, "comm")
		return Owner{PID: n, Comm: probe.Sanitize(strings.TrimSpace(string(comm)))}
	}
	var pids, others []string
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		if info, err := p.Info(); err == nil {
			if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Uid != uid {
				others = append(others, p.Name())
				continue
			}
		}
		pids = append(pids, p.Name())
	}
	pids = append(pids, others...)
	for _, pid := range pids {
		for fd := range 16 {
			if found(pid, strconv.Itoa(fd)) {
				return named(pid)
			}
		}
	}
	budget := maxOwnerLinks
	for _, pid := range pids {
		fds, err := h.DirNames(budget, "proc", pid, "fd")
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if n, _ := strconv.Atoi(fd); n >= 16 && found(pid, fd) {
				return named(pid)
			}
		}
		if budget -= len(fds); budget <= 0 {
			break
		}
	}
	return Owner{}
}
