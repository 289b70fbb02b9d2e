package playbooks_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"

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
	for b.Loop() {
		loadAll(b, schema)
	}
}

// BenchmarkSnapshotDecode: read a recorded snapshot.
func BenchmarkSnapshotDecode(b *testing.B) {
	path := firstSnapshot(b)
	raw, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		f, _ := os.Open(path)
		if _, err := probes.ReadSnapshot(f); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}

// BenchmarkEvaluate: evaluate each shipped playbook over a recorded snapshot
// (what replay and `diagnose test` do per case).
func BenchmarkEvaluate(b *testing.B) {
	schema := engine.MustSchema(reflect.TypeOf(probes.Facts{}))
	f, err := os.Open(firstSnapshot(b))
	if err != nil {
		b.Fatal(err)
	}
	snap, err := probes.ReadSnapshot(f)
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	missing := engine.Missing{}
	for path, st := range snap.Status {
		if st.State != probe.OK {
			missing[path] = st.Reason
		}
	}
	for name, pb := range loadAll(b, schema) {
		params, err := pb.BindParams(map[string]string{})
		if err != nil {
			params, err = pb.BindParams(map[string]string{"pid": "1"})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := pb.Evaluate(snap.Facts, params, missing); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func firstSnapshot(b *testing.B) string {
	b.Helper()
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "snapshots", "*.json"))
	if len(files) == 0 {
		b.Skip("no recorded snapshots in testdata/snapshots")
	}
	return files[0]
}
