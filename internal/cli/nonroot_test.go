package cli

import (
	"strconv"

	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/diagnose-sh/diagnose/probes/probetest"
)

// buildBinary builds diagnose into a directory any user can read.
func buildBinary(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "diagnose-bin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "diagnose")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/diagnose").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// asNobody runs a command as an unprivileged user (root is needed to switch).
func asNobody(t *testing.T, bin string, args ...string) (string, int) {
	t.Helper()
	if os.Geteuid() != 0 {
		probetest.Skip(t, "needs root to switch to an unprivileged user")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		probetest.Skip(t, "setpriv (util-linux) is not installed")
	}
	cmd := exec.Command(setpriv, append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", bin}, args...)...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

// Playbook tests replay snapshots: a CI job on a plain machine runs them
// without root.
func TestPlaybookTestsRunWithoutRoot(t *testing.T) {
	bin := buildBinary(t)
	// The checkout may sit where nobody cannot read (/root): copy the example next to the binary.
	dir := filepath.Join(filepath.Dir(bin), "custom")
	if out, err := exec.Command("cp", "-r", custom(""), dir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	exec.Command("chmod", "-R", "a+rX", dir).Run()
	out, code := asNobody(t, bin, "test", filepath.Join(dir, "web-latency.test.yaml"), filepath.Join(dir, "batch.test.yaml"))
	if code != exitOK || !strings.Contains(out, "7 passed, 0 failed") {
		t.Fatalf("as nobody: exit %d\n%s", code, out)
	}
}

// Run without permission on another user's process, slow-app does not guess:
// the facts it cannot read are unknown with the fix, and the exit code says
// the verdict is inconclusive.
func TestUnprivilegedSlowAppIsInconclusiveNotWrong(t *testing.T) {
	probetest.Live(t)
	bin := buildBinary(t)
	target := probetest.Start(t, "sleep", "600")
	out, code := asNobody(t, bin, "slow-app", "--pid", strconv.Itoa(target.Process.Pid), "--duration", "500ms")
	if code != exitInconclusive {
		t.Fatalf("exit %d, want 3 (inconclusive)\n%s", code, out)
	}
	for _, want := range []string{"inconclusive", "run as root or with CAP_SYS_PTRACE", "Could not check"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
