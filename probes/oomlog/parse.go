package oomlog

// Kernel OOM-kill messages (mm/oom_kill.c, mm/memcontrol.c) as /dev/kmsg
// records (Documentation/ABI/testing/dev-kmsg):
//
//	prio,seq,timestamp_us,flags[,...];message\n
//	 CONTINUATION=lines start with a space
//
// or as dmesg lines "[ 1386.648799] message". The messages, across kernels:
//
//	java invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0
//	memory: usage 262144kB, limit 262144kB, failcnt 528                (memcg OOM)
//	Task in /docker/abc killed as a result of limit of /docker/abc     (<= 4.18, memcg)
//	oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/a,task_memcg=/a,task=java,pid=13983,uid=0   (4.19+)
//	oom-kill:constraint=CONSTRAINT_NONE,...,global_oom,task_memcg=/user.slice,task=stress,pid=1,uid=0                                   (4.19-5.x global)
//	Memory cgroup out of memory: Kill process 123 (java) score 1000 or sacrifice child   (<= 5.0)
//	Out of memory: Kill process 123 (java) score 900 or sacrifice child                  (<= 5.0)
//	Killed process 123 (java) total-vm:..kB, anon-rss:..kB, file-rss:..kB, shmem-rss:..kB       (<= 5.0)
//	Memory cgroup out of memory: Killed process 13983 (java) total-vm:2774996kB, anon-rss:260864kB, file-rss:20060kB, shmem-rss:0kB, UID:0 pgtables:740kB oom_score_adj:0   (5.1+; UID/pgtables/oom_score_adj 5.3+/5.10+)
//	Out of memory: Killed process ...                                                     (global, 5.1+)
//	Out of memory (oom_kill_allocating_task): Killed process ...
//	oom_reaper: reaped process 13983 (java), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

// record is one kernel log message.
type record struct {
	prio int    // syslog priority (facility*8+level), -1 for dmesg lines
	seq  uint64 // sequence number; 0 for dmesg lines (then the line number is used)
	tsUs uint64 // microseconds since boot
	msg  string
}

// parseRecords parses /dev/kmsg records or dmesg lines, one message per line
// (continuation lines starting with a space are skipped). A line that fits
// neither format is an error; empty input is no records.
func parseRecords(b []byte) ([]record, error) {
	var out []record
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 8192), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		s := sc.Text()
		if s == "" || s[0] == ' ' || s[0] == '#' {
			continue
		}
		r, err := parseRecord(s)
		if err != nil {
			return out, fmt.Errorf("line %d: %w", line, err)
		}
		if r.prio < 0 {
			r.seq = uint64(line)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("%w: %w", probe.ErrFormat, err)
	}
	return out, nil
}

func parseRecord(s string) (record, error) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return record{}, fmt.Errorf("%w: dmesg line without ']'", probe.ErrFormat)
		}
		secs, frac, _ := strings.Cut(strings.TrimSpace(s[1:end]), ".")
		sec, err1 := strconv.ParseUint(secs, 10, 32)
		us := uint64(0)
		var err2 error
		if frac != "" {
			if len(frac) > 6 {
				frac = frac[:6]
			}
			us, err2 = strconv.ParseUint(frac+strings.Repeat("0", 6-len(frac)), 10, 32)
		}
		if err1 != nil || err2 != nil {
			return record{}, fmt.Errorf("%w: dmesg timestamp %q", probe.ErrFormat, clip(s[:end+1]))
		}
		return record{prio: -1, tsUs: sec*1e6 + us, msg: strings.TrimPrefix(s[end+1:], " ")}, nil
	}
	head, msg, ok := strings.Cut(s, ";")
	if !ok {
		return record{}, fmt.Errorf("%w: no ';' in %q", probe.ErrFormat, clip(s))
	}
	f := strings.Split(head, ",")
	if len(f) < 3 {
		return record{}, fmt.Errorf("%w: header %q", probe.ErrFormat, clip(head))
	}
	prio, err1 := strconv.Atoi(f[0])
	seq, err2 := strconv.ParseUint(f[1], 10, 64)
	ts, err3 := strconv.ParseUint(f[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || prio < 0 {
		return record{}, fmt.Errorf("%w: header %q", probe.ErrFormat, clip(head))
	}
	return record{prio: prio, seq: seq, tsUs: ts, msg: msg}, nil
}

// Kill is one process killed by the kernel OOM killer.
type Kill struct {
	Seq           uint64  `expr:"seq" json:"seq" doc:"kernel log sequence number of the Killed process record"`
	SinceBootS    float64 `expr:"since_boot_s" json:"since_boot_s" doc:"time of the kill, seconds since boot (kernel log timestamp)"`
	AgoS          float64 `expr:"ago_s" json:"ago_s" doc:"seconds between the kill and the reading (from /proc/uptime); 0 if uptime is unreadable"`
	At            string  `expr:"at" json:"at" doc:"wall-clock time of the kill, RFC 3339, estimated as reading time minus ago_s (drifts if the host was suspended)"`
	PID           int     `expr:"pid" json:"pid" doc:"victim process id"`
	Name          string  `expr:"name" json:"name" doc:"victim process name (comm)"`
	Global        bool    `expr:"global" json:"global" doc:"system-wide out of memory (the host ran out), not a cgroup limit"`
	Constraint    string  `expr:"constraint" json:"constraint" doc:"what ran out: CONSTRAINT_MEMCG (a cgroup limit), CONSTRAINT_NONE (the host), CONSTRAINT_CPUSET, CONSTRAINT_MEMORY_POLICY; empty on kernels before 4.19 without the oom-kill line"`
	Cgroup        string  `expr:"cgroup" json:"cgroup" doc:"victim's memory cgroup path from the hierarchy root (task_memcg)"`
	OOMCgroup     string  `expr:"oom_cgroup" json:"oom_cgroup" doc:"cgroup whose limit was hit (oom_memcg), an ancestor of the victim's or the same; empty for a global OOM"`
	Trigger       string  `expr:"trigger" json:"trigger" doc:"name of the task whose allocation invoked the OOM killer (often a thread of the victim)"`
	RSSBytes      uint64  `expr:"rss_bytes" json:"rss_bytes" doc:"victim's resident memory when killed (anon+file+shmem), bytes"`
	AnonRSSBytes  uint64  `expr:"anon_rss_bytes" json:"anon_rss_bytes" doc:"victim's anonymous resident memory, bytes"`
	FileRSSBytes  uint64  `expr:"file_rss_bytes" json:"file_rss_bytes" doc:"victim's file-backed resident memory, bytes"`
	ShmemRSSBytes uint64  `expr:"shmem_rss_bytes" json:"shmem_rss_bytes" doc:"victim's shared-memory resident memory, bytes"`
	TotalVMBytes  uint64  `expr:"total_vm_bytes" json:"total_vm_bytes" doc:"victim's virtual memory size, bytes"`
	OOMScoreAdj   int     `expr:"oom_score_adj" json:"oom_score_adj" doc:"victim's oom_score_adj as the kernel printed it"`
	LimitBytes    uint64  `expr:"limit_bytes" json:"limit_bytes" doc:"the cgroup limit printed with a memcg OOM (memory: usage X, limit Y), bytes; 0 for global"`
	UsageBytes    uint64  `expr:"usage_bytes" json:"usage_bytes" doc:"the cgroup usage printed with a memcg OOM, bytes"`
	Message       string  `expr:"message" json:"message" doc:"the kernel's Killed process line"`
}

var (
	reInvoked = regexp.MustCompile(`^(.*) invoked oom-killer: .*oom_score_adj=(-?\d+)`)
	reMemory  = regexp.MustCompile(`^memory: usage (\d+)kB, limit (\d+)kB, failcnt (\d+)`)
	reTaskIn  = regexp.MustCompile(`^Task in (\S+) killed as a result of limit of (\S+)`)
	reKilled  = regexp.MustCompile(`(?:^|: )Killed process (\d+) \((.*)\) total-vm:(\d+)kB, anon-rss:(\d+)kB, file-rss:(\d+)kB(?:, shmem-rss:(\d+)kB)?(.*)$`)
	reAdj     = regexp.MustCompile(`oom_score_adj:(-?\d+)`)
	reKillOld = regexp.MustCompile(`^(Memory cgroup out of memory|Out of memory.*): Kill process (\d+) \((.*)\) score`)
)

// pending is the context an OOM report builds up before its Killed line.
type pending struct {
	trigger          string
	triggerAdj       int
	hasTrigger       bool
	usage, limit     uint64
	memcg            bool
	constraint       string
	taskMemcg, oomCg string
	global           bool
	conPID           int
	header           string // "Memory cgroup out of memory", "Out of memory"
}

// parseKills turns records (in order) into OOM kills.
func parseKills(recs []record) []Kill {
	var out []Kill
	var p pending
	for _, r := range recs {
		m := r.msg
		switch {
		case strings.Contains(m, " invoked oom-killer: "):
			p = pending{}
			if sm := reInvoked.FindStringSubmatch(m); sm != nil {
				p.trigger, p.hasTrigger = sm[1], true
				p.triggerAdj, _ = strconv.Atoi(sm[2])
			}
		case strings.HasPrefix(m, "memory: usage "):
			if sm := reMemory.FindStringSubmatch(m); sm != nil {
				p.usage = kb(sm[1])
				p.limit = kb(sm[2])
				p.memcg = true
			}
		case strings.HasPrefix(m, "Task in "):
			if sm := reTaskIn.FindStringSubmatch(m); sm != nil {
				p.taskMemcg, p.oomCg, p.memcg = sm[1], sm[2], true
			}
		case strings.HasPrefix(m, "oom-kill:"):
			parseConstraint(m[len("oom-kill:"):], &p)
		case strings.Contains(m, "Killed process "):
			sm := reKilled.FindStringSubmatch(m)
			if sm == nil {
				continue
			}
			k := Kill{Seq: r.seq, SinceBootS: float64(r.tsUs) / 1e6, Message: m}
			k.PID, _ = strconv.Atoi(sm[1])
			k.Name = sm[2]
			k.TotalVMBytes, k.AnonRSSBytes, k.FileRSSBytes = kb(sm[3]), kb(sm[4]), kb(sm[5])
			if sm[6] != "" {
				k.ShmemRSSBytes = kb(sm[6])
			}
			k.RSSBytes = k.AnonRSSBytes + k.FileRSSBytes + k.ShmemRSSBytes
			if am := reAdj.FindStringSubmatch(sm[7]); am != nil {
				k.OOMScoreAdj, _ = strconv.Atoi(am[1])
			} else if p.hasTrigger && p.trigger == k.Name {
				k.OOMScoreAdj = p.triggerAdj
			}
			head, _, _ := strings.Cut(m, ": Killed process")
			if head == m {
				head = p.header
			}
			k.Trigger = p.trigger
			k.Constraint = p.constraint
			k.Cgroup, k.OOMCgroup = p.taskMemcg, p.oomCg
			k.UsageBytes, k.LimitBytes = p.usage, p.limit
			switch {
			case p.constraint != "":
				k.Global = p.constraint == "CONSTRAINT_NONE" || p.global
			case strings.HasPrefix(head, "Memory cgroup out of memory") || p.memcg:
				k.Global = false
				k.Constraint = "CONSTRAINT_MEMCG"
			default:
				k.Global = true
			}
			if k.Global {
				k.OOMCgroup = ""
				k.LimitBytes, k.UsageBytes = 0, 0
			}
			out = append(out, k)
			p = pending{}
		case strings.Contains(m, ": Kill process "):
			// Kernels <= 5.0 announce the choice, then print "Killed process".
			if sm := reKillOld.FindStringSubmatch(m); sm != nil {
				p.header = sm[1]
				if sm[1] == "Memory cgroup out of memory" {
					p.memcg = true
				}
			}
		}
	}
	return out
}

// parseConstraint reads "constraint=C,nodemask=...,oom_memcg=P,task_memcg=P,task=N,pid=N,uid=N".
// Cgroup paths may contain commas only in theory; fields are split on ",key=".
func parseConstraint(s string, p *pending) {
	for _, f := range splitFields(s) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			if f == "global_oom" {
				p.global = true
			}
			continue
		}
		switch k {
		case "constraint":
			p.constraint = v
		case "oom_memcg":
			p.oomCg = v
		case "task_memcg":
			p.taskMemcg = v
		case "pid":
			p.conPID, _ = strconv.Atoi(v)
		}
	}
}

// splitFields splits on commas that start a "key=" or the bare global_oom
// token, so a comma inside a cgroup path stays in the value.
func splitFields(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] != ',' {
			continue
		}
		rest := s[i+1:]
		eq := strings.IndexAny(rest, "=,")
		if rest == "global_oom" || strings.HasPrefix(rest, "global_oom,") || (eq > 0 && rest[eq] == '=' && isKey(rest[:eq])) {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func isKey(s string) bool {
	switch s {
	case "constraint", "nodemask", "cpuset", "mems_allowed", "oom_memcg", "task_memcg", "task", "pid", "uid":
		return true
	}
	return false
}

func kb(s string) uint64 {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v > 1<<53 {
		return 0
	}
	return v * 1024
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}
