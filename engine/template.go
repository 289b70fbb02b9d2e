package engine

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"go.yaml.in/yaml/v3"
)

// template is text with {{ expression }} segments, such as an evidence line
// or a next step. Each segment is compiled once at load, like a condition.
type template struct {
	parts []templatePart
}

type templatePart struct {
	text    string      // literal text, when prog is nil
	prog    *vm.Program // a segment to evaluate
	reads   []string
	conds   []string
	printed string // the segment's source, for error messages
}

// MaxTemplateBytes bounds a rendered template, so evidence stays a line or two.
const MaxTemplateBytes = 4096

func (d *decoder) compileTemplate(src string, n *yaml.Node, where string, env map[string]any, conds map[string]*Condition) *template {
	t := &template{}
	rest, off := src, 0
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			if j := strings.Index(rest, "}}"); j >= 0 {
				d.templateError(n, off+j, where, "'}}' without a matching '{{'")
				return nil
			}
			if rest != "" {
				t.parts = append(t.parts, templatePart{text: rest})
			}
			return t
		}
		if i > 0 {
			t.parts = append(t.parts, templatePart{text: rest[:i]})
		}
		j := strings.Index(rest[i+2:], "}}")
		if j < 0 {
			d.templateError(n, off+i, where, "'{{' is not closed with '}}'")
			return nil
		}
		code := rest[i+2 : i+2+j]
		start := off + i + 2
		if strings.TrimSpace(code) == "" {
			d.templateError(n, off+i, where, "empty {{ }}: put an expression inside, such as {{ pct(cpu.iowait_pct) }}")
			return nil
		}
		if at, msg := checkSource(code); at >= 0 {
			d.templateError(n, start+at, where, msg)
			return nil
		}
		prog, err := expr.Compile(code, exprOptions(env)...)
		if err != nil {
			d.exprError(err, n, start, where)
			return nil
		}
		if usesEnv(prog.Node()) {
			d.templateError(n, start+strings.Index(code, "$env"), where, envMessage)
			return nil
		}
		reads, used := walkReads(prog.Node(), d.sections, conds)
		t.parts = append(t.parts, templatePart{prog: prog, reads: reads, conds: used, printed: strings.TrimSpace(code)})
		rest = rest[i+2+j+2:]
		off += i + 2 + j + 2
	}
}

func (d *decoder) templateError(n *yaml.Node, off int, where, msg string) {
	line, col := position(n.Value, off)
	fl, fc := d.locate(n, line, col)
	d.list(n).add(fl, fc, where, "%s", msg)
}

func (t *template) reads() []string {
	if t == nil {
		return nil
	}
	var out []string
	for _, p := range t.parts {
		out = appendUnique(out, p.reads...)
	}
	return out
}

// render evaluates the segments. A segment that reads a fact that was not
// delivered renders as "unavailable", never as a made-up zero.
func (t *template) render(env map[string]any, missing func([]string) string) string {
	if t == nil {
		return ""
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.prog == nil {
			b.WriteString(p.text)
			continue
		}
		if why := missing(p.reads); why != "" {
			b.WriteString("(unavailable)")
			continue
		}
		v, err := expr.Run(p.prog, env)
		if err != nil {
			fmt.Fprintf(&b, "(error: %v)", firstLine(err.Error()))
			continue
		}
		b.WriteString(formatValue(v))
		if b.Len() > MaxTemplateBytes {
			break
		}
	}
	s := b.String()
	if len(s) > MaxTemplateBytes {
		s = s[:MaxTemplateBytes] + "…"
	}
	return s
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// formatValue prints a value for people: floats without noise digits.
func formatValue(v any) string {
	switch x := v.(type) {
	case float64:
		return num(x)
	case float32:
		return num(float64(x))
	case time.Duration:
		return x.String()
	case nil:
		return "(none)"
	}
	return fmt.Sprint(v)
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case float32:
		return float64(x)
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case int32:
		return float64(x)
	case uint64:
		return float64(x)
	case uint32:
		return float64(x)
	case uint:
		return float64(x)
	case time.Duration:
		return x.Seconds()
	}
	return math.NaN()
}

// num prints a number with at most one decimal (two below 10, three below 1),
// and whole numbers without decimals.
func num(f float64) string {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return "n/a"
	case f == math.Trunc(f) && math.Abs(f) < 1e15:
		return strconv.FormatFloat(f, 'f', 0, 64)
	case math.Abs(f) < 1:
		return strconv.FormatFloat(f, 'f', 3, 64)
	case math.Abs(f) < 10:
		return strconv.FormatFloat(f, 'f', 2, 64)
	}
	return strconv.FormatFloat(f, 'f', 1, 64)
}

// humanBytes prints a byte count in binary units: 1.5 GiB.
func humanBytes(f float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	i := 0
	for math.Abs(f) >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", f)
	}
	return fmt.Sprintf("%.1f %s", f, units[i])
}

// formatFunctions are the helpers templates (and conditions) may call.
func formatFunctions() []expr.Option {
	numeric := []any{new(func(float64) string), new(func(int) string), new(func(int64) string),
		new(func(uint64) string), new(func(int32) string), new(func(uint32) string)}
	unary := func(name string, f func(float64) string) expr.Option {
		return expr.Function(name, func(params ...any) (any, error) {
			return f(toFloat(params[0])), nil
		}, numeric...)
	}
	return []expr.Option{
		unary("pct", func(f float64) string { return num(f) + "%" }),
		unary("ms", func(f float64) string { return num(f) + " ms" }),
		unary("num", num),
		unary("bytes", humanBytes),
		unary("secs", func(f float64) string { return num(f) + " s" }),
	}
}
