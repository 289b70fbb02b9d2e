package cgroup

// Finding a container's cgroup from its ID, or a Kubernetes pod's container
// from namespace/name, by walking one cgroup hierarchy under Host.Root.
// Runtimes name a container's cgroup directory after its 64-hex ID:
//
//	docker      docker-<id>.scope (systemd driver)      /docker/<id> (cgroupfs)
//	containerd  cri-containerd-<id>.scope, nerdctl-<id>.scope; <id> under pod<uid> or a namespace (/default/<id>)
//	cri-o       crio-<id>.scope                         crio-<id>
//	podman      libpod-<id>.scope                       /libpod_parent/libpod-<id>
//
// Kubelet's pod cgroup is pod<uid> (cgroupfs) or kubepods[-<qos>]-pod<uid>.slice
// with the UID's dashes as underscores (systemd). Pod names are not in the
// cgroup tree: kubelet's /var/log/pods/<ns>_<name>_<uid>/<container>/ gives
// the UID and the container names, and the names of the links
// /var/log/containers/<pod>_<ns>_<container>-<id>.log map a container name
// to its IDs (one per restart).

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"syscall"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

// Container is one container found on the host.
type Container struct {
	ID      string // the full ID as it appears in the cgroup name (64 hex for Docker/containerd/CRI-O/Podman)
	Runtime string // "docker", "containerd", "cri-o", "podman"
	Cgroup  string // the hierarchy path, as /proc/PID/cgroup shows it ("/system.slice/docker-<id>.scope", "/docker/<id>", "/kubepods/burstable/pod<uid>/<id>")
	PodUID  string // the pod UID with dashes when the cgroup is under a kubelet pod cgroup, else ""
	Name    string // the Kubernetes container name when known (FindPod), else ""
}

// PodQuery names a pod the way kubectl does.
type PodQuery struct{ Namespace, Name, ContainerName string } // Namespace "" means "default"

// LookupError is a lookup that found none or several: the CLI prints it and exits 2.
type LookupError struct {
	What       string   // "container 0123456789ab", "pod default/web", "container \"app\" of pod default/web"
	Problem    string   // "no such container", "ambiguous prefix", "pod has several containers", "no such pod"...
	Candidates []string // what the user could pass instead, sorted, at most 20 (ids as 12-hex short id + runtime + cgroup path; container names for pods)
	Hint       string   // how to list them
}

// Error is one readable line: What: Problem; candidates: a, b; Hint.
func (e *LookupError) Error() string {
	s := e.What + ": " + e.Problem
	if len(e.Candidates) > 0 {
		s += "; candidates: " + strings.Join(e.Candidates, ", ")
	}
	if e.Hint != "" {
		s += "; " + e.Hint
	}
	return s
}

// ErrBadContainerID is a --container value that cannot be an ID prefix:
// shorter prefixes than docker ps's short ID would match too much.
var ErrBadContainerID = errors.New("need a container ID prefix of at least 12 hex digits, as docker ps / crictl ps show it")

const (
	idLen         = 64
	shortIDLen    = 12
	maxCandidates = 20
	// A node has hundreds of cgroups, not 100,000: the bounds only keep a
	// hostile or runaway tree from stalling the lookup.
	maxWalkDirs   = 100_000
	maxWalkDepth  = 10
	maxDirEntries = 100_000

	containerHint = "list them with docker ps --no-trunc, crictl ps, podman ps"
)

// lookupError sorts and caps the candidates, saying in the hint when some
// were left off.
func lookupError(what, problem string, candidates []string, hint string) *LookupError {
	sort.Strings(candidates)
	if n := len(candidates); n > maxCandidates {
		candidates = candidates[:maxCandidates]
		hint = fmt.Sprintf("first %d of %d shown; %s", maxCandidates, n, hint)
	}
	return &LookupError{What: what, Problem: problem, Candidates: candidates, Hint: hint}
}

// FindContainer finds the one container whose ID starts with prefix
// (case-insensitive hex, at least 12 digits).
func FindContainer(h probe.Host, prefix string) (Container, error) {
	p := strings.ToLower(prefix)
	if len(p) < shortIDLen || len(p) > idLen || !isHex(p) {
		return Container{}, fmt.Errorf("%q: %w", probe.Truncate(prefix), ErrBadContainerID)
	}
	t, err := scan(h)
	if err != nil {
		return Container{}, err
	}
	what := "container " + p
	var match []Container
	for _, c := range t.containers {
		if strings.HasPrefix(c.ID, p) {
			match = append(match, c)
		}
	}
	switch {
	case len(match) == 1:
		return match[0], nil
	case len(match) > 1:
		return Container{}, lookupError(what, "ambiguous prefix", describe(match), "give more digits of the ID")
	case len(t.containers) == 0 && t.mounted:
		return Container{}, lookupError(what, "no such container", nil, t.note("no containers found under "+probe.Sanitize(t.mount.point)+"; "+containerHint))
	}
	return Container{}, lookupError(what, "no such container", describe(t.containers), t.note(containerHint))
}

// FindPod finds the container of a pod: ContainerName picks one; without it the pod must have exactly one container.
func FindPod(h probe.Host, q PodQuery) (Container, error) {
	ns := q.Namespace
	if ns == "" {
		ns = "default"
	}
	what := "pod " + probe.Truncate(ns+"/"+q.Name)
	podLogs, err := h.DirNames(maxDirEntries, "var", "log", "pods")
	if errors.Is(err, fs.ErrNotExist) {
		return Container{}, lookupError(what, "the node's kubelet log directory /var/log/pods is missing", nil,
			"is this a Kubernetes node? run on the node, or with --root pointing at the node's filesystem")
	}
	if err != nil {
		return Container{}, err
	}
	type podDir struct{ dir, uid string }
	var same []podDir
	inNS, all := map[string]bool{}, map[string]bool{}
	for _, d := range podLogs {
		parts := strings.Split(d, "_")
		if len(parts) != 3 {
			continue
		}
		if parts[0] == ns && parts[1] == q.Name {
			same = append(same, podDir{d, strings.ToLower(parts[2])})
		}
		pod := probe.Sanitize(parts[0] + "/" + parts[1])
		all[pod] = true
		if parts[0] == ns {
			inNS[pod] = true
		}
	}
	if len(same) == 0 {
		others := inNS
		if len(others) == 0 {
			others = all
		}
		return Container{}, lookupError(what, "no such pod", slices.Collect(maps.Keys(others)),
			"only pods with logs under /var/log/pods on this node are found; kubectl get pods -A -o wide shows each pod's node")
	}

	t, err := scan(h)
	if err != nil {
		return Container{}, err
	}
	// A pod deleted and recreated under the same name leaves its old log
	// directory behind for a while: the live one has a cgroup.
	var live []podDir
	var uids []string
	for _, d := range same {
		uids = append(uids, probe.Sanitize(d.uid))
		if len(t.pods[d.uid]) > 0 {
			live = append(live, d)
		}
	}
	switch {
	case len(live) == 0:
		return Container{}, lookupError(what, "pod has no cgroup on this node (not running?)", uids, t.note("kubectl get pod -o wide shows its node"))
	case len(live) > 1:
		return Container{}, lookupError(what, "several pods have this name", uids, "delete the stale pod or wait for it to go")
	}
	pd := live[0]

	ents, err := h.ReadDir(maxDirEntries, "var", "log", "pods", pd.dir)
	if err != nil {
		return Container{}, err
	}
	var names []string
	for _, e := range ents {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	inPod := map[string]Container{}
	for _, c := range t.containers {
		if c.PodUID == pd.uid {
			inPod[c.ID] = c
		}
	}
	// Every container name's IDs (one per restart), so that the IDs other
	// names claim are known when this name has none.
	ids, claimed, err := containerLogIDs(h, ns, q.Name)
	if err != nil {
		return Container{}, err
	}
	running := func(name string) (cs []Container) {
		for _, id := range ids[name] {
			if c, ok := inPod[id]; ok {
				cs = append(cs, c)
			}
		}
		return cs
	}

	hint := fmt.Sprintf("list them with kubectl get pod %s -n %s -o jsonpath='{.spec.containers[*].name}' and pass --container-name NAME", probe.Truncate(q.Name), probe.Truncate(ns))
	name := q.ContainerName
	switch {
	case name == "" && len(names) == 1:
		name = names[0]
	case name == "" && len(names) == 0:
		return Container{}, lookupError(what, "pod has no containers yet (its /var/log/pods directory is empty)", nil, "kubectl describe pod shows its state")
	case name == "":
		// Finished init containers keep their log directories: the one
		// name still running is the pod's container.
		var up []string
		for _, n := range names {
			if len(running(n)) > 0 {
				up = append(up, n)
			}
		}
		if len(up) != 1 {
			return Container{}, lookupError(what, "pod has several containers", sanitizeAll(names), hint)
		}
		name = up[0]
	case !slices.Contains(names, name):
		return Container{}, lookupError(fmt.Sprintf("container %q of %s", probe.Truncate(name), what), "no such container", sanitizeAll(names), hint)
	}
	what = fmt.Sprintf("container %q of %s", probe.Truncate(name), what)

	found := running(name)
	if len(ids[name]) == 0 {
		// No log link (rotated away, or a runtime that writes none): the
		// pod's one container dir no other name claims is this one.
		for id, c := range inPod {
			if !claimed[id] {
				found = append(found, c)
			}
		}
	}
	if len(found) == 1 {
		found[0].Name = name
		return found[0], nil
	}
	others := describe(slices.Collect(maps.Values(inPod)))
	switch {
	case len(found) > 1:
		return Container{}, lookupError(what, "several container cgroups match", describe(found), containerHint)
	case len(ids[name]) > 0:
		return Container{}, lookupError(what, "container has no cgroup under the pod (not running?)", others, "kubectl describe pod shows its state")
	}
	return Container{}, lookupError(what, "no /var/log/containers entry gives its ID and the pod has no single unnamed container cgroup", others, "pass --container ID instead (crictl ps)")
}

// containerLogIDs reads /var/log/containers/<pod>_<ns>_<name>-<id>.log
// names (symlinks on a node, never followed): container name -> IDs, and
// every ID of the pod.
func containerLogIDs(h probe.Host, ns, pod string) (map[string][]string, map[string]bool, error) {
	ids, claimed := map[string][]string{}, map[string]bool{}
	logs, err := h.DirNames(maxDirEntries, "var", "log", "containers")
	if errors.Is(err, fs.ErrNotExist) {
		return ids, claimed, nil
	}
	if err != nil {
		return nil, nil, err
	}
	for _, l := range logs {
		rest, ok := strings.CutPrefix(l, pod+"_"+ns+"_")
		if !ok {
			continue
		}
		rest, ok = strings.CutSuffix(rest, ".log")
		n := len(rest) - idLen - 1 // where "-<id>" starts
		if !ok || n < 1 || rest[n] != '-' || !isID(rest[n+1:]) {
			continue
		}
		name, id := rest[:n], strings.ToLower(rest[n+1:])
		ids[name] = append(ids[name], id)
		claimed[id] = true
	}
	return ids, claimed, nil
}

// tree is what a walk of one hierarchy found.
type tree struct {
	mount      mount
	mounted    bool
	containers []Container         // one per ID
	pods       map[string][]string // pod UID -> pod cgroup paths
	truncated  bool                // stopped at maxWalkDirs
}

// note prefixes a hint with why the walk may have missed containers.
func (t tree) note(hint string) string {
	if !t.mounted {
		return "no cgroup hierarchy is mounted (/proc/self/mountinfo); " + hint
	}
	if t.truncated {
		return fmt.Sprintf("walk of %s stopped after %d cgroups; %s", probe.Sanitize(t.mount.point), maxWalkDirs, hint)
	}
	return hint
}

// scan walks the hierarchy that shows containers best, breadth-first,
// without following symlinks or descending into a container's directory
// (its init.scope or container child is the same container).
func scan(h probe.Host) (tree, error) {
	t := tree{pods: map[string][]string{}}
	var err error
	if t.mount, t.mounted, err = containerMount(h); err != nil || !t.mounted {
		return t, err
	}
	type dir struct {
		rel, podUID string
		depth       int
	}
	seen := map[string]bool{}
	queue := []dir{{rel: "/"}}
	// Enqueued counts every directory ever queued, so the queue too stays
	// within maxWalkDirs however wide a directory is.
	for enqueued := 1; len(queue) > 0; {
		d := queue[0]
		queue = queue[1:]
		// A cgroup removed mid-walk (a container exiting) lists nothing, and
		// is no error; a failing read still gives what it listed.
		ents, _ := readDir(h.Path(t.mount.point, d.rel), d.depth > 0)
		parent := path.Base(d.rel)
		for _, e := range ents {
			if !e.IsDir() { // a symlink is never a directory here
				continue
			}
			rel := path.Join(d.rel, e.Name())
			if id, rt, ok := containerDir(parent, e.Name()); ok {
				if !seen[id] {
					seen[id] = true
					t.containers = append(t.containers, Container{ID: id, Runtime: rt, Cgroup: path.Join(t.mount.root, rel), PodUID: d.podUID})
				}
				continue
			}
			uid := d.podUID
			if u, ok := podUID(e.Name()); ok {
				uid = u
				t.pods[u] = append(t.pods[u], path.Join(t.mount.root, rel))
			}
			switch {
			case d.depth+1 >= maxWalkDepth:
			case enqueued == maxWalkDirs:
				t.truncated = true
			default:
				queue = append(queue, dir{rel, uid, d.depth + 1})
				enqueued++
			}
		}
	}
	return t, nil
}

// readDir lists at most maxDirEntries entries; below the mount point it
// refuses a directory swapped for a symlink since it was listed.
func readDir(p string, noFollow bool) ([]os.DirEntry, error) {
	flags := syscall.O_RDONLY | syscall.O_DIRECTORY | syscall.O_CLOEXEC
	if noFollow {
		flags |= syscall.O_NOFOLLOW
	}
	fd, err := syscall.Open(p, flags, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: p, Err: err}
	}
	f := os.NewFile(uintptr(fd), p)
	defer f.Close()
	return f.ReadDir(maxDirEntries)
}

// containerMount picks the hierarchy to walk: on v1 the memory controller's
// (what Resolve reads first, so a found Cgroup resolves), else cpu, pids;
// then the unified one (at /sys/fs/cgroup if mounted twice); else any.
func containerMount(h probe.Host) (mount, bool, error) {
	b, err := h.Mountinfo()
	if errors.Is(err, fs.ErrNotExist) {
		return mount{}, false, nil
	}
	if err != nil {
		return mount{}, false, fmt.Errorf("read mountinfo: %w", err)
	}
	ms, err := parseMountinfo(b)
	if err != nil || len(ms) == 0 {
		return mount{}, false, err
	}
	for _, c := range []string{"memory", "cpu", "pids"} {
		for _, m := range ms {
			if m.fstype == "cgroup" && m.has(c) {
				return m, true, nil
			}
		}
	}
	var v2 *mount
	for i, m := range ms {
		if m.fstype == "cgroup2" && (v2 == nil || m.point == "/sys/fs/cgroup") {
			v2 = &ms[i]
		}
	}
	if v2 != nil {
		return *v2, true, nil
	}
	return ms[0], true, nil
}

// containerPatterns are the runtimes' container directory names around the
// ID. crio-conmon-<id>.scope and libpod-conmon-<id>.scope (the monitor
// processes) never match: "conmon-<id>" is not an ID.
var containerPatterns = []struct{ prefix, suffix, runtime string }{
	{"docker-", ".scope", "docker"},
	{"cri-containerd-", ".scope", "containerd"},
	{"nerdctl-", ".scope", "containerd"},
	{"crio-", ".scope", "cri-o"},
	{"crio-", "", "cri-o"},
	{"libpod-", ".scope", "podman"},
	// Under libpod_parent, or any --cgroup-parent.
	{"libpod-", "", "podman"},
}

// containerDir recognises a container's cgroup directory by its whole name
// (a bare ID by its parent's too) and returns the lower-case ID and runtime.
func containerDir(parent, name string) (id, runtime string, ok bool) {
	for _, p := range containerPatterns {
		if rest, ok := strings.CutPrefix(name, p.prefix); ok {
			if rest, ok = strings.CutSuffix(rest, p.suffix); ok && isID(rest) {
				return strings.ToLower(rest), p.runtime, true
			}
		}
	}
	if !isID(name) {
		return "", "", false
	}
	if parent == "docker" {
		return strings.ToLower(name), "docker", true
	}
	// Kubelet's cgroupfs pod<uid>/<id>, nerdctl's namespace /default/<id>.
	return strings.ToLower(name), "containerd", true
}

// podUID recognises kubelet's pod cgroup: pod<uid> (cgroupfs) or
// kubepods[-burstable|-besteffort]-pod<uid>.slice, where systemd unit
// names spell the UID's dashes as underscores.
func podUID(name string) (string, bool) {
	uid, ok := strings.CutPrefix(name, "pod")
	if !ok {
		rest, ok1 := strings.CutPrefix(name, "kubepods-")
		rest, ok2 := strings.CutSuffix(rest, ".slice")
		if !ok1 || !ok2 {
			return "", false
		}
		rest = strings.TrimPrefix(strings.TrimPrefix(rest, "burstable-"), "besteffort-")
		if uid, ok = strings.CutPrefix(rest, "pod"); !ok {
			return "", false
		}
		uid = strings.ReplaceAll(uid, "_", "-")
	}
	// A UUID, or a static pod's 32-hex config hash.
	hex := strings.ReplaceAll(uid, "-", "")
	if len(hex) != 32 || !isHex(hex) || (len(uid) != 32 && len(uid) != 36) {
		return "", false
	}
	return strings.ToLower(uid), true
}

func isID(s string) bool { return len(s) == idLen && isHex(s) }

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return s != ""
}

// describe names containers as candidates: the shortest prefix of at least
// 12 digits that tells each apart from the others listed (what to pass),
// runtime and cgroup path.
func describe(cs []Container) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		n := shortIDLen
		for j, o := range cs {
			for j != i && n < len(c.ID) && strings.HasPrefix(o.ID, c.ID[:n]) {
				n++
			}
		}
		out[i] = c.ID[:n] + " (" + c.Runtime + ", " + probe.Sanitize(c.Cgroup) + ")"
	}
	return out
}

func sanitizeAll(xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = probe.Sanitize(x)
	}
	return out
}
