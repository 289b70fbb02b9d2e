package cgroup

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
	"github.com/diagnose-sh/diagnose/probes/probetest"
)

func replay(t *testing.T, target probe.Target, scenario string, readings ...string) (Facts, probe.Statuses) {
	t.Helper()
	var roots []string
	for _, r := range readings {
		roots = append(roots, probetest.Fixture(t, scenario, r))
	}
	v, st := probetest.Replay(New(target, probe.Options{}), time.Second, roots...)
	return v.(Facts), st
}

func TestFixtures(t *testing.T) {
	tests := []struct {
		scenario string
		target   probe.Target
		readings []string
		check    func(t *testing.T, f Facts, st probe.Statuses)
	}{
		{"cg-v1-oomkilled", probe.Target{Cgroup: "/sys/fs/cgroup/memory/parent/sig_oom_b"}, []string{"t0", "t1"}, func(t *testing.T, f Facts, st probe.Statuses) {
			if f.Version != 1 || !f.Hybrid || f.Path != "/parent/sig_oom_b" {
				t.Errorf("version %d hybrid %v path %q", f.Version, f.Hybrid, f.Path)
			}
			if !f.MemoryLimited || f.MemoryLimitBytes != 256<<20 || f.MemoryPeakBytes != 256<<20 || f.MemoryPeakRatio != 1 {
				t.Errorf("limit %v %d peak %d ratio %v", f.MemoryLimited, f.MemoryLimitBytes, f.MemoryPeakBytes, f.MemoryPeakRatio)
			}
			if f.OOMKills != 2 || f.OOMKillsInWindow != 1 || f.MemoryLimitHits != 600 {
				t.Errorf("kills %d in window %d hits %d", f.OOMKills, f.OOMKillsInWindow, f.MemoryLimitHits)
			}
			if st["oom_events"].State != probe.Unavailable {
				t.Errorf("v1 oom_events must be unavailable, got %+v", st["oom_events"])
			}
			if f.ProcessCount != 0 {
				t.Errorf("processes %d after the kill", f.ProcessCount)
			}
		}},
		{"cg-v2-jvm-over", probe.Target{PID: 4242}, []string{"t0", "t1"}, func(t *testing.T, f Facts, st probe.Statuses) {
			if f.Version != 2 || f.Hybrid || f.Path != "/kubepods.slice/kubepods-pod9f.slice/cri-containerd-5e.scope" {
				t.Errorf("version %d path %q", f.Version, f.Path)
			}
			if f.MemoryLimitBytes != 4<<30 || f.MemoryHighBytes != 0 || f.OOMEvents != 3 || f.OOMKills != 3 || f.MemoryLimitHits != 1200 {
				t.Errorf("limit %d high %d events %d kills %d hits %d", f.MemoryLimitBytes, f.MemoryHighBytes, f.OOMEvents, f.OOMKills, f.MemoryLimitHits)
			}
			if f.MemoryWorkingSetBytes != 3951000000-90000000 || f.MemoryStat.KernelBytes != 25000000 || f.MemoryStat.SockBytes != 1000000 {
				t.Errorf("working set %d stat %+v", f.MemoryWorkingSetBytes, f.MemoryStat)
			}
			if !f.CPULimited || f.CPUQuotaCores != 2 || f.CPUThrottledPeriodsPct != 50 || f.CPUThrottledSPerS < 0.59 || f.CPUThrottledSPerS > 0.61 || f.CPUUsageCores < 1.99 || f.CPUUsageCores > 2.01 {
				t.Errorf("cpu limited %v quota %v throttled %v%% %v s/s usage %v", f.CPULimited, f.CPUQuotaCores, f.CPUThrottledPeriodsPct, f.CPUThrottledSPerS, f.CPUUsageCores)
			}
			if f.Largest.PID != 4242 || f.Largest.QOSClass != "Guaranteed" || f.Processes[1].QOSClass != "system" {
				t.Errorf("processes %+v", f.Processes)
			}
			if f.VM.OvercommitMemory != 1 {
				t.Errorf("vm %+v", f.VM)
			}
		}},
		{"cg-hybrid-nojava", probe.Target{PID: 15058}, []string{"t0", "t1"}, func(t *testing.T, f Facts, st probe.Statuses) {
			if f.Version != 1 || f.Path != "/process_api/sig" || f.MemoryLimitBytes != 512<<20 {
				t.Errorf("version %d path %q limit %d", f.Version, f.Path, f.MemoryLimitBytes)
			}
			if f.CPUQuotaCores != 0.2 || f.CPUThrottledPeriodsPct != 100 || f.CPUThrottledSPerS < 5.5 || f.CPUThrottledSPerS > 5.6 {
				t.Errorf("quota %v throttled %v%% %v s/s", f.CPUQuotaCores, f.CPUThrottledPeriodsPct, f.CPUThrottledSPerS)
			}
			if f.ProcessCount != 3 || f.UnkillableCount != 1 || f.Unkillable.Name != "postgres" || f.Largest.QOSClass != "BestEffort" {
				t.Errorf("count %d unkillable %d %+v largest %+v", f.ProcessCount, f.UnkillableCount, f.Unkillable, f.Largest)
			}
			if f.MemoryStat.AnonBytes != 480000000 || f.MemoryStat.KernelBytes != 3000000 || st["memory_stat.slab_bytes"].State != probe.Unavailable {
				t.Errorf("stat %+v %+v", f.MemoryStat, st["memory_stat.slab_bytes"])
			}
			if f.VM.OvercommitMemory != 2 || f.VM.OvercommitRatio != 80 {
				t.Errorf("vm %+v", f.VM)
			}
		}},
		{"cg-unlimited-jvm", probe.Target{}, []string{"t0"}, func(t *testing.T, f Facts, st probe.Statuses) {
			if f.Version != 1 || f.Hybrid || f.MemoryLimited || f.MemoryLimitBytes != 0 || f.MemoryUsageRatio != 0 {
				t.Errorf("unlimited: %+v", f)
			}
			if f.CPULimited || st["cpu_throttled_periods_pct"].State != "" {
				t.Errorf("cpu %v %+v", f.CPULimited, st)
			}
			if st["cpu_usage_cores"].State != probe.Unavailable {
				t.Errorf("one reading must leave rates unavailable: %+v", st["cpu_usage_cores"])
			}
		}},
		{"cg-none", probe.Target{PID: 321}, []string{"t0"}, func(t *testing.T, f Facts, st probe.Statuses) {
			if f.Version != 0 || f.MemoryLimited || st[""].State != probe.OK || st["memory_limit_bytes"].State != probe.Unavailable {
				t.Errorf("none: %+v %+v", f, st)
			}
			if f.ProcessCount != 1 || f.Largest.PID != 321 || f.VM.PanicOnOOM != 1 {
				t.Errorf("processes %+v vm %+v", f.Processes, f.VM)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			f, st := replay(t, tt.target, tt.scenario, tt.readings...)
			if st[""].State != probe.OK {
				t.Fatalf("status %+v", st[""])
			}
			tt.check(t, f, st)
			probetest.Golden(t, probetest.Fixture(t, tt.scenario, "cgroup.golden.json"), struct {
				Facts  Facts          `json:"facts"`
				Status probe.Statuses `json:"status"`
			}{f, st})
		})
	}
}

func TestTargetErrors(t *testing.T) {
	_, st := replay(t, probe.Target{Cgroup: "/nope"}, "cg-v1-oomkilled", "t0")
	if st[""].State != probe.Unavailable || !strings.Contains(st[""].Reason, "not found") {
		t.Errorf("missing cgroup: %+v", st[""])
	}
	_, st = replay(t, probe.Target{PID: 99999}, "cg-v2-jvm-over", "t0")
	if st[""].State != probe.Unavailable || !strings.Contains(st[""].Reason, "ended") {
		t.Errorf("missing pid: %+v", st[""])
	}
	// The v1 path as /proc/PID/cgroup shows it resolves like the directory.
	f, st := replay(t, probe.Target{Cgroup: "/parent/sig_oom_b"}, "cg-v1-oomkilled", "t0")
	if st[""].State != probe.OK || f.MemoryLimitBytes != 256<<20 {
		t.Errorf("hierarchy path: %+v %+v", st[""], f.MemoryLimitBytes)
	}
}

func TestParseProcCgroup(t *testing.T) {
	pc, err := parseProcCgroup([]byte("9:name=systemd:/\n4:memory:/a/b\n2:cpu,cpuacct:/c\n0::/u\n"))
	if err != nil || pc.v1["memory"] != "/a/b" || pc.v1["cpuacct"] != "/c" || pc.v2 != "/u" || !pc.hasV2 {
		t.Errorf("%+v %v", pc, err)
	}
	for _, bad := range []string{"", "garbage", "x:memory:/a", "4:memory:relative", "4:memory"} {
		if _, err := parseProcCgroup([]byte(bad)); !errors.Is(err, probe.ErrFormat) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestParseMountinfo(t *testing.T) {
	ms, err := parseMountinfo([]byte("35 31 0:32 /docker/x /sys/fs/cgroup/mem\\040ory rw - cgroup cgroup rw,memory\n41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n22 1 254:0 / / rw - ext4 /dev/vda rw\n"))
	if err != nil || len(ms) != 2 || ms[0].point != "/sys/fs/cgroup/mem ory" || ms[0].root != "/docker/x" || !ms[0].has("memory") || ms[1].fstype != "cgroup2" {
		t.Errorf("%+v %v", ms, err)
	}
	for _, bad := range []string{"no separator here", "1 2 - cgroup"} {
		if _, err := parseMountinfo([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	// Namespaced: the process path lies outside the mount root -> the mount point.
	d, err := dirIn(mount{root: "/docker/x", point: "/sys/fs/cgroup/memory"}, "/docker/x/sub")
	if err != nil || d != "/sys/fs/cgroup/memory/sub" {
		t.Errorf("%q %v", d, err)
	}
	if _, err := dirIn(mount{root: "/", point: "/m"}, "/../.."); !errors.Is(err, ErrOutsideNamespace) {
		t.Errorf("outside namespace: %v", err)
	}
}

func TestParseLimit(t *testing.T) {
	for in, want := range map[string]struct {
		v  uint64
		ok bool
	}{
		"max\n": {0, false}, "9223372036854771712\n": {0, false}, "9223372036854710272": {0, false},
		"268435456\n": {268435456, true}, "-1": {0, false}, "0": {0, true},
	} {
		v, ok, err := parseLimit([]byte(in))
		if err != nil || v != want.v || ok != want.ok {
			t.Errorf("%q: %d %v %v", in, v, ok, err)
		}
	}
	for _, bad := range []string{"", "12abc", "-5", "1e9"} {
		if _, _, err := parseLimit([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if q, p, err := parseCPUMax([]byte("max 100000\n")); err != nil || q != -1 || p != 100000 {
		t.Errorf("cpu.max max: %d %d %v", q, p, err)
	}
	for _, bad := range []string{"", "max", "1 0", "x 100", "-5 100"} {
		if _, _, err := parseCPUMax([]byte(bad)); err == nil {
			t.Errorf("cpu.max %q: no error", bad)
		}
	}
}

func TestParseKV(t *testing.T) {
	kv, err := parseKV([]byte("anon 10\nfile 20\n\nneg -3\n"))
	if err != nil || kv["anon"] != 10 || kv["file"] != 20 || kv["neg"] != 0 {
		t.Errorf("%v %v", kv, err)
	}
	for _, bad := range []string{"a b c", "a x", "lonely"} {
		if _, err := parseKV([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestQOSClass(t *testing.T) {
	for adj, want := range map[int]string{-997: "Guaranteed", 1000: "BestEffort", 2: "Burstable", 999: "Burstable", 500: "Burstable", -998: "system", -999: "system", 0: "", -1000: ""} {
		if got := QOSClass(adj); got != want {
			t.Errorf("QOSClass(%d) = %q, want %q", adj, got, want)
		}
	}
}

func FuzzParseKV(f *testing.F) {
	for _, p := range []string{"cg-v2-jvm-over/t0/sys/fs/cgroup/kubepods.slice/kubepods-pod9f.slice/cri-containerd-5e.scope/memory.stat", "cg-v1-oomkilled/t0/sys/fs/cgroup/memory/parent/sig_oom_b/memory.stat"} {
		b, err := os.ReadFile(filepath.Join(probetest.Fixture(f), p))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		parseKV(b)
		parseLimit(b)
		parseCPUMax(b)
		parseProcs(b)
	})
}

func FuzzParseProcCgroup(f *testing.F) {
	f.Add([]byte("9:name=systemd:/\n4:memory:/process_api/x\n0::/\n"))
	f.Add([]byte("35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if pc, err := parseProcCgroup(b); err == nil {
			for _, p := range pc.v1 {
				if !strings.HasPrefix(p, "/") {
					t.Fatalf("path %q", p)
				}
			}
		}
		parseMountinfo(b)
	})
}

func TestLiveOwnCgroup(t *testing.T) {
	probetest.Live(t)
	r := New(probe.Target{PID: os.Getpid()}, probe.Options{})
	r.Read(t.Context(), probe.Host{Root: "/", Now: time.Now()})
	busy := time.Now().Add(200 * time.Millisecond)
	for time.Now().Before(busy) {
	}
	r.Read(t.Context(), probe.Host{Root: "/", Now: time.Now()})
	v, st := probe.Complete(context.Background(), r, probe.Host{Root: "/", Now: time.Now()})
	f := v.(Facts)
	if st[""].State != probe.OK || f.Version == 0 || f.Path == "" {
		t.Fatalf("%+v %+v", st[""], f)
	}
	found := false
	for _, p := range f.Processes {
		found = found || p.PID == os.Getpid()
	}
	if !found && f.ProcessCount < maxListed {
		t.Errorf("own pid %d not among the cgroup's processes %+v", os.Getpid(), f.Processes)
	}
	if f.CPUUsageCores <= 0 {
		t.Errorf("cgroup CPU usage %v while this test spun", f.CPUUsageCores)
	}
}
