package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// JUnit XML, as CI systems read it (Jenkins, GitLab, GitHub test reporters).
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Line      int           `xml:"line,attr,omitempty"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// xmlSafe makes each line inert (control bytes become visible escapes, which
// XML 1.0 could not carry anyway) and keeps the line breaks.
func xmlSafe(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = clean(l)
	}
	return strings.Join(lines, "\n")
}

func writeXML(w io.Writer, v any) error {
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// JUnit writes a run as a test suite: each rule is a test case that fails
// when it fired at warning or above and is skipped when it was unknown.
func JUnit(w io.Writer, r Report) error {
	s := junitSuite{Name: xmlSafe(r.Playbook)}
	fired := map[string]int{}
	for i, f := range r.Findings {
		fired[f.Rule] = i
	}
	unknown := map[string]string{}
	for _, u := range r.Unknown {
		unknown[u.Rule] = u.Reason
	}
	for _, rule := range r.Rules {
		c := junitCase{Name: xmlSafe(rule.ID), Classname: xmlSafe(r.Playbook + "." + rule.Class), File: xmlSafe(r.File), Line: rule.Line}
		if i, ok := fired[rule.ID]; ok && rule.Severity != "info" {
			f := r.Findings[i]
			c.Failure = &junitFailure{Message: xmlSafe(f.Evidence), Type: f.Severity,
				Text: xmlSafe(f.Explain + "\nnext:\n  " + strings.Join(f.Next, "\n  "))}
			s.Failures++
		} else if reason, ok := unknown[rule.ID]; ok {
			c.Skipped = &junitSkipped{Message: xmlSafe("unknown: " + reason)}
			s.Skipped++
		}
		s.Cases = append(s.Cases, c)
	}
	s.Tests = len(s.Cases)
	return writeXML(w, junitSuites{Name: "diagnose", Tests: s.Tests, Failures: s.Failures, Skipped: s.Skipped, Suites: []junitSuite{s}})
}

// TestJUnit writes `diagnose test` results: one suite per test file.
func TestJUnit(w io.Writer, r TestReport) error {
	out := junitSuites{Name: "diagnose test"}
	for _, s := range r.Suites {
		js := junitSuite{Name: xmlSafe(s.File)}
		for _, c := range s.Cases {
			jc := junitCase{Name: xmlSafe(c.Name), Classname: xmlSafe(s.Playbook), File: xmlSafe(s.File), Line: c.Line}
			if !c.Passed {
				jc.Failure = &junitFailure{Message: xmlSafe(fmt.Sprintf("%d expectation(s) failed", len(c.Failures))), Type: "expectation",
					Text: xmlSafe(strings.Join(c.Failures, "\n"))}
				js.Failures++
			}
			js.Cases = append(js.Cases, jc)
		}
		js.Tests = len(js.Cases)
		out.Tests += js.Tests
		out.Failures += js.Failures
		out.Suites = append(out.Suites, js)
	}
	return writeXML(w, out)
}
