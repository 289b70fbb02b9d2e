package engine

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// Schema describes a facts type: a struct whose exported fields, tagged
// `expr:"name"`, are the sections expressions can read.
type Schema struct {
	typ      reflect.Type
	sections []section
	index    map[string]int
	reserved map[string]bool // flag names a parameter may not take
}

// ReserveFlags forbids parameters whose flag would shadow one of the
// caller's own flags (the CLI passes every flag it registers).
func (s *Schema) ReserveFlags(names ...string) {
	if s.reserved == nil {
		s.reserved = map[string]bool{}
	}
	for _, n := range names {
		s.reserved[n] = true
	}
}

type section struct {
	name  string
	field int
	typ   reflect.Type
}

// NewSchema builds the schema of a facts struct type.
func NewSchema(factsType reflect.Type) (*Schema, error) {
	if factsType.Kind() != reflect.Struct {
		return nil, fmt.Errorf("facts type %s is not a struct", factsType)
	}
	s := &Schema{typ: factsType, index: map[string]int{}}
	for i := 0; i < factsType.NumField(); i++ {
		f := factsType.Field(i)
		name := f.Tag.Get("expr")
		if name == "" || !f.IsExported() {
			continue
		}
		if f.Type.Kind() == reflect.Pointer || f.Type.Kind() == reflect.Map {
			return nil, fmt.Errorf("section %s is a %s: sections must be value structs (a nil section compiles and fails at run time)", name, f.Type.Kind())
		}
		s.index[name] = len(s.sections)
		s.sections = append(s.sections, section{name: name, field: i, typ: f.Type})
	}
	return s, nil
}

// MustSchema is NewSchema for a facts type known at compile time.
func MustSchema(factsType reflect.Type) *Schema {
	s, err := NewSchema(factsType)
	if err != nil {
		panic(err)
	}
	return s
}

// SectionNames lists the sections in declaration order.
func (s *Schema) SectionNames() []string {
	out := make([]string, len(s.sections))
	for i, sec := range s.sections {
		out[i] = sec.name
	}
	return out
}

func (s *Schema) ordered(names []string) []string {
	sort.Slice(names, func(i, j int) bool { return s.index[names[i]] < s.index[names[j]] })
	return names
}

// Baseline is the name under which expressions read a baseline's facts:
// baseline.cpu.idle_pct is cpu.idle_pct as a recorded snapshot had it.
const Baseline = "baseline"

// env is the compile-time environment: every section's zero value, and
// the baseline's.
func (s *Schema) env() map[string]any {
	m := make(map[string]any, len(s.sections)+8)
	for _, sec := range s.sections {
		m[sec.name] = reflect.Zero(sec.typ).Interface()
	}
	m[Baseline] = reflect.Zero(s.typ).Interface()
	return m
}

// check fails unless facts is a value of the schema's type.
func (s *Schema) check(facts any) error {
	if t := reflect.TypeOf(facts); t != s.typ {
		return fmt.Errorf("facts are %s, playbook compiled for %s", t, s.typ)
	}
	return nil
}

// values fills env with the sections of a facts value.
func (s *Schema) values(facts any, env map[string]any) error {
	v := reflect.ValueOf(facts)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Type() != s.typ {
		return fmt.Errorf("facts are %s, playbook compiled for %s", v.Type(), s.typ)
	}
	for _, sec := range s.sections {
		env[sec.name] = v.Field(sec.field).Interface()
	}
	return nil
}

// Fact describes one fact a playbook can read.
type Fact struct {
	Path    string `json:"name"`
	Type    string `json:"type"`
	Unit    string `json:"unit,omitempty"`
	Meaning string `json:"meaning,omitempty"`
	Section string `json:"probe"`
}

// Facts lists every readable fact, depth first in declaration order. Lists
// are shown as `name[]` with their element's fields below.
func (s *Schema) Facts() []Fact {
	var out []Fact
	for _, sec := range s.sections {
		walkFacts(sec.typ, sec.name, sec.name, &out)
	}
	return out
}

func walkFacts(t reflect.Type, path, sec string, out *[]Fact) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := f.Tag.Get("expr")
		if name == "" || !f.IsExported() {
			continue
		}
		p := path + "." + name
		ft := f.Type
		switch {
		case ft.Kind() == reflect.Struct && ft.String() != "time.Time":
			*out = append(*out, Fact{Path: p, Type: "object", Meaning: f.Tag.Get("doc"), Section: sec})
			walkFacts(ft, p, sec, out)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			*out = append(*out, Fact{Path: p, Type: "list", Meaning: f.Tag.Get("doc"), Section: sec})
			walkFacts(ft.Elem(), p+"[]", sec, out)
		default:
			*out = append(*out, Fact{Path: p, Type: typeName(ft), Unit: unitOf(name), Meaning: f.Tag.Get("doc"), Section: sec})
		}
	}
}

func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "int"
	case reflect.Float32, reflect.Float64:
		return "float"
	case reflect.Slice:
		return "list of " + typeName(t.Elem())
	}
	return t.Kind().String()
}

// unitOf reads the unit from a fact's name, where the project's naming
// convention puts it.
// UnitOf is the unit a fact's name gives it ("cpu.idle_pct": "%"), "" for none.
func UnitOf(path string) string { return unitOf(path[strings.LastIndexByte(path, '.')+1:]) }

func unitOf(name string) string {
	for _, u := range []struct{ suffix, unit string }{
		{"_bytes_per_s", "bytes per second"}, {"_kb_per_s", "KiB per second"}, {"_pages_per_s", "pages per second"},
		{"_pct", "%"}, {"_bytes", "bytes"}, {"_per_s", "per second"}, {"_ms", "ms"}, {"_us", "µs"},
		{"_ns", "ns"}, {"_s", "seconds"}, {"_cores", "CPU cores"}, {"_ratio", "ratio (1 = 100%)"},
		{"_kb", "KiB"}, {"_pages", "pages"},
	} {
		if strings.HasSuffix(name, u.suffix) {
			return u.unit
		}
	}
	return ""
}

// isBaseline says whether a fact path is read from the baseline.
func isBaseline(path string) bool { return path == Baseline || strings.HasPrefix(path, Baseline+".") }

func sectionOf(path string) string {
	if i := strings.IndexByte(path, '.'); i >= 0 {
		return path[:i]
	}
	return path
}

// fieldsAt lists the fact names directly below a path such as "disks.busiest".
func (s *Schema) fieldsAt(path string) []string {
	parts := strings.Split(path, ".")
	i, ok := s.index[parts[0]]
	if !ok {
		return nil
	}
	t := s.sections[i].typ
	for _, p := range parts[1:] {
		found := false
		for j := 0; j < t.NumField(); j++ {
			if t.Field(j).Tag.Get("expr") == p {
				t, found = t.Field(j).Type, true
				break
			}
		}
		if !found {
			return nil
		}
		if t.Kind() == reflect.Slice {
			t = t.Elem()
		}
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for j := 0; j < t.NumField(); j++ {
		if n := t.Field(j).Tag.Get("expr"); n != "" {
			out = append(out, n)
		}
	}
	return out
}
