package probe

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func TestTaskFilesFixture(t *testing.T) {
	root := t.TempDir()
	task := filepath.Join(root, "proc", "42", "task")
	for tid, stat := range map[string]string{"42": "42 (a b) S 1\n", "43": "43 (w) R 1\n"} {
		os.MkdirAll(filepath.Join(task, tid), 0o755)
		os.WriteFile(filepath.Join(task, tid, "stat"), []byte(stat), 0o644)
	}
	os.WriteFile(filepath.Join(task, "43", "big"), []byte(strings.Repeat("x", 64)), 0o644)
	before := openFDs(t)
	tf := NewTaskFiles(Host{Root: root}, 42, 64, "stat", "big", "schedstat")
	if b, err := tf.Read(42, 0); err != nil || string(b) != "42 (a b) S 1\n" {
		t.Fatalf("read: %q %v", b, err)
	}
	if b, err := tf.Read(43, 0); err != nil || string(b) != "43 (w) R 1\n" {
		t.Fatalf("read: %q %v", b, err)
	}
	// Re-read from offset 0 on the kept descriptor.
	os.WriteFile(filepath.Join(task, "42", "stat"), []byte("42 (a b) D 1\n"), 0o644)
	if b, err := tf.Read(42, 0); err != nil || string(b) != "42 (a b) D 1\n" {
		t.Fatalf("re-read: %q %v", b, err)
	}
	// A file that fills the buffer may be cut short: an error, never a prefix.
	if b, err := tf.Read(43, 1); err == nil || !strings.Contains(err.Error(), "/proc/42/task/43/big: longer than 64 bytes") {
		t.Fatalf("big file: %q %v", b, err)
	}
	// Missing files and threads: fs.ErrNotExist, named by their system path.
	_, err := tf.Read(42, 2)
	var pe *fs.PathError
	if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &pe) || pe.Path != "/proc/42/task/42/schedstat" {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := tf.Read(44, 0); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing thread: %v", err)
	}
	if got := openFDs(t) - before; got != 3 {
		t.Errorf("%d descriptors open, want 3 (42/stat, 43/stat, 43/big)", got)
	}
	tf.Prune(map[int]bool{43: true})
	if got := openFDs(t) - before; got != 2 || tf.Open() != 1 {
		t.Errorf("after Prune: %d descriptors, %d threads open", got, tf.Open())
	}
	tf.Close()
	if got := openFDs(t) - before; got != 0 || tf.Open() != 0 {
		t.Errorf("after Close: %d descriptors, %d threads open", got, tf.Open())
	}
	(*TaskFiles)(nil).Close()
}

// Beyond MaxKeptOpenTasks threads, files are opened and closed per read.
func TestTaskFilesCap(t *testing.T) {
	root := t.TempDir()
	n := MaxKeptOpenTasks + 5
	for tid := range n {
		dir := filepath.Join(root, "proc", "1", "task", strconv.Itoa(tid+1))
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "schedstat"), []byte("1 2 3\n"), 0o644)
	}
	before := openFDs(t)
	tf := NewTaskFiles(Host{Root: root}, 1, 64, "schedstat")
	defer tf.Close()
	for tid := range n {
		if _, err := tf.Read(tid+1, 0); err != nil {
			t.Fatal(err)
		}
	}
	if got := openFDs(t) - before; got != MaxKeptOpenTasks || tf.Open() != MaxKeptOpenTasks {
		t.Errorf("%d descriptors, %d threads kept, want %d", got, tf.Open(), MaxKeptOpenTasks)
	}
}

// Live: the kept descriptor sees a running thread's counters move, and a
// thread that has ended reads as an error (its descriptor is reopened once
// and the open fails), not stale data. The thread is a busy child process's
// only one.
func TestTaskFilesLiveThread(t *testing.T) {
	cmd := exec.Command("sh", "-c", "while :; do :; done")
	if err := cmd.Start(); err != nil {
		t.Skip("no sh:", err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	pid := cmd.Process.Pid
	tf := NewTaskFiles(Host{Root: "/"}, pid, 256, "schedstat")
	defer tf.Close()
	read := func() Schedstat {
		t.Helper()
		b, err := tf.Read(pid, 0)
		if err != nil {
			t.Fatal(err)
		}
		s, err := ParseSchedstat(b)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s0, s1 := read(), Schedstat{}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if s1 = read(); s1.RunNS > s0.RunNS {
			break
		}
	}
	if s1.RunNS <= s0.RunNS {
		t.Fatalf("run time did not move on the kept descriptor: %+v then %+v", s0, s1)
	}
	if tf.Open() != 1 {
		t.Errorf("%d threads kept open, want 1", tf.Open())
	}
	cmd.Process.Kill()
	cmd.Wait() // reaped: the task is gone
	if b, err := tf.Read(pid, 0); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("read of an ended thread: %q, %v; want fs.ErrNotExist", b, err)
	}
}
