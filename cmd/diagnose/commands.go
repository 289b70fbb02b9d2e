package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/diagnose-sh/diagnose/engine"
	"github.com/diagnose-sh/diagnose/probes"
	"github.com/diagnose-sh/diagnose/probes/probe"
)

// list is `diagnose list`: the playbooks, their descriptions and parameters.
func (e *env) list(args []string) error {
	fs := newFlagSet("diagnose list", e.stderr)
	var dirs stringList
	fs.Var(&dirs, "playbooks", "also list the playbooks in this folder (repeatable)")
	format := fs.String("format", "text", "output format: text or json")
	if err := fs.Parse(args); err != nil {
		return usagef("%v", err)
	}
	if err := checkFormat(*format, "text", "json"); err != nil {
		return err
	}
	cat, err := catalog(dirs)
	if err != nil {
		return err
	}
	type param struct {
		Name     string `json:"name"`
		Type     string `json:"type"`
		Required bool   `json:"required"`
	}
	type entry struct {
		Name        string  `json:"name"`
		Description string  `json:"description"`
		File        string  `json:"file"`
		Parameters  []param `json:"parameters"`
		Error       string  `json:"error,omitempty"`
	}
	var entries []entry
	for _, s := range cat {
		en := entry{Name: s.name, File: s.path, Parameters: []param{}}
		pb, err := engine.Load(s.path, s.src, e.schema)
		if err != nil {
			en.Error = "does not load: run diagnose validate " + s.path
		} else {
			en.Description = pb.Description
			for _, p := range pb.Parameters {
				en.Parameters = append(en.Parameters, param{p.Name, p.Type, p.Required})
			}
		}
		entries = append(entries, en)
	}
	if *format == "json" {
		return writeJSON(e.stdout, entries)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	for _, en := range entries {
		var ps []string
		for _, p := range en.Parameters {
			s := "--" + engine.FlagName(p.Name) + " " + strings.ToUpper(p.Type)
			if !p.Required {
				s = "[" + s + "]"
			}
			ps = append(ps, s)
		}
		desc := firstSentence(en.Description)
		if en.Error != "" {
			desc = en.Error
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", en.Name, strings.Join(ps, " "), desc)
	}
	return tw.Flush()
}

// validate is `diagnose validate FILE...`: every problem of every file.
func (e *env) validate(args []string) (int, error) {
	fs := newFlagSet("diagnose validate", e.stderr)
	format := fs.String("format", "text", "output format: text or json")
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return exitUsage, usagef("%v", err)
	}
	if err := checkFormat(*format, "text", "json"); err != nil {
		return exitUsage, err
	}
	if len(files) == 0 {
		return exitUsage, usagef("validate needs playbook files: diagnose validate FILE.yaml...")
	}
	type result struct {
		File   string          `json:"file"`
		OK     bool            `json:"ok"`
		Rules  int             `json:"rules"`
		Errors []*engine.Error `json:"errors"`
	}
	var results []result
	code := exitOK
	for _, f := range files {
		r := result{File: f, Errors: []*engine.Error{}}
		b, err := readPlaybookFile(f)
		if err != nil {
			r.Errors = append(r.Errors, &engine.Error{File: f, Line: 1, Column: 1, Message: err.Error()})
		} else if pb, err := engine.Load(f, b, e.schema); err != nil {
			var es engine.Errors
			if !errors.As(err, &es) {
				return exitUsage, err
			}
			r.Errors = es
		} else {
			r.OK, r.Rules = true, len(pb.Rules)
		}
		if !r.OK {
			code = exitUsage
		}
		results = append(results, r)
	}
	if *format == "json" {
		return code, writeJSON(e.stdout, results)
	}
	for _, r := range results {
		if r.OK {
			fmt.Fprintf(e.stdout, "%s: ok (%d rules)\n", r.File, r.Rules)
			continue
		}
		fmt.Fprintln(e.stderr, engine.Errors(r.Errors).Error())
		fmt.Fprintf(e.stderr, "%s: %d problem(s)\n", r.File, len(r.Errors))
	}
	return code, nil
}

// facts is `diagnose facts`: every fact with its type, unit, meaning and probe.
func (e *env) facts(args []string) error {
	fs := newFlagSet("diagnose facts", e.stderr)
	format := fs.String("format", "text", "output format: text or json")
	if err := fs.Parse(args); err != nil {
		return usagef("%v", err)
	}
	if err := checkFormat(*format, "text", "json"); err != nil {
		return err
	}
	facts := e.schema.Facts()
	if *format == "json" {
		return writeJSON(e.stdout, facts)
	}
	docs := map[string]string{}
	for _, p := range probes.Registry() {
		docs[p.Name] = p.Doc
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	section := ""
	for _, f := range facts {
		if f.Section != section {
			section = f.Section
			fmt.Fprintf(tw, "\n%s\t\t\t%s\n", section, docs[section])
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", f.Path, f.Type, f.Unit, f.Meaning)
	}
	return tw.Flush()
}

// collect is `diagnose collect`: record the facts for later replay.
func (e *env) collect(args []string) error {
	fs := newFlagSet("diagnose collect", e.stderr)
	var rf runFlags
	rf.register(fs)
	pid := fs.Int("pid", 0, "also record the facts of this process")
	cgroup := fs.String("cgroup", "", "record this cgroup (default: the target's or diagnose's own)")
	out := fs.String("o", "-", "write the snapshot to this file (- for standard output)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if err := rf.check(); err != nil {
		return err
	}
	target := probe.Target{PID: *pid, Cgroup: *cgroup}
	if err := checkTarget(rf.root, target); err != nil {
		return err
	}
	started := probes.RealClock{}.Now()
	facts, statuses := e.sample(rf, target, nil)
	snap := probes.Snapshot{Version: probes.SnapshotVersion, Tool: "diagnose " + version,
		CollectedAt: started.UTC(), WindowSeconds: rf.window.Seconds(), Target: target, Status: statuses, Facts: facts}
	if *out == "-" {
		return probes.WriteSnapshot(e.stdout, snap)
	}
	f, err := os.Create(*out)
	if err != nil {
		return fmt.Errorf("create snapshot: %w", err)
	}
	if err := probes.WriteSnapshot(f, snap); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", *out, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", *out, err)
	}
	ok := 0
	for path, st := range statuses {
		if !strings.Contains(path, ".") && st.State == probe.OK {
			ok++
		}
	}
	fmt.Fprintf(e.stderr, "wrote %s (%d of %d probes ok, %.1fs window)\n", *out, ok, len(probes.Registry()), rf.window.Seconds())
	return nil
}

func writeJSON(w interface{ Write([]byte) (int, error) }, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// firstSentence keeps list lines short: the description up to its first
// full stop or question mark (--help shows the whole of it).
func firstSentence(s string) string {
	for i := 0; i+1 < len(s); i++ {
		if (s[i] == '.' || s[i] == '?') && s[i+1] == ' ' {
			return s[:i+1]
		}
	}
	return s
}
