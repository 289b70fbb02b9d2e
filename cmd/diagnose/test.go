package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/diagnose-sh/diagnose/engine"
	"github.com/diagnose-sh/diagnose/engine/report"
	"github.com/diagnose-sh/diagnose/probes"
	"github.com/diagnose-sh/diagnose/probes/probe"
)

// testCmd is `diagnose test FILE...`: run playbook test files.
func (e *env) testCmd(args []string) (int, error) {
	fs := newFlagSet("diagnose test", e.stderr)
	format := fs.String("format", "text", "standard output format: "+strings.Join(report.FormatNames(), ", "))
	var outputs, dirs stringList
	fs.Var(&outputs, "output", "also write FORMAT=FILE, e.g. junit=report.xml (repeatable)")
	fs.Var(&dirs, "playbooks", "also find playbooks by name in this folder (repeatable)")
	failUnder := fs.Float64("fail-under", 0, "fail when a playbook's rule coverage is below this percentage")
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return exitUsage, usagef("%v", err)
	}
	if len(files) == 0 {
		return exitUsage, usagef("test needs test files: diagnose test FILE.yaml...")
	}
	if _, ok := report.TestFormats[*format]; !ok {
		return exitUsage, usagef("--format %q: valid formats are %s", *format, strings.Join(report.FormatNames(), ", "))
	}
	outs, err := parseOutputs(outputs)
	if err != nil {
		return exitUsage, err
	}
	tr := report.TestReport{SchemaVersion: report.SchemaVersion, Tool: "diagnose " + version, Suites: []report.SuiteReport{}}
	for _, file := range files {
		sr, err := e.runSuite(file, dirs)
		if err != nil {
			return exitUsage, err
		}
		for _, c := range sr.Cases {
			if c.Passed {
				tr.Passed++
			} else {
				tr.Failed++
			}
		}
		tr.Suites = append(tr.Suites, sr)
	}
	for _, o := range outs {
		if err := writeFile(o.path, func(w io.Writer) error { return report.TestFormats[o.format](w, tr, report.Style{}) }); err != nil {
			return exitUsage, err
		}
	}
	if err := report.TestFormats[*format](e.stdout, tr, report.Style{Color: isTerminal(e.stdout)}); err != nil {
		return exitUsage, err
	}
	code := exitOK
	if tr.Failed > 0 {
		code = exitFindings
	}
	for _, s := range tr.Suites {
		if s.CoveragePct < *failUnder {
			fmt.Fprintf(e.stderr, "coverage of %s is %.0f%%, below --fail-under %.0f%%; never fired: %s\n",
				s.Playbook, s.CoveragePct, *failUnder, strings.Join(s.Missed, ", "))
			code = exitFindings
		}
	}
	return code, nil
}

// runSuite loads one test file, its playbook (and overlay), checks the
// expectations against the playbook and runs the cases.
func (e *env) runSuite(file string, dirs []string) (report.SuiteReport, error) {
	src, err := readPlaybookFile(file)
	if err != nil {
		return report.SuiteReport{}, err
	}
	suite, err := engine.LoadSuite(file, src)
	if err != nil {
		return report.SuiteReport{}, err
	}
	base := filepath.Dir(file)
	ref, isFile := suite.Playbook, strings.HasSuffix(suite.Playbook, ".yaml")
	if isFile {
		ref = filepath.Join(base, ref)
	}
	var overlay string
	if suite.Overlay != "" {
		overlay = filepath.Join(base, suite.Overlay)
	}
	pb, err := e.loadWithOverlay(ref, isFile, dirs, overlay)
	if err != nil {
		return report.SuiteReport{}, err
	}
	if err := suite.Check(pb); err != nil {
		return report.SuiteReport{}, err
	}
	cache := snapshots{}
	results := suite.Run(pb, func(c *engine.Case) (engine.CaseInput, error) { return caseInput(base, c, cache) })
	exercised, missed := engine.Coverage(pb, results)
	sr := report.SuiteReport{File: file, Playbook: pb.Name, PlaybookFile: pb.File, Cases: results,
		Exercised: orEmpty(exercised), Missed: orEmpty(missed), CoveragePct: 100}
	if n := len(exercised) + len(missed); n > 0 {
		sr.CoveragePct = 100 * float64(len(exercised)) / float64(n)
	}
	return sr, nil
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// snapshots decodes each snapshot a test file names once; cases then
// start from a copy of it.
type snapshots map[string]probes.Snapshot

func (sc snapshots) load(path string) (probes.Snapshot, error) {
	if s, ok := sc[path]; ok {
		return s, nil
	}
	var s probes.Snapshot
	var err error
	if path == "" { // no snapshot: every fact the case does not give is unknown
		s, err = probes.ReadSnapshot(strings.NewReader(`{"version": 1, "facts": {}, "status": {}}`))
	} else {
		var f *os.File
		if f, err = os.Open(path); err != nil {
			return s, fmt.Errorf("snapshot: %w", err)
		}
		s, err = probes.ReadSnapshot(f)
		f.Close()
	}
	if err != nil {
		return s, fmt.Errorf("snapshot %s: %w", path, err)
	}
	sc[path] = s
	return s, nil
}

// caseInput builds a case's facts: the snapshot's (if any), with the inline
// facts merged over them and the listed facts made unavailable. Facts that
// neither gives are unknown, as in any snapshot.
func caseInput(base string, c *engine.Case, cache snapshots) (engine.CaseInput, error) {
	path := ""
	if c.Snapshot != "" {
		path = filepath.Join(base, c.Snapshot)
	}
	snap, err := cache.load(path)
	if err != nil {
		return engine.CaseInput{}, err
	}
	if len(c.Facts) > 0 {
		if snap, err = snap.WithFacts(c.Facts); err != nil {
			return engine.CaseInput{}, err
		}
	}
	missing := missingFrom(snap.Status)
	for p, reason := range c.Unavailable {
		missing[p] = string(probe.Unavailable) + ": " + reason
	}
	params := map[string]string{}
	for k, v := range c.Params {
		params[k] = v
	}
	if _, ok := params["pid"]; !ok && snap.Target.PID != 0 {
		params["pid"] = fmt.Sprint(snap.Target.PID)
	}
	return engine.CaseInput{Facts: snap.Facts, Missing: missing, Params: params}, nil
}

type output struct{ format, path string }

// parseOutputs reads --output FORMAT=FILE values.
func parseOutputs(values []string) ([]output, error) {
	var out []output
	for _, v := range values {
		format, path, ok := strings.Cut(v, "=")
		if !ok || path == "" {
			return nil, usagef("--output %q: use FORMAT=FILE, e.g. junit=report.xml", v)
		}
		if _, known := report.Formats[format]; !known {
			return nil, usagef("--output %q: valid formats are %s", v, strings.Join(report.FormatNames(), ", "))
		}
		out = append(out, output{format, path})
	}
	return out, nil
}

// writeFile writes an output file the user named: the only files diagnose creates.
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--output: %w", err)
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
