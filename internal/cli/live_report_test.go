package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/diagnose-sh/diagnose/engine"
	"github.com/diagnose-sh/diagnose/engine/report"
	"github.com/diagnose-sh/diagnose/probes"
)

// liveReport is the JSON report as the live tests read it: the report itself,
// with the facts decoded into the real fact types (the outer Facts field
// takes the "facts" key over the embedded report's raw one).
type liveReport struct {
	report.Report
	Facts probes.Facts `json:"facts"`
}

func (r liveReport) rules() []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, f.Rule)
	}
	return out
}

func (r liveReport) fired(rule string) bool {
	_, ok := r.finding(rule)
	return ok
}

func (r liveReport) finding(rule string) (engine.Finding, bool) {
	for _, f := range r.Findings {
		if f.Rule == rule {
			return f, true
		}
	}
	return engine.Finding{}, false
}

// runJSON runs diagnose with --format json and decodes the report; every
// finding's evidence must be rendered.
func runJSON(t *testing.T, args ...string) (liveReport, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(append(args, "--format", "json"), strings.NewReader(""), &stdout, &stderr)
	return decodeReport(t, code, stdout.Bytes(), stderr.String())
}

func decodeReport(t *testing.T, code int, stdout []byte, stderr string) (liveReport, int) {
	t.Helper()
	var rep liveReport
	if err := json.Unmarshal(stdout, &rep); err != nil {
		t.Fatalf("exit %d, output not JSON: %v\nstdout:\n%s\nstderr:\n%s", code, err, stdout, stderr)
	}
	for _, f := range rep.Findings {
		if f.Evidence == "" || strings.Contains(f.Evidence, "{{") || strings.Contains(f.Evidence, "<nil>") {
			t.Errorf("rule %s: evidence %q", f.Rule, f.Evidence)
		}
		if f.Severity != "info" && len(f.Next) == 0 {
			t.Errorf("rule %s: no next step", f.Rule)
		}
	}
	return rep, code
}
