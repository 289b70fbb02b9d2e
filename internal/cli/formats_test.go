package cli

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	junit "github.com/joshdk/go-junit"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/diagnose-sh/diagnose/engine"
	"github.com/diagnose-sh/diagnose/playbooks"
)

func custom(name string) string { return filepath.Join(repoRoot(), "testdata", "custom", name) }

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// JUnit output is read back with a real consumer's parser (go-junit, as CI
// test reporters use), and its totals match what diagnose test counted.
func TestJUnitReadByAConsumer(t *testing.T) {
	dir := t.TempDir()
	junitFile := filepath.Join(dir, "report.xml")
	code, _, stderr := runCLI(t, "test", "--format", "json", "--output", "junit="+junitFile,
		custom("web-latency.test.yaml"), custom("failing.test.yaml"))
	if code != exitFindings {
		t.Fatalf("exit %d, want 1 (one case fails)\n%s", code, stderr)
	}
	suites, err := junit.IngestFile(junitFile)
	if err != nil {
		t.Fatalf("go-junit cannot read our JUnit: %v", err)
	}
	var tests, failed int
	var failedName string
	for _, s := range suites {
		tests += s.Totals.Tests
		failed += s.Totals.Failed
		for _, tc := range s.Tests {
			if tc.Status == junit.StatusFailed {
				failedName = tc.Name
				if tc.Error == nil || !strings.Contains(tc.Error.Error(), "expected") {
					t.Errorf("failure without the expected-against-got detail: %+v", tc)
				}
			}
		}
	}
	if tests != 6 || failed != 1 || failedName != "wrong verdict and a rule that does not fire" {
		t.Errorf("junit: %d tests, %d failed (%q); want 6, 1", tests, failed, failedName)
	}

	// A playbook run as JUnit: each rule a test case, a finding a failure, unknown skipped.
	runFile := filepath.Join(dir, "run.xml")
	code, _, stderr = runCLI(t, "run", custom("web-latency.yaml"), "--snapshot", custom("snapshots/calm.json"),
		"--output", "junit="+runFile)
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	suites, err = junit.IngestFile(runFile)
	if err != nil || len(suites) != 1 || suites[0].Totals.Tests != 2 || suites[0].Totals.Failed != 0 {
		t.Fatalf("run junit: %+v %v", suites, err)
	}
}

func compileSchema(t *testing.T, url string, doc any) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(url)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func jsonValue(t *testing.T, b []byte) any {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	return v
}

// SARIF output validates against the SARIF 2.1.0 constraints it uses.
func TestSARIFValidates(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot(), "testdata", "schemas", "sarif-2.1.0-subset.json"))
	if err != nil {
		t.Fatal(err)
	}
	schema := compileSchema(t, "sarif.json", jsonValue(t, raw))
	busy := filepath.Join(t.TempDir(), "busy.json")
	os.WriteFile(busy, []byte(`{"version": 1, "target": {"pid": 1}, "status": {"cpu": {"state": "ok"}, "host": {"state": "ok"}, "disks": {"state": "ok"}},
	  "facts": {"cpu": {"run_queue": 9, "idle_pct": 0}, "host": {"cpu_count": 2},
	  "disks": {"busiest": {"name": "vda", "w_await_ms": 80, "r_await_ms": 1, "aqu_sz": 4, "util_pct": 99}}}}`), 0o644)
	for _, args := range [][]string{
		{"run", custom("web-latency.yaml"), "--snapshot", busy, "--pid", "1", "--format", "sarif"},
		{"test", "--format", "sarif", custom("failing.test.yaml")},
	} {
		_, out, stderr := runCLI(t, args...)
		if err := schema.Validate(jsonValue(t, []byte(out))); err != nil {
			t.Errorf("%v: SARIF invalid: %v\n%s%s", args, err, out, stderr)
		}
		var log struct {
			Runs []struct {
				Results []struct {
					RuleID, Level string
				}
			}
		}
		json.Unmarshal([]byte(out), &log)
		if len(log.Runs) != 1 || len(log.Runs[0].Results) == 0 {
			t.Errorf("%v: no results: %s", args, out)
		}
		if args[0] == "run" && (log.Runs[0].Results[0].RuleID != "slow-disk" || log.Runs[0].Results[0].Level != "error") {
			t.Errorf("first result %+v, want slow-disk at level error (critical)", log.Runs[0].Results[0])
		}
	}
}

func yamlToJSON(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return jsonValue(t, j)
}

// `diagnose schema` describes every shipped playbook, the example tests and
// overlays, and rejects what validate rejects structurally.
func TestJSONSchemasDescribeOurFiles(t *testing.T) {
	schemas := engine.JSONSchemas()
	compiled := map[string]*jsonschema.Schema{}
	for kind, s := range schemas {
		b, _ := json.Marshal(s)
		compiled[kind] = compileSchema(t, kind+".json", jsonValue(t, b))
	}
	names, _ := fs.Glob(playbooks.FS, "*.yaml")
	for _, n := range names {
		b, _ := fs.ReadFile(playbooks.FS, n)
		if err := compiled["playbook"].Validate(yamlToJSON(t, b)); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
	for file, kind := range map[string]string{"web-latency.yaml": "playbook", "web-latency.test.yaml": "test",
		"batch.test.yaml": "test", "batch.overlay.yaml": "overlay"} {
		b, err := os.ReadFile(custom(file))
		if err != nil {
			t.Fatal(err)
		}
		if err := compiled[kind].Validate(yamlToJSON(t, b)); err != nil {
			t.Errorf("%s: %v", file, err)
		}
	}
	bad := yamlToJSON(t, []byte("name: x\nclasses: [cpu]\nrules:\n  - id: a\n    class: cpu\n    sevrity: warning\n"))
	if compiled["playbook"].Validate(bad) == nil {
		t.Error("the playbook schema accepts an unknown key")
	}
}

// docs/schema holds what `diagnose schema` prints, for editors to point at.
func TestCommittedSchemasAreCurrent(t *testing.T) {
	for _, kind := range []string{"playbook", "test", "overlay"} {
		code, out, stderr := runCLI(t, "schema", kind)
		if code != exitOK {
			t.Fatalf("schema %s: exit %d %s", kind, code, stderr)
		}
		path := filepath.Join(repoRoot(), "docs", "schema", kind+".json")
		if os.Getenv("UPDATE_SCHEMAS") != "" {
			os.MkdirAll(filepath.Dir(path), 0o755)
			os.WriteFile(path, []byte(out), 0o644)
		}
		want, err := os.ReadFile(path)
		if err != nil || string(want) != out {
			t.Errorf("%s is not what diagnose schema %s prints (UPDATE_SCHEMAS=1 go test ./internal/cli -run Schemas): %v", path, kind, err)
		}
	}
}

// The JSON report's shape is the documented one (docs/json.md): a renamed or
// dropped field fails here before it breaks someone's pipeline.
func TestJSONReportShapeIsStable(t *testing.T) {
	snap := filepath.Join(t.TempDir(), "s.json")
	os.WriteFile(snap, []byte(`{"version": 1, "collected_at": "2026-11-29T07:00:00Z", "target": {"pid": 7}, "status": {"cpu": {"state": "ok"}, "host": {"state": "ok"}, "disks": {"state": "unavailable", "reason": "test"}},
	  "facts": {"cpu": {"run_queue": 9, "idle_pct": 0}, "host": {"cpu_count": 2}}}`), 0o644)
	code, out, stderr := runCLI(t, "run", custom("web-latency.yaml"), "--snapshot", snap, "--pid", "7", "--format", "json")
	if code != exitFindings {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	keys := func(raw json.RawMessage) string {
		var m map[string]json.RawMessage
		json.Unmarshal(raw, &m)
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		return strings.Join(ks, ",")
	}
	first := func(raw json.RawMessage) json.RawMessage {
		var list []json.RawMessage
		json.Unmarshal(raw, &list)
		if len(list) == 0 {
			t.Fatalf("empty list in %s", out)
		}
		return list[0]
	}
	for _, c := range []struct{ what, got, want string }{
		{"report", keys(json.RawMessage(out)), "collected_at,description,facts,file,findings,notes,parameters,playbook,probes,schema_version,skipped,source,tool,unknown,verdict,window_seconds"},
		{"verdict", keys(doc["verdict"]), "also,class,exonerated,severity,unchecked"},
		{"finding", keys(first(doc["findings"])), "class,evidence,explain,next,rule,severity"},
		{"unknown", keys(first(doc["unknown"])), "class,reason,rule,severity"},
		{"probe status", keys(doc["probes"]), "cpu,disks,host"},
		{"facts", keys(doc["facts"]), "cpu,disks,host"},
	} {
		if c.got != c.want {
			t.Errorf("%s keys: %s\nwant: %s", c.what, c.got, c.want)
		}
	}

	// With --baseline: the baseline object, and a change in it.
	base := filepath.Join(t.TempDir(), "base.json")
	os.WriteFile(base, []byte(`{"version": 1, "collected_at": "2026-11-28T07:00:00Z", "target": {"pid": 7}, "status": {"cpu": {"state": "ok"}, "host": {"state": "ok"}, "disks": {"state": "ok"}},
	  "facts": {"cpu": {"run_queue": 1, "idle_pct": 80}, "host": {"cpu_count": 2}}}`), 0o644)
	code, out, stderr = runCLI(t, "run", custom("web-latency.yaml"), "--snapshot", snap, "--baseline", base, "--format", "json")
	if code != exitFindings {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	doc = nil
	json.Unmarshal([]byte(out), &doc)
	var bl map[string]json.RawMessage
	json.Unmarshal(doc["baseline"], &bl)
	var groups []map[string]json.RawMessage
	json.Unmarshal(bl["changes"], &groups)
	if len(groups) == 0 {
		t.Fatalf("no changes in %s", doc["baseline"])
	}
	for _, c := range []struct{ what, got, want string }{
		{"baseline", keys(doc["baseline"]), "changes,collected_at,source,target"},
		{"change group", keys(json.RawMessage(mustJSON(t, groups[0]))), "class,facts"},
		{"change", keys(first(groups[0]["facts"])), "after,before,change,fact,ratio,unit"},
	} {
		if c.got != c.want {
			t.Errorf("%s keys: %s\nwant: %s", c.what, c.got, c.want)
		}
	}
}
