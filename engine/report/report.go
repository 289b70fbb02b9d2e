// Package report renders a playbook's result for people (text) and for
// programs (json). Each format is one file.
package report

import (
	"encoding/json"
	"io"

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
	Source        string           `json:"source"`
	CollectedAt   string           `json:"collected_at,omitempty"`
	WindowSeconds float64          `json:"window_seconds"`
	Verdict       engine.Verdict   `json:"verdict"`
	Findings      []engine.Finding `json:"findings"`
	Unknown       []engine.Unknown `json:"unknown"`
	// Probes holds the status of every section the playbook read.
	Probes map[string]ProbeStatus `json:"probes"`
	// Facts are the sections the playbook read, named as in its expressions.
	Facts map[string]json.RawMessage `json:"facts"`
	// Notes are things a person should know about the run (ptrace slowed the
	// target, the process exited during the window).
	Notes []string `json:"notes"`
}

// ProbeStatus is a probe's outcome as shown to people and programs.
type ProbeStatus struct {
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
	Fix    string `json:"fix,omitempty"`
}

// JSON writes the report as indented JSON. encoding/json escapes control
// bytes and replaces invalid UTF-8, so the output is valid JSON for any input.
func JSON(w io.Writer, r Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
