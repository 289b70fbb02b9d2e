package jvm

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
	"github.com/diagnose-sh/diagnose/probes/probetest"
)

// TestHeapErgonomics checks maxHeap against JDK 17.0.15's observed
// MaxHeapSize inside v1 memory cgroups (signals-samples/jvm17_heap_defaults_by_cgroup_limit.txt).
func TestHeapErgonomics(t *testing.T) {
	pct75 := options{maxRAMPct: 75, hasMaxRAMPct: true, containerSupport: true}
	def := options{containerSupport: true}
	for _, tt := range []struct {
		limitMiB uint64
		o        options
		want     uint64
	}{
		{200, def, 104857600}, {200, pct75, 104857600},
		{256, def, 132120576}, {256, pct75, 201326592},
		{512, def, 134217728}, {512, pct75, 402653184},
		{1024, def, 268435456}, {1024, pct75, 805306368},
		{2048, def, 536870912}, {2048, pct75, 1610612736},
		{4096, def, 1073741824}, {4096, pct75, 3221225472},
		{24106, def, 6320816128 &^ (heapAlign - 1)}, // host RAM (observed 6028 MiB with 24106 MiB MemTotal)
	} {
		got := maxHeap(tt.o, tt.limitMiB*mib)
		if got.bytes != tt.want && !(tt.limitMiB == 24106 && absDiff(got.bytes, tt.want) <= 4*mib) {
			t.Errorf("limit %d MiB pct %v: heap %d (%s), want %d", tt.limitMiB, tt.o.maxRAMPct, got.bytes, got.source, tt.want)
		}
	}
	if h := maxHeap(options{xmx: 2 << 30, xmxFlag: "-Xmx"}, 1<<30); h.bytes != 2<<30 || h.source != "-Xmx" {
		t.Errorf("-Xmx: %+v", h)
	}
	if h := maxHeap(options{maxRAM: 1 << 30}, 64<<30); h.bytes != 256*mib || h.source != "-XX:MaxRAM" {
		t.Errorf("MaxRAM: %+v", h)
	}
}

func absDiff(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return b - a
}

func TestOptions(t *testing.T) {
	o, errs := parseOptions([]source{
		{"JAVA_TOOL_OPTIONS", splitOptions(`-Xmx1g -XX:MaxDirectMemorySize=64m "-Dx=a b"`)},
		{"command line", launcherOptions([]string{"-cp", "/a:/b", "-Xmx2g", "-XX:-UseContainerSupport", "-Xss512k", "-XX:+UseSerialGC", "Main", "-Xmx99g"})},
		{"_JAVA_OPTIONS", splitOptions("-XX:ReservedCodeCacheSize=64m -XX:-TieredCompilation -XX:ThreadStackSize=256")},
	})
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	if o.xmx != 2<<30 || o.xmxFrom != "command line" || o.maxDirect != 64*mib || o.containerSupport || o.xss != 256<<10 ||
		o.gc != "Serial" || o.codeCache != 64*mib || o.tiered {
		t.Errorf("%+v", o)
	}
	if got := splitOptions(`-Da='x y' -Db="z" -Dc`); strings.Join(got, "|") != "-Da=x y|-Db=z|-Dc" {
		t.Errorf("splitOptions: %q", got)
	}
	if got := launcherOptions([]string{"-Xmx1g", "-jar", "app.jar", "-Xmx2g"}); len(got) != 1 {
		t.Errorf("-jar ends the options: %q", got)
	}
	for _, bad := range []string{"-Xmx", "-Xmx12q", "-Xmx99999999999999999999g", "-XX:MaxRAMPercentage=200", "-XX:MaxRAMFraction=0", "-Xss-1"} {
		if _, errs := parseOptions([]source{{"x", []string{bad}}}); len(errs) == 0 {
			t.Errorf("%q: no error", bad)
		}
	}
	for in, want := range map[string]bool{"17.0.15": true, "11.0.2": false, "11.0.16": true, "1.8.0_372": true, "1.8.0_292": false, "14.0.1": false, "": true, "21": true} {
		if understandsV2(in) != want {
			t.Errorf("understandsV2(%q) != %v", in, want)
		}
	}
}

func readJVMFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(probetest.RepoRoot(t), "testdata", "jvm", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseJcmd(t *testing.T) {
	n, err := parseNMT(readJVMFile(t, "nmt_summary_g1_256m.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if n.total != 332378*1024 || n.committed["Java Heap"] != 262144*1024 || n.committed["GC"] != 47387*1024 || n.committed["Code"] != 7581*1024 || n.threads != 19 {
		t.Errorf("%+v", n)
	}
	if _, err := parseNMT(readJVMFile(t, "nmt_not_enabled.txt")); !errors.Is(err, ErrNMTOff) {
		t.Errorf("NMT off: %v", err)
	}
	if _, err := parseNMT([]byte("14543:\n-  Java Heap (reserved=1KB, committed=1KB)\n")); !errors.Is(err, ErrJcmd) {
		t.Errorf("truncated NMT: %v", err)
	}
	fl, err := parseVMFlags(readJVMFile(t, "vm_flags_g1_256m.txt"))
	if err != nil || len(fl) < 10 {
		t.Fatalf("%v %v", fl, err)
	}
	if o, _ := parseOptions([]source{{"jcmd", fl}}); o.xmx != 256*mib || o.gc != "G1" || o.nmt != "summary" || o.codeCache != 251658240 {
		t.Errorf("%+v", o)
	}
	if _, err := parseVMFlags(readJVMFile(t, "attach_not_permitted.txt")); !errors.Is(err, ErrJcmd) {
		t.Errorf("attach refused: %v", err)
	}
}

func fakeJcmd(t *testing.T, files map[string]string) probe.Runner {
	return func(_ context.Context, name string, args ...string) ([]byte, error) {
		if name != "jcmd" || len(args) < 2 {
			return nil, errors.New("unexpected program")
		}
		f, ok := files[args[1]]
		if !ok {
			return nil, errors.New("exit status 1")
		}
		return readJVMFile(t, f), nil
	}
}

func TestFixtures(t *testing.T) {
	tests := []struct {
		scenario string
		target   probe.Target
		run      probe.Runner
		check    func(t *testing.T, f Facts)
	}{
		{"cg-v2-jvm-over", probe.Target{PID: 4242}, nil, func(t *testing.T, f Facts) {
			m := f.Main
			if f.Count != 1 || m.PID != 4242 || m.HeapMaxBytes != 2<<30 || m.HeapSource != "-Xmx" || !m.HeapFixed || m.HeapFlagFrom != "command line" {
				t.Errorf("heap %+v", m)
			}
			if strings.Join(m.EnvOptions, ",") != "JAVA_TOOL_OPTIONS" || !m.DirectMemorySet || m.DirectMemoryMaxBytes != 1<<30 || m.Components.MetaspaceBytes != 256*mib {
				t.Errorf("env flags %+v", m)
			}
			if m.Threads != 320 || m.Components.ThreadStacksBytes != 320*mib || m.GC != "G1" || m.JavaVersion != "17.0.15" || !m.ContainerSupport {
				t.Errorf("threads/gc %+v", m)
			}
			if f.FootprintRatioOfLimit <= 1 || m.HeapAt75PctBytes != 3<<30 || m.FittingMaxRAMPct <= 0 || m.FittingMaxRAMPct >= 75 {
				t.Errorf("budget ratio %v at75 %d fitting %v", f.FootprintRatioOfLimit, m.HeapAt75PctBytes, m.FittingMaxRAMPct)
			}
			if m.Measured || !strings.Contains(m.MeasureNote, "--jcmd measures it") {
				t.Errorf("measured without a runner: %+v", m)
			}
		}},
		{"cg-v2-jvm-over", probe.Target{PID: 4242}, nil, nil}, // placeholder replaced below
		{"cg-v1-jvm-nocontainer", probe.Target{PID: 900}, nil, func(t *testing.T, f Facts) {
			if f.Count != 2 || f.ContainerSupportDisabled != 1 {
				t.Fatalf("count %d disabled %d: %+v", f.Count, f.ContainerSupportDisabled, f.JVMs)
			}
			java, jsvc := f.JVMs[0], f.JVMs[1]
			if java.ContainerSupport || java.SeesMemoryBytes != 24684632*1024 || java.HeapSource != "-XX:MaxRAMPercentage" || java.HeapMaxBytes < 17<<30 {
				t.Errorf("java without container support: %+v", java)
			}
			if jsvc.Name != "jsvc" || jsvc.HeapMaxBytes != 256*mib || jsvc.StackSizeBytes != 512<<10 || jsvc.Components.CodeCacheBytes != 64*mib || len(jsvc.EnvOptions) != 0 {
				t.Errorf("embedded libjvm (JDK_JAVA_OPTIONS only applies to the java launcher): %+v", jsvc)
			}
			if f.Main.PID != 900 {
				t.Errorf("main %d", f.Main.PID)
			}
		}},
		{"cg-unlimited-jvm", probe.Target{}, nil, func(t *testing.T, f Facts) {
			m := f.Main
			if !f.Present || m.Limited || m.FootprintRatioOfLimit != 0 || m.HeapAt75PctBytes != 0 || m.HeapSource != "default share (MaxRAMPercentage 25%)" {
				t.Errorf("unlimited %+v", m)
			}
			if m.StackSizeBytes != 512<<10 || strings.Join(m.EnvOptions, ",") != "_JAVA_OPTIONS" || m.JavaVersion != "21.0.2" {
				t.Errorf("_JAVA_OPTIONS %+v", m)
			}
		}},
		{"cg-hybrid-nojava", probe.Target{PID: 15058}, nil, func(t *testing.T, f Facts) {
			if f.Present || f.Count != 0 {
				t.Errorf("no JVM expected: %+v", f)
			}
		}},
		{"cg-none", probe.Target{PID: 321}, nil, func(t *testing.T, f Facts) {
			if f.Count != 1 || f.Main.Limited || f.Main.HeapMaxBytes != 512*mib {
				t.Errorf("no cgroup: %+v", f.Main)
			}
		}},
	}
	tests[1] = struct {
		scenario string
		target   probe.Target
		run      probe.Runner
		check    func(t *testing.T, f Facts)
	}{"cg-v2-jvm-over", probe.Target{PID: 4242}, fakeJcmd(t, map[string]string{"VM.flags": "vm_flags_g1_256m.txt", "VM.native_memory": "nmt_summary_g1_256m.txt"}), func(t *testing.T, f Facts) {
		m := f.Main
		if !m.Measured || !m.HeapMeasured || m.HeapMaxBytes != 256*mib || m.Components.GCBytes != 47387*1024 || m.Components.CodeCacheBytes != 7581*1024 {
			t.Errorf("measured %+v", m)
		}
		// The explicit 1 GiB direct cap stays in the budget.
		if m.Components.DirectBytes != 1<<30 {
			t.Errorf("direct %d", m.Components.DirectBytes)
		}
	}}
	for i, tt := range tests {
		name := tt.scenario
		if tt.run != nil {
			name += "-jcmd"
		}
		t.Run(name, func(t *testing.T) {
			root := probetest.Fixture(t, tt.scenario, "t0")
			r := New(tt.target, probe.Options{JCMD: tt.run != nil})
			h := probe.Host{Root: root, Now: time.Unix(0, 0), Run: tt.run}
			r.Read(t.Context(), h)
			v, st := probe.Complete(context.Background(), r, h)
			if st[""].State != probe.OK {
				t.Fatalf("status %+v", st)
			}
			f := v.(Facts)
			tt.check(t, f)
			golden := "jvm.golden.json"
			if tt.run != nil {
				golden = "jvm-jcmd.golden.json"
			}
			_ = i
			probetest.Golden(t, probetest.Fixture(t, tt.scenario, golden), f)
		})
	}
}

func FuzzParseOptions(f *testing.F) {
	f.Add("-Xmx2g -XX:MaxRAMPercentage=75.0 -XX:-UseContainerSupport -Xss256k -XX:MaxDirectMemorySize=1g")
	f.Add(`-Da='x y' -XX:ThreadStackSize=1024 -XX:MaxRAMFraction=4 @args`)
	f.Fuzz(func(t *testing.T, s string) {
		o, _ := parseOptions([]source{{"fuzz", splitOptions(s)}})
		h := maxHeap(o, 1<<30)
		if o.xmx == 0 && h.bytes > 1<<40 {
			t.Fatalf("heap %d from %q", h.bytes, s)
		}
	})
}

func FuzzParseJcmd(f *testing.F) {
	for _, n := range []string{"nmt_summary_g1_256m.txt", "nmt_not_enabled.txt", "vm_flags_g1_256m.txt", "attach_not_permitted.txt"} {
		f.Add(readJVMFile(f, n))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		parseNMT(b)
		parseVMFlags(b)
	})
}

// TestLiveJVMFlagsFromEnv: a real JVM with flags only in JAVA_TOOL_OPTIONS
// is found, its heap read from the environment and confirmed by jcmd.
func TestLiveJVMFlagsFromEnv(t *testing.T) {
	probetest.Live(t)
	probetest.Need(t, "java", "javac", "jcmd")
	dir := t.TempDir()
	src := filepath.Join(probetest.RepoRoot(t), "testdata", "workloads", "OomIdle.java")
	if out, err := exec.Command("javac", "-d", dir, src).CombinedOutput(); err != nil {
		t.Fatalf("javac: %v %s", err, out)
	}
	cmd := exec.Command("java", "-cp", dir, "OomIdle")
	cmd.Env = append(os.Environ(), "JAVA_TOOL_OPTIONS=-Xmx96m -XX:MaxDirectMemorySize=32m")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	buf := make([]byte, 6)
	if _, err := stdout.Read(buf); err != nil {
		t.Fatal(err)
	}
	r := New(probe.Target{PID: cmd.Process.Pid}, probe.Options{JCMD: true})
	h := probe.Host{Root: "/", Now: time.Now(), Run: probe.ExecRunner}
	r.Read(t.Context(), h)
	v, st := probe.Complete(context.Background(), r, h)
	f := v.(Facts)
	var j JVM
	for _, x := range f.JVMs {
		if x.PID == cmd.Process.Pid {
			j = x
		}
	}
	if st[""].State != probe.OK || j.PID == 0 {
		t.Fatalf("JVM %d not found: %+v %+v", cmd.Process.Pid, st, f.JVMs)
	}
	if j.HeapMaxBytes != 96*mib || j.HeapFlagFrom != "JAVA_TOOL_OPTIONS" || j.DirectMemoryMaxBytes != 32*mib || !j.HeapMeasured {
		t.Errorf("heap %d from %q direct %d measured %v: %+v", j.HeapMaxBytes, j.HeapFlagFrom, j.DirectMemoryMaxBytes, j.HeapMeasured, j)
	}
	if j.Threads < 5 || j.RSSBytes == 0 {
		t.Errorf("threads %d rss %d", j.Threads, j.RSSBytes)
	}
}

// With the JVM's hsperfdata in its /tmp, the budget measures heap max,
// metaspace and compiled code from it without attaching, and says so.
func TestBudgetFromHSPerfData(t *testing.T) {
	root := t.TempDir()
	if out, err := exec.Command("cp", "-r", probetest.Fixture(t, "cg-v2-jvm-over", "t0")+"/.", root).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	dir := filepath.Join(root, "proc", "4242", "root", "tmp", "hsperfdata_app")
	os.MkdirAll(dir, 0o755)
	perf, err := os.ReadFile(filepath.Join(probetest.RepoRoot(t), "testdata", "hsperf", "serial-roomy.hsperfdata"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "4242"), perf, 0o644) // no NSpid line: the host PID
	r := New(probe.Target{PID: 4242}, probe.Options{})
	h := probe.Host{Root: root, Now: time.Unix(0, 0)}
	r.Read(t.Context(), h)
	v, st := probe.Complete(context.Background(), r, h)
	m := v.(Facts).Main
	if st[""].State != probe.OK || !m.PerfData || !m.HeapMeasured {
		t.Fatalf("status %v, facts %+v", st, m)
	}
	// The counters' numbers (serial-roomy: -Xmx256m, Serial), not the flags'
	// (-Xmx2g, G1); the metaspace cap (-XX:MaxMetaspaceSize=256m) is what it may grow to.
	if m.HeapMaxBytes != 268435456 || m.Components.CodeCacheBytes != 1546112 || m.GC != "Serial" ||
		m.HeapCommittedBytes != 268435456 || m.HeapUsedBytes == 0 || m.Components.MetaspaceBytes != 256<<20 {
		t.Errorf("budget %+v", m)
	}
	for _, want := range []string{"heap: hsperfdata", "metaspace: -XX:MaxMetaspaceSize", "code cache: hsperfdata", "direct, GC and other native: estimated"} {
		if !strings.Contains(m.Sources, want) {
			t.Errorf("sources %q lack %q", m.Sources, want)
		}
	}
	if m.Measured || !strings.Contains(m.MeasureNote, "measured from hsperfdata") {
		t.Errorf("measured %v, note %q", m.Measured, m.MeasureNote)
	}
}
