package cli

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// stdoutClosed tells a standard output that was closed when diagnose
// started (`diagnose collect >&-`) from one redirected to /dev/null: the Go
// runtime reopens a closed standard descriptor as /dev/null read-write
// (runtime.checkfds), where a shell redirect opens it write-only. Writing
// there would lose the output with exit 0.
func stdoutClosed(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || f.Fd() != 1 {
		return false
	}
	var st unix.Stat_t
	if unix.Fstat(1, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		return false
	}
	fl, err := unix.FcntlInt(1, unix.F_GETFL, 0)
	return err == nil && fl&unix.O_ACCMODE == unix.O_RDWR
}

// closedOutput stands for a closed standard output: what is written there
// fails with the reason, so the command exits 2 instead of losing it.
type closedOutput struct{}

func (closedOutput) Write([]byte) (int, error) {
	return 0, errors.New("standard output is closed: the output would be lost; redirect it to a file, or write one with -o/--output")
}
