// Package probe is what every fact source shares: the Host a reading is taken
// from, the Status a probe reports, and the Reader a sampler drives.
//
// Every probe reads through a Host, which carries the root directory (so the
// same code runs against the live system at "/" or against a recorded fixture
// tree under testdata/), the time of the reading, and the only way to run an
// external program. Probes never sleep: the Sampler takes readings over a
// window and probes compute rates from the injected times.
package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/shirou/gopsutil/v4/common"
)

// MaxFileBytes bounds every read of a /proc or /sys file: their stat sizes
// cannot be trusted (0 or 4096), and a hostile or broken file must not make
// diagnose allocate without limit.
const MaxFileBytes = 1 << 20

// Host is where and when a reading is taken.
type Host struct {
	// Root is the directory that stands for "/": "/" live, a fixture tree in tests.
	Root string
	// Now is the time of this reading (injected, so rates are deterministic in tests).
	Now time.Time
	// Run runs an external program (strace, jcmd); nil means none may be run.
	Run Runner
	// SockDiag opens a sock_diag netlink connection; nil means none may be
	// opened (fixture trees), and socket facts are then unavailable.
	SockDiag SockDiagDialer
}

// SockDiagDialer opens a sock_diag connection in the network namespace that
// the file netns names (/proc/PID/ns/net), or in diagnose's own when netns
// is "". Entering another namespace needs CAP_SYS_ADMIN.
type SockDiagDialer func(netns string) (SockDiagConn, error)

// SockDiagConn asks the kernel for its TCP sockets (what ss -ti reads).
type SockDiagConn interface {
	// DumpTCP dumps the TCP sockets (IPv4 and IPv6) whose state bit is set
	// in states, with tcp_info, calling each with every answer's payload
	// (struct inet_diag_msg and its attributes). The payload is only valid
	// during the call.
	DumpTCP(states uint32, each func(payload []byte)) error
	Close() error
}

// Runner runs a program with arguments and returns its combined output.
type Runner func(ctx context.Context, name string, args ...string) ([]byte, error)

// Path joins a system path such as "/proc/stat" onto the host root.
func (h Host) Path(elem ...string) string {
	return filepath.Join(append([]string{h.root()}, elem...)...)
}

func (h Host) root() string {
	if h.Root == "" {
		return "/"
	}
	return h.Root
}

// ReadFile reads a system file, bounded to MaxFileBytes. Errors name the
// system path ("/proc/42/io"), not where the root put it, so reports and
// fixture goldens read the same whatever the root.
func (h Host) ReadFile(elem ...string) ([]byte, error) {
	f, err := OpenRegular(h.Path(elem...))
	if err != nil {
		return nil, systemPathError(err, elem)
	}
	defer f.Close()
	return readAllBounded(f, systemPath(elem))
}

// ReadFile reads a file a person named (--strace-file), bounded to
// MaxFileBytes and only if it is a regular file, as Host.ReadFile reads
// system files.
func ReadFile(path string) ([]byte, error) {
	f, err := OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAllBounded(f, path)
}

func readAllBounded(f *os.File, path string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > MaxFileBytes {
		return nil, fmt.Errorf("read %s: %w", path, ErrTooLarge)
	}
	return b, nil
}

// Mountinfo reads the mount table that the root's paths are in: under a
// --root (a host's filesystem mounted in a container, its processes seen
// with hostPID) the host's init's (/proc/1/mountinfo), whose mount points
// are the host's; else diagnose's own (/proc/self/mountinfo).
func (h Host) Mountinfo() ([]byte, error) {
	if h.root() != "/" {
		if b, err := h.ReadFile("proc", "1", "mountinfo"); err == nil {
			return b, nil
		}
	}
	return h.ReadFile("proc", "self", "mountinfo")
}

// ErrNotRegular is a FIFO, a device or a socket where a file was expected:
// reading it could block forever or never end.
var ErrNotRegular = errors.New("not a regular file (a FIFO, device or socket)")

// OpenRegular opens a file for reading without blocking on a FIFO, and
// refuses anything but a regular file. /proc and /sys files are regular.
func OpenRegular(path string) (*os.File, error) { return openRegular(path, 0) }

// OpenRegularNoFollow is OpenRegular that also refuses a symlink as the
// last element (ELOOP): for files another user can plant, such as /tmp's.
func OpenRegularNoFollow(path string) (*os.File, error) { return openRegular(path, syscall.O_NOFOLLOW) }

func openRegular(path string, flags int) (*os.File, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC|flags, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = &fs.PathError{Op: "open", Path: path, Err: ErrNotRegular}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	// Back to blocking reads: O_NONBLOCK only kept the open from waiting.
	if err := syscall.SetNonblock(fd, false); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// ErrTooLarge is returned for system files larger than MaxFileBytes.
var ErrTooLarge = errors.New("file larger than 1 MiB")

// Gopsutil calls a gopsutil reader under this host's root (its roots go in
// the context, not in process-wide HOST_* variables). gopsutil reads
// without a bound and would block on a FIFO, so the files the call parses
// are checked first with the bounded, regular-file read: file (required:
// its error is the call's) and fallbacks (read by gopsutil only in some
// cases: their absence is left to it). Paths are system paths such as
// "proc/meminfo".
func Gopsutil[T any](ctx context.Context, h Host, call func(context.Context) (T, error), file string, fallbacks ...string) (T, error) {
	var zero T
	if _, err := h.ReadFile(file); err != nil {
		return zero, err
	}
	for _, f := range fallbacks {
		if _, err := h.ReadFile(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return zero, err
		}
	}
	return call(context.WithValue(ctx, common.EnvKey, common.EnvMap{
		common.HostProcEnvKey: h.Path("proc"),
		common.HostSysEnvKey:  h.Path("sys"),
		common.HostEtcEnvKey:  h.Path("etc"),
		common.HostDevEnvKey:  h.Path("dev"),
		common.HostRunEnvKey:  h.Path("run"),
		common.HostRootEnvKey: h.root(),
		common.HostVarEnvKey:  h.Path("var"),
	}))
}

// DirNames lists the names of up to limit entries of a system directory
// (/proc/PID/fd), in chunks: Readdirnames(limit) would allocate room for
// limit names on every call, which at 100,000 and dozens of readings a
// second is most of a probe's cost.
func (h Host) DirNames(limit int, elem ...string) ([]string, error) {
	return readDir(h, limit, (*os.File).Readdirnames, elem)
}

// ReadDir lists up to limit entries of a system directory with their
// types (a cgroup's child directories, a process table to filter by owner),
// in chunks as DirNames.
func (h Host) ReadDir(limit int, elem ...string) ([]fs.DirEntry, error) {
	return readDir(h, limit, (*os.File).ReadDir, elem)
}

func readDir[T any](h Host, limit int, next func(*os.File, int) ([]T, error), elem []string) ([]T, error) {
	d, err := os.Open(h.Path(elem...))
	if err != nil {
		return nil, systemPathError(err, elem)
	}
	defer d.Close()
	var out []T
	for len(out) < limit {
		chunk, err := next(d, min(1024, limit-len(out)))
		out = append(out, chunk...)
		if err == io.EOF || len(chunk) == 0 {
			break
		}
		if err != nil {
			if len(out) == 0 {
				return nil, fmt.Errorf("read %s: %w", systemPath(elem), err)
			}
			break
		}
	}
	return out, nil
}

// Listing bounds, the same for every probe: a system with more processes,
// or a process with more descriptors or threads, is read in part, never
// without limit.
const (
	MaxProcesses = 100_000
	MaxFDs       = 100_000
	MaxThreads   = 100_000
)

// CountDir counts the entries of a system directory (a process's open
// descriptors, up to its nofile limit of a million or more) without keeping
// their names.
func (h Host) CountDir(elem ...string) (int, error) {
	d, err := os.Open(h.Path(elem...))
	if err != nil {
		return 0, systemPathError(err, elem)
	}
	defer d.Close()
	n := 0
	for {
		names, err := d.Readdirnames(1024)
		n += len(names)
		switch {
		case err == io.EOF || len(names) == 0:
			return n, nil
		case err != nil && n == 0:
			return 0, fmt.Errorf("read %s: %w", systemPath(elem), err)
		case err != nil:
			return n, nil // entries came and went: what was counted
		}
	}
}

// MaxLinkBytes bounds a symlink's target (Linux's PATH_MAX).
const MaxLinkBytes = 4096

// Readlink reads a system symlink (/proc/PID/fd/N, /proc/PID/exe,
// /proc/PID/ns/net), bounded to MaxLinkBytes; errors name the system path.
// Most are short ("socket:[12158]"), so a small buffer is tried first.
func (h Host) Readlink(elem ...string) (string, error) {
	p := h.Path(elem...)
	for size := 128; ; size = MaxLinkBytes + 1 {
		buf := make([]byte, size)
		n, err := syscall.Readlink(p, buf)
		switch {
		case err != nil:
			return "", systemPathError(&fs.PathError{Op: "readlink", Path: p, Err: err}, elem)
		case n < size:
			return string(buf[:n]), nil
		case size > MaxLinkBytes:
			return "", &fs.PathError{Op: "readlink", Path: systemPath(elem), Err: syscall.ENAMETOOLONG}
		}
	}
}

// systemPath is the path a person knows ("/proc/42/io"), whatever the root.
func systemPath(elem []string) string { return filepath.Join(append([]string{"/"}, elem...)...) }

// systemPathError renames a *fs.PathError's path to the system path, so
// reports and fixture goldens read the same whatever the root.
func systemPathError(err error, elem []string) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		pe.Path = systemPath(elem)
	}
	return err
}
