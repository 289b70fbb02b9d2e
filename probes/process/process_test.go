package process

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
	"github.com/diagnose-sh/diagnose/probes/probetest"
)

func fixtureRoots(t *testing.T, scenario string) ([]string, []time.Duration, int) {
	t.Helper()
	rec := probetest.LoadRecording(t, scenario)
	return rec.Roots, rec.Times, rec.PID
}

func replay(r probe.Reader, roots []string, times []time.Duration) (any, probe.Statuses) {
	return probetest.ReplayAt(r, roots, times)
}

func TestFixtures(t *testing.T) {
	tests := map[string]func(t *testing.T, f Facts){
		"proc-spinner": func(t *testing.T, f Facts) {
			if f.CPUPct+f.RunqueueDelayPct < 85 || f.Threads != 1 {
				t.Errorf("spinner: %+v", f)
			}
		},
		"proc-mutex": func(t *testing.T, f Facts) {
			// Summed over all 17 threads: the leader's status shows ~1 switch.
			if f.VoluntaryCtxSwitchesPerS+f.InvoluntaryCtxSwitchesPerS < 500 || f.VoluntaryCtxSwitchesPerS < 100 || f.Threads != 17 || f.CPUPct < 40 {
				t.Errorf("mutex: %+v", f)
			}
		},
		"proc-odirect": func(t *testing.T, f Facts) {
			if f.WriteBytesPerS < 1e6 || f.VoluntaryCtxSwitchesPerS < 100 {
				t.Errorf("odirect: %+v", f)
			}
		},
		"proc-sleeper": func(t *testing.T, f Facts) {
			if f.CPUPct > 1 || f.RunqueueDelayPct > 1 {
				t.Errorf("sleeper busy: %+v", f)
			}
		},
		"proc-slowpeer":    func(t *testing.T, f Facts) {},
		"proc-epollserver": func(t *testing.T, f Facts) {},
		"proc-jvm-contend": func(t *testing.T, f Facts) {},
		"proc-jvm-idle":    func(t *testing.T, f Facts) {},
	}
	for scenario, check := range tests {
		t.Run(scenario, func(t *testing.T) {
			roots, times, pid := fixtureRoots(t, scenario)
			got, st := replay(New(probe.Target{PID: pid}, probe.Options{}), roots, times)
			if st[""].State != probe.OK {
				t.Fatalf("status %+v", st)
			}
			f := got.(Facts)
			if f.PID != pid || f.Name == "" || f.RSSBytes == 0 || f.OpenFDs == 0 || f.WindowS <= 0 || f.Exited {
				t.Errorf("basic facts: %+v", f)
			}
			// Delay accounting was off when recorded: unknown, not zero.
			if st["blkio_delay_pct"].State != probe.Unavailable {
				t.Errorf("blkio_delay_pct status %+v", st["blkio_delay_pct"])
			}
			check(t, f)
			probetest.Golden(t, filepath.Join(probetest.Fixture(t, scenario), "process.golden.json"), got)
		})
	}
}

func TestEndsMidWindow(t *testing.T) {
	roots, times, pid := fixtureRoots(t, "proc-mutex")
	gone := t.TempDir()
	roots = append(roots[:5:5], gone, gone)
	got, st := replay(New(probe.Target{PID: pid}, probe.Options{}), roots, times)
	f := got.(Facts)
	if !f.Exited || st[""].State != probe.OK || !strings.Contains(st[""].Reason, "ended") {
		t.Fatalf("status %+v facts %+v", st[""], f)
	}
	if f.WindowS <= 0 || f.CPUPct <= 0 || st["cpu_pct"].State == probe.Unavailable {
		t.Errorf("rates of the observed part lost: %+v %+v", f, st)
	}
	// Ended before a second reading: rates unknown, never zeros passed as facts.
	_, st = replay(New(probe.Target{PID: pid}, probe.Options{}), []string{roots[0], gone}, times)
	if st["cpu_pct"].State != probe.Unavailable || !strings.Contains(st["cpu_pct"].Reason, "ended") {
		t.Errorf("cpu_pct status %+v", st["cpu_pct"])
	}
}

func TestNoSuchProcess(t *testing.T) {
	_, st := replay(New(probe.Target{PID: 999999}, probe.Options{}), []string{t.TempDir(), t.TempDir()}, []time.Duration{0, time.Second})
	if st[""].State != probe.Unavailable || !strings.Contains(st[""].Reason, "does not exist") {
		t.Fatalf("status %+v", st[""])
	}
	_, st = New(probe.Target{}, probe.Options{}).Finish()
	if st[""].State != probe.Unavailable {
		t.Fatalf("no pid: %+v", st[""])
	}
}

// A pid reused by a new process (different start time) is the end of the target.
func TestPIDReuse(t *testing.T) {
	roots, times, pid := fixtureRoots(t, "proc-sleeper")
	reused := filepath.Join(t.TempDir(), "root")
	probetest.CopyTree(t, roots[3], reused)
	statPath := filepath.Join(reused, "proc", strconv.Itoa(pid), "stat")
	b, _ := os.ReadFile(statPath)
	f := strings.Fields(string(b))
	f[21] = "99999999" // starttime
	os.WriteFile(statPath, []byte(strings.Join(f, " ")+"\n"), 0o644)
	got, _ := replay(New(probe.Target{PID: pid}, probe.Options{}), []string{roots[0], roots[1], reused}, times)
	if !got.(Facts).Exited {
		t.Fatal("pid reuse not detected")
	}
}

// Unreadable io and fd (another user's process): unavailable, not zero.
func TestUnprivileged(t *testing.T) {
	roots, times, pid := fixtureRoots(t, "proc-odirect")
	var hidden []string
	for _, r := range roots[:3] {
		dst := filepath.Join(t.TempDir(), "root")
		probetest.CopyTree(t, r, dst)
		os.Remove(filepath.Join(dst, "proc", strconv.Itoa(pid), "io"))
		os.RemoveAll(filepath.Join(dst, "proc", strconv.Itoa(pid), "fd"))
		hidden = append(hidden, dst)
	}
	got, st := replay(New(probe.Target{PID: pid}, probe.Options{}), hidden, times)
	f := got.(Facts)
	for _, k := range []string{"read_bytes_per_s", "write_bytes_per_s", "open_fds"} {
		if st[k].State != probe.Unavailable {
			t.Errorf("%s: %+v", k, st[k])
		}
	}
	if f.WriteBytesPerS != 0 || f.CPUPct <= 0 {
		t.Errorf("facts %+v", f)
	}
}

const statLine = "15371 (mu tex) (x) S 15369 15369 2313 0 -1 4194304 121 0 7 0 100 18 0 0 20 0 5 0 159587 36106240 276 18446744073709551615 94907867410432 94907867411053 140732652496720 0 0 0 0 6 0 0 0 0 17 0 0 0 27 0 0 94907867422160 94907867422776 94908475625472 140732652501703 140732652501713 140732652501713 140732652503024 0\n"

func TestParseStat(t *testing.T) {
	s, err := parseStat([]byte(statLine))
	if err != nil {
		t.Fatal(err)
	}
	want := procStat{Comm: "mu tex) (x", State: 'S', MinFlt: 121, MajFlt: 7, UTime: 100, STime: 18, NumThreads: 5,
		StartTime: 159587, RSSPages: 276, BlkioTicks: 27, HasBlkio: true}
	if s != want {
		t.Fatalf("%+v\nwant %+v", s, want)
	}
	short := "1 (a) S 1 1 1 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 5 100 2"
	if s, err := parseStat([]byte(short)); err != nil || s.HasBlkio {
		t.Fatalf("old kernel line: %+v %v", s, err)
	}
	for _, in := range []string{"", "1 (a", "1 a) S", "1 (a) S 1 2", "1 (a) SS " + strings.Repeat("1 ", 40),
		"1 (a) S 1 1 1 0 -1 0 x 0 0 0 1 1 0 0 20 0 1 0 5 100 2", "1 (a) S 1 1 1 0 -1 0 0 0 0 0 -1 1 0 0 20 0 1 0 5 100 2"} {
		if _, err := parseStat([]byte(in)); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

func TestParseIO(t *testing.T) {
	in := "rchar: 3980\nwchar: 0\nsyscr: 8\nsyscw: 0\nread_bytes: 16384\nwrite_bytes: 55726080\ncancelled_write_bytes: 0\n"
	p, err := parseIO([]byte(in))
	if err != nil || p.ReadBytes != 16384 || p.WriteBytes != 55726080 || p.RChar != 3980 {
		t.Fatalf("%+v %v", p, err)
	}
	for _, in := range []string{"", "rchar: x\n", "rchar: 1\nwchar: 2\n"} {
		if _, err := parseIO([]byte(in)); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
	if parseCmdline([]byte("java\x00-Xmx1g\x00Main\x00")) != "java -Xmx1g Main" {
		t.Error("cmdline")
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte(statLine))
	f.Fuzz(func(t *testing.T, b []byte) { parseStat(b) })
}

// The per-thread fast paths agree with the full parsers on every recorded
// stat and status file, and on hostile lines.
func TestTaskFastParsersAgree(t *testing.T) {
	stats := probetest.FixtureFiles(t, "*/*/proc/*/task/*/stat", "*/*/proc/*/stat")
	statuses := probetest.FixtureFiles(t, "*/*/proc/*/task/*/status", "*/*/proc/*/status")
	if len(stats) < 10 || len(statuses) < 10 {
		t.Fatalf("%d stat and %d status fixtures", len(stats), len(statuses))
	}
	for _, b := range append(stats, []byte(statLine)) {
		s, err := parseStat(b)
		v, ok := taskBlkioTicks(b)
		if err == nil && (ok != s.HasBlkio || v != s.BlkioTicks) {
			t.Errorf("%q: taskBlkioTicks %d %v, parseStat %d %v", b, v, ok, s.BlkioTicks, s.HasBlkio)
		}
	}
	for _, b := range statuses {
		s, err := probe.ParseProcStatus(b)
		vol, invol, ok := taskCtxtSwitches(b)
		if err != nil || ok != s.HasCtxt || vol != s.Voluntary || invol != s.Involuntary {
			t.Errorf("%q: taskCtxtSwitches %d %d %v, ParseProcStatus %+v %v", b, vol, invol, ok, s, err)
		}
	}
	for _, in := range []string{"", "voluntary_ctxt_switches:\t2\n", "x\nvoluntary_ctxt_switches:\t-2\nnonvoluntary_ctxt_switches:\t7\n",
		"x\nvoluntary_ctxt_switches:\t2\n", "x\nvoluntary_ctxt_switches:\nnonvoluntary_ctxt_switches:\t7\n"} {
		if vol, invol, ok := taskCtxtSwitches([]byte(in)); ok {
			t.Errorf("%q: %d %d, want not ok", in, vol, invol)
		}
	}
	for _, in := range []string{"", "1 (a) S 1", "1 (a) S " + strings.Repeat("1 ", 38) + "-5", "1 (a" + strings.Repeat(" 1", 50)} {
		if v, ok := taskBlkioTicks([]byte(in)); ok {
			t.Errorf("%q: %d, want not ok", in, v)
		}
	}
}
