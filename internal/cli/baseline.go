package cli

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/diagnose-sh/diagnose/engine"
	"github.com/diagnose-sh/diagnose/engine/report"
	"github.com/diagnose-sh/diagnose/probes"
	"github.com/diagnose-sh/diagnose/probes/hostinfo"
	"github.com/diagnose-sh/diagnose/probes/probe"
)

// timeFormat is how reports give a snapshot's time.
const timeFormat = time.RFC3339

// baseline is a recorded snapshot a run is compared with.
type baseline struct {
	flag, file string // "--baseline FILE", or diff's "BEFORE FILE"
	snap       probes.Snapshot
}

// readBaseline reads the baseline a flag or argument names (its version is
// checked on decoding).
func readBaseline(flag, path string) (*baseline, error) {
	if path == "" {
		return nil, nil
	}
	snap, err := readSnapshot(flag, path)
	if err != nil {
		return nil, err
	}
	return &baseline{flag: flag, file: path, snap: snap}, nil
}

// identity is what says two sets of facts are of the same machine and
// program.
type identity struct {
	host string // "" when unknown
	pid  int
	name string // the target's comm
}

// snapshotIdentity is a snapshot's host and target.
func snapshotIdentity(s probes.Snapshot) identity {
	return identity{host: s.Facts.Host.Hostname, pid: s.Target.PID, name: s.Facts.Process.Name}
}

// liveIdentity is this host and a live target.
func liveIdentity(root string, pid int) identity {
	h := probe.Host{Root: root}
	id := identity{pid: pid}
	id.host, _ = hostinfo.Hostname(h)
	if pid > 0 {
		if b, err := h.ReadFile("proc", strconv.Itoa(pid), "comm"); err == nil {
			id.name = probe.Sanitize(strings.TrimSpace(string(b)))
		}
	}
	return id
}

// check is comparable for a run that may have no baseline, adding its
// note to notes.
func (b *baseline) check(pb *engine.Playbook, now identity, notes *[]string) error {
	if b == nil {
		return nil
	}
	note, err := b.comparable(pb, now)
	if note != "" {
		*notes = append(*notes, note)
	}
	return err
}

// comparable checks that a baseline can be compared with a run: the same
// host, and the same program (another PID of it, restarted since, gives a
// note); for a playbook, the sections its rules compare.
func (b *baseline) comparable(pb *engine.Playbook, now identity) (note string, err error) {
	was := snapshotIdentity(b.snap)
	if was.host != "" && now.host != "" && was.host != now.host {
		return "", usagef("%s %s was recorded on host %s, this is %s: compare a host with its own baseline", b.flag, b.file, was.host, now.host)
	}
	if was.pid > 0 && now.pid > 0 && was.pid != now.pid {
		if was.name == "" || now.name == "" || was.name != now.name {
			return "", usagef("%s %s is of PID %d (%s), not of PID %d (%s): record a baseline of the same program with diagnose collect --pid",
				b.flag, b.file, was.pid, nameOr(was.name), now.pid, nameOr(now.name))
		}
		note = fmt.Sprintf("the baseline is of PID %d, the same program (%s) before a restart", was.pid, now.name)
	}
	if pb == nil {
		return note, nil
	}
	compared := baselineSections(pb)
	for _, sec := range compared {
		if b.snap.Status[sec].State == probe.OK {
			return note, nil
		}
	}
	if len(compared) > 0 {
		why := b.snap.Status[compared[0]]
		return "", usagef("%s %s has none of the facts %s compares (%s; %s is %s: %s): record it with diagnose collect%s",
			b.flag, b.file, pb.Name, strings.Join(compared, ", "), compared[0], why.State, why.Reason, pidHint(now))
	}
	return note, nil
}

func nameOr(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func pidHint(id identity) string {
	if id.pid > 0 {
		return fmt.Sprintf(" --pid %d while it is well", id.pid)
	}
	return ""
}

// baselineSections are the sections a playbook reads through baseline.*.
func baselineSections(pb *engine.Playbook) []string {
	var out []string
	for _, path := range pb.ReadPaths() {
		rest, ok := strings.CutPrefix(path, engine.Baseline+".")
		if !ok {
			continue
		}
		sec, _, _ := strings.Cut(rest, ".")
		if !slices.Contains(out, sec) {
			out = append(out, sec)
		}
	}
	return out
}

// run is the baseline as the report shows it, with its missing facts
// under "baseline." for the engine.
func (b *baseline) run() (*report.BaselineRun, engine.Missing) {
	missing := report.Missing(statusReport(b.snap.Status))
	return &report.BaselineRun{
		Side:    report.Side{Source: "snapshot:" + b.file, CollectedAt: b.snap.CollectedAt.UTC().Format(timeFormat), Target: b.snap.Target},
		Facts:   b.snap.Facts,
		Missing: missing,
	}, baselineMissing(b.snap.Status)
}

// baselineMissing is what a baseline snapshot could not read, by the paths
// rules read it under (baseline.cpu.idle_pct).
func baselineMissing(st probe.Statuses) engine.Missing {
	under := engine.Missing{}
	for path, why := range report.Missing(statusReport(st)) {
		under[engine.Baseline+"."+path] = "in the baseline: " + why
	}
	return under
}
