package engine

import (
	"fmt"
	"strings"
	"testing"
)

// Untrusted playbooks: pathological input is rejected with a clear error,
// quickly (the benchmark-free bound here is the test's own timeout).
func TestPathologicalPlaybooks(t *testing.T) {
	deep := "name: deep\nclasses: [cpu]\nrules:\n  - id: r\n    class: cpu\n    severity: warning\n    evidence: x\n    when: " +
		strings.Repeat("(", 5000) + "true" + strings.Repeat(")", 5000) + "\n"
	nestedYAML := "name: n\nclasses: [cpu]\nrules: " + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + "\n"
	bigExpr := "name: big\nclasses: [cpu]\nrules:\n  - id: r\n    class: cpu\n    severity: warning\n    evidence: x\n    when: " +
		strings.TrimSuffix(strings.Repeat("cpu.run_queue > 1 || ", 3000), " || ") + "\n"
	var manyRules strings.Builder
	manyRules.WriteString("name: many\nclasses: [cpu]\nrules:\n")
	for i := 0; manyRules.Len() < MaxPlaybookBytes+10; i++ {
		fmt.Fprintf(&manyRules, "  - {id: r%d, class: cpu, severity: warning, when: cpu.run_queue > %d, evidence: x}\n", i, i)
	}
	hugeString := "name: s\nclasses: [cpu]\nrules:\n  - id: r\n    class: cpu\n    severity: warning\n    when: \"true\"\n    evidence: \"" +
		strings.Repeat("A", MaxPlaybookBytes) + "\"\n"
	aliases := "name: a\nclasses: &c [cpu]\nrules:\n  - {id: r, class: *c, severity: warning, when: \"true\", evidence: x}\n"
	when := func(expr string) string {
		return "name: w\nclasses: [cpu]\nrules:\n  - id: r\n    class: cpu\n    severity: warning\n    evidence: x\n    when: '" + expr + "'\n"
	}
	evidence := func(tmpl string) string {
		return "name: w\nclasses: [cpu]\nrules:\n  - id: r\n    class: cpu\n    severity: warning\n    when: \"true\"\n    evidence: '" + tmpl + "'\n"
	}
	manyNodes := strings.Repeat("1+", 2000) + "1 > 0"
	for _, c := range []struct{ name, src, want string }{
		{"deeply nested expression", deep, "nests deeper than 64 levels"},
		{"deeply nested YAML", nestedYAML, "invalid YAML: exceeded max depth"},
		{"enormous expression", bigExpr, "the expression is 62996 bytes; the limit is 4096"},
		{"too many nodes", when(manyNodes), "exceeds maximum allowed nodes"},
		// The parser recurses on every prefix operator: a megabyte of ! overflowed its stack.
		{"a million !", when(strings.Repeat("!", 1040000) + "true"), "nests deeper than 64 levels (brackets or operators such as !)"},
		{"200,000 unary minus", when(strings.Repeat("-", 200000) + "1 > 0"), "nests deeper than 64 levels"},
		{"a thousand !", when(strings.Repeat("!", 1000) + "true"), "nests deeper than 64 levels"},
		{"a chain of not", when(strings.Repeat("not ", 100) + "true"), "nests deeper than 64 levels"},
		{"unary chain in a template", evidence("{{ " + strings.Repeat("-", 100) + "1 }}"), "nests deeper than 64 levels"},
		// repeat builds strings without bound.
		{"repeat", when(`len(repeat(repeat("a", 100000), 100000)) > 0`), `unknown name "repeat"`},
		// $env reads facts the engine does not see: a missing one would be zero.
		{"$env in a condition", when(`$env.cpu.run_queue == 0`), "$env is not allowed"},
		{"$env in a template", evidence("{{ toJSON($env) }}"), "$env is not allowed"},
		{"too large a file", manyRules.String(), "the limit is 1048576"},
		{"enormous string", hugeString, "the limit is 1048576"},
		{"YAML aliases", aliases, "class must be a string, got an alias"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load("hostile.yaml", []byte(c.src), testSchema)
			if err == nil {
				t.Fatal("accepted")
			}
			if _, ok := err.(Errors); !ok {
				t.Fatalf("error is %T, want positioned Errors: %v", err, err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q lacks %q", firstLine(err.Error()), c.want)
			}
		})
	}
}

// Expressions cannot reach the outside world: no builtin runs commands or
// reads files, and unknown functions do not compile.
func TestExpressionsCannotEscape(t *testing.T) {
	for _, when := range []string{`exec("id") == ""`, `readFile("/etc/shadow") != ""`, `env("HOME") != ""`, `os.Getenv("HOME") != ""`} {
		src := "name: e\nclasses: [cpu]\nrules:\n  - id: r\n    class: cpu\n    severity: warning\n    evidence: x\n    when: '" + when + "'\n"
		if _, err := Load("e.yaml", []byte(src), testSchema); err == nil {
			t.Errorf("%s compiled", when)
		}
	}
}

// A rule that would allocate without bound fails at evaluation with a
// reason (expr's memory budget), it does not take diagnose down.
func TestRunawayExpressionIsBounded(t *testing.T) {
	src := "name: e\nclasses: [cpu]\nrules:\n  - id: r\n    class: cpu\n    severity: warning\n    evidence: x\n    when: \"len(map(1..100000000, # * 2)) > 0\"\n"
	pb, err := Load("e.yaml", []byte(src), testSchema)
	if err != nil {
		t.Fatal(err)
	}
	res, err := pb.Evaluate(testFacts{}, Values{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Unknown) != 1 || !strings.Contains(res.Unknown[0].Reason, "memory budget") {
		t.Errorf("unknown = %+v, want the rule unknown for exceeding the memory budget", res.Unknown)
	}
}

// Error excerpts quote the file: a terminal escape in it is shown inert, and
// a megabyte-long line is clipped around the caret.
func TestErrorExcerptsAreInert(t *testing.T) {
	osc := "name: e\nclasses: [cpu]\nrules:\n  - id: r\n    class: cpu\n    severity: warning\n    evidence: x\n    when: \"cpu.nope > 1\" # \x1b]0;pwned\x07\n"
	long := "name: e\nclasses: [cpu]\nrules:\n  - id: r\n    class: cpu\n    severity: warning\n    evidence: x\n    when: \"" +
		strings.Repeat("cpu.run_queue > 1 && ", 10) + "cpu.nope > 1\" # " + strings.Repeat("y", 1<<19) + "\n"
	for name, src := range map[string]string{"escape": osc, "long line": long} {
		_, err := Load("e.yaml", []byte(src), testSchema)
		if err == nil {
			t.Fatalf("%s: accepted", name)
		}
		out := err.Error()
		if strings.ContainsAny(out, "\x1b\x07") || len(out) > 600 || !strings.Contains(out, "^") {
			t.Errorf("%s: %d bytes, %q", name, len(out), out[:min(len(out), 300)])
		}
	}
	// A YAML escape decodes to a real ESC inside a value the message quotes.
	decoded := "name: e\nclasses: [cpu]\nrules:\n  - id: r\n    class: \"cpu\\e]0;pwned\\a\"\n    severity: warning\n    evidence: x\n    when: \"true\"\n"
	_, err := Load("e.yaml", []byte(decoded), testSchema)
	if err == nil || strings.ContainsAny(err.Error(), "\x1b\x07") || !strings.Contains(err.Error(), `\x1b]0;pwned`) {
		t.Errorf("the escape is not shown inert: %v", err)
	}
}

// Loops nested over ranges are bounded too: every range counts against the
// same memory budget, so a billion iterations stop at the budget, at once.
func TestNestedLoopsAreBounded(t *testing.T) {
	src := "name: e\nclasses: [cpu]\nrules:\n  - id: r\n    class: cpu\n    severity: warning\n    evidence: x\n    when: \"all(1..30000, all(1..30000, true))\"\n"
	pb, err := Load("e.yaml", []byte(src), testSchema)
	if err != nil {
		t.Fatal(err)
	}
	res, err := pb.Evaluate(testFacts{}, Values{}, nil)
	if err != nil || len(res.Unknown) != 1 || !strings.Contains(res.Unknown[0].Reason, "memory budget") {
		t.Errorf("err %v, unknown %+v", err, res.Unknown)
	}
}
