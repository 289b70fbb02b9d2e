package probetest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

// FixtureFiles returns the recorded fixture files matching each pattern
// (relative to testdata/hosts; at most 40 a pattern), to seed fuzz corpora
// with real kernel output.
func FixtureFiles(t testing.TB, patterns ...string) [][]byte {
	t.Helper()
	var out [][]byte
	for _, p := range patterns {
		files, _ := filepath.Glob(filepath.Join(Fixture(t), p))
		for i, name := range files {
			if i >= 40 {
				break
			}
			if b, err := os.ReadFile(name); err == nil {
				out = append(out, b)
			}
		}
	}
	return out
}

// FuzzRoot copies a fixture reading into a directory whose files each fuzz
// input overwrites (WriteFiles), so a whole probe, gopsutil's parsing and our
// arithmetic included, runs over hostile bytes.
func FuzzRoot(t testing.TB, elem ...string) string {
	t.Helper()
	dir := t.TempDir()
	CopyTree(t, Fixture(t, elem...), dir)
	return dir
}

// CopyTree copies a fixture tree (files, directories and the symlinks of
// /proc/PID/fd) so a test can alter the copy.
func CopyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		switch {
		case info.Mode()&os.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			return os.Symlink(l, target)
		case info.IsDir():
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// WriteFiles replaces files under root: name, content, name, content...
func WriteFiles(t testing.TB, root string, kv ...any) {
	t.Helper()
	for i := 0; i+1 < len(kv); i += 2 {
		if err := os.WriteFile(filepath.Join(root, kv[i].(string)), kv[i+1].([]byte), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// CheckFacts fails unless the facts marshal to JSON (no NaN or Inf: a
// division by a zero delta) and the section reports a status.
func CheckFacts(t testing.TB, v any, st probe.Statuses) {
	t.Helper()
	if _, err := json.Marshal(v); err != nil {
		t.Fatalf("facts do not marshal: %v\n%+v", err, v)
	}
	if _, ok := st[""]; !ok {
		t.Fatalf("no section status: %+v", st)
	}
}
