package engine

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Suite is a playbook test file: cases of inputs (a snapshot, inline facts,
// facts made unavailable, parameters) and what the playbook must conclude.
type Suite struct {
	File string
	// Playbook names the playbook under test: a path relative to the test
	// file, or the name of an embedded playbook.
	Playbook string
	Overlay  string // optional overlay file, relative to the test file
	Cases    []*Case

	src      []byte
	playNode *yaml.Node
}

// Case is one test case.
type Case struct {
	Name        string
	Line        int
	Snapshot    string            // relative to the test file; "" for none
	Baseline    string            // a snapshot read as baseline.*, relative to the test file; "" for none
	Params      map[string]string // raw values, as on the command line
	Facts       json.RawMessage   // inline facts, merged over the snapshot's
	Unavailable map[string]string // fact path → reason, as a probe would report
	Expect      Expect

	node      *yaml.Node
	factsNode *yaml.Node
}

// Expect is what a case requires.
type Expect struct {
	Verdict string // "" = not checked
	Fire    []FireExpect
	NotFire []string
	Unknown []string

	nodes map[string]*yaml.Node // rule id or "verdict" → where it was written
}

// FireExpect is a finding that must be present.
type FireExpect struct {
	Rule     string
	Severity string // "" = any
	Evidence string // a piece of the evidence; "" = any
}

// LoadSuite parses a test file. Problems are Errors at FILE:LINE:COL.
func LoadSuite(file string, src []byte) (*Suite, error) {
	root, el, err := parseFile(file, src, "test file")
	if err != nil {
		return nil, err
	}
	d := &decoder{el: el, src: src}
	s := &Suite{File: file, src: src}
	f := d.fields(root, "", "playbook", "overlay", "tests")
	d.required(f, root, "", "playbook", "tests")
	s.Playbook = d.str(f["playbook"], "", "playbook")
	s.playNode = f["playbook"]
	s.Overlay = d.str(f["overlay"], "", "overlay")
	if n := f["tests"]; n != nil {
		if n.Kind != yaml.SequenceNode {
			d.errAt(n, "tests", "tests must be a list of cases, got %s", kindName(n))
		} else {
			names := map[string]bool{}
			for _, item := range n.Content {
				c := d.testCase(item)
				if c == nil {
					continue
				}
				if names[c.Name] {
					d.errAt(item, fmt.Sprintf("test %q", c.Name), "duplicate test name %q", c.Name)
				}
				names[c.Name] = true
				s.Cases = append(s.Cases, c)
			}
		}
	}
	if err := el.err(); err != nil {
		return nil, err
	}
	return s, nil
}

func (d *decoder) testCase(n *yaml.Node) *Case {
	where := "tests"
	if name := fieldNodes(n)["name"]; name != nil {
		where = fmt.Sprintf("test %q", name.Value)
	}
	f := d.fields(n, where, "name", "snapshot", "baseline", "params", "facts", "unavailable", "expect")
	if n.Kind != yaml.MappingNode {
		return nil
	}
	d.required(f, n, where, "name", "expect")
	c := &Case{Name: d.str(f["name"], where, "name"), Line: n.Line, node: n, Params: map[string]string{}, Unavailable: map[string]string{}}
	c.Snapshot = d.str(f["snapshot"], where, "snapshot")
	c.Baseline = d.str(f["baseline"], where, "baseline")
	if p := f["params"]; p != nil {
		for k, v := range d.stringMap(p, where, "params") {
			c.Params[k] = v
		}
	}
	if u := f["unavailable"]; u != nil {
		c.Unavailable = d.stringMap(u, where, "unavailable")
	}
	if fn := f["facts"]; fn != nil {
		c.factsNode = fn
		var v any
		if err := fn.Decode(&v); err != nil {
			d.errAt(fn, where, "facts: %v", err)
		} else if b, err := json.Marshal(v); err != nil {
			d.errAt(fn, where, "facts: %v", err)
		} else {
			c.Facts = b
		}
	}
	if e := f["expect"]; e != nil {
		c.Expect = d.expect(e, where)
	}
	return c
}

func (d *decoder) stringMap(n *yaml.Node, where, key string) map[string]string {
	out := map[string]string{}
	if n.Kind != yaml.MappingNode {
		d.errAt(n, where, "%s must be a mapping, got %s", key, kindName(n))
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if _, dup := out[k.Value]; dup {
			d.errAt(k, where, "duplicate key %q in %s", k.Value, key)
		}
		if v.Kind != yaml.ScalarNode {
			d.errAt(v, where, "%s.%s must be a single value, got %s", key, k.Value, kindName(v))
			continue
		}
		out[k.Value] = v.Value
	}
	return out
}

func (d *decoder) expect(n *yaml.Node, where string) Expect {
	e := Expect{nodes: map[string]*yaml.Node{}}
	f := d.fields(n, where, "verdict", "fire", "not_fire", "unknown")
	if n.Kind != yaml.MappingNode {
		return e
	}
	if v := f["verdict"]; v != nil {
		e.Verdict = d.str(v, where, "verdict")
		e.nodes["verdict"] = v
	}
	if fire := f["fire"]; fire != nil {
		if fire.Kind != yaml.SequenceNode {
			d.errAt(fire, where, "fire must be a list, got %s", kindName(fire))
		} else {
			for _, item := range fire.Content {
				var fe FireExpect
				if item.Kind == yaml.ScalarNode {
					fe.Rule = item.Value
					e.nodes["fire:"+fe.Rule] = item
				} else {
					ff := d.fields(item, where, "rule", "severity", "evidence")
					d.required(ff, item, where, "rule")
					fe.Rule = d.str(ff["rule"], where, "rule")
					fe.Severity = d.str(ff["severity"], where, "severity")
					fe.Evidence = d.str(ff["evidence"], where, "evidence")
					if ff["rule"] != nil {
						e.nodes["fire:"+fe.Rule] = ff["rule"]
					}
					if s := ff["severity"]; s != nil && SeverityRank(fe.Severity) == 0 {
						d.errAt(s, where, "unknown severity %q; valid: %s", fe.Severity, strings.Join(severities, ", "))
					}
				}
				e.Fire = append(e.Fire, fe)
			}
		}
	}
	var nodes []*yaml.Node
	e.NotFire, nodes = d.strList(f["not_fire"], where, "not_fire")
	for i, id := range e.NotFire {
		e.nodes["not_fire:"+id] = nodes[i]
	}
	e.Unknown, nodes = d.strList(f["unknown"], where, "unknown")
	for i, id := range e.Unknown {
		e.nodes["unknown:"+id] = nodes[i]
	}
	return e
}

// Check verifies the suite against the playbook it tests: every rule id,
// class and parameter it names exists, and inline facts name real facts of
// the right type. A typo in a test must not make it pass.
func (s *Suite) Check(pb *Playbook) error {
	el := newErrorList(s.File, s.src)
	d := &decoder{el: el, src: s.src, schema: pb.schema}
	rules := map[string]bool{}
	for _, r := range pb.Rules {
		rules[r.ID] = true
	}
	var ids []string
	for id := range rules {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, c := range s.Cases {
		where := fmt.Sprintf("test %q", c.Name)
		for key, n := range c.Expect.nodes {
			kind, id, _ := strings.Cut(key, ":")
			if kind == "verdict" {
				if !contains(pb.Classes, n.Value) && n.Value != "none" && n.Value != "inconclusive" {
					d.errAt(n, where, "verdict %q is not a class of %s; valid: %s, none, inconclusive", n.Value, pb.Name, strings.Join(pb.Classes, ", "))
				}
				continue
			}
			if !rules[id] {
				msg := fmt.Sprintf("%s names rule %q, which %s does not have", kind, id, pb.Name)
				if sg := Suggest(id, ids); sg != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", sg)
				}
				d.errAt(n, where, "%s", msg)
			}
		}
		for name := range c.Params {
			if _, ok := pb.paramType.index[name]; !ok {
				d.errAt(c.node, where, "params: %s has no parameter %q", pb.Name, name)
			}
		}
		if c.factsNode != nil {
			d.checkFacts(c.factsNode, pb.schema.typ, "", where)
		}
		for path := range c.Unavailable {
			if !pb.schema.has(path) {
				d.errAt(c.node, where, "unavailable: %q is not a fact (see diagnose facts)", path)
			}
		}
	}
	sort.SliceStable(el.errs, func(i, j int) bool {
		a, b := el.errs[i], el.errs[j]
		return a.Line < b.Line || a.Line == b.Line && a.Column < b.Column
	})
	return el.err()
}

// checkFacts walks inline facts against the facts type by json names.
func (d *decoder) checkFacts(n *yaml.Node, t reflect.Type, path, where string) {
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			d.errAt(n, where, "facts %s must be a mapping, got %s", strings.TrimPrefix(path, "."), kindName(n))
			return
		}
		fields := map[string]reflect.Type{}
		var names []string
		for i := 0; i < t.NumField(); i++ {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			if name != "" && name != "-" {
				fields[name] = t.Field(i).Type
				names = append(names, name)
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			ft, ok := fields[k.Value]
			p := strings.TrimPrefix(path+"."+k.Value, ".")
			if !ok {
				msg := fmt.Sprintf("unknown fact %q", p)
				if sg := Suggest(k.Value, names); sg != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", strings.TrimPrefix(path+"."+sg, "."))
				}
				d.errAt(k, where, "%s", msg)
				continue
			}
			d.checkFacts(v, ft, path+"."+k.Value, where)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.errAt(n, where, "facts %s must be a list, got %s", strings.TrimPrefix(path, "."), kindName(n))
			return
		}
		for _, item := range n.Content {
			d.checkFacts(item, t.Elem(), path+"[]", where)
		}
	default:
		want := typeName(t)
		got := map[string]string{"!!int": "int", "!!float": "float", "!!bool": "bool", "!!str": "string"}[n.Tag]
		ok := got == want || (want == "float" && got == "int")
		if n.Kind != yaml.ScalarNode || !ok {
			d.errAt(n, where, "fact %s is %s, got %s", strings.TrimPrefix(path, "."), want, kindName(n))
		}
	}
}

// has reports whether path names a fact or a section.
func (s *Schema) has(path string) bool {
	i := strings.LastIndexByte(path, '.')
	if i < 0 {
		_, ok := s.index[path]
		return ok
	}
	return contains(s.fieldsAt(path[:i]), path[i+1:])
}

// CaseResult is the outcome of one case.
type CaseResult struct {
	Suite    string   `json:"file"`
	Name     string   `json:"name"`
	Line     int      `json:"line"`
	Passed   bool     `json:"passed"`
	Failures []string `json:"failures"`
	Result   Result   `json:"result"`
}

// CaseInput is what a case evaluates: facts of the schema's type, what is
// missing, and the parameters' raw values.
type CaseInput struct {
	Facts    any
	Baseline any // nil for none: the rules that read it are skipped
	Missing  Missing
	Params   map[string]string
}

// FactsBuilder turns a case's snapshot and inline facts into facts.
type FactsBuilder func(c *Case) (CaseInput, error)

// Run evaluates every case and compares the result with its expectations.
func (s *Suite) Run(pb *Playbook, build FactsBuilder) []CaseResult {
	var out []CaseResult
	for _, c := range s.Cases {
		cr := CaseResult{Suite: s.File, Name: c.Name, Line: c.Line, Failures: []string{}}
		in, err := build(c)
		if err == nil {
			var params Values
			params, err = pb.BindParams(in.Params)
			if err == nil {
				cr.Result, err = pb.EvaluateAgainst(in.Facts, in.Baseline, params, in.Missing)
			}
		}
		if err != nil {
			cr.Failures = append(cr.Failures, err.Error())
		} else {
			cr.Failures = append(cr.Failures, c.Expect.compare(cr.Result)...)
		}
		cr.Passed = len(cr.Failures) == 0
		out = append(out, cr)
	}
	return out
}

func (e Expect) compare(r Result) []string {
	var fails []string
	if e.Verdict != "" && e.Verdict != r.Verdict.Class {
		fails = append(fails, fmt.Sprintf("verdict: expected %s, got %s", e.Verdict, r.Verdict.Class))
	}
	fired := map[string]Finding{}
	for _, f := range r.Findings {
		fired[f.Rule] = f
	}
	unknown := map[string]string{}
	for _, u := range r.Unknown {
		unknown[u.Rule] = u.Reason
	}
	for _, want := range e.Fire {
		got, ok := fired[want.Rule]
		switch {
		case !ok && unknown[want.Rule] != "":
			fails = append(fails, fmt.Sprintf("%s: expected to fire, but it was unknown: %s", want.Rule, unknown[want.Rule]))
		case !ok:
			fails = append(fails, fmt.Sprintf("%s: expected to fire, but it did not", want.Rule))
		default:
			if want.Severity != "" && got.Severity != want.Severity {
				fails = append(fails, fmt.Sprintf("%s: expected severity %s, got %s (evidence: %s)", want.Rule, want.Severity, got.Severity, got.Evidence))
			}
			if want.Evidence != "" && !strings.Contains(got.Evidence, want.Evidence) {
				fails = append(fails, fmt.Sprintf("%s: expected evidence containing %q, got %q", want.Rule, want.Evidence, got.Evidence))
			}
		}
	}
	for _, id := range e.NotFire {
		if f, ok := fired[id]; ok {
			fails = append(fails, fmt.Sprintf("%s: expected not to fire, but it did: %s", id, f.Evidence))
		}
	}
	for _, id := range e.Unknown {
		if _, ok := unknown[id]; !ok {
			state := "evaluated and did not fire"
			if f, ok := fired[id]; ok {
				state = "fired: " + f.Evidence
			}
			fails = append(fails, fmt.Sprintf("%s: expected unknown, but it %s", id, state))
		}
	}
	return fails
}

// Coverage returns the rules some case made fire, and those none did.
func Coverage(pb *Playbook, results []CaseResult) (exercised, missed []string) {
	fired := map[string]bool{}
	for _, r := range results {
		for _, f := range r.Result.Findings {
			fired[f.Rule] = true
		}
	}
	for _, r := range pb.Rules {
		if r.Disabled != "" {
			continue
		}
		if fired[r.ID] {
			exercised = append(exercised, r.ID)
		} else {
			missed = append(missed, r.ID)
		}
	}
	return exercised, missed
}
