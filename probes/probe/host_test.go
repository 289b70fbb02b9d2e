package probe

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// hostile builds a root whose files are what a broken or planted --root
// can hold: a FIFO, a symlink to /dev/zero, a link longer than PATH_MAX.
func hostile(t *testing.T) Host {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"proc/self/fd", "proc/big", "sys/block/vda"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range map[string]string{"proc/meminfo": "MemTotal: 1024 kB\n", "proc/stat": "cpu 1 2 3 4\n"} {
		if err := os.WriteFile(filepath.Join(root, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(root, "proc/zoneinfo"), 0o644); err != nil {
		t.Fatal(err)
	}
	for link, to := range map[string]string{
		"proc/cpuinfo":   "/dev/zero",
		"proc/self/fd/3": "socket:[12158]",
		"proc/self/fd/4": strings.Repeat("x/", 1000) + "end",
	} {
		if err := os.Symlink(to, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	return Host{Root: root}
}

// gopsutil reads only after the bounded check of every file it parses: a
// FIFO or /dev/zero is refused before gopsutil could block or allocate
// without end; a fallback that does not exist is left to gopsutil.
func TestGopsutilChecksItsFiles(t *testing.T) {
	h := hostile(t)
	called := 0
	call := func(context.Context) (int, error) { called++; return 7, nil }
	for _, tc := range []struct {
		file      string
		fallbacks []string
		want      error
	}{
		{"proc/meminfo", nil, nil},
		{"proc/meminfo", []string{"proc/vmstat-not-there"}, nil},
		{"proc/meminfo", []string{"proc/zoneinfo"}, ErrNotRegular},
		{"proc/cpuinfo", nil, ErrNotRegular},
		{"proc/missing", nil, fs.ErrNotExist},
	} {
		called = 0
		n, err := Gopsutil(t.Context(), h, call, tc.file, tc.fallbacks...)
		switch {
		case tc.want == nil && (err != nil || n != 7 || called != 1):
			t.Errorf("%s %v: %d, %v (called %d), want the call's 7", tc.file, tc.fallbacks, n, err, called)
		case tc.want != nil && (!errors.Is(err, tc.want) || called != 0):
			t.Errorf("%s %v: %v (called %d), want %v and no call", tc.file, tc.fallbacks, err, called, tc.want)
		}
	}
	if _, err := Gopsutil(t.Context(), h, call, "proc/missing"); err == nil || !strings.Contains(err.Error(), "/proc/missing") || strings.Contains(err.Error(), h.Root) {
		t.Errorf("error %v should name the system path, not the root", err)
	}
}

func TestReadlinkBounded(t *testing.T) {
	h := hostile(t)
	if got, err := h.Readlink("proc", "self", "fd", "3"); err != nil || got != "socket:[12158]" {
		t.Errorf("short link: %q, %v", got, err)
	}
	got, err := h.Readlink("proc", "self", "fd", "4")
	if err != nil || len(got) != 2003 {
		t.Errorf("a 2003-byte link: %d bytes, %v", len(got), err)
	}
	if _, err := h.Readlink("proc", "self", "fd", "9"); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "/proc/self/fd/9") || strings.Contains(err.Error(), h.Root) {
		t.Errorf("missing link: %v, want not-exist naming /proc/self/fd/9", err)
	}
	if _, err := h.Readlink("proc", "meminfo"); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("not a link: %v, want EINVAL", err)
	}
}

func TestReadDirBounded(t *testing.T) {
	h := hostile(t)
	for i := range 1500 { // more than one chunk
		if err := os.WriteFile(h.Path("proc", "big", strconv.Itoa(i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, limit := range []int{1, 1024, 1200, 1500, 5000} {
		names, err := h.DirNames(limit, "proc", "big")
		ents, err2 := h.ReadDir(limit, "proc", "big")
		want := min(limit, 1500)
		if err != nil || err2 != nil || len(names) != want || len(ents) != want {
			t.Errorf("limit %d: %d names (%v), %d entries (%v), want %d", limit, len(names), err, len(ents), err2, want)
		}
	}
	if n, err := h.CountDir("proc", "big"); n != 1500 || err != nil {
		t.Errorf("CountDir: %d, %v; want 1500", n, err)
	}
	if _, err := h.ReadDir(10, "proc", "42", "fd"); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "/proc/42/fd") || strings.Contains(err.Error(), h.Root) {
		t.Errorf("missing directory: %v, want not-exist naming /proc/42/fd", err)
	}
	if ents, _ := h.ReadDir(10, "sys", "block"); len(ents) != 1 || !ents[0].IsDir() || ents[0].Name() != "vda" {
		t.Errorf("entries carry their type: %v", ents)
	}
}
