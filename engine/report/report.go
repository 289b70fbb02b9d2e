// Package report renders a playbook's result for people (text) and for
// programs (json). Each format is one file.
package report

import (
	"encoding/json"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/diagnose-sh/diagnose/engine"
)

// SchemaVersion is the version of the JSON report format (docs/json.md).
// It changes only when a field is removed or changes meaning.
const SchemaVersion = 1

// Report is everything a run produced.
type Report struct {
	SchemaVersion int            `json:"schema_version"`
	Tool          string         `json:"tool"`
	Playbook      string         `json:"playbook"`
	Description   string         `json:"description,omitempty"`
	File          string         `json:"file,omitempty"`
	Parameters    map[string]any `json:"parameters"`
	// Source is "live" or "snapshot:FILE".
	Source        string  `json:"source"`
	CollectedAt   string  `json:"collected_at,omitempty"`
	WindowSeconds float64 `json:"window_seconds"`
	// WindowRequestedSeconds is the window asked for, when --timeout cut
	// the sampling short of it (WindowSeconds is then what was sampled).
	WindowRequestedSeconds float64          `json:"window_requested_seconds,omitempty"`
	Verdict                engine.Verdict   `json:"verdict"`
	Findings               []engine.Finding `json:"findings"`
	Unknown                []engine.Unknown `json:"unknown"`
	// Skipped are the rules that compare with a baseline, in a run without one.
	Skipped []engine.Skipped `json:"skipped"`
	// Baseline is the comparison with --baseline, absent without one.
	Baseline *Baseline `json:"baseline,omitempty"`
	// Probes holds the status of every section the playbook read.
	Probes map[string]ProbeStatus `json:"probes"`
	// Facts are the sections the playbook read, named as in its expressions.
	Facts map[string]json.RawMessage `json:"facts"`
	// Notes are things a person should know about the run (ptrace slowed the
	// target, the process exited during the window).
	Notes []string `json:"notes"`

	// Rules describes the playbook's rules for formats that list them (SARIF, JUnit).
	Rules []RuleInfo `json:"-"`
	// Exports are the facts the playbook exports as metrics (prometheus).
	Exports []Export `json:"-"`
	// At is when the facts were gathered (prometheus).
	At time.Time `json:"-"`
}

// RuleInfo is what SARIF and JUnit need to know of a rule.
type RuleInfo struct {
	ID, Class, Severity, Explain string
	Line                         int
}

// RulesOf describes a playbook's enabled rules.
func RulesOf(pb *engine.Playbook) []RuleInfo {
	var out []RuleInfo
	for _, r := range pb.Rules {
		if r.Disabled == "" {
			out = append(out, RuleInfo{ID: r.ID, Class: r.Class, Severity: r.Severity, Explain: strings.TrimSpace(r.Explain), Line: r.Line})
		}
	}
	return out
}

// TestReport is the outcome of `diagnose test`.
type TestReport struct {
	SchemaVersion int           `json:"schema_version"`
	Tool          string        `json:"tool"`
	Passed        int           `json:"passed"`
	Failed        int           `json:"failed"`
	Suites        []SuiteReport `json:"suites"`
	// Coverage is per playbook, over every file that tests it.
	Coverage []PlaybookCoverage `json:"coverage"`
}

// PlaybookCoverage is which of a playbook's rules fired in some case of
// any of its test files.
type PlaybookCoverage struct {
	Playbook     string   `json:"playbook"`
	PlaybookFile string   `json:"playbook_file"`
	Files        []string `json:"files"`
	Exercised    []string `json:"exercised"`
	Missed       []string `json:"missed"`
	CoveragePct  float64  `json:"coverage_pct"`
}

// SuiteReport is one test file's outcome and what of its playbook that file
// alone covers.
type SuiteReport struct {
	File         string              `json:"file"`
	Playbook     string              `json:"playbook"`
	PlaybookFile string              `json:"playbook_file"`
	Cases        []engine.CaseResult `json:"cases"`
	Exercised    []string            `json:"exercised"`
	Missed       []string            `json:"missed"`
	CoveragePct  float64             `json:"coverage_pct"`
}

// Writer renders a run report in one format.
type Writer func(w io.Writer, r Report, st Style) error

// TestWriter renders a test report in one format.
type TestWriter func(w io.Writer, r TestReport, st Style) error

// Formats lists the formats of run reports, by name.
var Formats = map[string]Writer{
	"text":       Text,
	"json":       func(w io.Writer, r Report, _ Style) error { return JSON(w, r) },
	"markdown":   func(w io.Writer, r Report, _ Style) error { return Markdown(w, r) },
	"junit":      func(w io.Writer, r Report, _ Style) error { return JUnit(w, r) },
	"sarif":      func(w io.Writer, r Report, _ Style) error { return SARIF(w, r) },
	"prometheus": func(w io.Writer, r Report, _ Style) error { return Prometheus(w, r) },
}

// TestFormats lists the formats of test reports, by name.
var TestFormats = map[string]TestWriter{
	"text":     TestText,
	"json":     func(w io.Writer, r TestReport, _ Style) error { return WriteJSON(w, r) },
	"markdown": func(w io.Writer, r TestReport, _ Style) error { return TestMarkdown(w, r) },
	"junit":    func(w io.Writer, r TestReport, _ Style) error { return TestJUnit(w, r) },
	"sarif":    func(w io.Writer, r TestReport, _ Style) error { return TestSARIF(w, r) },
}

// FormatNames lists the format names, sorted.
func FormatNames() []string { return Names(Formats) }

// TestFormatNames lists the formats of test reports, sorted.
func TestFormatNames() []string { return Names(TestFormats) }

// Names lists a format map's names, sorted.
func Names[W any](formats map[string]W) []string {
	names := make([]string, 0, len(formats))
	for n := range formats {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ProbeStatus is a probe's outcome as shown to people and programs.
type ProbeStatus struct {
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
	Fix    string `json:"fix,omitempty"`
}

// JSON writes the report as indented JSON. encoding/json escapes control
// bytes and replaces invalid UTF-8, so the output is valid JSON for any input.
func JSON(w io.Writer, r Report) error { return WriteJSON(w, r) }

// WriteJSON writes v as indented JSON, the form of every JSON output.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
