package report

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/diagnose-sh/diagnose/engine"
)

// Run is what one playbook run evaluated, as its report shows it.
type Run struct {
	Tool        string
	Params      engine.Values
	Source      string // "live" or "snapshot:FILE"
	CollectedAt string // RFC 3339, for snapshots
	// WindowSeconds is the window the facts span; WindowRequestedSeconds is
	// set when a timeout cut it short of what was asked.
	WindowSeconds, WindowRequestedSeconds float64
	// Facts is a struct of sections, each named by its json tag as in the
	// playbook's expressions.
	Facts any
	// Statuses are the probes' statuses by section or fact path.
	Statuses map[string]ProbeStatus
	Notes    []string
	Overlay  string // the overlay file applied, if any
	// Baseline is what the run was compared with (--baseline), nil for none.
	Baseline *BaselineRun
	// At is when the facts were gathered.
	At time.Time
}

// Build assembles the report of a playbook's result: the verdict, the
// statuses and facts of the sections the playbook read, and the notes.
func Build(pb *engine.Playbook, res engine.Result, run Run) Report {
	r := Report{
		SchemaVersion: SchemaVersion, Tool: run.Tool,
		Playbook: res.Playbook, Description: res.Description, File: pb.File,
		Parameters: map[string]any(run.Params),
		Source:     run.Source, CollectedAt: run.CollectedAt,
		WindowSeconds: run.WindowSeconds, WindowRequestedSeconds: run.WindowRequestedSeconds,
		Verdict: res.Verdict, Findings: res.Findings, Unknown: res.Unknown, Skipped: res.Skipped,
		Probes: relatedStatuses(pb, run.Statuses), Facts: sectionFacts(pb, run.Facts),
		Notes: append([]string{}, run.Notes...), Rules: RulesOf(pb), At: run.At,
	}
	for _, f := range pb.Exported() {
		r.Exports = append(r.Exports, Export{Path: f.Path, Doc: f.Meaning})
	}
	if b := run.Baseline; b != nil {
		r.Baseline = &Baseline{Side: b.Side, Changes: Compare(pb, b.Facts, run.Facts, b.Missing, Missing(run.Statuses))}
	}
	for _, rule := range pb.Rules {
		if rule.Disabled != "" {
			r.Notes = append(r.Notes, fmt.Sprintf("rule %s is disabled by %s: %s", rule.ID, run.Overlay, rule.Disabled))
		}
	}
	return r
}

// relatedStatuses keeps the statuses of the sections the playbook read and
// of the single facts it read.
func relatedStatuses(pb *engine.Playbook, st map[string]ProbeStatus) map[string]ProbeStatus {
	sections := pb.Sections()
	reads := pb.ReadPaths()
	related := func(path string) bool {
		for _, sec := range sections {
			if path == sec {
				return true
			}
		}
		for _, r := range reads {
			if path == r || strings.HasPrefix(r, path+".") || strings.HasPrefix(path, r+".") {
				return true
			}
		}
		return false
	}
	out := map[string]ProbeStatus{}
	for path, s := range st {
		if related(path) {
			out[path] = s
		}
	}
	return out
}

// sectionFacts encodes the sections of facts the playbook read.
func sectionFacts(pb *engine.Playbook, facts any) map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	v := reflect.ValueOf(facts)
	if v.Kind() != reflect.Struct {
		return out
	}
	want := map[string]bool{}
	for _, sec := range pb.Sections() {
		want[sec] = true
	}
	for i := 0; i < v.NumField(); i++ {
		name := v.Type().Field(i).Tag.Get("json")
		if want[name] {
			if b, err := json.Marshal(v.Field(i).Interface()); err == nil {
				out[name] = b
			}
		}
	}
	return out
}

// Missing turns the non-ok statuses into the engine's reasons, with the fix.
func Missing(st map[string]ProbeStatus) engine.Missing {
	m := engine.Missing{}
	for path, ps := range st {
		if ps.State == "ok" {
			continue
		}
		reason := ps.State
		if ps.Reason != "" {
			reason += ": " + ps.Reason
		}
		if ps.Fix != "" {
			reason += " (fix: " + ps.Fix + ")"
		}
		m[path] = reason
	}
	return m
}
