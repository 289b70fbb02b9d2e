package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/diagnose-sh/diagnose/internal/testcgroup"
)

// Container shape: processes × threads each (the main thread and workers).
const (
	containerProcs    = 16
	threadsPerProcess = 5
)

// containers measures slow-app --container on a container of 16 processes
// of 5 threads against --pid on one process of as many threads (80): the
// per-process readers of a container should cost about what its threads
// cost in one process.
func containers(bin, pool string, reps int) error {
	fmt.Printf("\n## container target: %d processes × %d threads (--container) against one process of %d threads (--pid)\n",
		containerProcs, threadsPerProcess, containerProcs*threadsPerProcess)
	start := func(workers int) (int, error) {
		m := exec.Command(pool, strconv.Itoa(workers))
		if err := m.Start(); err != nil {
			return 0, err
		}
		go m.Wait()
		return m.Process.Pid, nil
	}
	var pids []int
	remove := func() error { return nil }
	defer func() {
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		if err := remove(); err != nil {
			fmt.Fprintln(os.Stderr, "diagnose-bench:", err)
		}
	}()
	for range containerProcs {
		pid, err := start(threadsPerProcess - 1)
		if err != nil {
			return err
		}
		pids = append(pids, pid)
	}
	id, remove, err := testcgroup.Docker(pids...)
	if err != nil {
		return err
	}
	single, err := start(containerProcs*threadsPerProcess - 1)
	if err != nil {
		return err
	}
	pids = append(pids, single)
	time.Sleep(500 * time.Millisecond)
	inContainer, err := measure(bin, []string{"--container", id[:12]}, fmt.Sprintf("(container: %d processes, %d threads)", containerProcs, containerProcs*threadsPerProcess), reps)
	if err != nil {
		return err
	}
	alone, err := measure(bin, byPID(single), fmt.Sprintf("(one process, %d threads)", containerProcs*threadsPerProcess), reps)
	if err != nil {
		return err
	}
	fmt.Printf("container / one process of as many threads: CPU while sampling ×%.2f\n", inContainer/alone)
	return nil
}
