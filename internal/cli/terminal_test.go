package cli

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/diagnose-sh/diagnose/probes/probe"
	"github.com/diagnose-sh/diagnose/probes/probetest"
)

// openPTY returns the terminal side of a new pseudo-terminal.
func openPTY(t *testing.T) *os.File {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		probetest.Skip(t, "no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skipf("ptsname: %v", err)
	}
	pts, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open pts: %v", err)
	}
	t.Cleanup(func() { pts.Close() })
	return pts
}

func TestColourOnlyOnATerminalWithoutNO_COLOR(t *testing.T) {
	tty := openPTY(t)
	t.Setenv("NO_COLOR", "")
	t.Setenv("TERM", "xterm")
	if !isTerminal(tty) {
		t.Fatal("a pseudo-terminal is not recognised as a terminal")
	}
	if isTerminal(&bytes.Buffer{}) {
		t.Error("a buffer is not a terminal")
	}
	t.Setenv("NO_COLOR", "1")
	if isTerminal(tty) {
		t.Error("NO_COLOR must turn colour and progress off")
	}
	t.Setenv("NO_COLOR", "")
	t.Setenv("TERM", "dumb")
	if isTerminal(tty) {
		t.Error("TERM=dumb must turn colour and progress off")
	}
}

func TestProgressSaysWhatAndTimeLeft(t *testing.T) {
	var b bytes.Buffer
	p := progressPrinter(&b, []string{"cpu", "threads"}, probe.Target{PID: 42})
	p(500*time.Millisecond, 2*time.Second)
	p(3*time.Second, 2*time.Second)
	out := b.String()
	for _, want := range []string{"sampling cpu, threads of PID 42", "1.5s left", "0.0s left", "\r\x1b[K"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress %q lacks %q", out, want)
		}
	}
}
