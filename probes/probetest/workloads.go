package probetest

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BuildGo builds a Go workload from testdata/workloads/NAME (part of the
// main module) into a temporary directory and returns the binary's path.
func BuildGo(t testing.TB, name string) string {
	t.Helper()
	Need(t, "go")
	out := filepath.Join(t.TempDir(), name)
	cmd := exec.Command("go", "build", "-o", out, "./testdata/workloads/"+name)
	cmd.Dir = RepoRoot(t)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", name, err, b)
	}
	return out
}

// StartPrinting starts a workload like Start and waits (up to 30 s) for a
// line of its standard output that begins with want; it returns the
// command and the rest of that line ("listening 127.0.0.1:PORT" gives the
// address).
func StartPrinting(t testing.TB, want, name string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd = startCmd(t, cmd)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), want); ok {
				found <- strings.TrimSpace(rest)
				io.Copy(io.Discard, out)
				return
			}
		}
		close(found)
	}()
	select {
	case rest, ok := <-found:
		if !ok {
			t.Fatalf("%s exited before printing %q", filepath.Base(name), want)
		}
		return cmd, rest
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not print %q in 30 s", filepath.Base(name), want)
	}
	return nil, ""
}

// AsNobody returns a command that re-runs this test binary as nobody
// (uid and gid 65534) with -test.run=run, from a copy in a world-readable
// temporary directory (which is also its working directory and HOME),
// removed when the test ends; env is added to the environment.
func AsNobody(t testing.TB, run string, env ...string) *exec.Cmd {
	t.Helper()
	dir, err := os.MkdirTemp("", "diagnose-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	self := filepath.Join(dir, filepath.Base(os.Args[0]))
	b, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(self, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run="+run)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "HOME="+dir), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	return cmd
}
