// Package syscalls summarises where a process's syscall time goes, from
// strace -c. It is opt-in: with --strace it attaches the installed strace
// (`strace -c -f -w -p PID`, stopped with SIGINT by coreutils timeout) right
// AFTER the sampling window, for as long as the window lasted; with
// --strace-file it parses a summary a person already has.
//
// strace stops the target at every syscall (ptrace): a syscall-heavy program
// ran 55-70× slower under it on the reference VM, and a traced process's
// threads sit in ptrace stops and run queues, so a /proc wait profile taken
// at the same time describes strace, not the program (a pthread lock convoy
// sampled while traced looked CPU-bound). That is why the other probes
// sample the untraced window first and strace confirms afterwards.
package syscalls

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

// maxListed bounds the syscalls listed.
const maxListed = 20

// NotRequested is the reason given when neither option was used.
const NotRequested = "not requested: use --strace (ptrace slows the target) or --strace-file"

// Syscall is one row of the summary.
type Syscall struct {
	Name         string  `expr:"name" json:"name" doc:"syscall name"`
	Calls        int64   `expr:"calls" json:"calls" doc:"completed calls"`
	Errors       int64   `expr:"errors" json:"errors" doc:"calls that returned an error"`
	Seconds      float64 `expr:"seconds" json:"seconds" doc:"time in the call, summed over threads (wall-clock latency with -w, else system CPU time)"`
	UsecsPerCall float64 `expr:"usecs_per_call" json:"usecs_per_call" doc:"average time per call, microseconds"`
	TimePct      float64 `expr:"time_pct" json:"time_pct" doc:"share of the summed syscall time, 0-100"`
}

// Facts is the strace -c summary.
type Facts struct {
	Source         string    `expr:"source" json:"source" doc:"strace (attached with --strace) or file (--strace-file)"`
	WallClock      bool      `expr:"wall_clock" json:"wall_clock" doc:"seconds are wall-clock time blocked in the call (strace -w); false for files, whose mode is unknown"`
	TracedS        float64   `expr:"traced_s" json:"traced_s" doc:"seconds strace was attached, right after the sampling window (0 for a file)"`
	TotalCalls     int64     `expr:"total_calls" json:"total_calls" doc:"completed syscalls (calls still blocked at detach are not counted)"`
	TotalErrors    int64     `expr:"total_errors" json:"total_errors" doc:"syscalls that returned an error"`
	TotalSeconds   float64   `expr:"total_seconds" json:"total_seconds" doc:"time summed over all syscalls and threads"`
	CallsPerS      float64   `expr:"calls_per_s" json:"calls_per_s" doc:"completed syscalls per traced second (0 for a file)"`
	Top            string    `expr:"top" json:"top" doc:"the syscall with the most time"`
	TopPct         float64   `expr:"top_pct" json:"top_pct" doc:"the top syscall's share of the time, 0-100"`
	FutexTimePct   float64   `expr:"futex_time_pct" json:"futex_time_pct" doc:"share of syscall time in futex (locks, condition waits, parked threads)"`
	DiskTimePct    float64   `expr:"disk_time_pct" json:"disk_time_pct" doc:"share in fsync/fdatasync/pread/pwrite/AIO/io_uring (storage)"`
	NetworkTimePct float64   `expr:"network_time_pct" json:"network_time_pct" doc:"share in connect/accept/send*/recv* (sockets)"`
	PollTimePct    float64   `expr:"poll_time_pct" json:"poll_time_pct" doc:"share in epoll/poll/select (waiting for events)"`
	SleepTimePct   float64   `expr:"sleep_time_pct" json:"sleep_time_pct" doc:"share in nanosleep/pause/wait4 (sleeping)"`
	Syscalls       []Syscall `expr:"syscalls" json:"syscalls" doc:"syscalls by time, most first (at most 20)"`
}

var category = map[string]string{
	"futex": "futex", "futex_waitv": "futex",
	"fsync": "disk", "fdatasync": "disk", "sync_file_range": "disk", "pread64": "disk", "pwrite64": "disk",
	"preadv": "disk", "pwritev": "disk", "preadv2": "disk", "pwritev2": "disk", "io_getevents": "disk",
	"io_pgetevents": "disk", "io_submit": "disk", "io_uring_enter": "disk", "msync": "disk", "sync": "disk", "syncfs": "disk",
	"connect": "network", "accept": "network", "accept4": "network", "recvfrom": "network", "recvmsg": "network",
	"recvmmsg": "network", "sendto": "network", "sendmsg": "network", "sendmmsg": "network",
	"epoll_wait": "poll", "epoll_pwait": "poll", "epoll_pwait2": "poll", "poll": "poll", "ppoll": "poll",
	"select": "poll", "pselect6": "poll",
	"nanosleep": "sleep", "clock_nanosleep": "sleep", "pause": "sleep", "wait4": "sleep", "waitid": "sleep",
	"rt_sigtimedwait": "sleep", "rt_sigsuspend": "sleep",
}

type reader struct {
	pid  int
	pids []int // every process of the target: strace follows them all
	opts probe.Options

	started     bool
	first, last time.Time
	run         probe.Runner
	fileErr     error
	file        summary
	fileOK      bool
	outputs     []chunkResult // strace's, after the window
	traced      bool          // AfterWindow ran strace
}

// chunkResult is one strace run's output.
type chunkResult struct {
	out []byte
	err error
	dur time.Duration
}

// Limits of the strace run that follows the window.
const (
	minTrace = time.Second
	maxTrace = 10 * time.Second
)

// New returns a reader; it does nothing unless o.Strace or o.StraceFile is set.
func New(t probe.Target, o probe.Options) probe.Reader {
	return &reader{pid: t.PID, pids: t.Processes(), opts: o}
}

func (r *reader) Read(ctx context.Context, h probe.Host) {
	if !r.started {
		r.started, r.first, r.run = true, h.Now, h.Run
		if r.opts.StraceFile != "" {
			b, err := probe.ReadFile(r.opts.StraceFile)
			if err == nil {
				r.file, err = parseSummary(b)
			}
			r.fileErr, r.fileOK = err, err == nil
		}
	}
	r.last = h.Now
}

// traceDuration is how long strace runs: as long as the window was.
func (r *reader) traceDuration() time.Duration {
	return min(max(r.last.Sub(r.first), minTrace), maxTrace)
}

// AfterWindow attaches strace for as long as the window was (--strace):
// never during the window, whose samples it would slow down.
func (r *reader) AfterWindow(ctx context.Context, _ probe.Host) {
	if r.opts.Strace && r.opts.StraceFile == "" && r.pid > 0 && r.started && r.run != nil {
		r.outputs, r.traced = []chunkResult{r.trace(ctx, r.traceDuration())}, true
	}
}

// trace attaches strace for d and returns its output.
func (r *reader) trace(ctx context.Context, d time.Duration) chunkResult {
	ctx, cancel := context.WithTimeout(ctx, d+5*time.Second)
	defer cancel()
	start := time.Now()
	secs := strconv.FormatFloat(d.Seconds(), 'f', 3, 64)
	args := []string{"-s", "INT", "-k", "3", secs, "strace", "-c", "-f", "-w"}
	for _, pid := range r.pids {
		args = append(args, "-p", strconv.Itoa(pid))
	}
	out, err := r.run(ctx, "timeout", args...)
	return chunkResult{out: out, err: err, dur: min(time.Since(start), d)}
}

// fatal recognises strace failures that have a known cause.
func fatal(out []byte, err error) error {
	s := string(out)
	switch {
	case strings.Contains(s, "failed to run command"), errors.Is(err, fs.ErrNotExist):
		return errNotInstalled
	case err != nil && strings.Contains(err.Error(), "executable file not found"): // exec.ErrNotFound: timeout itself is missing (os/exec stays in probe/exec_linux.go)
		return errNoTimeout
	case strings.Contains(s, "Operation not permitted"):
		return errPtrace
	case strings.Contains(s, "No such process"):
		return probe.ErrNoProcess
	}
	if err != nil && len(out) == 0 {
		return err
	}
	return nil
}

var (
	errNotInstalled = errors.New("strace is not installed")
	errPtrace       = errors.New("ptrace attach not permitted")
	errNoTimeout    = errors.New("timeout (coreutils) is not installed")
)

func (r *reader) Finish() (any, probe.Statuses) {
	st := probe.Statuses{}
	switch {
	case r.opts.StraceFile != "":
		if !r.fileOK {
			if errors.Is(r.fileErr, errNoSummary) || errors.Is(r.fileErr, probe.ErrFormat) {
				st[""] = probe.Status{State: probe.Error, Reason: fmt.Sprintf("--strace-file %s: %v", r.opts.StraceFile, r.fileErr),
					Fix: "give the output of strace -c (-f -w) -p PID"}
			} else {
				st[""] = probe.StatusOf(r.fileErr, "--strace-file "+r.opts.StraceFile)
			}
			return Facts{}, st
		}
		st[""] = probe.Status{State: probe.OK}
		return build(r.file, "file", false, 0), st
	case !r.opts.Strace:
		st[""] = probe.Status{State: probe.Unavailable, Reason: NotRequested}
		return Facts{}, st
	case r.pid <= 0:
		st[""] = probe.Status{State: probe.Unavailable, Reason: "--strace needs a target process", Fix: "pass --pid"}
		return Facts{}, st
	case !r.started || r.run == nil:
		st[""] = probe.Status{State: probe.Unavailable, Reason: "programs cannot be run here, so strace cannot attach"}
		return Facts{}, st
	case !r.traced:
		st[""] = probe.Status{State: probe.Unavailable, Reason: probe.CutByTimeout, Fix: "raise --timeout: strace runs after the window, for as long again"}
		return Facts{}, st
	}
	outputs := r.outputs
	var merged summary
	var traced time.Duration
	var lastErr error
	good := 0
	byName := map[string]*row{}
	for _, c := range outputs {
		if err := fatal(c.out, c.err); err != nil {
			lastErr = err
			continue
		}
		s, err := parseSummary(c.out)
		if err != nil && !(errors.Is(err, errNoSummary) && s.Attached) {
			lastErr = fmt.Errorf("%w (strace said: %s)", err, probe.Truncate(strings.TrimSpace(string(c.out))))
			continue
		}
		good++
		traced += c.dur
		for _, rw := range s.Rows {
			m := byName[rw.Name]
			if m == nil {
				m = &row{Name: rw.Name}
				byName[rw.Name] = m
			}
			m.Calls += rw.Calls
			m.Errors += rw.Errors
			m.Seconds += rw.Seconds
		}
	}
	if good == 0 {
		switch {
		case errors.Is(lastErr, errNotInstalled):
			st[""] = probe.Status{State: probe.Unavailable, Reason: "strace is not installed", Fix: "apt-get install strace"}
		case errors.Is(lastErr, errNoTimeout):
			st[""] = probe.Status{State: probe.Unavailable, Reason: "timeout (coreutils) is not installed: strace runs under it so that it always detaches",
				Fix: "apt-get install coreutils"}
		case errors.Is(lastErr, errPtrace):
			st[""] = probe.Status{State: probe.Unavailable, Reason: "strace could not attach: ptrace not permitted (or another tracer is attached)",
				Fix: probe.PtraceFix + "; detach other tracers"}
		case errors.Is(lastErr, probe.ErrNoProcess):
			st[""] = probe.Status{State: probe.Unavailable, Reason: fmt.Sprintf("process %d ended", r.pid)}
		case lastErr == nil:
			st[""] = probe.Status{State: probe.Error, Reason: "strace produced no output"}
		default:
			st[""] = probe.StatusOf(lastErr, "strace")
		}
		return Facts{}, st
	}
	for _, m := range byName {
		merged.Rows = append(merged.Rows, *m)
	}
	st[""] = probe.Status{State: probe.OK}

	return build(merged, "strace", true, traced.Seconds()), st
}

func build(s summary, source string, wall bool, traced float64) Facts {
	f := Facts{Source: source, WallClock: wall, TracedS: probe.Round2(traced)}
	cat := map[string]float64{}
	for _, rw := range s.Rows {
		f.TotalCalls += rw.Calls
		f.TotalErrors += rw.Errors
		f.TotalSeconds += rw.Seconds
		cat[category[rw.Name]] += rw.Seconds
	}
	rows := append([]row(nil), s.Rows...)
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Seconds != rows[j].Seconds {
			return rows[i].Seconds > rows[j].Seconds
		}
		if rows[i].Calls != rows[j].Calls {
			return rows[i].Calls > rows[j].Calls
		}
		return rows[i].Name < rows[j].Name
	})
	pct := func(x float64) float64 {
		if f.TotalSeconds <= 0 {
			return 0
		}
		return probe.Round2(x / f.TotalSeconds * 100)
	}
	f.Syscalls = []Syscall{}
	for i, rw := range rows {
		if i == maxListed {
			break
		}
		sc := Syscall{Name: probe.Sanitize(rw.Name), Calls: rw.Calls, Errors: rw.Errors, Seconds: rw.Seconds, TimePct: pct(rw.Seconds)}
		if rw.Calls > 0 {
			sc.UsecsPerCall = probe.Round2(rw.Seconds / float64(rw.Calls) * 1e6)
		}
		f.Syscalls = append(f.Syscalls, sc)
	}
	if len(rows) > 0 {
		f.Top, f.TopPct = probe.Sanitize(rows[0].Name), pct(rows[0].Seconds)
	}
	f.FutexTimePct = pct(cat["futex"])
	f.DiskTimePct = pct(cat["disk"])
	f.NetworkTimePct = pct(cat["network"])
	f.PollTimePct = pct(cat["poll"])
	f.SleepTimePct = pct(cat["sleep"])
	f.TotalSeconds = round6(f.TotalSeconds)
	if traced > 0 {
		f.CallsPerS = probe.Round2(float64(f.TotalCalls) / traced)
	}
	return f
}

func round6(x float64) float64 { return float64(int64(x*1e6+0.5)) / 1e6 }
