// Package testcgroup makes cgroup v1 children for the live tests and the
// benchmarks: only they write cgroup files, diagnose only reads them.
package testcgroup

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ErrNoMemory is a machine without a cgroup v1 memory controller.
var ErrNoMemory = errors.New("no cgroup v1 memory controller mounted")

// Make makes the cgroup rel (its missing parents too) under a v1
// controller's root. remove moves its surviving processes back to the root
// and removes what was made, deepest first.
func Make(base, rel string) (dir string, remove func() error, err error) {
	var made []string
	remove = func() error {
		var errs []error
		for i := len(made) - 1; i >= 0; i-- {
			if b, err := os.ReadFile(filepath.Join(made[i], "cgroup.procs")); err == nil {
				for _, p := range strings.Fields(string(b)) {
					os.WriteFile(filepath.Join(base, "cgroup.procs"), []byte(p), 0o644)
				}
			}
			errs = append(errs, removeDir(made[i]))
		}
		return errors.Join(errs...)
	}
	dir = base
	for _, name := range strings.Split(rel, "/") {
		dir = filepath.Join(dir, name)
		if err := os.Mkdir(dir, 0o755); err == nil {
			made = append(made, dir)
		} else if !os.IsExist(err) {
			return "", remove, err
		}
	}
	return dir, remove, nil
}

// removeDir retries: a process moved out or killed leaves its cgroup a
// moment later.
func removeDir(dir string) error {
	for range 50 {
		if os.Remove(dir) == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("could not remove %s", dir)
}

// Docker makes a cgroup named as Docker's cgroupfs driver names a
// container (/docker/<64 hex>) in every v1 controller diagnose reads,
// moves pids into it and returns the ID.
func Docker(pids ...int) (id string, remove func() error, err error) {
	b := make([]byte, 32)
	rand.Read(b)
	id = hex.EncodeToString(b)
	var removes []func() error
	remove = func() error {
		var errs []error
		for i := len(removes) - 1; i >= 0; i-- {
			errs = append(errs, removes[i]())
		}
		return errors.Join(errs...)
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
		dir, rm, err := Make(base, "docker/"+id)
		removes = append(removes, rm)
		if err != nil {
			return "", remove, err
		}
		for _, pid := range pids {
			if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
				return "", remove, err
			}
		}
	}
	if !seen["/sys/fs/cgroup/memory"] {
		return "", remove, ErrNoMemory
	}
	return id, remove, nil
}
