package limits

import "github.com/diagnose-sh/diagnose/probes/probe"

// Merge reads a container's processes as one target: the descriptor and
// rlimit facts are those of the process nearest its descriptor limit (the
// one that fails first), children and zombies add up over the processes,
// and the cgroup and system facts, the same for all, are the first's.
func Merge(parts []probe.Part) (any, probe.Statuses) {
	st := probe.MergeStatuses(parts)
	fs, _ := probe.ReadParts[Facts](parts)
	if len(fs) == 0 {
		return Facts{}, st
	}
	f := fs[0]
	for _, p := range fs[1:] {
		if p.OpenFilesPct > f.OpenFilesPct {
			f.PID, f.OpenFiles, f.OpenFilesSoft, f.OpenFilesHard, f.OpenFilesPct, f.OpenFilesPerS =
				p.PID, p.OpenFiles, p.OpenFilesSoft, p.OpenFilesHard, p.OpenFilesPct, p.OpenFilesPerS
		}
	}
	for _, p := range fs[1:] {
		f.Children += p.Children
		f.ZombieChildren += p.ZombieChildren
		f.ZombieChildrenPer += p.ZombieChildrenPer
		f.OldestZombieS = max(f.OldestZombieS, p.OldestZombieS)
	}
	return f, st
}
