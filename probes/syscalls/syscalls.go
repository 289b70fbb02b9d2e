// Package syscalls summarises where a process's syscall time goes, from
// strace -c. It is opt-in: with --strace it attaches the installed strace
// (`strace -c -f -w -p PID`, stopped with SIGINT by coreutils timeout) for the
// window in back-to-back 1 s chunks; with --strace-file it parses a summary
// a person already has. strace stops the target at every syscall (ptrace):
// on this 2-vCPU VM a syscall-heavy program ran ≈500× slower under it, so it
// is a time-boxed confirmation step, never the default.
package syscalls

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

// chunk is how long one strace attach lasts; chunks run back to back until
// the window ends, so the trace overruns the window by at most a chunk.
const chunk = time.Second

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
	// Source is "strace" (attached for the window) or "file" (--strace-file).
	Source string `expr:"source" json:"source" doc:"strace (attached with --strace) or file (--strace-file)"`
	// WallClock says the seconds are wall-clock latency (strace -w), not CPU time.
	WallClock bool `expr:"wall_clock" json:"wall_clock" doc:"seconds are wall-clock time blocked in the call (strace -w); false for files, whose mode is unknown"`
	// TracedS is how long strace was attached (0 for files).
	TracedS float64 `expr:"traced_s" json:"traced_s" doc:"seconds strace was attached (0 for a file)"`
	// TotalCalls is all completed calls.
	TotalCalls int64 `expr:"total_calls" json:"total_calls" doc:"completed syscalls (calls still blocked at detach are not counted)"`
	// TotalErrors is all calls that failed.
	TotalErrors int64 `expr:"total_errors" json:"total_errors" doc:"syscalls that returned an error"`
	// TotalSeconds is the summed time of all calls.
	TotalSeconds float64 `expr:"total_seconds" json:"total_seconds" doc:"time summed over all syscalls and threads"`
	// CallsPerS is completed calls per traced second (0 for files).
	CallsPerS float64 `expr:"calls_per_s" json:"calls_per_s" doc:"completed syscalls per traced second (0 for a file)"`
	// Top is the syscall with the most time.
	Top string `expr:"top" json:"top" doc:"the syscall with the most time"`
	// TopPct is its share of the time.
	TopPct         float64 `expr:"top_pct" json:"top_pct" doc:"the top syscall's share of the time, 0-100"`
	FutexTimePct   float64 `expr:"futex_time_pct" json:"futex_time_pct" doc:"share of syscall time in futex (locks, condition waits, parked threads)"`
	DiskTimePct    float64 `expr:"disk_time_pct" json:"disk_time_pct" doc:"share in fsync/fdatasync/pread/pwrite/AIO/io_uring (storage)"`
	NetworkTimePct float64 `expr:"network_time_pct" json:"network_time_pct" doc:"share in connect/accept/send*/recv* (sockets)"`
	PollTimePct    float64 `expr:"poll_time_pct" json:"poll_time_pct" doc:"share in epoll/poll/select (waiting for events)"`
	SleepTimePct   float64 `expr:"sleep_time_pct" json:"sleep_time_pct" doc:"share in nanosleep/pause/wait4 (sleeping)"`
	// Syscalls lists the syscalls by time (at most 20).
	Syscalls []Syscall `expr:"syscalls" json:"syscalls" doc:"syscalls by time, most first (at most 20)"`
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
	opts probe.Options

	mu      sync.Mutex
	started bool
	stop    bool
	done    chan struct{}
	outputs []chunkResult
	fileErr error
	file    summary
	fileOK  bool
}

type chunkResult struct {
	out []byte
	err error
	dur time.Duration
}

// New returns a reader; it does nothing unless o.Strace or o.StraceFile is set.
func New(t probe.Target, o probe.Options) probe.Reader {
	return &reader{pid: t.PID, opts: o}
}

func (r *reader) Read(h probe.Host) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return
	}
	r.started = true
	if r.opts.StraceFile != "" {
		b, err := readBounded(r.opts.StraceFile)
		if err == nil {
			r.file, err = parseSummary(b)
		}
		r.fileErr, r.fileOK = err, err == nil
		return
	}
	if !r.opts.Strace || r.pid <= 0 || h.Run == nil {
		return
	}
	r.done = make(chan struct{})
	go r.trace(h.Run)
}

// trace runs strace chunks back to back until Finish asks it to stop.
func (r *reader) trace(run probe.Runner) {
	defer close(r.done)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), chunk+5*time.Second)
		start := time.Now()
		secs := strconv.FormatFloat(chunk.Seconds(), 'f', 3, 64)
		out, err := run(ctx, "timeout", "-s", "INT", "-k", "3", secs,
			"strace", "-c", "-f", "-w", "-p", strconv.Itoa(r.pid))
		cancel()
		res := chunkResult{out: out, err: err, dur: time.Since(start)}
		r.mu.Lock()
		r.outputs = append(r.outputs, res)
		stop := r.stop
		r.mu.Unlock()
		if stop || fatal(out, err) != nil {
			return
		}
	}
}

// fatal says whether a chunk's failure means no later chunk can work.
func fatal(out []byte, err error) error {
	s := string(out)
	switch {
	case strings.Contains(s, "failed to run command"), errors.Is(err, fs.ErrNotExist):
		return errNotInstalled
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
)

func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, probe.MaxFileBytes+1)
	n, err := f.Read(b)
	total := n
	for err == nil && total < len(b) {
		n, err = f.Read(b[total:])
		total += n
	}
	if total > probe.MaxFileBytes {
		return nil, fmt.Errorf("%s: %w", path, probe.ErrTooLarge)
	}
	return b[:total], nil
}

func (r *reader) Finish() (any, probe.Statuses) {
	r.mu.Lock()
	r.stop = true
	done := r.done
	r.mu.Unlock()
	if done != nil {
		<-done
	}
	st := probe.Statuses{}
	switch {
	case r.opts.StraceFile != "":
		if !r.fileOK {
			if errors.Is(r.fileErr, errNoSummary) || errors.Is(r.fileErr, errFormat) {
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
	case done == nil:
		st[""] = probe.Status{State: probe.Unavailable, Reason: "programs cannot be run here, so strace cannot attach"}
		return Facts{}, st
	}
	var merged summary
	var traced time.Duration
	var lastErr error
	good := 0
	byName := map[string]*row{}
	for _, c := range r.outputs {
		if err := fatal(c.out, c.err); err != nil {
			lastErr = err
			continue
		}
		s, err := parseSummary(c.out)
		if err != nil && !(errors.Is(err, errNoSummary) && s.Attached) {
			lastErr = fmt.Errorf("%w (strace said: %s)", err, trunc(strings.TrimSpace(string(c.out))))
			continue
		}
		good++
		traced += min(c.dur, chunk)
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
		case errors.Is(lastErr, errPtrace):
			st[""] = probe.Status{State: probe.Unavailable, Reason: "strace could not attach: ptrace not permitted (or another tracer is attached)",
				Fix: "run as root or with CAP_SYS_PTRACE; detach other tracers"}
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
	if lastErr != nil {
		st[""] = probe.Status{State: probe.OK, Reason: fmt.Sprintf("some strace chunks failed: %v", lastErr)}
	}
	return build(merged, "strace", true, traced.Seconds()), st
}

func build(s summary, source string, wall bool, traced float64) Facts {
	f := Facts{Source: source, WallClock: wall, TracedS: round(traced)}
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
		return round(x / f.TotalSeconds * 100)
	}
	f.Syscalls = []Syscall{}
	for i, rw := range rows {
		if i == maxListed {
			break
		}
		sc := Syscall{Name: probe.Sanitize(rw.Name), Calls: rw.Calls, Errors: rw.Errors, Seconds: rw.Seconds, TimePct: pct(rw.Seconds)}
		if rw.Calls > 0 {
			sc.UsecsPerCall = round(rw.Seconds / float64(rw.Calls) * 1e6)
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
		f.CallsPerS = round(float64(f.TotalCalls) / traced)
	}
	return f
}

func round(x float64) float64 {
	if x != x || x > 1e300 || x < -1e300 {
		return 0
	}
	return float64(int64(x*100+0.5)) / 100
}

func round6(x float64) float64 { return float64(int64(x*1e6+0.5)) / 1e6 }
