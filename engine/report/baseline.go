package report

import (
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/diagnose-sh/diagnose/engine"
)

// Side is where facts came from: a snapshot (or the live system), when,
// and about which target.
type Side struct {
	Source      string `json:"source"`
	CollectedAt string `json:"collected_at,omitempty"`
	Target      any    `json:"target"`
}

// Baseline is the comparison of a run with a baseline snapshot: where the
// baseline came from and the facts that moved most (docs/json.md).
type Baseline struct {
	Side
	Changes []ChangeGroup `json:"changes"`
}

// Diff is what diagnose diff reports: two snapshots compared through a
// playbook's classes.
type Diff struct {
	SchemaVersion int           `json:"schema_version"`
	Tool          string        `json:"tool"`
	Playbook      string        `json:"playbook"`
	Before        Side          `json:"before"`
	After         Side          `json:"after"`
	Changes       []ChangeGroup `json:"changes"`
	Notes         []string      `json:"notes"`
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
	Side
	Facts any
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
// before and after, grouped by class (in the playbook's class order), at
// most changesPerClass each. A fact belongs to the class with the most
// rules that test it (in their conditions; else show it), ties to the
// earlier class. A fact missing from either side is left out.
func Compare(pb *engine.Playbook, before, after any, missingBefore, missingAfter engine.Missing) []ChangeGroup {
	classOf := factClasses(pb)
	sections := map[string]bool{}
	for path := range classOf {
		sections[path[:strings.IndexByte(path+".", '.')]] = true
	}
	b, a := numbers(before, sections), numbers(after, sections)
	whyBefore, whyAfter := missingBefore.Lookup(), missingAfter.Lookup()
	byClass := map[string][]Change{}
	for path, class := range classOf {
		x, okB := b[path]
		y, okA := a[path]
		unit := engine.UnitOf(path)
		if !okB || !okA || whyBefore(path) != "" || whyAfter(path) != "" || !isMetric(path) || !moved(x, y, unit) {
			continue
		}
		c := Change{Fact: path, Unit: unit, Before: x, After: y, Change: round(y - x)}
		if x != 0 {
			ratio := round(y / x)
			c.Ratio = &ratio
		}
		byClass[class] = append(byClass[class], c)
	}
	out := []ChangeGroup{}
	for _, class := range pb.Classes {
		cs := byClass[class]
		if len(cs) == 0 {
			continue
		}
		sort.Slice(cs, func(i, j int) bool {
			si, sj := score(cs[i]), score(cs[j])
			if si != sj {
				return si > sj
			}
			return cs[i].Fact < cs[j].Fact
		})
		out = append(out, ChangeGroup{Class: class, Facts: cs[:min(len(cs), changesPerClass)]})
	}
	return out
}

// factClasses assigns each fact the playbook's rules read to one class.
func factClasses(pb *engine.Playbook) map[string]string {
	type tally struct{ tested, shown map[string]int }
	counts := map[string]*tally{}
	count := func(path, class string, tested bool) {
		path = strings.TrimPrefix(path, engine.Baseline+".")
		t := counts[path]
		if t == nil {
			t = &tally{map[string]int{}, map[string]int{}}
			counts[path] = t
		}
		if tested {
			t.tested[class]++
		} else {
			t.shown[class]++
		}
	}
	for _, r := range pb.Rules {
		if r.Disabled != "" {
			continue
		}
		for _, p := range r.Reads() {
			count(p, r.Class, true)
		}
		for _, p := range r.ReadsAll() {
			count(p, r.Class, false)
		}
	}
	out := map[string]string{}
	for path, t := range counts {
		m := t.tested
		if len(m) == 0 {
			m = t.shown
		}
		best := ""
		for _, class := range pb.Classes {
			if m[class] > m[best] {
				best = class
			}
		}
		if best != "" {
			out[path] = best
		}
	}
	return out
}

func isMetric(path string) bool {
	last := path[strings.LastIndexByte(path, '.')+1:]
	return !slices.Contains(notMetrics, last) && !strings.HasSuffix(last, "_pid")
}

// noiseFloor is the least change worth listing, by unit: a percentage
// point, a millisecond, one a second, 64 KiB; a tenth of a thread.
func noiseFloor(unit string) float64 {
	switch unit {
	case "%", "ms", "per second":
		return 1
	case "bytes", "bytes per second":
		return 64 << 10
	case "seconds":
		return 0.01
	}
	return 0.1
}

// moved says whether a fact changed by a quarter or more, and by more
// than its noise floor.
func moved(before, after float64, unit string) bool {
	if math.Abs(after-before) < noiseFloor(unit) {
		return false
	}
	lo, hi := math.Min(math.Abs(before), math.Abs(after)), math.Max(math.Abs(before), math.Abs(after))
	return lo == 0 || hi/lo >= minMove || (before < 0) != (after < 0)
}

// score ranks moves by the factor, either way; from zero, the new value
// counts against the noise floor.
func score(c Change) float64 {
	if c.Ratio == nil || *c.Ratio <= 0 {
		return math.Abs(math.Log(math.Max(math.Abs(c.After), math.Abs(c.Before)) / noiseFloor(c.Unit)))
	}
	return math.Abs(math.Log(*c.Ratio))
}

func round(x float64) float64 { return math.Round(x*1000) / 1000 }

// numbers flattens the numeric facts of the wanted sections of a facts
// struct by path ("cpu.idle_pct", "disks.busiest.util_pct"); lists and
// bools are left out.
func numbers(facts any, sections map[string]bool) map[string]float64 {
	out := map[string]float64{}
	v := reflect.ValueOf(facts)
	if v.Kind() != reflect.Struct {
		return out
	}
	for i := 0; i < v.NumField(); i++ {
		name := v.Type().Field(i).Tag.Get("json")
		if !sections[name] {
			continue
		}
		raw, err := json.Marshal(v.Field(i).Interface())
		if err != nil {
			continue
		}
		var tree any
		if json.Unmarshal(raw, &tree) == nil {
			flatten(name, tree, func(path string, x float64, isBool bool) {
				if !isBool {
					out[path] = x
				}
			})
		}
	}
	return out
}

// flatten calls each with every number and bool (as 0 or 1) of a decoded
// JSON tree, by path; lists are left out.
func flatten(prefix string, v any, each func(path string, x float64, isBool bool)) {
	switch x := v.(type) {
	case float64:
		each(prefix, x, false)
	case bool:
		b := 0.0
		if x {
			b = 1
		}
		each(prefix, b, true)
	case map[string]any:
		for k, e := range x {
			flatten(prefix+"."+k, e, each)
		}
	}
}
