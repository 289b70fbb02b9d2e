package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
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
	cleanup := func() {}
	defer func() {
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(100 * time.Millisecond) // reaped: the cgroups are empty
		cleanup()
	}()
	for range containerProcs {
		pid, err := start(threadsPerProcess - 1)
		if err != nil {
			return err
		}
		pids = append(pids, pid)
	}
	id, cleanup, err := dockerCgroup(pids)
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

// dockerCgroup puts pids in a cgroup named like a Docker container
// (cgroupfs driver: /docker/<64 hex>) in each v1 controller diagnose reads;
// cleanup moves them back and removes it.
func dockerCgroup(pids []int) (string, func(), error) {
	b := make([]byte, 32)
	rand.Read(b)
	id := hex.EncodeToString(b)
	var made []string
	cleanup := func() {
		for i := len(made) - 1; i >= 0; i-- {
			for range 50 {
				if os.Remove(made[i]) == nil {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	seen := map[string]bool{}
	for _, c := range []string{"memory", "cpu", "cpuacct", "cpu,cpuacct", "pids"} {
		base, err := filepath.EvalSymlinks(filepath.Join("/sys/fs/cgroup", c))
		if err != nil || seen[base] {
			continue
		}
		if _, err := os.Stat(filepath.Join(base, "cgroup.procs")); err != nil {
			continue
		}
		seen[base] = true
		for _, d := range []string{filepath.Join(base, "docker"), filepath.Join(base, "docker", id)} {
			if err := os.Mkdir(d, 0o755); err == nil {
				made = append(made, d)
			} else if !os.IsExist(err) {
				return "", cleanup, err
			}
		}
		for _, pid := range pids {
			if err := os.WriteFile(filepath.Join(base, "docker", id, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
				return "", cleanup, err
			}
		}
	}
	if !seen["/sys/fs/cgroup/memory"] {
		return "", cleanup, fmt.Errorf("no cgroup v1 memory controller mounted")
	}
	return id, cleanup, nil
}
