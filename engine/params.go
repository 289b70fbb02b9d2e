package engine

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Parameter types and the Go type each has in expressions.
var paramTypes = map[string]reflect.Type{
	"int":      reflect.TypeOf(int(0)),
	"string":   reflect.TypeOf(""),
	"bool":     reflect.TypeOf(false),
	"duration": reflect.TypeOf(time.Duration(0)),
	"bytes":    reflect.TypeOf(int64(0)),
}

// paramStruct is the type of `params` in expressions: a struct built from the
// declared parameters, so a misspelt or undeclared parameter fails to compile.
type paramStruct struct {
	typ   reflect.Type
	index map[string]int
}

func newParamStruct(params []Parameter) paramStruct {
	fields := make([]reflect.StructField, 0, len(params))
	index := map[string]int{}
	for _, p := range params {
		if _, dup := index[p.Name]; dup || !nameRE.MatchString(p.Name) || paramTypes[p.Type] == nil {
			continue // reported by the loader; a struct field must be an identifier
		}
		index[p.Name] = len(fields)
		fields = append(fields, reflect.StructField{
			Name: "P_" + p.Name,
			Type: paramTypes[p.Type],
			Tag:  reflect.StructTag(fmt.Sprintf(`expr:%q json:%q`, p.Name, p.Name)),
		})
	}
	return paramStruct{typ: reflect.StructOf(fields), index: index}
}

func (ps paramStruct) zero() any { return reflect.New(ps.typ).Elem().Interface() }

// Values are a run's parameter values, by name, typed as the parameter.
type Values map[string]any

// ParamError is a parameter value that is missing, malformed or unknown.
// The engine names the parameter; callers say how it is given (a CLI flag,
// a test's params).
type ParamError struct {
	Param   string
	Problem string // "is required: the process", "\"abc\" is not a whole number"
}

// ParamErrors are all the parameter problems of one binding.
type ParamErrors []ParamError

func (es ParamErrors) Error() string {
	var parts []string
	for _, e := range es {
		parts = append(parts, fmt.Sprintf("parameter %s %s", e.Param, e.Problem))
	}
	return strings.Join(parts, "; ")
}

// BindParams checks raw values (name → text) against the playbook's
// parameters, applies defaults, and returns typed values. The error, if
// any, is ParamErrors.
func (p *Playbook) BindParams(raw map[string]string) (Values, error) {
	out := Values{}
	var problems ParamErrors
	for _, prm := range p.Parameters {
		text, ok := raw[prm.Name]
		if !ok {
			if prm.Required {
				problems = append(problems, ParamError{prm.Name, "is required: " + prm.Description})
				continue
			}
			if prm.Default != nil {
				out[prm.Name] = prm.Default
			} else {
				out[prm.Name] = reflect.Zero(paramTypes[prm.Type]).Interface()
			}
			continue
		}
		v, err := ParseValue(prm.Type, text)
		if err != nil {
			problems = append(problems, ParamError{prm.Name, err.Error()})
			continue
		}
		out[prm.Name] = v
	}
	for name := range raw {
		if _, ok := p.paramType.index[name]; !ok {
			problems = append(problems, ParamError{name, fmt.Sprintf("does not exist in playbook %s", p.Name)})
		}
	}
	if len(problems) > 0 {
		sort.Slice(problems, func(i, j int) bool { return problems[i].Param < problems[j].Param })
		return nil, problems
	}
	return out, nil
}

func (p *Playbook) paramValue(v Values) any {
	s := reflect.New(p.paramType.typ).Elem()
	for name, i := range p.paramType.index {
		if x, ok := v[name]; ok && x != nil {
			s.Field(i).Set(reflect.ValueOf(x))
		}
	}
	return s.Interface()
}

// FlagName is the CLI flag of a parameter: pid → pid, max_heap → max-heap.
func FlagName(param string) string { return strings.ReplaceAll(param, "_", "-") }

var bytesRE = regexp.MustCompile(`^(\d+(?:\.\d+)?)\s*([KMGTP]i?B?|B)?$`)

// ParseValue parses the text of a parameter value of the given type.
func ParseValue(typ, text string) (any, error) {
	switch typ {
	case "int":
		n, err := strconv.Atoi(strings.TrimSpace(text))
		if err != nil {
			return nil, fmt.Errorf("%q is not a whole number", text)
		}
		return n, nil
	case "string":
		return text, nil
	case "bool":
		b, err := strconv.ParseBool(strings.TrimSpace(text))
		if err != nil {
			return nil, fmt.Errorf("%q is not true or false", text)
		}
		return b, nil
	case "duration":
		d, err := time.ParseDuration(strings.TrimSpace(text))
		if err != nil {
			return nil, fmt.Errorf("%q is not a duration such as 500ms, 3s or 2m", text)
		}
		return d, nil
	case "bytes":
		return parseBytes(text)
	}
	return nil, fmt.Errorf("unknown type %q", typ)
}

func parseBytes(text string) (int64, error) {
	m := bytesRE.FindStringSubmatch(strings.TrimSpace(text))
	if m == nil {
		return 0, fmt.Errorf("%q is not a size such as 4096, 512MiB or 2G", text)
	}
	f, _ := strconv.ParseFloat(m[1], 64)
	unit := strings.TrimSuffix(strings.TrimSuffix(m[2], "B"), "i")
	mult := map[string]float64{"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50}[unit]
	if f*mult >= 1<<63 { // int64(f) of a larger float is undefined (here: a negative size)
		return 0, fmt.Errorf("%q is too large a size", text)
	}
	return int64(f * mult), nil
}
