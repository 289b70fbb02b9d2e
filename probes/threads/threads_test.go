package threads

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
	"github.com/diagnose-sh/diagnose/probes/probetest"
)

// fixtureRoots returns a recorded scenario's readings and its pid.
func fixtureRoots(t *testing.T, scenario string) ([]string, int) {
	t.Helper()
	rec := probetest.LoadRecording(t, scenario)
	return rec.Roots, rec.PID
}

// The recorder took readings 60 ms apart.
const step = 60 * time.Millisecond

func TestFixtures(t *testing.T) {
	tests := []struct {
		scenario string
		check    func(t *testing.T, f Facts)
	}{
		{"proc-spinner", func(t *testing.T, f Facts) {
			if f.RunningPct+f.RunnablePct < 90 || f.RunningThreads+f.RunnableThreads < 0.9 {
				t.Errorf("spinner not on CPU: %+v", f)
			}
		}},
		{"proc-mutex", func(t *testing.T, f Facts) {
			if f.LockPct < 50 || f.ContendingThreads < 8 || f.LockWakeupsPerS < 500 || f.SameFutexWaitersAvg < 4 || f.MutexWaitPct < 30 {
				t.Errorf("mutex convoy not seen: %+v", f)
			}
		}},
		{"proc-jvm-contend", func(t *testing.T, f Facts) {
			if f.ContendingThreads < 8 || f.LockWakeupsPerS < 500 {
				t.Errorf("JVM monitor convoy not seen: %+v", f)
			}
		}},
		{"proc-jvm-idle", func(t *testing.T, f Facts) {
			if f.LockPct < 80 || f.ContendingThreads > 1 || f.LockWakeupsPerS > 200 || f.RunningThreads > 0.2 {
				t.Errorf("idle JVM looks busy: %+v", f)
			}
		}},
		{"proc-slowpeer", func(t *testing.T, f Facts) {
			if f.NetworkPct < 80 || f.NetworkThreads < 0.8 {
				t.Errorf("peer wait not seen: %+v", f)
			}
		}},
		{"proc-odirect", func(t *testing.T, f Facts) {
			if f.DiskPct < 30 {
				t.Errorf("disk wait not seen: %+v", f)
			}
		}},
		{"proc-sleeper", func(t *testing.T, f Facts) {
			if f.IdlePct < 95 || f.RunningThreads > 0.05 {
				t.Errorf("sleeper not idle: %+v", f)
			}
		}},
		{"proc-epollserver", func(t *testing.T, f Facts) {
			if f.PollPct < 95 || f.NetworkPct > 0 || f.PollThreads < 1.9 {
				t.Errorf("idle server not in poll: %+v", f)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.scenario, func(t *testing.T) {
			roots, pid := fixtureRoots(t, tc.scenario)
			got, st := replay(t, New(probe.Target{PID: pid}, probe.Options{}), roots, recordedTimes(t, tc.scenario))
			if st[""].State != probe.OK {
				t.Fatalf("status %+v", st)
			}
			f := got.(Facts)
			if f.Samples != len(roots) {
				t.Errorf("%d rounds from %d readings", f.Samples, len(roots))
			}
			tc.check(t, f)
			probetest.Golden(t, filepath.Join(probetest.Fixture(t, tc.scenario), "threads.golden.json"), got)
		})
	}
}

// A process that ends mid-window: the profile covers what was observed.
func TestProcessEndsMidWindow(t *testing.T) {
	roots, pid := fixtureRoots(t, "proc-mutex")
	gone := t.TempDir() // a reading with no /proc/PID
	got, st := probetest.Replay(New(probe.Target{PID: pid}, probe.Options{}), step, append(roots[:6:6], gone, gone)...)
	if st[""].State != probe.OK || st[""].Reason == "" {
		t.Fatalf("status %+v, want ok with a reason", st[""])
	}
	if f := got.(Facts); f.Samples != 6 || f.LockPct < 50 {
		t.Errorf("facts %+v", f)
	}
}

func TestNoSuchProcess(t *testing.T) {
	got, st := probetest.Replay(New(probe.Target{PID: 999999}, probe.Options{}), step, t.TempDir(), t.TempDir())
	if st[""].State != probe.Unavailable || got.(Facts).Samples != 0 {
		t.Fatalf("status %+v", st[""])
	}
	_, st = probetest.Replay(New(probe.Target{}, probe.Options{}), step, t.TempDir())
	if st[""].State != probe.Unavailable {
		t.Fatalf("no pid: status %+v", st[""])
	}
}

// Without ptrace permission wchan reads "0" (stat field 35 is 0) and the
// syscall file cannot be opened: the blocked shares become unknown.
func TestUnprivilegedView(t *testing.T) {
	roots, pid := fixtureRoots(t, "proc-mutex")
	var hidden []string
	for _, r := range roots[:4] {
		dst := filepath.Join(t.TempDir(), "root")
		probetest.CopyTree(t, r, dst)
		tasks, _ := filepath.Glob(filepath.Join(dst, "proc", strconv.Itoa(pid), "task", "*"))
		for _, task := range tasks {
			os.WriteFile(filepath.Join(task, "wchan"), []byte("0"), 0o644)
			os.Remove(filepath.Join(task, "syscall"))
			b, _ := os.ReadFile(filepath.Join(task, "stat"))
			os.WriteFile(filepath.Join(task, "stat"), zeroField35(b), 0o644)
		}
		hidden = append(hidden, dst)
	}
	got, st := probetest.Replay(New(probe.Target{PID: pid}, probe.Options{}), step, hidden...)
	f := got.(Facts)
	for _, k := range []string{"lock_pct", "contending_threads", "top_wchans", "top_syscalls", "same_futex_waiters_avg"} {
		if st[k].State != probe.Unavailable {
			t.Errorf("%s: status %+v, want unavailable", k, st[k])
		}
	}
	if f.LockPct != 0 || f.ContendingThreads != 0 || f.TopWchans != nil {
		t.Errorf("made-up values without permission: %+v", f)
	}
	if st["running_pct"].State != "" && st["running_pct"].State != probe.OK {
		t.Errorf("running_pct should stay known: %+v", st["running_pct"])
	}
}

func zeroField35(b []byte) []byte {
	s := string(b)
	i := len(s) - 1
	for i >= 0 && s[i] != ')' {
		i--
	}
	head, f := s[:i+1], splitFields(s[i+1:])
	if len(f) > 32 {
		f[32] = "0"
	}
	out := head
	for _, x := range f {
		out += " " + x
	}
	return []byte(out + "\n")
}

func splitFields(s string) []string {
	var out []string
	cur := ""
	for _, c := range s {
		if c == ' ' || c == '\n' {
			if cur != "" {
				out = append(out, cur)
			}
			cur = ""
			continue
		}
		cur += string(c)
	}
	if cur != "" {
		out = append(out, cur)
	}
	return out
}

func TestParseSyscall(t *testing.T) {
	good := map[string]sysc{
		"running\n":                          {Running: true},
		"-1 0x7ffe691ef730 0x7ff2cd35272f\n": {Outside: true, Nr: -1},
		"202 0x55803a3690e8 0x189 0x0 0x0 0x0 0xffffffff 0x7f61a4c50dc0 0x7f61a84e1f16\n": {Nr: 202,
			Args: [6]uint64{0x55803a3690e8, 0x189, 0, 0, 0, 0xffffffff}},
		"0 0x4 0x7ff2cd243e40 0x64 0x7ff2cd257b60 0x0 0x7ffe691ef677 0x7ff2cd243e10 0x7ff2cd3402ec": {Nr: 0,
			Args: [6]uint64{4, 0x7ff2cd243e40, 0x64, 0x7ff2cd257b60, 0, 0x7ffe691ef677}},
	}
	for in, want := range good {
		got, err := parseSyscall([]byte(in))
		if err != nil || got != want {
			t.Errorf("%q: %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "runnin", "-1", "-1 0x1", "202 0x1 0x2", "x 0x1 0x2 0x3 0x4 0x5 0x6 0x7 0x8",
		"202 0xZZ 0x2 0x3 0x4 0x5 0x6 0x7 0x8", "-5 0x1 0x2 0x3 0x4 0x5 0x6 0x7 0x8", "202 0x1 0x2 0x3 0x4 0x5 0x6 0x7 0x8 0x9"} {
		if _, err := parseSyscall([]byte(in)); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

func TestParseTaskStat(t *testing.T) {
	line := "15733 (GC Thread#0) S 15729 15729 2313 0 -1 4194368 1 0 0 0 21 6 0 0 20 0 5 0 159587 36106240 276 18446744073709551615 1 1 1 0 0 0 0 6 0 1 0 0 -1 0 0 0 0 0 0 1 1 1 1 1 1 1 0\n"
	s, err := parseTaskStat([]byte(line))
	if err != nil || s.State != 'S' || !s.WchanSet || !s.HasField {
		t.Fatalf("%+v %v", s, err)
	}
	weird := "1 (a) b) (c) R 1 2 3"
	if s, err := parseTaskStat([]byte(weird)); err != nil || s.State != 'R' || s.HasField {
		t.Fatalf("comm with parens: %+v %v", s, err)
	}
	for _, in := range []string{"", "1 x S", "1 (a) ", "1 (a) SS 1", ")("} {
		if _, err := parseTaskStat([]byte(in)); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

func TestClassify(t *testing.T) {
	kinds := map[int]fdKind{3: fdSocket, 4: fdPipe, 5: fdFile, 6: fdChar, 7: fdEvent}
	kind := func(fd int) fdKind { return kinds[fd] }
	sc := func(nr int, args ...uint64) *sysc {
		s := &sysc{Nr: nr}
		copy(s.Args[:], args)
		return s
	}
	tests := []struct {
		name  string
		state byte
		wchan string
		sc    *sysc
		want  class
	}{
		{"running", 'R', "0", &sysc{Running: true}, clsRunning},
		{"page fault", 'D', "folio_wait_bit_common", &sysc{Outside: true, Nr: -1}, clsPaging},
		{"direct io", 'D', "__iomap_dio_rw", sc(18, 3), clsDisk},
		{"D without syscall", 'D', "0", nil, clsDisk},
		{"futex", 'S', "futex_do_wait", sc(202, 1, 0x80, 2), clsLock},
		{"flock", 'S', "locks_lock_inode_wait", sc(73, 5, 2), clsLock},
		{"fcntl setlkw", 'S', "fcntl_setlk", sc(72, 5, 7), clsLock},
		{"socket read", 'S', "wait_woken", sc(0, 3), clsNetwork},
		{"tty read", 'S', "wait_woken", sc(0, 6), clsIdle},
		{"pipe read", 'S', "anon_pipe_read", sc(0, 4), clsIdle},
		{"eventfd read", 'S', "0", sc(0, 7), clsPoll},
		{"recvfrom", 'S', "wait_woken", sc(45, 3), clsNetwork},
		{"connect", 'S', "wait_woken", sc(42, 3), clsNetwork},
		{"accept", 'S', "inet_csk_accept", sc(43, 3), clsPoll},
		{"epoll", 'S', "do_epoll_wait", sc(232, 5), clsPoll},
		{"poll suffix", 'S', "poll_schedule_timeout", sc(7), clsPoll},
		{"sleep", 'S', "hrtimer_nanosleep", sc(230), clsIdle},
		{"wait4", 'S', "do_wait", sc(61), clsIdle},
		{"fsync S", 'S', "0", sc(74, 3), clsDisk},
		{"restart by wchan", 'S', "hrtimer_nanosleep", sc(219), clsIdle},
		{"unknown wchan", 'S', "some_new_wait", sc(999), clsOther},
		{"no permission", 'S', "0", nil, clsUnknown},
		{"wchan only", 'S', "futex_do_wait", nil, clsLock},
		{"stopped", 'T', "do_signal_stop", nil, clsOther},
		{"huge fd", 'S', "wait_woken", sc(0, 1<<40), clsNetwork},
	}
	for _, tc := range tests {
		if got := classify(tc.state, tc.wchan, tc.sc, kind); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, classNames[got], classNames[tc.want])
		}
	}
	if stripWchan("poll_schedule_timeout.constprop.0\n") != "poll_schedule_timeout" {
		t.Error("suffix not stripped")
	}
	for link, want := range map[string]fdKind{"socket:[1]": fdSocket, "pipe:[2]": fdPipe, "anon_inode:[eventfd]": fdEvent,
		"/dev/pts/0": fdChar, "/var/log/x": fdFile, "net:[4026531840]": fdUnknown} {
		if kindOfLink(link) != want {
			t.Errorf("%s: %d", link, kindOfLink(link))
		}
	}
	if addr, mutex, ok := futexWait(sc(202, 0x1000, 0x80, 2)); !ok || !mutex || addr != 0x1000 {
		t.Error("glibc mutex wait not recognised")
	}
	if _, mutex, ok := futexWait(sc(202, 0x1000, 0x189, 0)); !ok || mutex {
		t.Error("condition wait taken for a mutex")
	}
	if _, _, ok := futexWait(sc(202, 0x1000, 0x81, 1)); ok {
		t.Error("FUTEX_WAKE taken for a wait")
	}
}

func FuzzParseSyscall(f *testing.F) {
	f.Add([]byte("running\n"))
	f.Add([]byte("-1 0x7ffe691ef730 0x7ff2cd35272f\n"))
	f.Add([]byte("202 0x55803a3690e8 0x189 0x0 0x0 0x0 0xffffffff 0x7f61a4c50dc0 0x7f61a84e1f16\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseSyscall(b)
		if err == nil {
			classify('S', "", &s, func(int) fdKind { return fdSocket })
		}
	})
}

func FuzzParseTaskStat(f *testing.F) {
	f.Add([]byte("15733 (GC Thread#0) S 15729 15729 2313 0 -1 4194368 1 0 0 0 21 6 0 0 20 0 5 0 159587 36106240 276 18446744073709551615 1 1 1 0 0 0 0 6 0 1 0 0 -1 0"))
	f.Fuzz(func(t *testing.T, b []byte) { parseTaskStat(b) })
}

// replay drives r over a recorded scenario at the recorded times (times.txt).
func replay(t *testing.T, r probe.Reader, roots []string, times []time.Duration) (any, probe.Statuses) {
	t.Helper()
	if len(times) < len(roots) {
		t.Fatalf("%d readings, %d times", len(roots), len(times))
	}
	return probetest.ReplayAt(r, roots, times)
}

func recordedTimes(t *testing.T, scenario string) []time.Duration {
	return probetest.LoadRecording(t, scenario).Times
}

// A zombie (exited, not reaped) is the end of the profile, not "other" time.
func TestZombieEndsProfile(t *testing.T) {
	roots, pid := fixtureRoots(t, "proc-sleeper")
	zombie := filepath.Join(t.TempDir(), "root")
	probetest.CopyTree(t, roots[0], zombie)
	task := filepath.Join(zombie, "proc", strconv.Itoa(pid), "task", strconv.Itoa(pid), "stat")
	b, _ := os.ReadFile(task)
	os.WriteFile(task, []byte(strings.Replace(string(b), ") S ", ") Z ", 1)), 0o644)
	// To exit, the thread ran: its schedstat moved past the last reading's.
	os.WriteFile(filepath.Join(filepath.Dir(task), "schedstat"), []byte("999999999999 999999999 999999\n"), 0o644)
	got, st := replay(t, New(probe.Target{PID: pid}, probe.Options{}), []string{roots[0], roots[1], zombie, zombie}, recordedTimes(t, "proc-sleeper"))
	f := got.(Facts)
	if f.Samples != 2 || f.OtherPct != 0 || st[""].Reason == "" {
		t.Errorf("zombie counted: %+v %+v", f, st[""])
	}
}

func TestParseThreadDump(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(probetest.Fixture(t, "proc-jvm-contend"), "jcmd_thread_print.txt"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := parseThreadDump(b)
	if err != nil {
		t.Fatal(err)
	}
	if d.Blocked != 15 || d.TopWaiters != 15 || d.TopMonitor != "<0x00000000ff6e2348> (a java.lang.Object)" ||
		!strings.HasPrefix(d.BlockedAt, "Contend.lambda$main$0(Contend.java:") || d.Holder != "worker-4" {
		t.Errorf("%+v", d)
	}
	b, _ = os.ReadFile(filepath.Join(probetest.Fixture(t, "proc-jvm-idle"), "jcmd_thread_print.txt"))
	if d, err := parseThreadDump(b); err != nil || d.Blocked != 0 || d.Threads < 10 || d.TopMonitor != "" {
		t.Errorf("idle JVM: %+v %v", d, err)
	}
	for _, in := range []string{"", "12345:\ncom.sun.tools.attach.AttachNotSupportedException: Unable to open socket file\n",
		"Full thread dump\n\"unterminated #1\n", "Full thread dump X\n"} {
		if _, err := parseThreadDump([]byte(in)); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

func FuzzParseThreadDump(f *testing.F) {
	b, _ := os.ReadFile(filepath.Join(probetest.Fixture(f, "proc-jvm-contend"), "jcmd_thread_print.txt"))
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) { parseThreadDump(b) })
}

// With --jcmd the JVM fixture gets a thread dump after the window.
func TestJcmdEvidence(t *testing.T) {
	roots, pid := fixtureRoots(t, "proc-jvm-contend")
	dump, _ := os.ReadFile(filepath.Join(probetest.Fixture(t, "proc-jvm-contend"), "jcmd_thread_print.txt"))
	var calls []string
	run := func(ctx context.Context, name string, args ...string) ([]byte, error) {
		calls = append(calls, name+" "+strings.Join(args, " "))
		return dump, nil
	}
	r := New(probe.Target{PID: pid}, probe.Options{JCMD: true})
	t0 := time.Now()
	for i, root := range roots {
		r.Read(t.Context(), probe.Host{Root: root, Now: t0.Add(time.Duration(i) * step), Run: run})
		if len(calls) > 0 {
			t.Fatal("jcmd ran during the window")
		}
	}
	got, st := probe.Complete(context.Background(), r, probe.Host{})
	f := got.(Facts)
	if len(calls) != 1 || calls[0] != "jcmd "+strconv.Itoa(pid)+" Thread.print" {
		t.Fatalf("calls %v", calls)
	}
	if f.JVMBlockedThreads != 15 || f.JVMTopMonitorWaiters != 15 || f.JVMMonitorHolder != "worker-4" || st["jvm_blocked_threads"].State != "" {
		t.Errorf("facts %+v status %+v", f, st["jvm_blocked_threads"])
	}
	// Without --jcmd: unknown with the fix, and jcmd is never run.
	calls = nil
	r = New(probe.Target{PID: pid}, probe.Options{})
	for i, root := range roots[:3] {
		r.Read(t.Context(), probe.Host{Root: root, Now: t0.Add(time.Duration(i) * step), Run: run})
	}
	_, st = probe.Complete(context.Background(), r, probe.Host{})
	if len(calls) != 0 || st["jvm_blocked_threads"].State != probe.Unavailable || !strings.Contains(st["jvm_blocked_threads"].Fix, "--jcmd") {
		t.Errorf("calls %v status %+v", calls, st["jvm_blocked_threads"])
	}
	// A failing attach is unknown with jcmd's first line as the reason.
	fail := func(ctx context.Context, name string, args ...string) ([]byte, error) {
		return []byte("12345:\ncom.sun.tools.attach.AttachNotSupportedException: Unable to open socket file\n"), errors.New("exit status 1")
	}
	r = New(probe.Target{PID: pid}, probe.Options{JCMD: true})
	for i, root := range roots[:3] {
		r.Read(t.Context(), probe.Host{Root: root, Now: t0.Add(time.Duration(i) * step), Run: fail})
	}
	if _, st = probe.Complete(context.Background(), r, probe.Host{}); st["jvm_blocked_threads"].State != probe.Unavailable {
		t.Errorf("failed attach: %+v", st["jvm_blocked_threads"])
	}
	// Not a JVM: no jcmd.
	roots, pid = fixtureRoots(t, "proc-mutex")
	calls = nil
	r = New(probe.Target{PID: pid}, probe.Options{JCMD: true})
	r.Read(t.Context(), probe.Host{Root: roots[0], Now: t0, Run: run})
	if _, st = probe.Complete(context.Background(), r, probe.Host{}); len(calls) != 0 || !strings.Contains(st["jvm_blocked_threads"].Reason, "not a JVM") {
		t.Errorf("not a JVM: calls %v status %+v", calls, st["jvm_blocked_threads"])
	}
}

// A blocked thread whose schedstat has not moved since its last sample
// has not run since: the sampler reuses that sample instead of reading its
// stat and syscall again (wchan only when a display sample needs it and
// was never read in this wait). Here the second reading lacks the blocked
// threads' stat and syscall files: it gives the same facts as the first
// reading twice.
// A thread whose schedstat moved is read again (and, its files gone here,
// dropped).
func TestBlockedThreadNotRunSinceIsReused(t *testing.T) {
	roots, pid := fixtureRoots(t, "proc-mutex")
	bare := filepath.Join(t.TempDir(), "bare")
	probetest.CopyTree(t, roots[0], bare)
	tasks, _ := filepath.Glob(filepath.Join(bare, "proc", strconv.Itoa(pid), "task", "*"))
	var blockedDirs []string
	for _, dir := range tasks {
		b, _ := os.ReadFile(filepath.Join(dir, "stat"))
		if ts, err := parseTaskStat(b); err != nil || ts.State != 'S' && ts.State != 'D' {
			continue // running threads are read again
		}
		blockedDirs = append(blockedDirs, dir)
		for _, f := range []string{"stat", "syscall"} {
			os.Remove(filepath.Join(dir, f))
		}
	}
	times := []time.Duration{0, 500 * time.Millisecond}
	run := func(second string) (Facts, *reader) {
		r := New(probe.Target{PID: pid}, probe.Options{}).(*reader)
		got, _ := probetest.ReplayAt(r, []string{roots[0], second}, times)
		return got.(Facts), r
	}
	want, r0 := run(roots[0])
	got, r := run(bare)
	blocked := len(blockedDirs)
	if blocked < 10 || r.reused != blocked || r0.reused != blocked {
		t.Fatalf("reused %d and %d thread-samples, want the %d blocked threads of the first reading", r.reused, r0.reused, blocked)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("reused samples changed the facts:\n got %+v\nwant %+v", got, want)
	}

	// One thread ran since: it is read again; without its files it is gone.
	os.WriteFile(filepath.Join(blockedDirs[0], "schedstat"), []byte("999999999999 999999999 999999\n"), 0o644)
	got, r = run(bare)
	if r.reused != blocked-1 || got.ThreadSamples != want.ThreadSamples-1 {
		t.Errorf("a thread that ran: reused %d (want %d), %d thread-samples (want %d)", r.reused, blocked-1, got.ThreadSamples, want.ThreadSamples-1)
	}
}
