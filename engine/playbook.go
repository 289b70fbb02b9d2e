// Package engine loads, checks, compiles and evaluates playbooks over a typed
// fact tree. It knows nothing of /proc: it is handed a facts type (a struct
// whose fields are sections with `expr` tags) and values of that type.
package engine

import (
	"github.com/expr-lang/expr/vm"
	"go.yaml.in/yaml/v3"
)

// Severities, from least to most severe.
var severities = []string{"info", "warning", "critical"}

// Severities returns the severities, from least to most severe.
func Severities() []string { return append([]string(nil), severities...) }

// SeverityRank orders severities: info 1, warning 2, critical 3, unknown 0.
func SeverityRank(s string) int {
	for i, v := range severities {
		if v == s {
			return i + 1
		}
	}
	return 0
}

// Playbook is a loaded, checked and compiled playbook.
type Playbook struct {
	File        string
	Name        string
	Description string
	Parameters  []Parameter
	// Classes are the classes this playbook decides, in tie-break order.
	Classes    []string
	Conditions []*Condition
	Rules      []*Rule
	// Export are the numeric facts a metrics output carries (--format
	// prometheus, diagnose serve), by path.
	Export []string
	// Source is the YAML it was loaded from.
	Source []byte

	schema      *Schema
	paramType   paramStruct
	order       []*Condition // conditions in dependency order
	exportNodes []*yaml.Node
}

// Parameter is a typed input of a playbook; each becomes a CLI flag.
type Parameter struct {
	Name        string
	Type        string // int, string, bool, duration, bytes
	Description string
	Required    bool
	Default     any // typed; nil when required or when the zero value is the default
	line, col   int
}

// Condition is a named boolean expression rules can refer to.
type Condition struct {
	Name string
	When string

	program *vm.Program
	reads   []string // fact paths it reads, including through other conditions
	deps    []string // conditions it refers to directly
	node    *yaml.Node
}

// Rule is one check: when its expression holds, it is a finding of its class.
type Rule struct {
	ID       string
	Class    string
	Severity string
	When     string
	Evidence string
	Explain  string
	Next     []string
	// Disabled holds the written reason when an overlay turned the rule off.
	Disabled string
	// Line is where the rule starts in its file.
	Line int

	program  *vm.Program
	reads    []string // fact paths the condition reads (directly or via conditions)
	conds    []string // conditions it refers to
	evidence *template
	next     []*template
	node     *yaml.Node
}

// Reads returns the fact paths a rule's condition depends on.
func (r *Rule) Reads() []string { return r.reads }

// Sections returns the fact sections the playbook reads anywhere (conditions,
// rules, evidence, next steps): the only probes a run needs.
func (p *Playbook) Sections() []string {
	seen := map[string]bool{}
	out := []string{} // never nil: a playbook that reads nothing needs no probe (probes.Select(nil) is all)
	for _, path := range p.ReadPaths() {
		if isBaseline(path) {
			continue // from the baseline snapshot, not gathered
		}
		if s := sectionOf(path); !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return p.schema.ordered(out)
}

// ReadPaths returns every fact path the playbook reads anywhere.
func (p *Playbook) ReadPaths() []string {
	var out []string
	add := func(paths []string) { out = appendUnique(out, paths...) }
	for _, c := range p.Conditions {
		add(c.reads)
	}
	for _, r := range p.Rules {
		add(r.ReadsAll())
	}
	add(p.Export)
	return out
}

// Exported describes the facts the playbook exports, in its order.
func (p *Playbook) Exported() []Fact {
	byPath := map[string]Fact{}
	for _, f := range p.schema.Facts() {
		byPath[f.Path] = f
	}
	var out []Fact
	for _, path := range p.Export {
		if f, ok := byPath[path]; ok {
			out = append(out, f)
		}
	}
	return out
}

// ReadsAll returns the fact paths a rule reads anywhere: its condition,
// evidence and next steps.
func (r *Rule) ReadsAll() []string {
	out := append([]string(nil), r.reads...)
	if r.evidence != nil {
		out = appendUnique(out, r.evidence.reads()...)
	}
	for _, n := range r.next {
		out = appendUnique(out, n.reads()...)
	}
	return out
}
