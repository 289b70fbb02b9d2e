package engine

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
	"go.yaml.in/yaml/v3"
)

// MaxExpressionDepth bounds how deeply an expression nests brackets, so the
// parser's recursion stays small whatever a playbook holds.
const MaxExpressionDepth = 64

// MaxExpressionBytes bounds an expression's source: the parser recurses on
// every prefix operator, so a megabyte of "!" would exhaust its stack.
const MaxExpressionBytes = 4096

// tooDeep returns the offset where an expression's nesting first exceeds
// MaxExpressionDepth (brackets, or a run of prefix operators: ! - + not),
// or -1.
func tooDeep(src string) int {
	depth, run := 0, 0
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '(' || c == '[' || c == '{':
			if depth++; depth > MaxExpressionDepth {
				return i
			}
		case c == ')' || c == ']' || c == '}':
			depth--
		case c == '!' && (i+1 >= len(src) || src[i+1] != '=') || c == '-' || c == '+':
			if run++; run > MaxExpressionDepth {
				return i
			}
			continue
		case c == 'n' && strings.HasPrefix(src[i:], "not ") && (i == 0 || !isWordByte(src[i-1])):
			if run++; run > MaxExpressionDepth {
				return i
			}
			i += 2
			continue
		case c == ' ' || c == '\t' || c == '\n':
			continue
		}
		run = 0
	}
	return -1
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// checkSource rejects an expression before the parser sees it: too long,
// or nested too deep. It returns the offset of the problem and a message.
func checkSource(src string) (int, string) {
	if at := tooDeep(src); at >= 0 {
		return at, fmt.Sprintf("the expression nests deeper than %d levels (brackets or operators such as !): simplify it or use named conditions", MaxExpressionDepth)
	}
	if len(src) > MaxExpressionBytes {
		return MaxExpressionBytes, fmt.Sprintf("the expression is %d bytes; the limit is %d: split it into named conditions", len(src), MaxExpressionBytes)
	}
	return -1, ""
}

// usesEnv reports whether an expression names $env, expr's view of the
// whole fact tree: it reads facts without the engine seeing which, so a
// fact that was never gathered would read as zero instead of unknown.
func usesEnv(node ast.Node) bool {
	v := &envVisitor{}
	ast.Walk(&node, v)
	return v.found
}

type envVisitor struct{ found bool }

func (v *envVisitor) Visit(node *ast.Node) {
	if id, ok := (*node).(*ast.IdentifierNode); ok && id.Value == "$env" {
		v.found = true
	}
}

const envMessage = "$env is not allowed: name facts by their section (cpu.run_queue), so that a fact that was not gathered is unknown, not zero"

// MaxExpressionNodes bounds an expression's size at compile time, so a
// pathological playbook is rejected quickly instead of evaluated slowly.
const MaxExpressionNodes = 2000

// compile type-checks every expression and template of pb against its schema,
// parameters and conditions, recording errors in d.
func compile(pb *Playbook, d *decoder) {
	compileExport(pb, d)
	pb.paramType = newParamStruct(pb.Parameters)
	d.schema = pb.schema
	d.sections = map[string]bool{Baseline: true}
	for _, s := range pb.schema.SectionNames() {
		d.sections[s] = true
	}
	env := pb.schema.env()
	env["params"] = pb.paramType.zero()
	reserved := map[string]string{"params": "the parameters", Baseline: "the baseline's facts"}
	for _, s := range pb.schema.SectionNames() {
		reserved[s] = "a fact section"
	}
	conds := map[string]*Condition{}
	for _, c := range pb.Conditions {
		if what, ok := reserved[c.Name]; ok {
			d.errAt(c.node, fmt.Sprintf("condition %q", c.Name), "the name %q is %s; choose another", c.Name, what)
			continue
		}
		conds[c.Name] = c
		env[c.Name] = false
	}
	for _, c := range pb.Conditions {
		if _, ok := conds[c.Name]; !ok {
			continue
		}
		where := fmt.Sprintf("condition %q", c.Name)
		c.program, c.reads, c.deps = d.compileBool(c.When, c.node, where, env, conds)
	}
	pb.order = d.orderConditions(pb.Conditions, conds)
	for _, c := range pb.order { // dependency order: deps' reads are complete
		for _, dep := range c.deps {
			c.reads = appendUnique(c.reads, conds[dep].reads...)
		}
	}
	for _, r := range pb.Rules {
		where := fmt.Sprintf("rule %q", r.ID)
		f := fieldNodes(r.node)
		if f["when"] == nil {
			continue
		}
		r.program, r.reads, r.conds = d.compileBool(r.When, f["when"], where, env, conds)
		for _, c := range r.conds {
			r.reads = appendUnique(r.reads, conds[c].reads...)
		}
		if n := f["evidence"]; n != nil {
			r.evidence = d.compileTemplate(r.Evidence, n, where, env, conds)
		}
		if n := f["next"]; n != nil && n.Kind == yaml.SequenceNode {
			for i, item := range n.Content {
				if i < len(r.Next) {
					r.next = append(r.next, d.compileTemplate(r.Next[i], item, where, env, conds))
				}
			}
		}
	}
}

func fieldNodes(n *yaml.Node) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	if n == nil || n.Kind != yaml.MappingNode {
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if _, dup := out[n.Content[i].Value]; !dup {
			out[n.Content[i].Value] = n.Content[i+1]
		}
	}
	return out
}

func exprOptions(env map[string]any) []expr.Option {
	// repeat builds strings without bound (repeat(repeat("a", 1e5), 1e5)).
	opts := []expr.Option{expr.Env(env), expr.MaxNodes(MaxExpressionNodes), expr.DisableBuiltin("repeat")}
	return append(opts, formatFunctions()...)
}

// compileBool compiles a boolean expression held in YAML node n and returns
// the program, the fact paths it reads and the conditions it names.
func (d *decoder) compileBool(src string, n *yaml.Node, where string, env map[string]any, conds map[string]*Condition) (*vm.Program, []string, []string) {
	if strings.TrimSpace(src) == "" {
		d.errAt(n, where, "the expression is empty")
		return nil, nil, nil
	}
	if at, msg := checkSource(src); at >= 0 {
		d.exprError(errors.New(msg), n, at, where)
		return nil, nil, nil
	}
	prog, err := expr.Compile(src, append(exprOptions(env), expr.AsBool())...)
	if err != nil {
		d.exprError(err, n, 0, where)
		return nil, nil, nil
	}
	if usesEnv(prog.Node()) {
		d.exprError(errors.New(envMessage), n, strings.Index(src, "$env"), where)
		return nil, nil, nil
	}
	reads, used := walkReads(prog.Node(), d.sections, conds)
	return prog, reads, used
}

// exprError reports an expr compile error at its place in the YAML file.
// offset is where the expression starts inside the scalar's value.
func (d *decoder) exprError(err error, n *yaml.Node, offset int, where string) {
	msg, line, col := err.Error(), 1, 0
	var fe *file.Error
	if errors.As(err, &fe) {
		msg = fe.Message
		if fe.Line > 0 {
			line, col = fe.Line, fe.Column
		}
	}
	if m := factFieldRE.FindStringSubmatch(msg); m != nil {
		msg = d.unknownFact(m[1], exprPrefix(n.Value[offset:], line, col))
	}
	sl, sc := position(n.Value, offset)
	if line == 1 {
		col += sc
	}
	fl, fc := d.locate(n, sl+line-1, col)
	d.list(n).add(fl, fc, where, "%s", friendlier(msg))
}

var (
	factFieldRE = regexp.MustCompile(`^type \S+ has no field (\w+)$`)
	chainRE     = regexp.MustCompile(`([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\.\s*$`)
)

// exprPrefix returns the expression text before a 1-based line, 0-based column.
func exprPrefix(src string, line, col int) string {
	l, c := 1, 0
	for i, r := range src {
		if l == line && c == col {
			return src[:i]
		}
		if r == '\n' {
			l, c = l+1, 0
		} else {
			c++
		}
	}
	return src
}

// unknownFact names a misspelt fact by its full path and suggests the
// closest existing one; expr would only name the Go type.
func (d *decoder) unknownFact(field, before string) string {
	m := chainRE.FindStringSubmatch(before)
	if m == nil || !d.sections[sectionOf(m[1])] {
		return fmt.Sprintf("type has no field %s", field)
	}
	msg := fmt.Sprintf("unknown fact %q", m[1]+"."+field)
	if s := Suggest(field, d.schema.fieldsAt(m[1])); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", m[1]+"."+s)
	}
	return msg + "; `diagnose facts` lists them all"
}

// position returns the 1-based line and 0-based column of byte offset off in s.
func position(s string, off int) (int, int) {
	line, col := 1, 0
	for i, r := range s {
		if i >= off {
			break
		}
		if r == '\n' {
			line++
			col = 0
		} else {
			col++
		}
	}
	return line, col
}

// locate maps a 1-based line and 0-based column inside a scalar's value to a
// 1-based line and column in the YAML file.
func (d *decoder) locate(n *yaml.Node, line, col int) (int, int) {
	switch n.Style {
	case yaml.LiteralStyle, yaml.FoldedStyle:
		fl := n.Line + line
		indent := 0
		if lines := d.list(n).lines; fl-1 < len(lines) {
			l := lines[fl-1]
			indent = len(l) - len(strings.TrimLeft(l, " "))
		}
		return fl, indent + col + 1
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		if line == 1 {
			return n.Line, n.Column + 1 + col
		}
	}
	if line == 1 {
		return n.Line, n.Column + col
	}
	return n.Line + line - 1, col + 1
}

var (
	noFieldRE     = regexp.MustCompile(`^type (?:struct \{.*\}|) ?has no field (\w+)$`)
	expectBoolRE  = regexp.MustCompile(`^expected bool, but got (\w+)$`)
	unknownNameRE = regexp.MustCompile(`^unknown name (\w+)$`)
)

// friendlier rewrites expr messages that would confuse a playbook author.
func friendlier(msg string) string {
	if m := noFieldRE.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("undeclared parameter %q: declare it under parameters", m[1])
	}
	if m := expectBoolRE.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("the expression gives %s, but a condition must be true or false (compare it: x > 10)", m[1])
	}
	if m := unknownNameRE.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("unknown name %q: not a fact section, condition or params (see `diagnose facts`)", m[1])
	}
	return msg
}

// walkReads returns the fact paths an expression reads ("cpu.iowait_pct",
// "disks.devices") and the conditions it names.
func walkReads(node ast.Node, sections map[string]bool, conds map[string]*Condition) ([]string, []string) {
	v := &readVisitor{sections: sections, conds: conds}
	ast.Walk(&node, v)
	sort.Strings(v.reads)
	return v.reads, v.used
}

type readVisitor struct {
	sections map[string]bool
	conds    map[string]*Condition
	reads    []string
	used     []string
}

func (v *readVisitor) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.MemberNode:
		if path, ok := memberPath(n, v); ok {
			v.add(path)
		}
	case *ast.IdentifierNode:
		if _, ok := v.conds[n.Value]; ok {
			v.used = appendUnique(v.used, n.Value)
			return
		}
		v.add(n.Value)
	}
}

// add records a read of a fact path; names that are not sections (params,
// let-variables) are not facts.
func (v *readVisitor) add(path string) {
	if !v.sections[sectionOf(path)] {
		return
	}
	v.reads = appendUnique(v.reads, path)
}

// memberPath turns a chain such as psi.cpu.some_avg10 into its path,
// keeping only what is left of an index step. ast.Walk visits children
// first, so the chain's shorter prefixes were already recorded on the way up:
// they are dropped here in favour of the full path.
func memberPath(n *ast.MemberNode, v *readVisitor) (string, bool) {
	var parts []string
	var cur ast.Node = n
	for {
		switch m := cur.(type) {
		case *ast.MemberNode:
			s, ok := m.Property.(*ast.StringNode)
			if !ok {
				parts = nil // an index: keep only what is left of it
			} else {
				parts = append([]string{s.Value}, parts...)
			}
			cur = m.Node
			continue
		case *ast.IdentifierNode:
			if m.Value == "params" || v.conds[m.Value] != nil {
				return "", false
			}
			full := strings.Join(append([]string{m.Value}, parts...), ".")
			v.dropPrefixes(full)
			return full, true
		}
		return "", false
	}
}

// dropPrefixes removes shorter reads of the same chain recorded on the way up.
func (v *readVisitor) dropPrefixes(full string) {
	out := v.reads[:0]
	for _, r := range v.reads {
		if !strings.HasPrefix(full, r) || (len(full) > len(r) && full[len(r)] != '.') {
			out = append(out, r)
		}
	}
	v.reads = out
}

func appendUnique(list []string, items ...string) []string {
	for _, it := range items {
		if !contains(list, it) {
			list = append(list, it)
		}
	}
	return list
}

// orderConditions sorts conditions so each comes after those it uses, and
// reports cycles.
func (d *decoder) orderConditions(all []*Condition, byName map[string]*Condition) []*Condition {
	var order []*Condition
	state := map[string]int{} // 0 new, 1 visiting, 2 done
	var visit func(c *Condition, path []string)
	visit = func(c *Condition, path []string) {
		switch state[c.Name] {
		case 2:
			return
		case 1:
			d.errAt(c.node, fmt.Sprintf("condition %q", c.Name), "conditions refer to each other in a cycle: %s", strings.Join(append(path, c.Name), " → "))
			return
		}
		state[c.Name] = 1
		for _, dep := range c.deps {
			visit(byName[dep], append(path, c.Name))
		}
		state[c.Name] = 2
		order = append(order, c)
	}
	for _, c := range all {
		if byName[c.Name] == c {
			visit(c, nil)
		}
	}
	return order
}

// compileExport checks that every exported fact is a number (or a bool,
// exported as 0 or 1): a metric has no other value.
func compileExport(pb *Playbook, d *decoder) {
	types := map[string]string{}
	var paths []string
	for _, f := range pb.schema.Facts() {
		types[f.Path] = f.Type
		paths = append(paths, f.Path)
	}
	seen := map[string]bool{}
	for i, path := range pb.Export {
		n := pb.exportNodes[i]
		switch typ, ok := types[path]; {
		case !ok:
			msg := fmt.Sprintf("unknown fact %q", path)
			if s := Suggest(path, paths); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			d.errAt(n, "export", "%s (see `diagnose facts`)", msg)
		case typ != "int" && typ != "float" && typ != "bool":
			d.errAt(n, "export", "fact %q is a %s: only numbers and bools are metrics", path, typ)
		case seen[path]:
			d.errAt(n, "export", "fact %q is exported twice", path)
		}
		seen[path] = true
	}
}
