package report

import (
	"encoding/json"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/diagnose-sh/diagnose/engine"
)

// Baseline is the comparison of a run with a baseline snapshot: where the
// baseline came from and the facts that moved most (docs/json.md).
type Baseline struct {
	Source      string        `json:"source"`
	CollectedAt string        `json:"collected_at,omitempty"`
	Target      any           `json:"target"`
	Changes     []ChangeGroup `json:"changes"`
}

// ChangeGroup is the facts that moved, of one class: those its rules read.
type ChangeGroup struct {
	Class string   `json:"class"`
	Facts []Change `json:"facts"`
}

// Change is one fact, before (the baseline) and after (this run).
type Change struct {
	Fact   string  `json:"fact"`
	Unit   string  `json:"unit,omitempty"`
	Before float64 `json:"before"`
	After  float64 `json:"after"`
	Change float64 `json:"change"`
	// Ratio is after / before; null when before is 0.
	Ratio *float64 `json:"ratio"`
}

// BaselineRun is the baseline a run is compared with.
type BaselineRun struct {
	Source, CollectedAt string
	Target              any
	Facts               any
	// Missing are the facts the baseline could not read.
	Missing engine.Missing
}

// Comparison bounds: a fact must move by a quarter to be listed, and each
// class lists its largest moves.
const (
	minMove         = 1.25
	changesPerClass = 5
)

// notMetrics are facts that identify or describe a reading, not a load:
// their change says nothing about the target.
var notMetrics = []string{"pid", "samples", "thread_samples", "sample_hz", "window_s", "uptime_s", "cpu_count"}

// Compare lists the facts the playbook reads that moved most between
// before and after, grouped by the classes of the rules that read them (in
// the playbook's class order; facts read only by conditions no rule uses
// are not listed). A fact missing from either side is left out.
func Compare(pb *engine.Playbook, before, after any, missingBefore, missingAfter engine.Missing) []ChangeGroup {
	b, a := numbers(before), numbers(after)
	units := pb.Units()
	byClass := map[string][]Change{}
	for _, r := range pb.Rules {
		if r.Disabled != "" {
			continue
		}
		for _, path := range r.ReadsAll() {
			if strings.HasPrefix(path, engine.Baseline+".") {
				path = strings.TrimPrefix(path, engine.Baseline+".")
			}
			x, okB := b[path]
			y, okA := a[path]
			if !okB || !okA || missingBefore.Why(path) != "" || missingAfter.Why(path) != "" || !moved(x, y) || !isMetric(path) {
				continue
			}
			if slices.ContainsFunc(byClass[r.Class], func(c Change) bool { return c.Fact == path }) {
				continue
			}
			c := Change{Fact: path, Unit: units[path], Before: x, After: y, Change: round(y - x)}
			if x != 0 {
				ratio := round(y / x)
				c.Ratio = &ratio
			}
			byClass[r.Class] = append(byClass[r.Class], c)
		}
	}
	out := []ChangeGroup{}
	for _, class := range pb.Classes {
		cs := byClass[class]
		if len(cs) == 0 {
			continue
		}
		sort.SliceStable(cs, func(i, j int) bool { return score(cs[i]) > score(cs[j]) })
		out = append(out, ChangeGroup{Class: class, Facts: cs[:min(len(cs), changesPerClass)]})
	}
	return out
}

func isMetric(path string) bool {
	last := path[strings.LastIndexByte(path, '.')+1:]
	return !slices.Contains(notMetrics, last) && !strings.HasSuffix(last, "_pid")
}

// moved says whether a fact changed by minMove or more (either way).
func moved(before, after float64) bool {
	if before == after {
		return false
	}
	lo, hi := math.Min(math.Abs(before), math.Abs(after)), math.Max(math.Abs(before), math.Abs(after))
	return lo == 0 || hi/lo >= minMove || (before < 0) != (after < 0)
}

// score ranks moves: the larger the factor, the higher; from zero is the
// largest.
func score(c Change) float64 {
	if c.Ratio == nil || *c.Ratio <= 0 {
		return math.Inf(1)
	}
	return math.Abs(math.Log(*c.Ratio))
}

func round(x float64) float64 { return math.Round(x*1000) / 1000 }

// numbers flattens the numeric facts of a facts struct by path
// ("cpu.idle_pct", "disks.busiest.util_pct"); lists are left out.
func numbers(facts any) map[string]float64 {
	out := map[string]float64{}
	raw, err := json.Marshal(facts)
	if err != nil {
		return out
	}
	var tree map[string]any
	if json.Unmarshal(raw, &tree) != nil {
		return out
	}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case float64:
			out[prefix] = x
		case map[string]any:
			for k, e := range x {
				walk(prefix+"."+k, e)
			}
		}
	}
	for k, v := range tree {
		walk(k, v)
	}
	return out
}
