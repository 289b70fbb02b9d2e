package probe

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"
	"unicode/utf8"

	"github.com/diagnose-sh/diagnose/internal/safetext"
)

// State says whether a probe delivered its facts.
type State string

const (
	OK          State = "ok"
	Unavailable State = "unavailable" // the system cannot give it here (feature, permission, no such process)
	Error       State = "error"       // the probe failed unexpectedly (garbled input)
)

// Status is a probe's (or one fact's) outcome. Reason says why it is not ok
// and Fix what would make it ok, in words a person can act on.
type Status struct {
	State  State  `json:"state"`
	Reason string `json:"reason,omitempty"`
	Fix    string `json:"fix,omitempty"`
}

// Statuses maps fact paths ("cpu", "process.read_bytes_per_s") to their
// status. A path's status covers every fact below it.
type Statuses map[string]Status

// Reader takes readings over a sampling window for one probe. A run has
// three phases:
//
//   - sample: the sampler calls Read at the start of the window, every
//     interval the probe asks for (if any) and at the end, each time with a
//     Host whose Now is the time of that reading. Read is cheap: it reads
//     files and sockets, runs no program and must not sleep; it records its
//     own failures. ctx is the run's: work Read starts that outlives the call
//     (the HTTP requests of diagnose http) stops with it.
//   - after-window: see AfterWindow (optional).
//   - finish: Finish computes the section's facts from what was gathered and
//     returns them with their statuses, keyed by path relative to the
//     section: "" for the section itself (always present),
//     "read_bytes_per_s" for one fact below it. It only computes.
type Reader interface {
	Read(ctx context.Context, h Host)
	Finish() (any, Statuses)
}

// AfterWindow is a Reader with work right after the window and before
// Finish: running helper programs (strace, jcmd; never during the window,
// where they would disturb what is sampled) or listing what the last
// reading points at. ctx is the run's: it ends at --timeout or an interrupt,
// and the programs started under it are killed with it. When the run ended
// first, the phase is not called and Finish says what was cut. Finish then
// only computes.
type AfterWindow interface {
	AfterWindow(ctx context.Context, h Host)
}

// Complete ends a reader's run: its after-window phase, unless ctx has
// ended, then Finish. h is the host of the phase (its Now: the window's end).
func Complete(ctx context.Context, r Reader, h Host) (any, Statuses) {
	if a, ok := r.(AfterWindow); ok && ctx.Err() == nil {
		a.AfterWindow(ctx, h)
	}
	return r.Finish()
}

// CutByTimeout is the reason of a fact whose after-window work the run's
// deadline left no time for.
const CutByTimeout = "the run's deadline (--timeout) or an interrupt came before this could be read after the window"

// ErrCut is the error of a read the after-window phase did not get to;
// StatusOf makes it unavailable with CutByTimeout and its fix.
var ErrCut = errors.New(CutByTimeout)

// Pacer is a Reader whose reading rate adapts (the thread sampler reads a
// 200-thread process every 100 ms, not every 10 ms): the sampler waits
// until NextRead instead of waking it for readings it would skip.
type Pacer interface {
	NextRead() time.Time
}

// Target is what a run is about: a process and/or a cgroup (zero: the
// system), a container's processes, or the HTTP requests to measure.
type Target struct {
	PID int `json:"pid,omitempty"`
	// PIDs are the processes of a multi-process target (a container), PID
	// first: the per-process probes read each and merge (see Group).
	PIDs   []int  `json:"pids,omitempty"`
	Cgroup string `json:"cgroup,omitempty"`
	// Container names the container the target was found by ("docker
	// 0123456789ab", "pod shop/web container app"), for the report.
	Container string       `json:"container,omitempty"`
	HTTP      *HTTPRequest `json:"http,omitempty"`
}

// Processes is the target's processes: PIDs, or PID alone.
func (t Target) Processes() []int {
	if len(t.PIDs) > 0 {
		return t.PIDs
	}
	if t.PID > 0 {
		return []int{t.PID}
	}
	return nil
}

// HTTPRequest is what diagnose http sends: only what the person asked for.
type HTTPRequest struct {
	URL       string `json:"url"`
	Method    string `json:"method,omitempty"`
	Header    string `json:"header,omitempty"` // "Name: value", one
	Data      string `json:"data,omitempty"`
	Count     int    `json:"count,omitempty"`
	Insecure  bool   `json:"insecure,omitempty"`
	Reuse     bool   `json:"reuse,omitempty"`
	Resolve   string `json:"resolve,omitempty"`    // HOST:PORT:ADDR, as curl's
	CACert    string `json:"cacert,omitempty"`     // a PEM file of CAs to trust
	DNSServer string `json:"dns_server,omitempty"` // ADDR:PORT to resolve with, instead of the system's
}

// Options are run-wide settings some probes honour.
type Options struct {
	// Strace attaches strace to the target for the window (ptrace: slows it down).
	Strace bool
	// StraceFile is a strace -c summary a person already has.
	StraceFile string
	// JCMD lets probes run jcmd against JVMs. Off by default: jcmd's attach
	// makes the JVM start a listener (SIGQUIT, and a file in its /tmp), which
	// a tool that only reads must not do unasked.
	JCMD bool
}

// PtraceFix is the fix for facts that need ptrace-read access to the target
// (/proc/PID/{syscall,wchan,io,fd}). Root can still be refused, and then the
// usual advice would mislead.
const PtraceFix = "run as root or with CAP_SYS_PTRACE (root too can be refused: kernel.yama.ptrace_scope=3, an LSM, or a target in another user namespace)"

// ErrNoProcess means the target process does not exist (or no longer does).
var ErrNoProcess = errors.New("no such process")

// StatusOf turns a read error into a status with a reason and a fix.
func StatusOf(err error, what string) Status {
	switch {
	case err == nil:
		return Status{State: OK}
	case errors.Is(err, ErrCut):
		return Status{State: Unavailable, Reason: CutByTimeout, Fix: "raise --timeout"}
	case errors.Is(err, fs.ErrPermission):
		return Status{State: Unavailable, Reason: fmt.Sprintf("%s: permission denied", what), Fix: PtraceFix}
	case errors.Is(err, ErrNoProcess):
		return Status{State: Unavailable, Reason: fmt.Sprintf("%s: the process ended", what)}
	case errors.Is(err, fs.ErrNotExist):
		return Status{State: Unavailable, Reason: fmt.Sprintf("%s: not present on this system (%v)", what, err)}
	default:
		return Status{State: Error, Reason: fmt.Sprintf("%s: %v", what, err)}
	}
}

// Truncate clips a system string quoted in an error or a reason to 80
// bytes (at a character boundary, marked "...") and makes it inert for a
// terminal (Sanitize): what a garbled file holds can be anything.
func Truncate(s string) string {
	if len(s) > 80 {
		cut := 80
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return Sanitize(s)
}

// Sanitize makes a system string (process name, command line, path) inert
// for a terminal; see safetext.Clean.
func Sanitize(s string) string { return safetext.Clean(s) }
