package hostinfo

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

type loadavg struct{ l1, l5, l15 float64 }

// parseLoadavg parses /proc/loadavg: "0.20 0.18 0.09 1/85 6815".
func parseLoadavg(b []byte) (loadavg, error) {
	f := bytes.Fields(b)
	if len(f) < 3 {
		return loadavg{}, fmt.Errorf("%w: /proc/loadavg: %d fields, want at least 3", probe.ErrFormat, len(f))
	}
	var v [3]float64
	for i := range v {
		x, err := strconv.ParseFloat(string(f[i]), 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
			return loadavg{}, fmt.Errorf("%w: /proc/loadavg: field %d %q", probe.ErrFormat, i+1, probe.Truncate(string(f[i])))
		}
		v[i] = x
	}
	return loadavg{v[0], v[1], v[2]}, nil
}

// parseUptime parses /proc/uptime: "300.29 553.94" (uptime, idle seconds).
func parseUptime(b []byte) (float64, error) {
	f := bytes.Fields(b)
	if len(f) < 1 {
		return 0, fmt.Errorf("%w: /proc/uptime is empty", probe.ErrFormat)
	}
	x, err := strconv.ParseFloat(string(f[0]), 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
		return 0, fmt.Errorf("%w: /proc/uptime: %q", probe.ErrFormat, probe.Truncate(string(f[0])))
	}
	return x, nil
}

// parseOSRelease returns the kernel release, one line.
func parseOSRelease(b []byte) (string, error) {
	s := strings.TrimSpace(string(b))
	if s == "" || strings.ContainsAny(s, "\n") || len(s) > 256 {
		return "", fmt.Errorf("%w: osrelease: not one short line", probe.ErrFormat)
	}
	return probe.Sanitize(s), nil
}

// detectContainer looks for a container view, strongest evidence first:
//   - /run/.containerenv (podman) or /run/systemd/container (systemd-nspawn, and
//     set by some runtimes);
//   - container= in PID 1's environment (systemd convention; root only);
//   - PID 2 is not kthreadd: in a PID namespace the kernel threads are not
//     visible, whereas on a host (or a VM) PID 2 is always kthreadd.
//
// /.dockerenv alone is not taken as evidence: VM images built from Docker
// images keep it (this project's CI VM has one and is no container).
func detectContainer(h probe.Host) (bool, string) {
	if _, err := os.Stat(h.Path("run", ".containerenv")); err == nil {
		return true, "/run/.containerenv exists"
	}
	if b, err := h.ReadFile("run", "systemd", "container"); err == nil && len(bytes.TrimSpace(b)) > 0 {
		return true, "/run/systemd/container says " + probe.Truncate(string(bytes.TrimSpace(b)))
	}
	if b, err := h.ReadFile("proc", "1", "environ"); err == nil {
		for _, kv := range bytes.Split(b, []byte{0}) {
			if v, ok := bytes.CutPrefix(kv, []byte("container=")); ok && len(v) > 0 {
				return true, "PID 1 environment has container=" + probe.Truncate(string(v))
			}
		}
	}
	if b, err := h.ReadFile("proc", "2", "stat"); err == nil {
		if name, ok := commOf(b); ok && name != "kthreadd" {
			return true, "PID 2 is " + probe.Truncate(name) + ", not kthreadd: a PID namespace"
		}
	} else if _, err1 := os.Stat(h.Path("proc", "1")); err1 == nil && errors.Is(err, os.ErrNotExist) {
		return true, "no PID 2 (kthreadd) while PID 1 exists: a PID namespace"
	}
	return false, ""
}

// commOf returns the name between the first '(' and the last ')' of a stat line.
func commOf(b []byte) (string, bool) {
	i := bytes.IndexByte(b, '(')
	j := bytes.LastIndexByte(b, ')')
	if i < 0 || j <= i {
		return "", false
	}
	return string(b[i+1 : j]), true
}
