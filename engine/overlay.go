package engine

import (
	"fmt"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// An overlay tunes a shipped playbook without copying it: parameter
// defaults, condition expressions, a rule's severity, condition, evidence,
// explanation or next steps, or turns a rule off with a written reason.
//
//	overlay: slow-app
//	parameters:
//	  min_util: 90
//	conditions:
//	  cpu_busy: process.cpu_pct >= 90
//	rules:
//	  cpu-saturated:
//	    severity: critical
//	  noisy-rule:
//	    disabled: "batch hosts run at 100% CPU by design"
//
// Its nodes are spliced into the base playbook's tree before it is checked,
// so the whole result is checked as one playbook, and a mistake in the
// overlay is reported at its place in the overlay file.
type overlaySource struct {
	el    *errorList
	nodes map[*yaml.Node]bool
}

// LoadWithOverlay loads a playbook with an overlay applied.
func LoadWithOverlay(file string, src []byte, overlayFile string, overlaySrc []byte, schema *Schema) (*Playbook, error) {
	root, el, err := parseFile(file, src, "playbook")
	if err != nil {
		return nil, err
	}
	oroot, oel, err := parseFile(overlayFile, overlaySrc, "overlay")
	if err != nil {
		return nil, err
	}
	ov := &overlaySource{el: oel, nodes: map[*yaml.Node]bool{}}
	markAll(oroot, ov.nodes)
	d := &decoder{el: el, src: src, overlay: ov}
	disabled := d.applyOverlay(root, oroot)
	return loadTree(d, root, file, src, schema, disabled) // reports the overlay's errors too
}

func markAll(n *yaml.Node, set map[*yaml.Node]bool) {
	set[n] = true
	for _, c := range n.Content {
		markAll(c, set)
	}
}

// applyOverlay splices the overlay into the base tree and returns the rules
// it disables with their reasons.
func (d *decoder) applyOverlay(base, ov *yaml.Node) map[string]string {
	disabled := map[string]string{}
	f := d.fields(ov, "overlay", "overlay", "description", "parameters", "conditions", "rules")
	if ov.Kind != yaml.MappingNode || base.Kind != yaml.MappingNode {
		return disabled
	}
	d.required(f, ov, "overlay", "overlay")
	baseFields := fieldNodes(base)
	if n := f["overlay"]; n != nil && baseFields["name"] != nil && n.Value != baseFields["name"].Value {
		d.errAt(n, "overlay", "this overlay is for %q, but the playbook is %q", n.Value, baseFields["name"].Value)
	}
	if n := f["description"]; n != nil {
		setKey(base, "description", n)
	}
	if n := f["parameters"]; n != nil {
		d.overlayParams(baseFields["parameters"], n)
	}
	if n := f["conditions"]; n != nil {
		d.overlayConditions(baseFields["conditions"], n)
	}
	if n := f["rules"]; n != nil {
		d.overlayRules(baseFields["rules"], n, disabled)
	}
	return disabled
}

func (d *decoder) overlayParams(base, ov *yaml.Node) {
	byName := map[string]*yaml.Node{}
	if base != nil && base.Kind == yaml.SequenceNode {
		for _, p := range base.Content {
			if name := fieldNodes(p)["name"]; name != nil {
				byName[name.Value] = p
			}
		}
	}
	eachPair(d, ov, "parameters", func(k, v *yaml.Node) {
		p, ok := byName[k.Value]
		if !ok {
			d.errAt(k, "parameters", "the playbook has no parameter %q to set a default for; it has: %s", k.Value, strings.Join(keysOf(byName), ", "))
			return
		}
		setKey(p, "default", v)
		setKey(p, "required", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "false", Line: v.Line, Column: v.Column})
	})
}

func (d *decoder) overlayConditions(base, ov *yaml.Node) {
	have := map[string]bool{}
	if base != nil && base.Kind == yaml.MappingNode {
		for i := 0; i < len(base.Content); i += 2 {
			have[base.Content[i].Value] = true
		}
	}
	eachPair(d, ov, "conditions", func(k, v *yaml.Node) {
		if !have[k.Value] {
			d.errAt(k, "conditions", "the playbook has no condition %q to replace; it has: %s", k.Value, strings.Join(sortedKeys(have), ", "))
			return
		}
		setKey(base, k.Value, v)
	})
}

func (d *decoder) overlayRules(base, ov *yaml.Node, disabled map[string]string) {
	byID := map[string]*yaml.Node{}
	if base != nil && base.Kind == yaml.SequenceNode {
		for _, r := range base.Content {
			if id := fieldNodes(r)["id"]; id != nil {
				byID[id.Value] = r
			}
		}
	}
	eachPair(d, ov, "rules", func(k, v *yaml.Node) {
		where := fmt.Sprintf("rule %q", k.Value)
		r, ok := byID[k.Value]
		if !ok {
			msg := fmt.Sprintf("the playbook has no rule %q", k.Value)
			if s := Suggest(k.Value, keysOf(byID)); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			d.errAt(k, where, "%s", msg)
			return
		}
		f := d.fields(v, where, "class", "severity", "when", "evidence", "explain", "next", "disabled")
		for key, val := range f {
			if key == "disabled" {
				reason := strings.TrimSpace(val.Value)
				if val.Kind != yaml.ScalarNode || reason == "" || reason == "true" {
					d.errAt(val, where, "disabled takes the reason the rule is off, in words (it is shown in reports)")
					continue
				}
				disabled[k.Value] = reason
				continue
			}
			setKey(r, key, val)
		}
	})
}

func eachPair(d *decoder, n *yaml.Node, where string, fn func(k, v *yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		d.errAt(n, where, "%s must be a mapping, got %s", where, kindName(n))
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		fn(n.Content[i], n.Content[i+1])
	}
}

// setKey sets key to value in a mapping node, replacing an existing value.
func setKey(m *yaml.Node, key string, value *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = value
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key, Line: value.Line, Column: value.Column}, value)
}

func keysOf(m map[string]*yaml.Node) []string {
	set := map[string]bool{}
	for k := range m {
		set[k] = true
	}
	return sortedKeys(set)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// FileKind tells the three kinds of files apart by their top-level keys:
// "test" (tests:), "overlay" (overlay: NAME, returned as base) or
// "playbook". A file that does not parse is a "playbook", so that Load
// reports its errors.
func FileKind(src []byte) (kind, base string) {
	var top map[string]any
	if yaml.Unmarshal(src, &top) != nil {
		return "playbook", ""
	}
	if _, ok := top["tests"]; ok {
		return "test", ""
	}
	if name, ok := top["overlay"].(string); ok {
		return "overlay", name
	}
	return "playbook", ""
}
