package probes

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// keyTreeOf is the reference for factKeys: the "facts" object decoded by
// encoding/json, reduced to its keys (objects nested, other values true).
func keyTreeOf(t testing.TB, b []byte) map[string]any {
	var raw struct {
		Facts map[string]any `json:"facts"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Skip("not a JSON object with an object of facts")
	}
	var tree func(v any, depth int) any
	tree = func(v any, depth int) any {
		m, ok := v.(map[string]any)
		if !ok || depth > 32 {
			return true
		}
		out := map[string]any{}
		for k, x := range m {
			out[k] = tree(x, depth+1)
		}
		return out
	}
	if raw.Facts == nil {
		return nil
	}
	return tree(raw.Facts, 0).(map[string]any)
}

func checkFactKeys(t testing.TB, b []byte) {
	want := keyTreeOf(t, b)
	got, err := factKeys(b)
	if err != nil {
		t.Fatalf("factKeys(%q): %v", b, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("factKeys(%q) =\n%v\nencoding/json says\n%v", b, got, want)
	}
}

func TestFactKeys(t *testing.T) {
	for _, src := range []string{
		`{"version": 1, "facts": {"cpu": {"iowait_pct": 30, "x": [1, {"y": 2}], "s": "a\"}b"}}}`,
		`{"facts": {"cpu": {}}, "status": {"cpu": {"state": "ok"}}}`,
		`{"facts": null}`,
		`{}`,
		`{"facts": {"a": 1}, "facts": {"b": {"c": true}}}`,
		`{"facts": {"a": {"x": 1}, "a": {"y": 2}}}`,
		`{"facts": {"\u0063pu": {"k\"ey": -1.5e3, "n": null, "t": false}}}`,
		"{\"facts\": {\"caf\xc3\xa9\": 1, \"bad\xff\": 2}}",
		` { "facts" : { "a" : [ ] , "b" : "" } } trailing`,
	} {
		t.Run("", func(t *testing.T) { checkFactKeys(t, []byte(src)) })
	}
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "hosts", "*", "snapshot.json"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checkFactKeys(t, b)
	}
}

// FuzzFactKeys: on any JSON encoding/json accepts, factKeys finds the same
// keys; on anything else it returns, never panics.
func FuzzFactKeys(f *testing.F) {
	f.Add(`{"version": 1, "facts": {"cpu": {"iowait_pct": 30}}}`)
	f.Add(`{"facts": {"a": [1, {"b": "c\\"}"}], "d": {"e": null}}}`)
	f.Add(`{"facts": {"a": 1}, "facts": {"b": 2}}`)
	f.Fuzz(func(t *testing.T, src string) {
		if !json.Valid([]byte(src)) {
			factKeys([]byte(src)) // must not panic
			return
		}
		checkFactKeys(t, []byte(src))
	})
}
