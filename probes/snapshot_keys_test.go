package probes

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// presenceOf is the reference for factPresence: the "facts" object decoded
// by the JSON decoder into maps, then walked along the Facts tree.
func presenceOf(t testing.TB, b []byte) []bool {
	var raw struct {
		Facts map[string]any `json:"facts"`
	}
	if err := jsonv2.Unmarshal(b, &raw); err != nil {
		t.Skip("not a JSON object with an object of facts")
	}
	tree := factTree()
	present := make([]bool, tree.count)
	var walk func(f *factField, m map[string]any)
	walk = func(f *factField, m map[string]any) {
		for i := range f.fields {
			child := &f.fields[i]
			v, ok := m[child.name]
			if !ok {
				continue
			}
			present[child.id] = true
			if sub, isMap := v.(map[string]any); isMap && child.isStruct {
				walk(child, sub)
			}
		}
	}
	walk(&tree.factField, raw.Facts)
	return present
}

func checkPresence(t testing.TB, b []byte) {
	want := presenceOf(t, b)
	got, err := factPresence(b)
	if err != nil {
		t.Fatalf("factPresence(%q): %v", b, err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("factPresence(%q) finds %v,\nthe decoder %v", b, absentFacts(factTree().fields, got, nil), absentFacts(factTree().fields, want, nil))
	}
}

func TestFactPresence(t *testing.T) {
	for _, src := range []string{
		`{"version": 1, "facts": {"cpu": {"iowait_pct": 30, "x": [1, {"y": 2}], "s": "a\"}b"}}}`,
		`{"facts": {"cpu": {}}, "status": {"cpu": {"state": "ok"}}}`,
		`{"facts": null}`,
		`{}`,
		`{"facts": {"cpu": null, "disks": {"busiest": {"name": "vda"}, "devices": [{"name": "x"}]}}}`,
		`{"facts": {"\u0063pu": {"run_\u0071ueue": -1.5e3, "n": null, "t": false}}}`,
		"{\"facts\": {\"caf\xc3\xa9\": 1, \"memory\": {\"total_bytes\": 2}}}",
		` { "facts" : { "host" : [ ] , "psi" : "" } } `,
	} {
		t.Run("", func(t *testing.T) { checkPresence(t, []byte(src)) })
	}
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "hosts", "*", "snapshot.json"))
	if len(files) < 5 {
		t.Fatalf("%d recorded snapshots", len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checkPresence(t, b)
	}
}

// FuzzFactPresence: on any JSON the decoder accepts, factPresence finds
// the same facts; on anything else it returns, never panics.
func FuzzFactPresence(f *testing.F) {
	f.Add(`{"version": 1, "facts": {"cpu": {"iowait_pct": 30}}}`)
	f.Add(`{"facts": {"disks": [1, {"b": "c\\"}"}], "memory": {"e": null}}}`)
	f.Add(`{"facts": {"cpu": 1}, "facts": {"memory": 2}}`)
	f.Fuzz(func(t *testing.T, src string) {
		if !jsontext.Value(src).IsValid() {
			factPresence([]byte(src)) // must not panic
			return
		}
		checkPresence(t, []byte(src))
	})
}

func BenchmarkFactPresence(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "hosts", "proc-slowapp-pthread-mutex", "snapshot.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := factPresence(raw); err != nil {
			b.Fatal(err)
		}
	}
}
