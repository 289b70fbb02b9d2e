package probe

import (
	"os"
	"path/filepath"
	"testing"
)

// Under a --root the host's init's mount table holds the host's mount
// points; a tree without it (a fixture) gives its own.
func TestMountinfoUnderRoot(t *testing.T) {
	root := t.TempDir()
	write := func(who, body string) {
		os.MkdirAll(filepath.Join(root, "proc", who), 0o755)
		os.WriteFile(filepath.Join(root, "proc", who, "mountinfo"), []byte(body), 0o644)
	}
	write("self", "self's\n")
	h := Host{Root: root}
	if b, err := h.Mountinfo(); err != nil || string(b) != "self's\n" {
		t.Errorf("without proc/1: %q %v", b, err)
	}
	write("1", "init's\n")
	if b, err := h.Mountinfo(); err != nil || string(b) != "init's\n" {
		t.Errorf("with proc/1: %q %v", b, err)
	}
}
