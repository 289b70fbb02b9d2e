package probetest

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A busy loop shows up in BusyProcesses with its pid and command line.
func TestBusyProcessesNamesABusyLoop(t *testing.T) {
	cmd := exec.Command("sh", "-c", "while :; do :; done")
	if err := cmd.Start(); err != nil {
		t.Skip("no sh:", err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	time.Sleep(50 * time.Millisecond)
	got := BusyProcesses(300 * time.Millisecond)
	if !strings.HasPrefix(got, "load average ") || !strings.Contains(got, "pid "+strconv.Itoa(cmd.Process.Pid)+` "sh -c while :; do :; done"`) {
		t.Errorf("busy loop (pid %d) not named: %s", cmd.Process.Pid, got)
	}
}
