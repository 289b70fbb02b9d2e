package probe

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A program that ignores SIGINT and leaves a child behind is killed with its
// whole group at the deadline: nothing diagnose started outlives it.
func TestExecRunnerKillsTheGroupAtTheDeadline(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	script := `trap '' INT; sleep 600 & echo $! > ` + pidFile + `; wait`
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := ExecRunner(ctx, "sh", "-c", script)
	if err == nil {
		t.Fatal("a program stopped at the deadline reported success")
	}
	b, rerr := os.ReadFile(pidFile)
	if rerr != nil {
		t.Fatalf("the script did not start its child: %v", rerr)
	}
	child, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	for i := 0; i < 50; i++ { // the kernel reaps the killed child asynchronously
		if syscall.Kill(child, 0) != nil {
			return
		}
		if st, _ := os.ReadFile("/proc/" + strconv.Itoa(child) + "/stat"); strings.Contains(string(st), ") Z ") {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	syscall.Kill(child, syscall.SIGKILL)
	t.Fatalf("child %d of the stopped program is still running", child)
}

func TestExecRunnerOutputAndLocale(t *testing.T) {
	out, err := ExecRunner(context.Background(), "sh", "-c", `echo "$LC_ALL"; echo err >&2`)
	if err != nil || string(out) != "C\nerr\n" {
		t.Fatalf("got %q, %v", out, err)
	}
}
