package syscalls

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

func straceFile(t testing.TB, name string) string {
	return filepath.Join(probetest.RepoRoot(t), "testdata", "strace", name)
}

func TestParseSummaryFiles(t *testing.T) {
	tests := []struct {
		file          string
		rows          int
		top           string
		calls, errors int64
		attached      bool
	}{
		{"seed_ls.txt", 3, "getdents64", 16, 0, false},
		{"pthread_mutex_c.txt", 1, "futex", 26521, 7358, true},
		{"pthread_mutex_cw.txt", 1, "futex", 26686, 7435, true},
		{"java_monitor_cw.txt", 7, "futex", 8206, 138, false},
		{"go_mutex_cw.txt", 7, "futex", 23015, 7761, false},
		{"fio_randread_cw.txt", 1, "pread64", 19451, 0, true},
		{"fio_randread_U.txt", 3, "pread64", 12074, 0, true},
		{"mutex8_live_cw.txt", 1, "futex", 2347, 394, true},
		{"odirect_live_cw.txt", 2, "pwrite64", 14720, 0, true},
		{"slowpeer_live_cw.txt", 2, "read", 20, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			b, err := os.ReadFile(straceFile(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			s, err := parseSummary(b)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if len(s.Rows) != tc.rows || s.Attached != tc.attached {
				t.Fatalf("rows=%d attached=%v, want %d %v", len(s.Rows), s.Attached, tc.rows, tc.attached)
			}
			f := build(s, "file", false, 0)
			if f.Top != tc.top || f.TotalCalls != tc.calls || f.TotalErrors != tc.errors {
				t.Errorf("top=%s calls=%d errors=%d, want %s %d %d", f.Top, f.TotalCalls, f.TotalErrors, tc.top, tc.calls, tc.errors)
			}
			if s.HasTotal && s.Total.Calls != f.TotalCalls {
				t.Errorf("total row says %d calls, rows sum to %d", s.Total.Calls, f.TotalCalls)
			}
		})
	}
}

func TestParseSummaryBad(t *testing.T) {
	tests := map[string]string{
		"empty":        "",
		"no table":     "hello\nworld\n",
		"attach only":  "strace: Process 1 attached\nstrace: Process 1 detached\n",
		"denied":       "strace: attach: ptrace(PTRACE_SEIZE, 1234): Operation not permitted\n",
		"header only":  "% time     seconds  usecs/call     calls    errors syscall\n------ ---\n",
		"bad number":   "% time seconds usecs/call calls errors syscall\n 1.0 0.1x 3 4 5 futex\n",
		"too many":     "% time seconds usecs/call calls errors syscall\n 1.0 0.1 3 4 5 6 7 futex\n",
		"too few":      "% time seconds usecs/call calls errors syscall\n 1.0 futex\n",
		"negative":     "% time seconds usecs/call calls errors syscall\n 1.0 0.1 3 -4 5 futex\n",
		"nan":          "% time seconds usecs/call calls errors syscall\n 1.0 NaN 3 4 5 futex\n",
		"huge":         "% time seconds usecs/call calls errors syscall\n 1.0 1e300 3 4 5 futex\n",
		"overflow int": "% time seconds usecs/call calls errors syscall\n 1.0 0.1 3 99999999999999999999 5 futex\n",
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := parseSummary([]byte(in)); err == nil {
				t.Fatal("no error")
			}
		})
	}
	for _, f := range []string{"garbled.txt", "truncated.txt", "attach_denied.txt", "all_blocked.txt"} {
		b, err := os.ReadFile(straceFile(t, f))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parseSummary(b); err == nil {
			t.Errorf("%s: no error", f)
		}
	}
}

func TestAllBlockedIsNoSummaryButAttached(t *testing.T) {
	b, _ := os.ReadFile(straceFile(t, "all_blocked.txt"))
	s, err := parseSummary(b)
	if !errors.Is(err, errNoSummary) || !s.Attached {
		t.Fatalf("err=%v attached=%v", err, s.Attached)
	}
}

func FuzzParseSummary(f *testing.F) {
	ents, _ := os.ReadDir(straceFile(f, ""))
	for _, e := range ents {
		b, _ := os.ReadFile(straceFile(f, e.Name()))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseSummary(b)
		if err != nil {
			return
		}
		ff := build(s, "file", false, 0)
		for _, v := range []float64{ff.TopPct, ff.FutexTimePct, ff.DiskTimePct, ff.TotalSeconds} {
			if v != v || v < 0 {
				t.Fatalf("bad value %v", v)
			}
		}
	})
}

func TestNotRequested(t *testing.T) {
	r := New(probe.Target{PID: 1}, probe.Options{})
	r.Read(t.Context(), probe.Host{Root: "/", Now: time.Now()})
	_, st := probe.Complete(context.Background(), r, probe.Host{})
	if st[""].State != probe.Unavailable || st[""].Reason != NotRequested {
		t.Fatalf("status %+v", st[""])
	}
}

func TestStraceFile(t *testing.T) {
	r := New(probe.Target{PID: 1}, probe.Options{StraceFile: straceFile(t, "java_monitor_cw.txt")})
	r.Read(t.Context(), probe.Host{Root: "/"})
	got, st := probe.Complete(context.Background(), r, probe.Host{})
	if st[""].State != probe.OK {
		t.Fatalf("status %+v", st[""])
	}
	probetest.Golden(t, straceFile(t, "java_monitor_cw.golden.json"), got)

	r = New(probe.Target{PID: 1}, probe.Options{StraceFile: straceFile(t, "garbled.txt")})
	r.Read(t.Context(), probe.Host{Root: "/"})
	if _, st := probe.Complete(context.Background(), r, probe.Host{}); st[""].State != probe.Error {
		t.Fatalf("garbled file: status %+v", st[""])
	}
	r = New(probe.Target{PID: 1}, probe.Options{StraceFile: straceFile(t, "no-such-file")})
	r.Read(t.Context(), probe.Host{Root: "/"})
	if _, st := probe.Complete(context.Background(), r, probe.Host{}); st[""].State != probe.Unavailable {
		t.Fatalf("missing file: status %+v", st[""])
	}
}

// fakeRun replays recorded strace outputs, one per chunk.
func fakeRun(t *testing.T, files ...string) (probe.Runner, *[][]string) {
	var calls [][]string
	i := 0
	return func(ctx context.Context, name string, args ...string) ([]byte, error) {
		calls = append(calls, append([]string{name}, args...))
		f := files[min(i, len(files)-1)]
		i++
		b, err := os.ReadFile(straceFile(t, f))
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
		return b, errors.New("timeout: exit status 124")
	}, &calls
}

// strace runs after the window, for as long as the window lasted.
func TestStraceAfterWindow(t *testing.T) {
	run, calls := fakeRun(t, "pthread_mutex_cw.txt")
	r := New(probe.Target{PID: 4242}, probe.Options{Strace: true})
	t0 := time.Now()
	r.Read(t.Context(), probe.Host{Root: "/", Now: t0, Run: run})
	r.Read(t.Context(), probe.Host{Root: "/", Now: t0.Add(time.Second), Run: run})
	if len(*calls) != 0 {
		t.Fatal("strace attached during the window")
	}
	r.Read(t.Context(), probe.Host{Root: "/", Now: t0.Add(2500 * time.Millisecond), Run: run})
	got, st := probe.Complete(context.Background(), r, probe.Host{})
	if st[""].State != probe.OK {
		t.Fatalf("status %+v", st[""])
	}
	f := got.(Facts)
	if len(*calls) != 1 {
		t.Fatalf("%d strace runs, want 1", len(*calls))
	}
	want := "timeout -s INT -k 3 2.500 strace -c -f -w -p 4242"
	if c := strings.Join((*calls)[0], " "); c != want {
		t.Errorf("command %q, want %q", c, want)
	}
	if f.Source != "strace" || !f.WallClock || f.Top != "futex" || f.FutexTimePct != 100 || f.TotalCalls != 26686 || f.TracedS <= 0 {
		t.Errorf("facts %+v", f)
	}
	// A window too short or too long is clamped.
	for _, tc := range []struct {
		window time.Duration
		want   string
	}{{0, "1.000"}, {time.Hour, "10.000"}} {
		run, calls := fakeRun(t, "all_blocked.txt")
		r := New(probe.Target{PID: 4242}, probe.Options{Strace: true})
		r.Read(t.Context(), probe.Host{Now: t0, Run: run})
		r.Read(t.Context(), probe.Host{Now: t0.Add(tc.window), Run: run})
		got, st := probe.Complete(context.Background(), r, probe.Host{})
		if (*calls)[0][5] != tc.want {
			t.Errorf("window %v: strace for %s, want %s", tc.window, (*calls)[0][5], tc.want)
		}
		// Every thread blocked the whole time: no calls completed, still ok.
		if st[""].State != probe.OK || got.(Facts).TotalCalls != 0 {
			t.Errorf("all blocked: %+v %+v", st[""], got)
		}
	}
}

func TestStraceFailures(t *testing.T) {
	tests := []struct {
		out    string
		reason string
	}{
		{"timeout: failed to run command 'strace': No such file or directory\n", "not installed"},
		{"strace: attach: ptrace(PTRACE_SEIZE, 4242): Operation not permitted\n", "not permitted"},
		{"strace: attach: ptrace(PTRACE_SEIZE, 4242): No such process\n", "ended"},
	}
	for _, tc := range tests {
		run := func(ctx context.Context, name string, args ...string) ([]byte, error) {
			return []byte(tc.out), errors.New("exit status 1")
		}
		r := New(probe.Target{PID: 4242}, probe.Options{Strace: true})
		r.Read(t.Context(), probe.Host{Root: "/", Run: run})
		_, st := probe.Complete(context.Background(), r, probe.Host{})
		if st[""].State != probe.Unavailable || !strings.Contains(st[""].Reason, tc.reason) {
			t.Errorf("%q: status %+v", tc.out, st[""])
		}
	}
	// No runner: cannot attach.
	r := New(probe.Target{PID: 4242}, probe.Options{Strace: true})
	r.Read(t.Context(), probe.Host{Root: "/"})
	if _, st := probe.Complete(context.Background(), r, probe.Host{}); st[""].State != probe.Unavailable {
		t.Errorf("no runner: %+v", st[""])
	}
}

// TestLiveStrace attaches the real strace to a mutex-contention workload.
func TestLiveStrace(t *testing.T) {
	probetest.Live(t)
	probetest.Need(t, "strace", "timeout")
	bin := probetest.BuildC(t, "mutex")
	cmd := probetest.Start(t, bin, "8")
	time.Sleep(300 * time.Millisecond)
	r := New(probe.Target{PID: cmd.Process.Pid}, probe.Options{Strace: true})
	r.Read(t.Context(), probe.Host{Root: "/", Now: time.Now(), Run: probe.ExecRunner})
	time.Sleep(1500 * time.Millisecond)
	r.Read(t.Context(), probe.Host{Root: "/", Now: time.Now(), Run: probe.ExecRunner})
	got, st := probe.Complete(context.Background(), r, probe.Host{})
	if st[""].State != probe.OK {
		t.Fatalf("status %+v", st[""])
	}
	f := got.(Facts)
	t.Logf("strace: top=%s %.1f%% calls=%d traced=%.2fs", f.Top, f.TopPct, f.TotalCalls, f.TracedS)
	if f.Top != "futex" || f.FutexTimePct < 80 || f.TracedS < 1 {
		t.Errorf("facts %+v", f)
	}
}

// A run whose deadline came before the after-window phase never attaches
// strace, and says so.
func TestStraceCutByTimeout(t *testing.T) {
	run, calls := fakeRun(t, "pthread_mutex_cw.txt")
	r := New(probe.Target{PID: 4242}, probe.Options{Strace: true})
	r.Read(t.Context(), probe.Host{Root: "/", Now: time.Now(), Run: run})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, st := probe.Complete(ctx, r, probe.Host{})
	if len(*calls) != 0 || st[""].State != probe.Unavailable || st[""].Reason != probe.CutByTimeout {
		t.Errorf("%d strace runs, status %+v", len(*calls), st[""])
	}
}
