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
	p := h.Path(elem...)
	f, err := OpenRegular(p)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			pe.Path = filepath.Join(append([]string{"/"}, elem...)...)
		}
		return nil, err
	}
	defer f.Close()
	return readAllBounded(f, p)
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

// GopsutilContext returns ctx carrying this host's roots, so gopsutil reads
// the fixture tree (or the live system) without process-wide HOST_* variables.
func (h Host) GopsutilContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, common.EnvKey, common.EnvMap{
		common.HostProcEnvKey: h.Path("proc"),
		common.HostSysEnvKey:  h.Path("sys"),
		common.HostEtcEnvKey:  h.Path("etc"),
		common.HostDevEnvKey:  h.Path("dev"),
		common.HostRunEnvKey:  h.Path("run"),
		common.HostRootEnvKey: h.root(),
		common.HostVarEnvKey:  h.Path("var"),
	})
}

// DirNames lists up to limit entries of a system directory (/proc/PID/fd),
// in chunks: Readdirnames(limit) would allocate room for limit names on
// every call, which at 100,000 and dozens of readings a second is most of
// a probe's cost.
func (h Host) DirNames(limit int, elem ...string) ([]string, error) {
	d, err := os.Open(h.Path(elem...))
	if err != nil {
		return nil, err
	}
	defer d.Close()
	var names []string
	for len(names) < limit {
		chunk, err := d.Readdirnames(min(1024, limit-len(names)))
		names = append(names, chunk...)
		if err == io.EOF || len(chunk) == 0 {
			break
		}
		if err != nil {
			if len(names) == 0 {
				return nil, fmt.Errorf("read %s: %w", filepath.Join(append([]string{"/"}, elem...)...), err)
			}
			break
		}
	}
	return names, nil
}
