package threads_test

// TestRecordFixtures records the fixture trees under testdata/hosts/proc-*/
// from real workloads: it copies the /proc files the process, threads and
// net probes read, in 12 readings 60 ms apart. Run it by hand, as root:
//
//	DIAGNOSE_RECORD=1 go test -run TestRecordFixtures ./probes/threads

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probetest"
)

const (
	recordReadings = 12
	recordStep     = 60 * time.Millisecond
)

func TestRecordFixtures(t *testing.T) {
	if os.Getenv("DIAGNOSE_RECORD") == "" {
		t.Skip("set DIAGNOSE_RECORD=1 to re-record fixture trees")
	}
	probetest.Live(t)
	only := os.Getenv("DIAGNOSE_RECORD_ONLY")
	for _, w := range workloads(t) {
		if only != "" && !strings.Contains(only, w.name) {
			continue
		}
		t.Run(w.name, func(t *testing.T) {
			pid, stop := w.start(t)
			defer stop()
			time.Sleep(w.warmup)
			dir := probetest.Fixture(t, "proc-"+w.name)
			os.RemoveAll(dir)
			var times []string
			start := time.Now()
			for i := range recordReadings {
				at := snapshot(t, filepath.Join(dir, fmt.Sprintf("t%02d", i)), pid)
				times = append(times, strconv.FormatInt(at.Sub(start).Microseconds(), 10))
				time.Sleep(recordStep)
			}
			// times.txt: each reading's time in µs after the first, so
			// replays compute the same rates as the live probes did.
			os.WriteFile(filepath.Join(dir, "times.txt"), []byte(strings.Join(times, "\n")+"\n"), 0o644)
		})
	}
}

// snapshot copies the files the probes read for pid under root and
// returns the time the counters were taken (after the per-thread files).
func snapshot(t *testing.T, root string, pid int) time.Time {
	p := strconv.Itoa(pid)
	copyFile(t, root, filepath.Join("/proc", p, "stat"))
	tasks, _ := os.ReadDir(filepath.Join("/proc", p, "task"))
	for _, task := range tasks {
		for _, f := range []string{"stat", "schedstat", "wchan", "syscall", "status"} {
			copyFile(t, root, filepath.Join("/proc", p, "task", task.Name(), f))
		}
	}
	at := time.Now()
	files := []string{"status", "cmdline", "io", "schedstat", "cgroup",
		"net/tcp", "net/tcp6", "net/udp", "net/udp6", "net/snmp", "net/netstat", "net/snmp6"}
	for _, f := range files {
		copyFile(t, root, filepath.Join("/proc", p, f))
	}
	for _, f := range []string{"/proc/sys/kernel/task_delayacct", "/proc/sys/net/core/rmem_max",
		"/proc/sys/net/core/wmem_max", "/proc/sys/net/core/somaxconn"} {
		copyFile(t, root, f)
	}
	fds, _ := os.ReadDir(filepath.Join("/proc", p, "fd"))
	os.MkdirAll(filepath.Join(root, "proc", p, "fd"), 0o755)
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join("/proc", p, "fd", fd.Name()))
		if err != nil {
			continue
		}
		if strings.HasPrefix(link, "/") && !strings.HasPrefix(link, "/dev/") {
			link = "/redacted/file" // keep fixture paths machine-independent
		}
		os.Symlink(link, filepath.Join(root, "proc", p, "fd", fd.Name()))
	}
	return at
}

func copyFile(t *testing.T, root, path string) {
	in, err := os.Open(path)
	if err != nil {
		return
	}
	defer in.Close()
	b, err := io.ReadAll(io.LimitReader(in, 1<<20))
	if err != nil {
		return
	}
	dst := filepath.Join(root, path)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

type workload struct {
	name   string
	warmup time.Duration
	start  func(t *testing.T) (pid int, stop func())
}

func startBin(bin string, args ...string) func(t *testing.T) (int, func()) {
	return func(t *testing.T) (int, func()) {
		cmd := exec.Command(bin, args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd.Process.Pid, func() { cmd.Process.Kill(); cmd.Wait() }
	}
}

func workloads(t *testing.T) []workload {
	root := probetest.RepoRoot(t)
	spinner := probetest.BuildC(t, "spinner")
	mutex := probetest.BuildC(t, "mutex")
	slowpeer := probetest.BuildC(t, "slowpeer")
	odirect := probetest.BuildC(t, "odirect")
	sleeper := probetest.BuildC(t, "sleeper")
	epoll := probetest.BuildC(t, "epollserver")
	odFile := filepath.Join(os.Getenv("HOME"), ".diagnose-odirect-record")
	t.Cleanup(func() { os.Remove(odFile) })
	java := func(class string) func(t *testing.T) (int, func()) {
		return startBin("java", "-Xmx64m", filepath.Join(root, "testdata", "workloads", class+".java"))
	}
	return []workload{
		{"spinner", 500 * time.Millisecond, startBin(spinner)},
		{"mutex", time.Second, startBin(mutex, "16")},
		{"slowpeer", time.Second, startBin(slowpeer, "200")},
		{"odirect", time.Second, startBin(odirect, odFile)},
		{"sleeper", 1500 * time.Millisecond, startBin(sleeper)},
		{"epollserver", 1500 * time.Millisecond, startBin(epoll)},
		{"jvm-contend", 4 * time.Second, java("Contend")},
		{"jvm-idle", 4 * time.Second, java("Idle")},
	}
}
