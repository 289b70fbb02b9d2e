package cgroup

// Finding a target's cgroup directories.
//
// /proc/PID/cgroup (cgroups(7)), one line per hierarchy:
//
//	hierarchy-ID:controller-list:cgroup-path
//	4:memory:/process_api/369b...      (v1: controller list)
//	0::/system.slice/foo.service       (v2: empty list, ID 0)
//
// Paths are relative to the reader's cgroup namespace root; a process outside
// it shows "/.."-prefixed paths, which cannot be mapped to a directory.
//
// /proc/self/mountinfo (proc(5)) gives the mount of each hierarchy:
//
//	35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
//	41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
//
// field 4 is the root of the mount inside the hierarchy, field 5 the mount
// point; after " - " come the fs type and the super options (v1: the
// controllers). Directory = mount point + (path with the mount root stripped).

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

// Sentinel errors of target resolution.
var (
	// ErrNotFound means the named cgroup directory does not exist.
	ErrNotFound = errors.New("cgroup not found")
	// ErrOutsideNamespace means the process's cgroup lies outside the reader's
	// cgroup namespace ("/.." paths): diagnose must run on the host.
	ErrOutsideNamespace = errors.New("cgroup outside this cgroup namespace")
)

// Location is where a target's cgroup lives on the host being read. Dirs are
// system paths ("/sys/fs/cgroup/memory/x"), to be joined onto Host.Root; an
// empty dir means that controller is not mounted.
type Location struct {
	// Version is 0 (no cgroup), 1 (v1 controllers, possibly hybrid) or 2 (unified).
	Version int
	// Hybrid is true when v1 controllers and a v2 tree are both mounted.
	Hybrid bool
	// Path is the cgroup path as /proc/PID/cgroup shows it (the memory
	// controller's on v1): the name the kernel OOM log prints.
	Path string
	// MemoryDir, CPUDir, CPUAcctDir are the controller directories (on v2 all
	// the unified directory).
	MemoryDir, CPUDir, CPUAcctDir string
	// CPUAcctElsewhere: on v1 with cpu and cpuacct mounted apart, the
	// process's cpuacct group is not its cpu group (holds that group's path).
	CPUAcctElsewhere string
	// MemoryMount, CPUMount are the mount points of those hierarchies, where
	// walks up the ancestors stop.
	MemoryMount, CPUMount string
	// UnifiedDir is the v2 directory (in hybrid mode the controller-less tree).
	UnifiedDir string
	// PIDsDir is the pids controller's directory, "" when it is not mounted
	// (on v2, the unified directory when pids.max is there).
	PIDsDir string
}

type mount struct {
	root, point, fstype string
	controllers         []string
}

func (m mount) has(c string) bool {
	for _, x := range m.controllers {
		if x == c {
			return true
		}
	}
	return false
}

// parseMountinfo returns the cgroup and cgroup2 mounts.
func parseMountinfo(b []byte) ([]mount, error) {
	var out []mount
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), probe.MaxFileBytes)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			return nil, fmt.Errorf("%w: mountinfo line without separator: %q", probe.ErrFormat, probe.Truncate(line))
		}
		f := strings.Fields(pre)
		p := strings.Fields(post)
		if len(f) < 5 || len(p) < 1 {
			return nil, fmt.Errorf("%w: short mountinfo line: %q", probe.ErrFormat, probe.Truncate(line))
		}
		fstype := p[0]
		if fstype != "cgroup" && fstype != "cgroup2" {
			continue
		}
		m := mount{root: unescapeMount(f[3]), point: unescapeMount(f[4]), fstype: fstype}
		if fstype == "cgroup" && len(p) >= 3 {
			for _, o := range strings.Split(p[2], ",") {
				switch o {
				case "rw", "ro", "":
				default:
					m.controllers = append(m.controllers, o)
				}
			}
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: mountinfo: %w", probe.ErrFormat, err)
	}
	return out, nil
}

// unescapeMount decodes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// procCgroup is one process's membership: v1 controller -> path, and the v2 path.
type procCgroup struct {
	v1    map[string]string
	v2    string
	hasV2 bool
}

// parseProcCgroup parses /proc/PID/cgroup.
func parseProcCgroup(b []byte) (procCgroup, error) {
	pc := procCgroup{v1: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), probe.MaxFileBytes)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		id, rest, ok1 := strings.Cut(line, ":")
		ctrls, p, ok2 := strings.Cut(rest, ":")
		if !ok1 || !ok2 || !strings.HasPrefix(p, "/") {
			return pc, fmt.Errorf("%w: /proc/PID/cgroup line %q", probe.ErrFormat, probe.Truncate(line))
		}
		if _, err := strconv.Atoi(id); err != nil {
			return pc, fmt.Errorf("%w: /proc/PID/cgroup hierarchy id %q", probe.ErrFormat, probe.Truncate(id))
		}
		n++
		if id == "0" && ctrls == "" {
			pc.v2, pc.hasV2 = p, true
			continue
		}
		for _, c := range strings.Split(ctrls, ",") {
			pc.v1[c] = p
		}
	}
	if err := sc.Err(); err != nil {
		return pc, fmt.Errorf("%w: %w", probe.ErrFormat, err)
	}
	if n == 0 {
		return pc, fmt.Errorf("%w: empty /proc/PID/cgroup", probe.ErrFormat)
	}
	return pc, nil
}

// dirIn maps a hierarchy path onto a mount's directory.
func dirIn(m mount, hp string) (string, error) {
	if hp == "/.." || strings.HasPrefix(hp, "/../") {
		return "", fmt.Errorf("%w: %q", ErrOutsideNamespace, hp)
	}
	rel := hp
	if m.root != "/" {
		switch {
		case hp == m.root:
			rel = "/"
		case strings.HasPrefix(hp, m.root+"/"):
			rel = hp[len(m.root):]
		default:
			// Namespaced or bind-mounted: the mount shows our own cgroup.
			rel = "/"
		}
	}
	return path.Join(m.point, rel), nil
}

// Resolve finds the target's cgroup: t.Cgroup (a directory under a cgroup
// mount, or a path as /proc/PID/cgroup shows it), else t.PID's cgroup, else
// the calling process's own (/proc/self/cgroup).
func Resolve(h probe.Host, t probe.Target) (Location, error) {
	var mounts []mount
	if b, err := h.Mountinfo(); err == nil {
		ms, err := parseMountinfo(b)
		if err != nil {
			return Location{}, err
		}
		mounts = ms
	} else if !errors.Is(err, fs.ErrNotExist) {
		return Location{}, fmt.Errorf("read mountinfo: %w", err)
	}
	var v2 *mount
	v1 := map[string]*mount{}
	for i := range mounts {
		m := &mounts[i]
		if m.fstype == "cgroup2" {
			if v2 == nil || m.point == "/sys/fs/cgroup" {
				v2 = m
			}
			continue
		}
		for _, c := range m.controllers {
			if _, ok := v1[c]; !ok {
				v1[c] = m
			}
		}
	}
	loc := Location{}
	switch {
	case v1["memory"] != nil || v1["cpu"] != nil:
		loc.Version = 1
		loc.Hybrid = v2 != nil
	case v2 != nil:
		loc.Version = 2
	default:
		return loc, nil // no cgroup filesystem: no limits apply
	}

	var pc procCgroup
	if t.Cgroup != "" {
		hp, err := hierarchyPath(h, t.Cgroup, mounts)
		if err != nil {
			return loc, err
		}
		pc = procCgroup{v1: map[string]string{"memory": hp, "cpu": hp, "cpuacct": hp, "pids": hp}, v2: hp, hasV2: true}
	} else {
		who := "self"
		if t.PID > 0 {
			who = strconv.Itoa(t.PID)
		}
		b, err := h.ReadFile("proc", who, "cgroup")
		if err != nil {
			if t.PID > 0 && errors.Is(err, fs.ErrNotExist) {
				if _, serr := os.Stat(h.Path("proc", who)); serr != nil {
					return loc, fmt.Errorf("pid %d: %w", t.PID, probe.ErrNoProcess)
				}
				return Location{}, nil // kernel without cgroups
			}
			return loc, fmt.Errorf("read /proc/%s/cgroup: %w", who, err)
		}
		pc, err = parseProcCgroup(b)
		if err != nil {
			return loc, err
		}
	}

	dir := func(c string) (string, string, error) {
		if loc.Version == 2 {
			d, err := dirIn(*v2, pc.v2)
			return d, v2.point, err
		}
		m := v1[c]
		p, ok := pc.v1[c]
		if m == nil || !ok {
			return "", "", nil
		}
		d, err := dirIn(*m, p)
		return d, m.point, err
	}
	var err error
	if loc.MemoryDir, loc.MemoryMount, err = dir("memory"); err != nil {
		return loc, err
	}
	if loc.CPUDir, loc.CPUMount, err = dir("cpu"); err != nil {
		return loc, err
	}
	if loc.CPUAcctDir, _, err = dir("cpuacct"); err != nil {
		return loc, err
	}
	if loc.PIDsDir, _, err = dir("pids"); err != nil {
		return loc, err
	}
	if loc.Version == 1 && pc.v1["cpuacct"] != pc.v1["cpu"] {
		loc.CPUAcctElsewhere = pc.v1["cpuacct"]
	}
	if v2 != nil && pc.hasV2 {
		if d, err := dirIn(*v2, pc.v2); err == nil {
			loc.UnifiedDir = d
		}
	}
	switch {
	case loc.Version == 2:
		loc.Path = pc.v2
	case pc.v1["memory"] != "":
		loc.Path = pc.v1["memory"]
	case pc.v1["cpu"] != "":
		loc.Path = pc.v1["cpu"]
	default:
		loc.Path = pc.v2
	}
	if t.Cgroup != "" {
		d := loc.MemoryDir
		if d == "" {
			d = loc.CPUDir
		}
		if st, err := os.Stat(h.Path(d)); err != nil || !st.IsDir() {
			return loc, fmt.Errorf("%w: %q (looked for %s)", ErrNotFound, t.Cgroup, d)
		}
	}
	return loc, nil
}

// hierarchyPath turns a user's --cgroup value into a hierarchy path: a
// directory under a cgroup mount point has the mount point replaced by the
// mount root; anything else is taken as the path /proc/PID/cgroup shows.
func hierarchyPath(h probe.Host, c string, mounts []mount) (string, error) {
	c = path.Clean("/" + strings.TrimSpace(c))
	if strings.HasPrefix(c, "/..") {
		return "", fmt.Errorf("%w: %q", ErrOutsideNamespace, c)
	}
	best := -1
	for i, m := range mounts {
		if (c == m.point || strings.HasPrefix(c, m.point+"/")) && (best < 0 || len(m.point) > len(mounts[best].point)) {
			best = i
		}
	}
	if best >= 0 {
		m := mounts[best]
		return path.Join("/", m.root, strings.TrimPrefix(c, m.point)), nil
	}
	if strings.HasPrefix(c, "/sys/fs/cgroup/") {
		// Under the conventional mount but no mountinfo entry: strip the
		// controller directory if it names one.
		rest := strings.TrimPrefix(c, "/sys/fs/cgroup")
		return rest, nil
	}
	return c, nil
}
