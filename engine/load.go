package engine

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxPlaybookBytes bounds a playbook file: a pathological one is rejected
// before it is parsed.
const MaxPlaybookBytes = 1 << 20

var (
	idRE   = regexp.MustCompile(`^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$`)
	nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// Load parses, checks and compiles a playbook against schema. All problems
// found are returned together as Errors, each at FILE:LINE:COL.
func Load(file string, src []byte, schema *Schema) (*Playbook, error) {
	root, el, err := parseFile(file, src, "playbook")
	if err != nil {
		return nil, err
	}
	return loadTree(&decoder{el: el, src: src}, root, file, src, schema, nil)
}

// Header is what a playbook declares about itself, read without compiling
// its expressions: enough for a command line to offer it (name, help,
// parameters as flags) without paying for every playbook it does not run.
type Header struct {
	Name, Description, File string
	Parameters              []Parameter
	Classes                 []string
	Rules                   int
}

// ReadHeader decodes a playbook's header. An error means the playbook will
// not load; Load then reports every problem.
func ReadHeader(file string, src []byte, schema *Schema) (Header, error) {
	root, el, err := parseFile(file, src, "playbook")
	if err != nil {
		return Header{}, err
	}
	pb := (&decoder{el: el, src: src, schema: schema}).playbook(root)
	if err := el.err(); err != nil {
		return Header{}, err
	}
	pb.File = file
	return pb.Header(), nil
}

// Header is the playbook's header.
func (pb *Playbook) Header() Header {
	return Header{Name: pb.Name, Description: pb.Description, File: pb.File, Parameters: pb.Parameters,
		Classes: pb.Classes, Rules: len(pb.Rules)}
}

// parseFile bounds and parses one YAML file (a playbook, test file or
// overlay), returning its root and the error list positioned in it.
func parseFile(file string, src []byte, what string) (*yaml.Node, *errorList, error) {
	el := newErrorList(file, src)
	if len(src) > MaxPlaybookBytes {
		el.add(1, 1, "", "%s is %d bytes; the limit is %d: split it", what, len(src), MaxPlaybookBytes)
		return nil, el, el.err()
	}
	root, err := parseYAML(src)
	if err != nil {
		line, col := yamlErrorPos(err)
		el.add(line, col, "", "%s", yamlErrorMessage(err))
		return nil, el, el.err()
	}
	return root, el, nil
}

// loadTree decodes and compiles a parsed playbook; disabled maps rule ids
// an overlay turned off to the reason.
func loadTree(d *decoder, root *yaml.Node, file string, src []byte, schema *Schema, disabled map[string]string) (*Playbook, error) {
	d.schema = schema
	pb := d.playbook(root)
	pb.File = file
	pb.Source = src
	pb.schema = schema
	for _, r := range pb.Rules {
		r.Disabled = disabled[r.ID]
	}
	if len(d.el.errs) == 0 || pb.Name != "" {
		compile(pb, d)
	}
	var all Errors
	for _, el := range []*errorList{d.el, d.overlayList()} {
		if el == nil {
			continue
		}
		sort.SliceStable(el.errs, func(i, j int) bool {
			if el.errs[i].Line != el.errs[j].Line {
				return el.errs[i].Line < el.errs[j].Line
			}
			return el.errs[i].Column < el.errs[j].Column
		})
		all = append(all, el.errs...)
	}
	if len(all) > 0 {
		return nil, all
	}
	return pb, nil
}

func (d *decoder) overlayList() *errorList {
	if d.overlay == nil {
		return nil
	}
	return d.overlay.el
}

func parseYAML(src []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("yaml: line 1: the file is empty: a playbook needs at least name and rules")
		}
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, fmt.Errorf("yaml: line %d: a playbook file holds one YAML document; this is a second", extra.Line)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("yaml: line 1: the file is empty: a playbook needs at least name and rules")
	}
	return doc.Content[0], nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: (?:line (\d+): )?`)

func yamlErrorPos(err error) (int, int) {
	m := yamlLineRE.FindStringSubmatch(err.Error())
	line := 1
	if m != nil && m[1] != "" {
		fmt.Sscan(m[1], &line)
	}
	return line, 1
}

func yamlErrorMessage(err error) string {
	return "invalid YAML: " + yamlLineRE.ReplaceAllString(err.Error(), "")
}

// decoder walks the YAML tree by hand so that every value keeps its position
// and unknown or duplicate keys are reported instead of silently dropped.
type decoder struct {
	el       *errorList
	src      []byte
	sections map[string]bool // fact sections of the schema, set by compile
	schema   *Schema
	overlay  *overlaySource // nodes spliced in from an overlay file, if any
}

func (d *decoder) errAt(n *yaml.Node, where, format string, args ...any) {
	d.list(n).add(n.Line, n.Column, where, format, args...)
}

// list returns the error list of the file a node came from: an overlay's
// nodes are spliced into its base playbook but report in the overlay file.
func (d *decoder) list(n *yaml.Node) *errorList {
	if d.overlay != nil && d.overlay.nodes[n] {
		return d.overlay.el
	}
	return d.el
}

// fields returns a mapping's values by key, reporting non-mappings, unknown
// keys (with the valid ones) and duplicates.
func (d *decoder) fields(n *yaml.Node, where string, allowed ...string) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	if n.Kind != yaml.MappingNode {
		d.errAt(n, where, "expected a mapping of %s, got %s", strings.Join(allowed, ", "), kindName(n))
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := k.Value
		if !contains(allowed, key) {
			msg := fmt.Sprintf("unknown key %q", key)
			if s := Suggest(key, allowed); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			d.errAt(k, where, "%s; valid keys: %s", msg, strings.Join(allowed, ", "))
			continue
		}
		if _, dup := out[key]; dup {
			d.errAt(k, where, "duplicate key %q: the earlier value would be silently overwritten", key)
			continue
		}
		out[key] = v
	}
	return out
}

func (d *decoder) str(n *yaml.Node, where, key string) string {
	if n == nil {
		return ""
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.errAt(n, where, "%s must be a string, got %s", key, kindName(n))
		return ""
	}
	return n.Value
}

func (d *decoder) strList(n *yaml.Node, where, key string) ([]string, []*yaml.Node) {
	if n == nil {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		d.errAt(n, where, "%s must be a list of strings, got %s", key, kindName(n))
		return nil, nil
	}
	var out []string
	var nodes []*yaml.Node
	for _, c := range n.Content {
		if s := d.str(c, where, key+" item"); s != "" || c.Kind == yaml.ScalarNode {
			out = append(out, s)
			nodes = append(nodes, c)
		}
	}
	return out, nodes
}

func (d *decoder) required(fields map[string]*yaml.Node, parent *yaml.Node, where string, keys ...string) {
	for _, k := range keys {
		if _, ok := fields[k]; !ok {
			d.errAt(parent, where, "missing required key %q", k)
		}
	}
}

func (d *decoder) playbook(root *yaml.Node) *Playbook {
	pb := &Playbook{}
	f := d.fields(root, "", "name", "description", "parameters", "classes", "conditions", "rules", "export")
	if root.Kind != yaml.MappingNode {
		return pb
	}
	d.required(f, root, "", "name", "classes", "rules")
	pb.Name = d.str(f["name"], "", "name")
	if n := f["name"]; n != nil && pb.Name != "" && !idRE.MatchString(pb.Name) {
		d.errAt(n, "", "name %q must be lower-case words joined by '-' (it is the command: diagnose %s)", pb.Name, pb.Name)
	}
	pb.Description = d.str(f["description"], "", "description")
	pb.Parameters = d.parameters(f["parameters"])
	pb.Classes = d.classes(f["classes"])
	pb.Conditions = d.conditions(f["conditions"])
	pb.Rules = d.rules(f["rules"], pb.Classes)
	pb.Export, pb.exportNodes = d.strList(f["export"], "export", "export")
	return pb
}

func (d *decoder) parameters(n *yaml.Node) []Parameter {
	if n == nil {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.errAt(n, "parameters", "parameters must be a list, got %s", kindName(n))
		return nil
	}
	var out []Parameter
	seen := map[string]bool{}
	for _, item := range n.Content {
		f := d.fields(item, "parameters", "name", "type", "required", "default", "description")
		if item.Kind != yaml.MappingNode {
			continue
		}
		p := Parameter{line: item.Line, col: item.Column}
		p.Name = d.str(f["name"], "parameters", "name")
		where := fmt.Sprintf("parameter %q", p.Name)
		d.required(f, item, where, "name", "type")
		switch {
		case f["name"] == nil:
		case p.Name == "":
			d.errAt(f["name"], where, "a parameter needs a name: lower_snake_case, e.g. max_wait")
		case !nameRE.MatchString(p.Name):
			d.errAt(f["name"], where, "parameter names are lower_snake_case identifiers")
		case seen[p.Name]:
			d.errAt(f["name"], where, "duplicate parameter %q", p.Name)
		case d.schema != nil && d.schema.reserved[FlagName(p.Name)]:
			d.errAt(f["name"], where, "--%s is a diagnose flag; choose another name", FlagName(p.Name))
		}
		seen[p.Name] = true
		p.Type = d.str(f["type"], where, "type")
		if _, ok := paramTypes[p.Type]; f["type"] != nil && !ok {
			d.errAt(f["type"], where, "unknown type %q; valid types: bool, bytes, duration, int, string", p.Type)
			p.Type = "string"
		}
		p.Description = d.str(f["description"], where, "description")
		if r := f["required"]; r != nil {
			if r.Tag != "!!bool" {
				d.errAt(r, where, "required must be true or false")
			}
			p.Required = r.Value == "true"
		}
		if def := f["default"]; def != nil {
			if p.Required {
				d.errAt(def, where, "a required parameter cannot have a default")
			}
			if v, err := ParseValue(p.Type, def.Value); err != nil || def.Kind != yaml.ScalarNode {
				d.errAt(def, where, "default: %v", errOr(err, "must be a single value"))
			} else {
				p.Default = v
			}
		}
		if p.Name != "" && p.Type != "" {
			out = append(out, p)
		}
	}
	return out
}

func (d *decoder) classes(n *yaml.Node) []string {
	list, nodes := d.strList(n, "classes", "classes")
	seen := map[string]bool{}
	for i, c := range list {
		switch {
		case !nameRE.MatchString(c):
			d.errAt(nodes[i], "classes", "class %q must be a lower_snake_case word", c)
		case c == "none" || c == "inconclusive":
			d.errAt(nodes[i], "classes", "%q is the verdict when no rule fires; do not declare it", c)
		case seen[c]:
			d.errAt(nodes[i], "classes", "duplicate class %q", c)
		}
		seen[c] = true
	}
	if n != nil && n.Kind == yaml.SequenceNode && len(list) == 0 {
		d.errAt(n, "classes", "declare at least one class")
	}
	return list
}

func (d *decoder) conditions(n *yaml.Node) []*Condition {
	if n == nil {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.errAt(n, "conditions", "conditions must map names to expressions, got %s", kindName(n))
		return nil
	}
	var out []*Condition
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		where := fmt.Sprintf("condition %q", k.Value)
		switch {
		case !nameRE.MatchString(k.Value):
			d.errAt(k, where, "condition names are lower_snake_case identifiers (they are used as names in expressions)")
			continue
		case seen[k.Value]:
			d.errAt(k, where, "duplicate condition %q", k.Value)
			continue
		}
		seen[k.Value] = true
		out = append(out, &Condition{Name: k.Value, When: d.str(v, where, "a condition"), node: v})
	}
	return out
}

func (d *decoder) rules(n *yaml.Node, classes []string) []*Rule {
	if n == nil {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.errAt(n, "rules", "rules must be a list, got %s", kindName(n))
		return nil
	}
	var out []*Rule
	seen := map[string]bool{}
	for _, item := range n.Content {
		where := "rules"
		if id := fieldNodes(item)["id"]; id != nil && id.Kind == yaml.ScalarNode {
			where = fmt.Sprintf("rule %q", id.Value)
		}
		f := d.fields(item, where, "id", "class", "severity", "when", "evidence", "explain", "next")
		if item.Kind != yaml.MappingNode {
			continue
		}
		r := &Rule{node: item, Line: item.Line}
		r.ID = d.str(f["id"], where, "id")
		d.required(f, item, where, "id", "class", "severity", "when", "evidence")
		switch {
		case f["id"] == nil || r.ID == "":
		case !idRE.MatchString(r.ID):
			d.errAt(f["id"], where, "rule ids are lower-case words joined by '-'")
		case seen[r.ID]:
			d.errAt(f["id"], where, "duplicate rule id %q", r.ID)
		}
		seen[r.ID] = true
		r.Class = d.str(f["class"], where, "class")
		if f["class"] != nil && r.Class != "" && !contains(classes, r.Class) {
			d.errAt(f["class"], where, "unknown class %q; this playbook declares: %s", r.Class, strings.Join(classes, ", "))
		}
		r.Severity = d.str(f["severity"], where, "severity")
		if f["severity"] != nil && SeverityRank(r.Severity) == 0 {
			msg := fmt.Sprintf("unknown severity %q", r.Severity)
			if s := Suggest(r.Severity, severities); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			d.errAt(f["severity"], where, "%s; valid: %s", msg, strings.Join(severities, ", "))
		}
		r.When = d.str(f["when"], where, "when")
		r.Evidence = d.str(f["evidence"], where, "evidence")
		r.Explain = d.str(f["explain"], where, "explain")
		r.Next, _ = d.strList(f["next"], where, "next")
		r.node = item
		out = append(out, r)
	}
	return out
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if n.Tag == "!!null" {
		return "nothing"
	}
	return fmt.Sprintf("%q", n.Value)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func errOr(err error, msg string) string {
	if err != nil {
		return err.Error()
	}
	return msg
}

// Suggest returns the valid word closest to s (a prefix of at least three
// letters, or within two edits), or "" when none is close: a did-you-mean.
func Suggest(s string, valid []string) string {
	best, bestD := "", 3
	for _, v := range valid {
		if len(s) >= 3 && strings.HasPrefix(v, s) {
			return v
		}
		if d := editDistance(s, v); d < bestD {
			best, bestD = v, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
