package report

import (
	"io"
	"strings"
)

// SARIF 2.1.0 (OASIS), as code-scanning dashboards read it.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string       `json:"id"`
	ShortDescription     sarifMessage `json:"shortDescription"`
	DefaultConfiguration sarifConfig  `json:"defaultConfiguration"`
	Properties           sarifProps   `json:"properties"`
}

type sarifConfig struct {
	Level string `json:"level"`
}

type sarifProps struct {
	Tags []string `json:"tags"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID    string          `json:"ruleId"`
	Level     string          `json:"level"`
	Message   sarifMessage    `json:"message"`
	Locations []sarifLocation `json:"locations"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           sarifRegion   `json:"region"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

const sarifSchema = "https://json.schemastore.org/sarif-2.1.0.json"

// sarifLevel maps a severity to a SARIF level.
func sarifLevel(severity string) string {
	switch severity {
	case "critical":
		return "error"
	case "warning":
		return "warning"
	}
	return "note"
}

func sarifLoc(file string, line int) []sarifLocation {
	uri := strings.TrimSuffix(file, " (embedded)")
	if line < 1 {
		line = 1
	}
	return []sarifLocation{{PhysicalLocation: sarifPhysical{ArtifactLocation: sarifArtifact{URI: uri}, Region: sarifRegion{StartLine: line}}}}
}

func sarifDriverFor(tool string) sarifDriver {
	name, version, _ := strings.Cut(tool, " ")
	if name == "" {
		name = "diagnose"
	}
	return sarifDriver{Name: name, Version: version, Rules: []sarifRule{}}
}

// SARIF writes each finding as a result located at its rule in the playbook.
func SARIF(w io.Writer, r Report) error {
	run := sarifRun{Tool: sarifTool{Driver: sarifDriverFor(r.Tool)}, Results: []sarifResult{}}
	lines := map[string]int{}
	for _, rule := range r.Rules {
		lines[rule.ID] = rule.Line
		text := rule.Explain
		if text == "" {
			text = rule.ID
		}
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRule{ID: rule.ID, ShortDescription: sarifMessage{clean(text)},
			DefaultConfiguration: sarifConfig{sarifLevel(rule.Severity)}, Properties: sarifProps{Tags: []string{rule.Class}}})
	}
	for _, f := range r.Findings {
		msg := clean(f.Evidence)
		if len(f.Next) > 0 {
			msg += " Next: " + clean(strings.Join(f.Next, "; "))
		}
		run.Results = append(run.Results, sarifResult{RuleID: f.Rule, Level: sarifLevel(f.Severity),
			Message: sarifMessage{msg}, Locations: sarifLoc(r.File, lines[f.Rule])})
	}
	return WriteJSON(w, sarifLog{Schema: sarifSchema, Version: "2.1.0", Runs: []sarifRun{run}})
}

// TestSARIF writes each failing test case as an error at its line in the test file.
func TestSARIF(w io.Writer, r TestReport) error {
	run := sarifRun{Tool: sarifTool{Driver: sarifDriverFor(r.Tool)}, Results: []sarifResult{}}
	run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRule{ID: "playbook-test",
		ShortDescription: sarifMessage{"a playbook test case failed"}, DefaultConfiguration: sarifConfig{"error"},
		Properties: sarifProps{Tags: []string{"test"}}})
	for _, s := range r.Suites {
		for _, c := range s.Cases {
			if c.Passed {
				continue
			}
			run.Results = append(run.Results, sarifResult{RuleID: "playbook-test", Level: "error",
				Message:   sarifMessage{clean(c.Name + ": " + strings.Join(c.Failures, "; "))},
				Locations: sarifLoc(s.File, c.Line)})
		}
	}
	return WriteJSON(w, sarifLog{Schema: sarifSchema, Version: "2.1.0", Runs: []sarifRun{run}})
}
