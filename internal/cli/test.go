package cli

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/diagnose-sh/diagnose/engine"
	"github.com/diagnose-sh/diagnose/engine/report"
	"github.com/diagnose-sh/diagnose/probes"
	"github.com/diagnose-sh/diagnose/probes/probe"
)

// testCmd is `diagnose test FILE...`: run playbook test files.
func (e *env) testCmd() *cobra.Command {
	var t testFlags
	cmd := &cobra.Command{
		Use:   "test FILE.yaml...",
		Short: "Run playbook test files: snapshots or inline facts, and the findings expected",
		Long: `Run playbook test files: each case gives facts (a snapshot, inline facts, unavailable
facts) and the verdict and findings it expects. Coverage is per playbook, over all the files
given. Exit 1 when a case fails or coverage is below --fail-under, 2 when a file is broken.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("test needs test files: diagnose test FILE.yaml...")
			}
			return nil
		},
		ValidArgsFunction: yamlFiles,
		RunE: func(_ *cobra.Command, files []string) (err error) {
			e.code, err = e.runTests(files, t)
			return err
		},
	}
	t.format = "text"
	return builtin(cmd, func(fs *pflag.FlagSet) {
		enumVar(fs, &t.format, "format", "standard output format", "format", report.TestFormatNames())
		fs.StringArrayVar(&t.outputs, "output", nil, "also write a report file, `FORMAT=FILE` (repeatable), e.g. junit=report.xml")
		playbooksFlag(fs, &t.dirs)
		fs.Float64Var(&t.failUnder, "fail-under", 0, "fail when a playbook's rule coverage, over all the files given, is below this percentage (`PCT`)")
	})
}

type testFlags struct {
	format        string
	outputs, dirs []string
	failUnder     float64
}

func (e *env) runTests(files []string, t testFlags) (int, error) {
	outs, err := parseOutputs(t.outputs, report.TestFormatNames())
	if err != nil {
		return exitUsage, err
	}
	outFiles, err := createOutputs(outs)
	if err != nil {
		return exitUsage, err
	}
	committed := false
	defer func() {
		if !committed {
			for _, f := range outFiles {
				f.discard()
			}
		}
	}()
	tr := report.TestReport{SchemaVersion: report.SchemaVersion, Tool: "diagnose " + versionString(),
		Suites: []report.SuiteReport{}, Coverage: []report.PlaybookCoverage{}}
	// Coverage is per playbook: the union of what fired over its files.
	type covered struct {
		pb      *engine.Playbook
		files   []string
		results []engine.CaseResult
	}
	var byPlaybook []*covered
	for _, file := range files {
		sr, pb, err := e.runSuite(file, t.dirs)
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
		i := slices.IndexFunc(byPlaybook, func(c *covered) bool { return c.pb.File == pb.File })
		if i < 0 {
			byPlaybook = append(byPlaybook, &covered{pb: pb})
			i = len(byPlaybook) - 1
		}
		byPlaybook[i].files = append(byPlaybook[i].files, file)
		byPlaybook[i].results = append(byPlaybook[i].results, sr.Cases...)
	}
	for _, c := range byPlaybook {
		exercised, missed := engine.Coverage(c.pb, c.results)
		tr.Coverage = append(tr.Coverage, report.PlaybookCoverage{Playbook: c.pb.Name, PlaybookFile: c.pb.File,
			Files: c.files, Exercised: orEmpty(exercised), Missed: orEmpty(missed), CoveragePct: coveragePct(exercised, missed)})
	}
	committed = true
	for i, o := range outs {
		if err := outFiles[i].commit(func(w io.Writer) error { return report.TestFormats[o.format](w, tr, report.Style{}) }); err != nil {
			return exitUsage, err
		}
	}
	if err := report.TestFormats[t.format](e.stdout, tr, report.Style{Color: isTerminal(e.stdout)}); err != nil {
		return exitUsage, err
	}
	code := exitOK
	if tr.Failed > 0 {
		code = exitFindings
	}
	for _, c := range tr.Coverage {
		if c.CoveragePct < t.failUnder {
			fmt.Fprintf(e.stderr, "coverage of %s is %.0f%%, below --fail-under %.0f%%; never fired: %s\n",
				c.Playbook, c.CoveragePct, t.failUnder, strings.Join(c.Missed, ", "))
			code = exitFindings
		}
	}
	return code, nil
}

func coveragePct(exercised, missed []string) float64 {
	if n := len(exercised) + len(missed); n > 0 {
		return 100 * float64(len(exercised)) / float64(n)
	}
	return 100
}

// runSuite loads one test file, its playbook (and overlay), checks the
// expectations against the playbook and runs the cases.
func (e *env) runSuite(file string, dirs []string) (report.SuiteReport, *engine.Playbook, error) {
	src, err := readPlaybookFile(file)
	if err != nil {
		return report.SuiteReport{}, nil, err
	}
	suite, pb, err := e.loadSuite(file, src, dirs)
	if err != nil {
		return report.SuiteReport{}, nil, err
	}
	// A snapshot that is not there is a broken test file, not a failed case.
	base := filepath.Dir(file)
	cache := snapshots{}
	for _, c := range suite.Cases {
		if c.Snapshot == "" {
			continue
		}
		if _, err := cache.load(caseSnapshot(base, c.Snapshot)); err != nil {
			return report.SuiteReport{}, nil, fmt.Errorf("%s:%d: case %q: %w", file, c.Line, c.Name, err)
		}
	}
	results := suite.Run(pb, func(c *engine.Case) (engine.CaseInput, error) { return caseInput(base, c, cache, pb) })
	exercised, missed := engine.Coverage(pb, results)
	sr := report.SuiteReport{File: file, Playbook: pb.Name, PlaybookFile: pb.File, Cases: results,
		Exercised: orEmpty(exercised), Missed: orEmpty(missed), CoveragePct: coveragePct(exercised, missed)}
	return sr, pb, nil
}

// loadSuite loads a test file and its playbook (with its overlay) and checks
// the file's expectations against the playbook.
func (e *env) loadSuite(file string, src []byte, dirs []string) (*engine.Suite, *engine.Playbook, error) {
	suite, err := engine.LoadSuite(file, src)
	if err != nil {
		return nil, nil, err
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
	s, err := findPlaybook(ref, isFile, dirs)
	if err != nil {
		return nil, nil, err
	}
	pb, err := e.load(s, overlay)
	if err != nil {
		return nil, nil, err
	}
	if err := suite.Check(pb); err != nil {
		return nil, nil, err
	}
	return suite, pb, nil
}

// findPlaybook finds a test's playbook: a file, or a name in the catalog.
func findPlaybook(ref string, isFile bool, dirs []string) (source, error) {
	if isFile {
		b, err := readPlaybookFile(ref)
		return source{name: ref, path: ref, src: b, err: err}, nil
	}
	cat, err := catalog(dirs)
	if err != nil {
		return source{}, err
	}
	var names []string
	for _, s := range cat {
		if s.name == ref {
			return s, nil
		}
		names = append(names, s.name)
	}
	return source{}, usagef("no playbook named %q; playbooks: %s (give a file with playbook: FILE.yaml, or a folder with --playbooks)", ref, strings.Join(names, ", "))
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
		if f, err = probe.OpenRegular(path); err != nil {
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
func caseInput(base string, c *engine.Case, cache snapshots, pb *engine.Playbook) (engine.CaseInput, error) {
	path := caseSnapshot(base, c.Snapshot)
	snap, err := cache.load(path)
	if err != nil {
		return engine.CaseInput{}, err
	}
	if len(c.Facts) > 0 {
		if snap, err = snap.WithFacts(c.Facts); err != nil {
			return engine.CaseInput{}, err
		}
	}
	missing := report.Missing(statusReport(snap.Status))
	for p, reason := range c.Unavailable {
		missing[p] = string(probe.Unavailable) + ": " + reason
	}
	params := map[string]string{}
	for k, v := range c.Params {
		params[k] = v
	}
	// The snapshot's target is the pid parameter of a playbook that has one
	// (system has none, and is replayed from the same snapshots).
	if _, ok := params["pid"]; !ok && snap.Target.PID != 0 && slices.ContainsFunc(pb.Parameters, func(p engine.Parameter) bool { return p.Name == "pid" }) {
		params["pid"] = fmt.Sprint(snap.Target.PID)
	}
	in := engine.CaseInput{Facts: snap.Facts, Missing: missing, Params: params}
	if c.Baseline != "" {
		b, err := cache.load(caseSnapshot(base, c.Baseline))
		if err != nil {
			return in, fmt.Errorf("baseline: %w", err)
		}
		in.Baseline = b.Facts
		maps.Copy(missing, baselineMissing(b.Status))
	}
	return in, nil
}

// caseSnapshot is a case's snapshot path: relative to the test file, unless absolute.
func caseSnapshot(base, snapshot string) string {
	if snapshot == "" || filepath.IsAbs(snapshot) {
		return snapshot
	}
	return filepath.Join(base, snapshot)
}

type output struct{ format, path string }

// parseOutputs reads --output FORMAT=FILE values.
func parseOutputs(values, formats []string) ([]output, error) {
	var out []output
	for _, v := range values {
		format, path, ok := strings.Cut(v, "=")
		if !ok || path == "" {
			return nil, usagef("--output %q: use FORMAT=FILE, e.g. junit=report.xml", v)
		}
		if !slices.Contains(formats, format) {
			return nil, usagef("--output %q: valid formats are %s", v, strings.Join(formats, ", "))
		}
		out = append(out, output{format, path})
	}
	return out, nil
}

// pending is an output file the user named, created before the work so
// that a path that cannot be written fails at once, not after a window.
// It is written to a temporary file beside it and renamed into place: a
// reader never sees half a report, and a symlink planted at the path is
// replaced, not written through.
type pending struct {
	f    *os.File
	path string
}

func createOutput(flag, path string) (*pending, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, usagef("%s %s: %v", flag, path, errors.Unwrap(err))
	}
	return &pending{f: f, path: path}, nil
}

// commit writes the file and moves it into place.
func (p *pending) commit(write func(io.Writer) error) error {
	err := write(p.f)
	if err == nil {
		err = p.f.Chmod(0o644)
	}
	if cerr := p.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(p.f.Name(), p.path)
	}
	if err != nil {
		os.Remove(p.f.Name())
		return fmt.Errorf("write %s: %w", p.path, err)
	}
	return nil
}

// discard removes a file that will not be written (the run failed).
func (p *pending) discard() {
	p.f.Close()
	os.Remove(p.f.Name())
}

// createOutputs creates every --output file; on an error none is left.
func createOutputs(outs []output) ([]*pending, error) {
	var files []*pending
	for _, o := range outs {
		f, err := createOutput("--output", o.path)
		if err != nil {
			for _, done := range files {
				done.discard()
			}
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}
