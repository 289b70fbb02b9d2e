package probetest

import (
	"bufio"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
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
