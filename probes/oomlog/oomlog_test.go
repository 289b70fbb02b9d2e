package oomlog

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
	"github.com/diagnose-sh/diagnose/probes/probetest"
)

func kmsgFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(probetest.RepoRoot(t), "testdata", "kmsg", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestKernelVariants parses one recorded or reconstructed OOM report per
// kernel generation and message form.
func TestKernelVariants(t *testing.T) {
	const mb = 1024
	tests := []struct {
		file       string
		pid        int
		name       string
		global     bool
		constraint string
		cgroup     string
		oomCgroup  string
		anonKB     uint64
		adj        int
		limitKB    uint64
	}{
		{"linux-6.18-memcg-v1.kmsg", 15890, "java", false, "CONSTRAINT_MEMCG", "/diagnose-oom-test-15865-1795937267817079919", "/diagnose-oom-test-15865-1795937267817079919", 260864, 0, 262144},
		{"dmesg-6.18-memcg-v1.txt", 13983, "java", false, "CONSTRAINT_MEMCG", "/parent/sig_oom_b", "/parent/sig_oom_b", 260864, 0, 262144},
		{"linux-6.1-allocating-task.kmsg", 555, "leaky", true, "CONSTRAINT_NONE", "/system.slice/leaky.service", "", 850000, 500, 0},
		{"linux-5.15-memcg-v2-k8s.kmsg", 4242, "java", false, "CONSTRAINT_MEMCG", "/kubepods.slice/kubepods-pod9f.slice/cri-containerd-5e.scope", "/kubepods.slice/kubepods-pod9f.slice/cri-containerd-5e.scope", 4100000, -997, 4194304},
		{"linux-5.4-global.kmsg", 31337, "stress", true, "CONSTRAINT_NONE", "/user.slice/user-1000.slice/session-2.scope", "", 3990000, 0, 0},
		{"linux-4.19-memcg.kmsg", 777, "node", false, "CONSTRAINT_MEMCG", "/kubepods/burstable/pod1234/abcdef", "/kubepods/burstable/pod1234", 250000, 939, 262144},
		{"linux-4.14-memcg.kmsg", 4321, "java", false, "CONSTRAINT_MEMCG", "/kubepods/podabc/0123456789ab", "/kubepods/podabc/0123456789ab", 512000, -998, 524288},
		{"linux-4.14-global.kmsg", 999, "mysqld", true, "", "", "", 6800000, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			recs, err := parseRecords(kmsgFile(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			kills := parseKills(recs)
			if len(kills) != 1 {
				t.Fatalf("got %d kills, want 1: %+v", len(kills), kills)
			}
			k := kills[0]
			if k.PID != tt.pid || k.Name != tt.name || k.Global != tt.global || k.Constraint != tt.constraint ||
				k.Cgroup != tt.cgroup || k.OOMCgroup != tt.oomCgroup || k.AnonRSSBytes != tt.anonKB*mb ||
				k.OOMScoreAdj != tt.adj || k.LimitBytes != tt.limitKB*mb {
				t.Errorf("got %+v\nwant pid %d name %s global %v constraint %s cgroup %s oom %s anon %d KiB adj %d limit %d KiB",
					k, tt.pid, tt.name, tt.global, tt.constraint, tt.cgroup, tt.oomCgroup, tt.anonKB, tt.adj, tt.limitKB)
			}
			if k.RSSBytes < k.AnonRSSBytes || k.Seq == 0 || k.SinceBootS <= 0 {
				t.Errorf("rss %d seq %d since boot %v", k.RSSBytes, k.Seq, k.SinceBootS)
			}
		})
	}
}

func TestSampleRecordsTwoKills(t *testing.T) {
	b, err := os.ReadFile("/work/shared/signals-samples/kmsg_raw_oom_records.txt")
	if err != nil {
		t.Skip("shared sample not present")
	}
	recs, err := parseRecords(b)
	if err != nil {
		t.Fatal(err)
	}
	kills := parseKills(recs)
	// The sample repeats the two Killed lines at the end (a second read): 4 records, 2 distinct seqs.
	seqs := map[uint64]bool{}
	for _, k := range kills {
		seqs[k.Seq] = true
	}
	if len(seqs) != 2 || !seqs[416] || !seqs[499] {
		t.Errorf("kills by seq: %v", seqs)
	}
}

func TestParseRecordsHostile(t *testing.T) {
	for _, in := range []string{
		"garbage without separator",
		"x,1,2,-;msg",
		"6,-1,2,-;msg",
		"6,1;msg",
		"[ 12.34 no bracket",
		"[abc] msg",
		"-3,1,2,-;msg",
	} {
		if _, err := parseRecords([]byte(in)); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
	// Truncated and odd Killed lines are skipped, never a made-up kill.
	recs, err := parseRecords([]byte("3,1,2,-;Memory cgroup out of memory: Killed process 12 (ja\n3,2,3,-;Out of memory: Killed process x (y) total-vm:1kB, anon-rss:1kB, file-rss:1kB\n"))
	if err != nil {
		t.Fatal(err)
	}
	if k := parseKills(recs); len(k) != 0 {
		t.Errorf("kills from truncated lines: %+v", k)
	}
	// Continuation lines and blank lines are skipped.
	recs, err = parseRecords([]byte("6,5,6,-;hello\n SUBSYSTEM=x\n\n"))
	if err != nil || len(recs) != 1 {
		t.Errorf("continuation: %v %d", err, len(recs))
	}
}

func TestSplitFieldsCommaInPath(t *testing.T) {
	var p pending
	parseConstraint("constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/a,b,task_memcg=/a,b/c,task=java,pid=7,uid=0", &p)
	if p.oomCg != "/a,b" || p.taskMemcg != "/a,b/c" || p.conPID != 7 {
		t.Errorf("%+v", p)
	}
}

func FuzzParseRecords(f *testing.F) {
	for _, n := range []string{"linux-6.18-memcg-v1.kmsg", "linux-4.14-memcg.kmsg", "linux-5.4-global.kmsg", "dmesg-6.18-memcg-v1.txt"} {
		f.Add(kmsgFile(f, n))
	}
	f.Add([]byte("3,1,2,-;Out of memory: Killed process 1 (a) total-vm:1kB, anon-rss:1kB, file-rss:1kB, shmem-rss:1kB, UID:0 pgtables:1kB oom_score_adj:-1000"))
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, _ := parseRecords(b)
		for _, k := range parseKills(recs) {
			if k.RSSBytes < k.AnonRSSBytes {
				t.Fatalf("rss below anon: %+v", k)
			}
		}
	})
}

func replay(t *testing.T, target probe.Target, roots ...string) (Facts, probe.Statuses) {
	t.Helper()
	v, st := probetest.Replay(New(target, probe.Options{}), time.Second, roots...)
	return v.(Facts), st
}

// TestFixtureTargetMatching: two kills in the log (another cgroup's and the
// target's); only the target's count, and the time is computed from uptime.
func TestFixtureTargetMatching(t *testing.T) {
	root := probetest.Fixture(t, "cg-v1-oomkilled", "t0")
	f, st := replay(t, probe.Target{Cgroup: "/sys/fs/cgroup/memory/parent/sig_oom_b"}, root, root)
	if st[""].State != probe.OK {
		t.Fatalf("status %+v", st)
	}
	if f.Count != 2 || f.TargetCount != 1 || f.GlobalCount != 0 || f.TargetInWindow != 0 {
		t.Errorf("count %d target %d global %d in window %d", f.Count, f.TargetCount, f.GlobalCount, f.TargetInWindow)
	}
	if f.Last.PID != 13983 || f.LastAny.PID != 13983 || f.Last.AgoS <= 0 || f.Last.At == "" {
		t.Errorf("last %+v", f.Last)
	}
	probetest.Golden(t, filepath.Join(filepath.Dir(root), "oom.golden.json"), f)
}

func TestFixtureKillDuringWindow(t *testing.T) {
	t0 := probetest.Fixture(t, "cg-v1-oomkilled", "t0")
	t1 := probetest.Fixture(t, "cg-v1-oomkilled", "t1")
	f, _ := replay(t, probe.Target{Cgroup: "/parent/sig_oom_b"}, t0, t1)
	if f.TargetInWindow != 1 || f.TargetCount != 2 {
		t.Errorf("in window %d target %d, want 1 and 2", f.TargetInWindow, f.TargetCount)
	}
}

func TestNoKmsgIsUnavailableNotZero(t *testing.T) {
	root := probetest.Fixture(t, "cg-none", "t0")
	_, st := replay(t, probe.Target{}, root)
	if st[""].State != probe.Unavailable || !strings.Contains(st[""].Reason, "/dev/kmsg") {
		t.Errorf("status %+v", st[""])
	}
	r := &reader{err: &fs.PathError{Op: "open", Path: "/dev/kmsg", Err: fs.ErrPermission}}
	_, st = r.Finish()
	if st[""].State != probe.Unavailable || !strings.Contains(st[""].Reason, "CAP_SYSLOG") {
		t.Errorf("permission status %+v", st[""])
	}
}

func TestLiveKmsgReadable(t *testing.T) {
	probetest.Live(t)
	f, st := replay(t, probe.Target{}, "/", "/")
	if st[""].State != probe.OK {
		t.Fatalf("as root /dev/kmsg must be readable: %+v", st[""])
	}
	if f.LogStartS < 0 || f.TargetCgroup == "" {
		t.Errorf("facts %+v", f)
	}
}
