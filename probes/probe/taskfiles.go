package probe

import (
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strconv"
	"syscall"
)

// MaxKeptOpenTasks caps the threads whose files TaskFiles keeps open; the
// files of the others are opened and closed at every read, so a process
// with 10,000 threads does not exhaust diagnose's descriptors.
const MaxKeptOpenTasks = 1000

// TaskFiles reads a process's per-thread files (/proc/PID/task/TID/NAME)
// again and again during a window. Each file stays open and is re-read at
// offset 0 with a single pread: procfs regenerates a file read from 0, and
// opening costs more than reading (on 6.18: open+close 3.3 µs raw, 4.9 µs
// through os.Open; a schedstat read 0.7 µs). Raw descriptors, because
// os.File.ReadAt issues a second pread to find the end of the file.
type TaskFiles struct {
	dir, sysDir string   // <root>/proc/PID/task; /proc/PID/task for messages
	names       []string // the files, indexed by Read's i
	fds         map[int][]int
	buf         []byte
}

// NewTaskFiles returns the files names of pid's threads under h.Root;
// bufSize bounds one read (a file that fills it is an error).
func NewTaskFiles(h Host, pid, bufSize int, names ...string) *TaskFiles {
	p := strconv.Itoa(pid)
	return &TaskFiles{dir: h.Path("proc", p, "task"), sysDir: "/proc/" + p + "/task",
		names: names, fds: map[int][]int{}, buf: make([]byte, bufSize)}
}

// Read returns file names[i] of thread tid, valid until the next Read. A
// kept-open file that fails (the thread ended, or its id was reused) is
// reopened once, so an error means the file cannot be read now.
func (t *TaskFiles) Read(tid, i int) ([]byte, error) {
	fds, kept := t.fds[tid]
	if !kept && len(t.fds) < MaxKeptOpenTasks {
		fds = make([]int, len(t.names))
		for j := range fds {
			fds[j] = -1
		}
		t.fds[tid], kept = fds, true
	}
	if !kept {
		fd, err := t.open(tid, i)
		if err != nil {
			return nil, err
		}
		defer syscall.Close(fd)
		return t.pread(fd, tid, i)
	}
	for attempt := 0; ; attempt++ {
		if fds[i] < 0 {
			fd, err := t.open(tid, i)
			if err != nil {
				return nil, err
			}
			fds[i] = fd
		}
		b, err := t.pread(fds[i], tid, i)
		if err == nil || attempt > 0 {
			return b, err
		}
		syscall.Close(fds[i])
		fds[i] = -1
	}
}

func (t *TaskFiles) open(tid, i int) (int, error) {
	name := filepath.Join(t.dir, strconv.Itoa(tid), t.names[i])
	for {
		fd, err := syscall.Open(name, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return -1, &fs.PathError{Op: "open", Path: t.sysPath(tid, i), Err: err}
		}
		return fd, nil
	}
}

func (t *TaskFiles) pread(fd, tid, i int) ([]byte, error) {
	for {
		n, err := syscall.Pread(fd, t.buf, 0)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return nil, &fs.PathError{Op: "read", Path: t.sysPath(tid, i), Err: err}
		case n == 0:
			return nil, fmt.Errorf("read %s: %w", t.sysPath(tid, i), io.ErrUnexpectedEOF)
		case n == len(t.buf):
			return nil, fmt.Errorf("read %s: longer than %d bytes", t.sysPath(tid, i), len(t.buf))
		}
		return t.buf[:n], nil
	}
}

func (t *TaskFiles) sysPath(tid, i int) string {
	return t.sysDir + "/" + strconv.Itoa(tid) + "/" + t.names[i]
}

// Drop closes thread tid's files.
func (t *TaskFiles) Drop(tid int) {
	for _, fd := range t.fds[tid] {
		if fd >= 0 {
			syscall.Close(fd)
		}
	}
	delete(t.fds, tid)
}

// Prune closes the files of the threads not in live.
func (t *TaskFiles) Prune(live map[int]bool) {
	for tid := range t.fds {
		if !live[tid] {
			t.Drop(tid)
		}
	}
}

// Close closes every file. t may be nil.
func (t *TaskFiles) Close() {
	if t == nil {
		return
	}
	for tid := range t.fds {
		t.Drop(tid)
	}
}

// Open reports how many threads have files kept open (for tests).
func (t *TaskFiles) Open() int { return len(t.fds) }
