package threads

// Pure parsers and the wait classifier. Formats (Linux 6.18, observed; see
// ../../docs/probes-process.md and ../../../shared/signals.md §3):
//
//	/proc/PID/task/TID/stat     "15373 (mutex) S 15369 ..." state = field 3, field 35 = 1 when
//	                            blocked and the reader may read wchan (0 without permission)
//	/proc/PID/task/TID/wchan    "futex_do_wait", "0" when running or unreadable
//	/proc/PID/task/TID/syscall  "202 0x55803a3690e8 0x189 0x0 0x0 0x0 0xffffffff 0x7f.. 0x7f.."
//	                            (nr, 6 args, sp, pc), "-1 sp pc" outside a syscall, or "running"
//	/proc/PID/task/TID/schedstat "run_ns wait_ns timeslices" (probe.ParseSchedstat)

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

// taskStat is what the sampler needs from a thread's stat line.
type taskStat struct {
	State    byte
	WchanSet bool // field 35 == 1: blocked and wchan readable
	HasField bool // field 35 present
}

func parseTaskStat(b []byte) (taskStat, error) {
	var s taskStat
	tail, err := probe.StatTail(b)
	if err != nil {
		return s, err
	}
	state, ok := probe.StatField(tail, 3)
	if !ok || len(state) != 1 {
		return s, fmt.Errorf("%w: stat: no state", probe.ErrFormat)
	}
	s.State = state[0]
	if f, ok := probe.StatField(tail, 35); ok {
		s.HasField = true
		s.WchanSet = len(f) == 1 && f[0] == '1'
	}
	return s, nil
}

// sysc is one reading of /proc/PID/task/TID/syscall.
type sysc struct {
	Running bool      // "running": on a CPU or runnable
	Outside bool      // "-1 sp pc": blocked outside a syscall (page fault, stopped)
	Nr      int       // syscall number (x86_64 numbering)
	Args    [6]uint64 // arguments
}

func parseSyscall(b []byte) (sysc, error) {
	n := probe.CountFields(b)
	first, _ := probe.Field(b, 0)
	if n == 1 && string(first) == "running" {
		return sysc{Running: true}, nil
	}
	if n == 0 {
		return sysc{}, fmt.Errorf("%w: syscall: empty", probe.ErrFormat)
	}
	if string(first) == "-1" {
		if n != 3 {
			return sysc{}, fmt.Errorf("%w: syscall: -1 with %d fields", probe.ErrFormat, n)
		}
		return sysc{Outside: true, Nr: -1}, nil
	}
	nr, ok := probe.Uint(first)
	if !ok || nr > 1<<16 {
		return sysc{}, fmt.Errorf("%w: syscall nr %q", probe.ErrFormat, first)
	}
	if n != 9 {
		return sysc{}, fmt.Errorf("%w: syscall: nr %d with %d fields, want 9", probe.ErrFormat, nr, n)
	}
	s := sysc{Nr: int(nr)}
	for i := range 6 {
		f, _ := probe.Field(b, i+1)
		v, ok := hexUint(f)
		if !ok {
			return sysc{}, fmt.Errorf("%w: syscall arg %d %q", probe.ErrFormat, i+1, f)
		}
		s.Args[i] = v
	}
	return s, nil
}

// hexUint parses "0x1f" (the prefix is optional) without allocating.
func hexUint(b []byte) (uint64, bool) {
	if len(b) > 2 && b[0] == '0' && (b[1] == 'x' || b[1] == 'X') {
		b = b[2:]
	}
	if len(b) == 0 || len(b) > 16 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		v = v<<4 | uint64(c)
	}
	return v, true
}

// stripWchan removes compiler clone suffixes: "poll_schedule_timeout.constprop.0" -> "poll_schedule_timeout".
func stripWchan(w string) string {
	w = strings.TrimSpace(w)
	if i := strings.IndexByte(w, '.'); i > 0 {
		w = w[:i]
	}
	return w
}

// class is where one thread-sample's time goes.
type class int

const (
	clsRunning class = iota // state R (split into running/runnable with schedstat)
	clsLock                 // futex, flock, fcntl lock waits
	clsDisk                 // D state, fsync, direct I/O, page-cache misses on files
	clsPaging               // D outside a syscall: major page fault
	clsNetwork              // blocked on one socket: read/recv/send/connect
	clsPoll                 // epoll/poll/select/accept: waiting for any event
	clsIdle                 // sleep, pause, pipes, ttys, waiting for children or signals
	clsOther                // anything else (incl. stopped, unknown)
	clsUnknown              // S with neither wchan nor syscall readable
	numClasses
)

var classNames = [numClasses]string{"running", "lock", "disk", "paging", "network", "poll", "idle", "other", "unknown"}

// fdKind is what a file descriptor points at.
type fdKind int

const (
	fdUnknown fdKind = iota
	fdSocket
	fdPipe
	fdFile
	fdChar // ttys, /dev/null ...
	fdEvent
)

// kindOfLink classifies a /proc/PID/fd/N link target.
func kindOfLink(link string) fdKind {
	switch {
	case strings.HasPrefix(link, "socket:["):
		return fdSocket
	case strings.HasPrefix(link, "pipe:["):
		return fdPipe
	case strings.HasPrefix(link, "anon_inode:"):
		return fdEvent
	case strings.HasPrefix(link, "/dev/"):
		return fdChar
	case strings.HasPrefix(link, "/"):
		return fdFile
	}
	return fdUnknown
}

// x86_64 syscall numbers (asm/unistd_64.h).
const (
	sysRead          = 0
	sysWrite         = 1
	sysPoll          = 7
	sysPread64       = 17
	sysPwrite64      = 18
	sysReadv         = 19
	sysWritev        = 20
	sysSelect        = 23
	sysMsync         = 26
	sysPause         = 34
	sysNanosleep     = 35
	sysConnect       = 42
	sysAccept        = 43
	sysSendto        = 44
	sysRecvfrom      = 45
	sysSendmsg       = 46
	sysRecvmsg       = 47
	sysWait4         = 61
	sysFcntl         = 72
	sysFlock         = 73
	sysFsync         = 74
	sysFdatasync     = 75
	sysRtSigtimed    = 128
	sysRtSigsuspend  = 130
	sysSync          = 162
	sysFutex         = 202
	sysIoGetevents   = 208
	sysRestart       = 219
	sysClockNanosl   = 230
	sysEpollWait     = 232
	sysWaitid        = 247
	sysPselect6      = 270
	sysPpoll         = 271
	sysSyncFileRange = 277
	sysEpollPwait    = 281
	sysAccept4       = 288
	sysRecvmmsg      = 299
	sysSyncfs        = 306
	sysSendmmsg      = 307
	sysIoPgetevents  = 333
	sysIoUringEnter  = 426
	sysEpollPwait2   = 441
	sysFutexWaitv    = 449
)

var syscallNames = map[int]string{
	sysRead: "read", sysWrite: "write", sysPoll: "poll", sysPread64: "pread64", sysPwrite64: "pwrite64",
	sysReadv: "readv", sysWritev: "writev", sysSelect: "select", sysMsync: "msync", sysPause: "pause",
	sysNanosleep: "nanosleep", sysConnect: "connect", sysAccept: "accept", sysSendto: "sendto",
	sysRecvfrom: "recvfrom", sysSendmsg: "sendmsg", sysRecvmsg: "recvmsg", sysWait4: "wait4",
	sysFcntl: "fcntl", sysFlock: "flock", sysFsync: "fsync", sysFdatasync: "fdatasync",
	sysRtSigtimed: "rt_sigtimedwait", sysRtSigsuspend: "rt_sigsuspend", sysSync: "sync", sysFutex: "futex",
	sysIoGetevents: "io_getevents", sysRestart: "restart_syscall", sysClockNanosl: "clock_nanosleep",
	sysEpollWait: "epoll_wait", sysWaitid: "waitid", sysPselect6: "pselect6", sysPpoll: "ppoll",
	sysSyncFileRange: "sync_file_range", sysEpollPwait: "epoll_pwait", sysAccept4: "accept4",
	sysRecvmmsg: "recvmmsg", sysSyncfs: "syncfs", sysSendmmsg: "sendmmsg", sysIoPgetevents: "io_pgetevents",
	sysIoUringEnter: "io_uring_enter", sysEpollPwait2: "epoll_pwait2", sysFutexWaitv: "futex_waitv",
}

// syscallName names a syscall number for display.
func syscallName(nr int) string {
	if n, ok := syscallNames[nr]; ok {
		return n
	}
	return "syscall_" + strconv.Itoa(nr)
}

// wchan names seen on 6.18 and older kernels, by class.
var wchanClass = map[string]class{
	"futex_do_wait": clsLock, "futex_wait_queue": clsLock, "futex_wait_queue_me": clsLock,
	"locks_lock_inode_wait": clsLock, "fcntl_setlk": clsLock, "flock_lock_inode_wait": clsLock,

	"wait_woken": clsNetwork, "sk_wait_data": clsNetwork, "sk_stream_wait_memory": clsNetwork,
	"sk_stream_wait_connect": clsNetwork, "unix_stream_read_generic": clsNetwork,
	"unix_stream_data_wait": clsNetwork, "__skb_wait_for_more_packets": clsNetwork,

	"inet_csk_accept": clsPoll, "do_epoll_wait": clsPoll, "ep_poll": clsPoll,
	"poll_schedule_timeout": clsPoll, "do_select": clsPoll, "do_sys_poll": clsPoll,

	"hrtimer_nanosleep": clsIdle, "do_nanosleep": clsIdle, "__do_sys_pause": clsIdle, "sys_pause": clsIdle,
	"do_wait": clsIdle, "do_sigtimedwait": clsIdle, "sigsuspend": clsIdle, "anon_pipe_read": clsIdle,
	"pipe_read": clsIdle, "pipe_wait": clsIdle, "pipe_write": clsIdle, "anon_pipe_write": clsIdle,
	"n_tty_read": clsIdle, "do_signal_stop": clsOther,

	"folio_wait_bit": clsDisk, "folio_wait_bit_common": clsDisk, "__iomap_dio_rw": clsDisk,
	"iomap_dio_rw": clsDisk, "__blockdev_direct_IO": clsDisk, "submit_bio_wait": clsDisk,
	"jbd2_log_wait_commit": clsDisk, "__sync_dirty_buffer": clsDisk, "fsync_buffers_list": clsDisk,
	"wait_on_page_bit": clsDisk, "wait_on_page_bit_common": clsDisk, "blk_mq_get_tag": clsDisk,
	"read_events": clsDisk, "io_cqring_wait": clsDisk, "ext4_wait_block_bitmap": clsDisk,
}

// classify decides one thread-sample. wchan is stripped, "" when
// unreadable; sc is nil when the syscall file is unreadable; kind resolves
// an fd of the target.
func classify(state byte, wchan string, sc *sysc, kind func(fd int) fdKind) class {
	switch state {
	case 'R':
		return clsRunning
	case 'D':
		if sc != nil && sc.Outside {
			return clsPaging
		}
		return clsDisk
	case 'S':
	default:
		return clsOther // T, t, Z, X, I, P
	}
	if sc != nil && !sc.Running && !sc.Outside {
		if c, ok := classifySyscall(sc, kind); ok {
			return c
		}
	}
	if wchan != "" && wchan != "0" {
		if c, ok := wchanClass[wchan]; ok {
			return c
		}
		return clsOther
	}
	if sc == nil {
		return clsUnknown
	}
	return clsOther
}

// explains says whether a blocked thread's syscall alone classifies its wait.
func explains(sc *sysc, kind func(fd int) fdKind) bool {
	_, ok := classifySyscall(sc, kind)
	return ok
}

func classifySyscall(sc *sysc, kind func(fd int) fdKind) (class, bool) {
	switch sc.Nr {
	case sysFutex, sysFutexWaitv, sysFlock:
		return clsLock, true
	case sysFcntl:
		if sc.Args[1] == 7 || sc.Args[1] == 38 { // F_SETLKW, F_OFD_SETLKW
			return clsLock, true
		}
	case sysConnect:
		return clsNetwork, true
	case sysSendto, sysSendmsg, sysRecvfrom, sysRecvmsg, sysRecvmmsg, sysSendmmsg:
		return clsNetwork, true
	case sysAccept, sysAccept4, sysEpollWait, sysEpollPwait, sysEpollPwait2, sysPoll, sysPpoll, sysSelect, sysPselect6:
		return clsPoll, true
	case sysNanosleep, sysClockNanosl, sysPause, sysWait4, sysWaitid, sysRtSigtimed, sysRtSigsuspend:
		return clsIdle, true
	case sysFsync, sysFdatasync, sysSyncFileRange, sysMsync, sysSync, sysSyncfs, sysIoGetevents, sysIoPgetevents, sysIoUringEnter:
		return clsDisk, true
	case sysRead, sysWrite, sysReadv, sysWritev, sysPread64, sysPwrite64:
		fd := sc.Args[0]
		if fd > 1<<20 || kind == nil {
			return 0, false
		}
		switch kind(int(fd)) {
		case fdSocket:
			return clsNetwork, true
		case fdPipe, fdChar:
			return clsIdle, true
		case fdEvent:
			return clsPoll, true
		case fdFile:
			return clsDisk, true
		}
	}
	return 0, false
}

// futexWait returns the futex address a thread waits on, and whether the
// wait has glibc's contended-mutex shape (FUTEX_WAIT with value 2, or a
// PI lock), as opposed to a condition wait or a parked thread.
func futexWait(sc *sysc) (addr uint64, mutex, ok bool) {
	if sc == nil || sc.Nr != sysFutex {
		return 0, false, false
	}
	cmd := sc.Args[1] & 0x7f
	switch cmd {
	case 0, 9: // FUTEX_WAIT, FUTEX_WAIT_BITSET
		return sc.Args[0], sc.Args[2] == 2, true
	case 6, 13: // FUTEX_LOCK_PI, FUTEX_LOCK_PI2
		return sc.Args[0], true, true
	}
	return 0, false, false
}
