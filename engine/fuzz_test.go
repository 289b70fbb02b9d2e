package engine

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// FuzzLoad: any bytes either load or give positioned errors; never a panic,
// and a playbook that loads evaluates over zero facts without panicking.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(goodPlaybook))
	files, _ := filepath.Glob("../testdata/playbooks/bad/*.yaml")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		pb, err := Load("fuzz.yaml", src, testSchema)
		if err != nil {
			requirePositioned(t, err)
			return
		}
		params, err := pb.BindParams(map[string]string{})
		if err != nil {
			return // a required parameter
		}
		if _, err := pb.Evaluate(testFacts{}, params, Missing{"memory": "fuzz"}); err != nil {
			t.Fatalf("evaluate: %v", err)
		}
	})
}

// FuzzTemplate: any evidence text compiles or errors with a position, and
// renders without panicking.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"{{ cpu.run_queue }}", "{{", "}}", "a {{ pct(cpu.iowait_pct) }} b {{ bytes(memory.limit_bytes) }}", "{{ {{ }} }}", "{{ disks.devices[0].name }}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, evidence string) {
		src := "name: t\nclasses: [cpu]\nrules:\n  - id: r\n    class: cpu\n    severity: warning\n    when: \"true\"\n    evidence: " + quoteYAML(evidence) + "\n"
		pb, err := Load("t.yaml", []byte(src), testSchema)
		if err != nil {
			return
		}
		res, err := pb.Evaluate(testFacts{}, Values{}, nil)
		if err != nil || len(res.Findings) != 1 {
			t.Fatalf("evaluate: %v %+v", err, res)
		}
		if len(res.Findings[0].Evidence) > MaxTemplateBytes+8 {
			t.Fatalf("evidence longer than the bound: %d bytes", len(res.Findings[0].Evidence))
		}
	})
}

func quoteYAML(s string) string {
	b := []byte{'\''}
	for _, c := range []byte(s) {
		if c == '\'' {
			b = append(b, '\'')
		}
		b = append(b, c)
	}
	return string(append(b, '\''))
}

// FuzzLoadSuite: any bytes as a playbook test file either load or give
// positioned errors; never a panic.
func FuzzLoadSuite(f *testing.F) {
	for _, pat := range []string{"../testdata/custom/*.test.yaml", "../playbooks/*.test.yaml", "../testdata/playbooks/good/*.test.yaml"} {
		files, _ := filepath.Glob(pat)
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte("playbook: x.yaml\ntests:\n  - name: a\n    snapshot: s.json\n    expect: {verdict: cpu}\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		s, err := LoadSuite("fuzz.test.yaml", src)
		if err != nil {
			requirePositioned(t, err)
			return
		}
		if s == nil {
			t.Fatal("nil suite without an error")
		}
	})
}

// FuzzLoadWithOverlay: any overlay bytes over a good playbook either load or
// give positioned errors; a result that loads evaluates without panicking.
func FuzzLoadWithOverlay(f *testing.F) {
	if b, err := os.ReadFile("../testdata/custom/batch.overlay.yaml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("overlay: demo\nparameters:\n  min_util: 50\nconditions:\n  saturated: cpu.run_queue > 4 * cpu.count\nrules:\n  busy-disk:\n    severity: critical\n  iowait:\n    disabled: noisy\n"))
	f.Add([]byte("overlay: demo\nrules:\n  nope:\n    severity: loud\n"))
	f.Fuzz(func(t *testing.T, ov []byte) {
		pb, err := LoadWithOverlay("demo.yaml", []byte(goodPlaybook), "fuzz.overlay.yaml", ov, testSchema)
		if err != nil {
			requirePositioned(t, err)
			return
		}
		params, err := pb.BindParams(map[string]string{"pid": "1"})
		if err != nil {
			return
		}
		if _, err := pb.Evaluate(testFacts{}, params, nil); err != nil {
			t.Fatalf("evaluate: %v", err)
		}
	})
}

// FuzzParseValue: parameter values from the command line parse or error;
// a size is never negative.
func FuzzParseValue(f *testing.F) {
	for _, s := range []string{"4096", "512MiB", "2G", "1.5 GiB", "3s", "true", "-1", "99999999999999999999P"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, typ := range []string{"int", "string", "bool", "duration", "bytes"} {
			v, err := ParseValue(typ, s)
			if err == nil && typ == "bytes" && v.(int64) < 0 {
				t.Fatalf("%q: negative size %d", s, v)
			}
		}
	})
}

// Found by FuzzParseValue: a size beyond int64 converted to a negative one.
func TestParseBytesTooLarge(t *testing.T) {
	for _, s := range []string{"99999999999999999999P", "8192P", "1e30"} {
		if v, err := ParseValue("bytes", s); err == nil {
			t.Errorf("%q: %v, want an error", s, v)
		}
	}
	if v, err := ParseValue("bytes", "8191P"); err != nil || v.(int64) != 8191<<50 {
		t.Errorf("8191P: %v %v", v, err)
	}
}

// Found by TestFaultOOMContainerKernelLogUnreadable: an info finding in a
// class whose warning rules could not be checked made the verdict "none"
// ("no problem found") while the exit code said inconclusive.
func TestInfoFindingDoesNotCheckAClass(t *testing.T) {
	pb := load(t, `name: d
classes: [memory]
rules:
  - id: no-limit
    class: memory
    severity: info
    when: "!memory.limited"
    evidence: "no limit"
  - id: killed
    class: memory
    severity: warning
    when: memory.limit_bytes > 0
    evidence: "killed"
`)
	res, err := pb.Evaluate(testFacts{}, Values{}, Missing{"memory.limit_bytes": "kernel log unreadable"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 1 || len(res.Unknown) != 1 {
		t.Fatalf("findings %+v unknown %+v", res.Findings, res.Unknown)
	}
	if res.Verdict.Class != "inconclusive" || len(res.Verdict.Unchecked) != 1 {
		t.Errorf("verdict %+v, want inconclusive with memory unchecked", res.Verdict)
	}
}

// requirePositioned fails unless err is a non-empty Errors whose every
// entry has a file position.
func requirePositioned(t *testing.T, err error) {
	t.Helper()
	es, ok := err.(Errors)
	if !ok || len(es) == 0 {
		t.Fatalf("error is not a non-empty Errors: %T %v", err, err)
	}
	for _, e := range es {
		if e.Line < 1 || e.Column < 1 {
			t.Fatalf("error without a position: %v", e)
		}
	}
}

// FuzzExpression: any condition compiles within the bounds (size, nesting,
// prefix-operator runs, no repeat, no $env) or errors with a position, and
// evaluates without panicking or growing without bound.
func FuzzExpression(f *testing.F) {
	for _, s := range []string{"cpu.run_queue > 4", "!!!!true", "- - -1 > 0", "not not true", `len(repeat("a", 9)) > 0`,
		`$env.cpu.run_queue == 0`, `len(upper(join(map(1..50, string(#)), ","))) > 0`, `any(disks.devices, .util_pct > 80)`,
		"(((((true)))))", `"a" + "b" == "ab"`, "cpu.run_queue / 0 > 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, when string) {
		src := "name: f\nclasses: [cpu]\nrules:\n  - id: r\n    class: cpu\n    severity: warning\n    evidence: x\n    when: " +
			strconv.Quote(when) + "\n"
		pb, err := Load("fuzz.yaml", []byte(src), testSchema)
		if err != nil {
			requirePositioned(t, err)
			return
		}
		if len(when) > MaxExpressionBytes {
			t.Fatalf("accepted %q", when)
		}
		if _, err := pb.Evaluate(testFacts{}, Values{}, Missing{}); err != nil {
			t.Fatalf("evaluate: %v", err)
		}
	})
}
