package cpu

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
	"github.com/diagnose-sh/diagnose/probes/probetest"
)

// fuzzRoot copies a fixture reading into a directory whose files each fuzz
// input overwrites, so the whole probe (gopsutil's parsing and our
// arithmetic included) runs over hostile bytes.
func fuzzRoot(f *testing.F, elem ...string) string {
	f.Helper()
	dir := f.TempDir()
	if out, err := exec.Command("cp", "-r", probetest.Fixture(f, elem...)+"/.", dir).CombinedOutput(); err != nil {
		f.Fatalf("cp: %v %s", err, out)
	}
	return dir
}

// fuzzWrite replaces files of root: name, content, name, content...
func fuzzWrite(t *testing.T, root string, kv ...any) {
	for i := 0; i < len(kv); i += 2 {
		if err := os.WriteFile(filepath.Join(root, kv[i].(string)), kv[i+1].([]byte), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// fuzzCheck: facts marshal to JSON (no NaN or Inf) and the section has a status.
func fuzzCheck(t *testing.T, v any, st probe.Statuses) {
	if _, err := json.Marshal(v); err != nil {
		t.Fatalf("facts do not marshal: %v\n%+v", err, v)
	}
	if _, ok := st[""]; !ok {
		t.Fatalf("no section status: %+v", st)
	}
}

// fixtureFiles adds every fixture file matching the patterns (relative to
// testdata/hosts) to the corpus, as one []byte argument.
func fixtureFiles(f *testing.F, patterns ...string) [][]byte {
	var out [][]byte
	for _, p := range patterns {
		files, _ := filepath.Glob(filepath.Join(probetest.Fixture(f), p))
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

// FuzzReader: /proc/stat holds any bytes in the second reading.
func FuzzReader(f *testing.F) {
	t0 := probetest.Fixture(f, "sys-cpu-saturated", "t0")
	root := fuzzRoot(f, "sys-cpu-saturated", "t1")
	for _, b := range fixtureFiles(f, "sys-*/t1/proc/stat") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, stat []byte) {
		fuzzWrite(t, root, "proc/stat", stat)
		v, st := probetest.Replay(New(probe.Target{}, probe.Options{}), time.Second, t0, root)
		fuzzCheck(t, v, st)
	})
}

// FuzzParseTaskState: the state field of /proc/PID/stat lines.
func FuzzParseTaskState(f *testing.F) {
	for _, b := range fixtureFiles(f, "proc-*/t00/proc/*/stat", "proc-*/t00/proc/*/task/*/stat") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) { parseTaskState(b) })
}
