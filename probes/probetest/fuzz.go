package probetest

import (
	"encoding/json"
	"os"
	"os/exec"
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
	if out, err := exec.Command("cp", "-r", Fixture(t, elem...)+"/.", dir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	return dir
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
