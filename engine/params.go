package engine

import (
	"fmt"
	"reflect"
	"regexp"
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

// BindParams checks raw values (from flags: name → text) against the
// playbook's parameters, applies defaults, and returns typed values. Errors
// name the parameter as a flag and say what is expected.
func (p *Playbook) BindParams(raw map[string]string) (Values, error) {
	out := Values{}
	var problems []string
	for _, prm := range p.Parameters {
		text, ok := raw[prm.Name]
		if !ok {
			if prm.Required {
				problems = append(problems, fmt.Sprintf("--%s is required: %s", FlagName(prm.Name), prm.Description))
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
			problems = append(problems, fmt.Sprintf("--%s: %v", FlagName(prm.Name), err))
			continue
		}
		out[prm.Name] = v
	}
	for name := range raw {
		if _, ok := p.paramType.index[name]; !ok {
			problems = append(problems, fmt.Sprintf("playbook %s has no parameter %q", p.Name, name))
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(problems, "; "))
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
