package probe

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Under a --root the host's init's mount table holds the host's mount
// points; a tree without it (a fixture) gives its own.
func TestMountinfoUnderRoot(t *testing.T) {
	root := t.TempDir()
	write := func(who, body string) {
		os.MkdirAll(filepath.Join(root, "proc", who), 0o755)
		os.WriteFile(filepath.Join(root, "proc", who, "mountinfo"), []byte(body), 0o644)
	}
	write("self", "self's\n")
	h := Host{Root: root}
	if b, err := h.Mountinfo(); err != nil || string(b) != "self's\n" {
		t.Errorf("without proc/1: %q %v", b, err)
	}
	write("1", "init's\n")
	if b, err := h.Mountinfo(); err != nil || string(b) != "init's\n" {
		t.Errorf("with proc/1: %q %v", b, err)
	}
}

func TestTruncate(t *testing.T) {
	long := strings.Repeat("é", 50) // 100 bytes, 2 a rune
	if got := Truncate(long); got != strings.Repeat("é", 40)+"..." {
		t.Errorf("Truncate cut mid-rune or at the wrong length: %q", got)
	}
	if got := Truncate("a\x1b[31mred"); strings.Contains(got, "\x1b") {
		t.Errorf("Truncate left an escape: %q", got)
	}
	if got := Truncate("short"); got != "short" {
		t.Errorf("%q", got)
	}
}

// The meter counts the thread's CPU, not the wall time a sleep takes.
func TestCPUMeter(t *testing.T) {
	m := StartCPU()
	time.Sleep(50 * time.Millisecond)
	slept := m.Elapsed()
	for end := time.Now().Add(30 * time.Millisecond); time.Now().Before(end); {
	}
	spun := m.Elapsed() - slept
	m.Stop()
	if slept > 10*time.Millisecond || spun < 10*time.Millisecond {
		t.Errorf("a 50 ms sleep cost %s, a 30 ms spin %s", slept, spun)
	}
}
