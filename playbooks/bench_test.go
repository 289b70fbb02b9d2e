package playbooks_test

// Benchmarks of the pure parts of a run (docs/performance.md; `make bench`):
// loading and compiling the shipped playbooks, decoding a recorded snapshot,
// and evaluating slow-app and oom-container over one. The snapshots are the
// ones recorded from the live slow-app workloads
// (testdata/hosts/proc-slowapp-*/snapshot.json, `diagnose collect` output
// with every section).

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/engine"
	"github.com/diagnose-sh/diagnose/playbooks"
	"github.com/diagnose-sh/diagnose/probes"
	"github.com/diagnose-sh/diagnose/probes/probe"
)

func loadAll(b *testing.B, schema *engine.Schema) map[string]*engine.Playbook {
	b.Helper()
	out := map[string]*engine.Playbook{}
	names, _ := fs.Glob(playbooks.FS, "*.yaml")
	for _, name := range names {
		src, _ := fs.ReadFile(playbooks.FS, name)
		pb, err := engine.Load(name, src, schema)
		if err != nil {
			b.Fatal(err)
		}
		out[pb.Name] = pb
	}
	return out
}

// BenchmarkLoadCompile: parse, check and compile every shipped playbook.
func BenchmarkLoadCompile(b *testing.B) {
	schema := engine.MustSchema(reflect.TypeOf(probes.Facts{}))
	b.ReportAllocs()
	defer cpuPerOp(b)()
	for b.Loop() {
		loadAll(b, schema)
	}
}

// BenchmarkSnapshotDecode: decode a recorded snapshot (strict: unknown
// fields are errors, absent facts become unavailable).
func BenchmarkSnapshotDecode(b *testing.B) {
	for _, name := range []string{"spinner", "jvm-synchronized"} {
		raw := snapshotBytes(b, name)
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			defer cpuPerOp(b)()
			for b.Loop() {
				if _, err := probes.DecodeSnapshot(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEvaluate: evaluate a shipped playbook over a recorded snapshot
// (what replay and `diagnose test` do per case). oom-container runs over the
// JVM's snapshot, which holds its cgroup, OOM-log and JVM sections.
func BenchmarkEvaluate(b *testing.B) {
	schema := engine.MustSchema(reflect.TypeOf(probes.Facts{}))
	pbs := loadAll(b, schema)
	for _, tc := range []struct{ playbook, snapshot string }{
		{"slow-app", "pthread-mutex"},
		{"slow-app", "jvm-synchronized"},
		{"oom-container", "jvm-synchronized"},
		{"system", "odirect-fsync"},
	} {
		pb := pbs[tc.playbook]
		if pb == nil {
			b.Fatalf("no playbook %s", tc.playbook)
		}
		snap, err := probes.DecodeSnapshot(snapshotBytes(b, tc.snapshot))
		if err != nil {
			b.Fatal(err)
		}
		missing := missingOf(snap.Status)
		raw := map[string]string{}
		for _, p := range pb.Parameters {
			if p.Name == "pid" {
				raw["pid"] = strconv.Itoa(snap.Target.PID)
			}
		}
		params, err := pb.BindParams(raw)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(tc.playbook+"/"+tc.snapshot, func(b *testing.B) {
			b.ReportAllocs()
			defer cpuPerOp(b)()
			for b.Loop() {
				if _, err := pb.Evaluate(snap.Facts, params, missing); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReplay: decode and evaluate, as `diagnose slow-app --snapshot`
// does (without the report rendering).
func BenchmarkReplay(b *testing.B) {
	schema := engine.MustSchema(reflect.TypeOf(probes.Facts{}))
	pb := loadAll(b, schema)["slow-app"]
	raw := snapshotBytes(b, "pthread-mutex")
	b.ReportAllocs()
	defer cpuPerOp(b)()
	for b.Loop() {
		snap, err := probes.DecodeSnapshot(raw)
		if err != nil {
			b.Fatal(err)
		}
		params, err := pb.BindParams(map[string]string{"pid": strconv.Itoa(snap.Target.PID)})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := pb.Evaluate(snap.Facts, params, missingOf(snap.Status)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReplayCase: one `diagnose test` case over a snapshot the test file
// already decoded (each snapshot is decoded once per test file): inline facts
// merged over a copy, then the playbook evaluated.
func BenchmarkReplayCase(b *testing.B) {
	schema := engine.MustSchema(reflect.TypeOf(probes.Facts{}))
	pb := loadAll(b, schema)["slow-app"]
	snap, err := probes.DecodeSnapshot(snapshotBytes(b, "pthread-mutex"))
	if err != nil {
		b.Fatal(err)
	}
	params, err := pb.BindParams(map[string]string{"pid": strconv.Itoa(snap.Target.PID)})
	if err != nil {
		b.Fatal(err)
	}
	inline := []byte(`{"threads": {"lock_wakeups_per_s": 50}, "process": {"cpu_pct": 12.5}}`)
	b.ReportAllocs()
	defer cpuPerOp(b)()
	for b.Loop() {
		c, err := snap.WithFacts(inline)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := pb.Evaluate(c.Facts, params, missingOf(c.Status)); err != nil {
			b.Fatal(err)
		}
	}
}

// cpuPerOp reports this process's CPU time (rusage: all threads, GC
// included) per iteration next to the wall-clock ns/op, which other load on
// the machine inflates. Call as defer cpuPerOp(b)().
func cpuPerOp(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	c0 := cpu()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64((cpu()-c0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		}
	}
}

func missingOf(st probe.Statuses) engine.Missing {
	m := engine.Missing{}
	for path, s := range st {
		if s.State != probe.OK {
			m[path] = string(s.State) + ": " + s.Reason
		}
	}
	return m
}

func snapshotBytes(b *testing.B, workload string) []byte {
	b.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "hosts", "proc-slowapp-"+workload, "snapshot.json"))
	if err != nil {
		b.Fatal(err)
	}
	return raw
}
