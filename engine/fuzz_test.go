package engine

import (
	"os"
	"path/filepath"
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
			es, ok := err.(Errors)
			if !ok || len(es) == 0 {
				t.Fatalf("error is not a non-empty Errors: %T %v", err, err)
			}
			for _, e := range es {
				if e.Line < 1 || e.Column < 1 {
					t.Fatalf("error without a position: %v", e)
				}
			}
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
