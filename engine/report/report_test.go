package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/diagnose-sh/diagnose/engine"
)

func sample() Report {
	return Report{
		SchemaVersion: SchemaVersion, Playbook: "slow-app", Source: "live", WindowSeconds: 2,
		Parameters: map[string]any{"pid": 4242},
		Verdict:    engine.Verdict{Class: "cpu", Severity: "critical", Also: []string{"io"}, Exonerated: []string{"network"}, Unchecked: []string{"memory"}},
		Findings: []engine.Finding{{Rule: "cpu-saturated", Class: "cpu", Severity: "critical",
			Evidence: "run queue 5 on 2 CPUs \x1b[2J", Explain: "More tasks want a CPU than there are CPUs.", Next: []string{"perf top -p 4242"}}},
		Unknown: []engine.Unknown{{Rule: "swap", Class: "memory", Severity: "warning", Reason: "psi: unavailable"}},
		Notes:   []string{"strace was attached"},
	}
}

func TestTextOrderAndContent(t *testing.T) {
	var b bytes.Buffer
	if err := Text(&b, sample(), Style{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	want := []string{"slow-app: CPU CRITICAL", "pid=4242, live, 2.0s window", "also: io", "note: strace was attached",
		"Findings", "cpu-saturated  [cpu]", `run queue 5 on 2 CPUs \x1b[2J`, "next: perf top -p 4242",
		"Could not check", "? swap [memory]: psi: unavailable", "Checked and clean: network", "Not checked: memory"}
	pos := 0
	for _, w := range want {
		i := strings.Index(out[pos:], w)
		if i < 0 {
			t.Fatalf("missing or out of order: %q\n%s", w, out)
		}
		pos += i + len(w)
	}
	if strings.Contains(out, "\x1b") {
		t.Errorf("escape byte in plain text output:\n%q", out)
	}
}

func TestTextColourOnlyWhenAsked(t *testing.T) {
	var plain, coloured bytes.Buffer
	Text(&plain, sample(), Style{Color: false})
	Text(&coloured, sample(), Style{Color: true})
	if strings.Contains(plain.String(), "\x1b[") {
		t.Error("colour without Style.Color")
	}
	if !strings.Contains(coloured.String(), "\x1b[") {
		t.Error("no colour with Style.Color")
	}
	// The evidence's own escape stays inert even in colour mode.
	if strings.Contains(coloured.String(), "\x1b[2J") {
		t.Error("a system string's escape sequence reached the terminal")
	}
}

func TestJSONIsValidForAnyBytes(t *testing.T) {
	r := sample()
	r.Findings[0].Evidence = "bad \xff\xfe utf8 \x00 nul \x1b]0;title\x07"
	var b bytes.Buffer
	if err := JSON(&b, r); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, b.String())
	}
	for _, key := range []string{"schema_version", "playbook", "verdict", "findings", "unknown", "probes", "facts", "notes"} {
		if _, ok := back[key]; !ok {
			t.Errorf("JSON lacks %q", key)
		}
	}
}

func TestTextSetsInfoUnknownsApart(t *testing.T) {
	r := sample()
	r.Unknown = append(r.Unknown,
		engine.Unknown{Rule: "strace-futex", Class: "locks", Severity: "info", Reason: "syscalls: not requested"},
		engine.Unknown{Rule: "strace-disk", Class: "io", Severity: "info", Reason: "syscalls: not requested"})
	var b bytes.Buffer
	Text(&b, r, Style{})
	out := b.String()
	i, j := strings.Index(out, "Could not check"), strings.Index(out, "Context not gathered")
	if i < 0 || j < i {
		t.Fatalf("sections missing or out of order:\n%s", out)
	}
	if !strings.Contains(out[j:], "? strace-futex [locks], strace-disk [io]: syscalls: not requested") {
		t.Errorf("info unknowns sharing a reason are not on one line in their own section:\n%s", out)
	}
	if strings.Contains(out[i:j], "strace") {
		t.Errorf("info unknowns listed with the deciding ones:\n%s", out)
	}
}
