package jvm

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/diagnose-sh/diagnose/probes/hsperf"
	"github.com/diagnose-sh/diagnose/probes/probe"
)

// measurement is what was read of a JVM beyond its flags: jcmd's (with
// --jcmd) and its hsperfdata counters.
type measurement struct {
	flags    []string // jcmd VM.flags, nil without
	nmt      nmt
	measured bool // NMT gave the non-heap footprint
	note     string
	perf     hsperf.Facts
	perfErr  error
}

// measure reads a JVM: jcmd VM.flags and VM.native_memory when allowed
// (under ctx, the run's), and its hsperfdata.
func measure(ctx context.Context, h probe.Host, allowJCMD bool, j JVM, groups []source, attached *int) measurement {
	var m measurement
	o, _ := parseOptions(groups)
	switch {
	case !allowJCMD:
		m.note = "footprint estimated from flags; --jcmd measures it (jcmd attaches to the JVM)"
	case h.Run == nil:
		m.note = "jcmd may not be run here: footprint estimated from flags"
	case o.attachDisabled:
		m.note = "the JVM disables attach (-XX:+DisableAttachMechanism or -Xrs): footprint estimated from flags"
	case *attached >= maxAttach:
		m.note = fmt.Sprintf("only %d JVMs are attached to per run: footprint estimated from flags", maxAttach)
	default:
		*attached++
		flagsCtx, cancel := context.WithTimeout(ctx, jcmdTimeout)
		out, err := h.Run(flagsCtx, "jcmd", strconv.Itoa(j.PID), "VM.flags")
		cancel()
		if err == nil {
			m.flags, err = parseVMFlags(out)
		}
		if err != nil {
			m.flags, m.note = nil, "jcmd VM.flags failed: "+probe.Sanitize(firstLine(out, err))
			break
		}
		all := append(append([]source{}, groups...), source{"jcmd VM.flags", m.flags})
		if mo, _ := parseOptions(all); mo.nmt == "summary" || mo.nmt == "detail" {
			nmtCtx, cancel := context.WithTimeout(ctx, jcmdTimeout)
			out, err := h.Run(nmtCtx, "jcmd", strconv.Itoa(j.PID), "VM.native_memory", "summary")
			cancel()
			if err == nil {
				m.nmt, err = parseNMT(out)
			}
			if err == nil {
				m.measured = true
			} else {
				m.note = "jcmd VM.native_memory failed: " + probe.Sanitize(firstLine(out, err))
			}
		} else {
			m.note = "native memory tracking is off (-XX:NativeMemoryTracking=summary enables it): non-heap estimated"
		}
	}
	m.perf, m.perfErr = readPerf(h, j.PID)
	return m
}

// readPerf reads a JVM's hsperfdata once: what the budget needs is its
// current sizes, not rates.
func readPerf(h probe.Host, pid int) (hsperf.Facts, error) {
	file, err := hsperf.Find(h, pid)
	if err != nil {
		return hsperf.Facts{}, err
	}
	return hsperf.Once(h, file)
}

func firstLine(out []byte, err error) string {
	s := strings.TrimSpace(string(out))
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasSuffix(line, ":") {
			return clip(line + " (" + err.Error() + ")")
		}
	}
	return err.Error()
}
