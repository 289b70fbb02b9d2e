package jvm

import (
	"bytes"
	"path"
	"strconv"
	"strings"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

// inspect reads a process and says whether it is a JVM.
func inspect(h probe.Host, pid int) (JVM, []source, bool, error) {
	ps := strconv.Itoa(pid)
	exe, _ := h.Readlink("proc", ps, "exe")
	exe = strings.TrimSuffix(exe, " (deleted)")
	isJava := path.Base(exe) == "java"
	if !isJava {
		b, err := h.ReadFile("proc", ps, "maps")
		if err != nil || !bytes.Contains(b, []byte("/libjvm.so")) {
			return JVM{}, nil, false, err
		}
	}
	st, err := h.ReadFile("proc", ps, "status")
	if err != nil {
		return JVM{}, nil, false, err
	}
	// What a garbled status holds is shown as far as it parsed: a JVM is
	// found by its executable and libjvm.so, not by these.
	status, _ := probe.ParseProcStatus(st)
	j := JVM{PID: pid, Name: probe.Sanitize(status.Name), RSSBytes: status.VmRSSKB * 1024, Threads: int(status.Threads)}
	cmd, err := h.ReadFile("proc", ps, "cmdline")
	if err != nil {
		return JVM{}, nil, false, err
	}
	args := splitNUL(cmd)
	c := strings.Join(args, " ")
	if len(c) > maxCommand {
		c = c[:maxCommand]
	}
	j.Command = probe.Sanitize(c)
	env := map[string]string{}
	if b, err := h.ReadFile("proc", ps, "environ"); err == nil {
		for _, kv := range splitNUL(b) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				switch k {
				case "JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS":
					env[k] = v
				}
			}
		}
	}
	var groups []source
	add := func(from string, opts []string) {
		if len(opts) > 0 {
			groups = append(groups, source{from, opts})
		}
	}
	for _, k := range []string{"JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS"} {
		if v, ok := env[k]; ok && (k != "JDK_JAVA_OPTIONS" || isJava) {
			add(k, splitOptions(v))
			j.EnvOptions = append(j.EnvOptions, k)
		}
	}
	if len(args) > 1 {
		if isJava {
			add("command line", launcherOptions(args[1:]))
		} else {
			add("command line", embeddedOptions(args[1:]))
		}
	}
	if v, ok := env["_JAVA_OPTIONS"]; ok {
		add("_JAVA_OPTIONS", splitOptions(v))
		j.EnvOptions = append(j.EnvOptions, "_JAVA_OPTIONS")
	}
	for _, g := range groups {
		for _, o := range g.opts {
			j.Flags = append(j.Flags, probe.Sanitize(o))
		}
	}
	if exe != "" {
		home := path.Dir(path.Dir(exe))
		if b, err := h.ReadFile("proc", ps, "root", home, "release"); err == nil {
			j.JavaVersion = probe.Sanitize(releaseVersion(b))
		}
	}
	return j, groups, true, nil
}

func splitNUL(b []byte) []string {
	var out []string
	for _, p := range bytes.Split(bytes.TrimRight(b, "\x00"), []byte{0}) {
		if len(p) > 0 {
			out = append(out, string(p))
		}
	}
	return out
}

func releaseVersion(b []byte) string {
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "JAVA_VERSION="); ok {
			return strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	return ""
}

// understandsV2 says whether a JDK version reads cgroup v2 limits: 15+,
// 11.0.16+, 8u372+. Unknown versions are assumed to.
func understandsV2(v string) bool {
	if v == "" {
		return true
	}
	parts := strings.FieldsFunc(v, func(r rune) bool { return r == '.' || r == '_' || r == '-' || r == '+' })
	num := func(i int) int {
		if i >= len(parts) {
			return 0
		}
		n, _ := strconv.Atoi(parts[i])
		return n
	}
	major := num(0)
	if major == 1 {
		return num(1) > 8 || num(3) >= 372
	}
	switch {
	case major >= 15:
		return true
	case major == 11:
		return num(2) >= 16
	}
	return false
}
