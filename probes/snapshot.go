package probes

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

// SnapshotVersion is the format version written by this build.
const SnapshotVersion = 1

// Snapshot is a recording of facts, replayed with --snapshot: the same
// playbooks run over it without reading the live system.
type Snapshot struct {
	Version       int            `json:"version"`
	Tool          string         `json:"tool"`
	CollectedAt   time.Time      `json:"collected_at"`
	WindowSeconds float64        `json:"window_seconds"`
	Target        probe.Target   `json:"target"`
	Status        probe.Statuses `json:"status"`
	Facts         Facts          `json:"facts"`

	rawFacts map[string]any // the keys of the facts object (factKeys), to find absent ones
}

// MaxSnapshotBytes bounds a snapshot read, so a wrong file fails fast.
const MaxSnapshotBytes = 64 << 20

// WriteSnapshot writes s as indented JSON.
func WriteSnapshot(w io.Writer, s Snapshot) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// ReadSnapshot decodes a snapshot strictly: unknown fields are errors (a
// misspelt fact in a hand-written snapshot must not silently read as zero).
// Sections absent from its status are marked unavailable.
func ReadSnapshot(r io.Reader) (Snapshot, error) {
	var s Snapshot
	b, err := io.ReadAll(io.LimitReader(r, MaxSnapshotBytes+1))
	if err != nil {
		return s, fmt.Errorf("read snapshot: %w", err)
	}
	if len(b) > MaxSnapshotBytes {
		return s, fmt.Errorf("snapshot larger than %d MiB", MaxSnapshotBytes>>20)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return s, fmt.Errorf("snapshot is not valid JSON at byte %d: %w", se.Offset, err)
		}
		return s, fmt.Errorf("decode snapshot: %w", err)
	}
	// Which facts the JSON holds, from a scan of its keys (no second decode).
	if s.rawFacts, err = factKeys(b); err != nil {
		return s, fmt.Errorf("decode snapshot: %w", err)
	}
	if s.Version != SnapshotVersion {
		return s, fmt.Errorf("snapshot version %d, this diagnose reads version %d: record it again with this diagnose collect", s.Version, SnapshotVersion)
	}
	if s.Status == nil {
		s.Status = probe.Statuses{}
	}
	for _, p := range Registry() {
		if _, ok := s.Status[p.Name]; !ok {
			s.Status[p.Name] = notRecorded
		}
	}
	s.markAbsent()
	return s, nil
}

var (
	notRecorded = probe.Status{State: probe.Unavailable, Reason: "not recorded in the snapshot"}
	notInFacts  = probe.Status{State: probe.Unavailable, Reason: "not in the snapshot (recorded by another version, or left out of a hand-written one)"}
)

// markAbsent gives every fact the snapshot's JSON lacks an unavailable
// status (unless it has a status of its own).
func (s *Snapshot) markAbsent() {
	for _, path := range absentFacts(factTree(), s.rawFacts, nil) {
		if _, ok := s.Status[path]; !ok {
			s.Status[path] = notInFacts
		}
	}
}

// WithFacts returns a copy of s with facts (a JSON object holding sections,
// as a snapshot's "facts") merged over its own: objects merge field by field,
// anything else replaces. Sections it gives become ok; facts it gives are no
// longer absent. Unknown fields are errors. s itself is not changed, so one
// decoded snapshot serves many test cases.
func (s Snapshot) WithFacts(facts []byte) (Snapshot, error) {
	out := s
	out.Facts = deepCopy(s.Facts)
	dec := json.NewDecoder(bytes.NewReader(facts))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out.Facts); err != nil {
		return s, fmt.Errorf("facts: %w", err)
	}
	given, err := factKeys(append(append([]byte(`{"facts":`), facts...), '}'))
	if err != nil {
		return s, fmt.Errorf("facts: %w", err)
	}
	out.rawFacts = mergeKeys(mergeKeys(nil, s.rawFacts), given)
	out.Status = make(probe.Statuses, len(s.Status))
	for path, st := range s.Status {
		if st != notInFacts { // recomputed below from the merged keys
			out.Status[path] = st
		}
	}
	for section := range given {
		if st, ok := out.Status[section]; !ok || st.State != probe.OK {
			out.Status[section] = probe.Status{State: probe.OK}
		}
	}
	out.markAbsent()
	return out, nil
}

// mergeKeys copies the nested key map src into dst (which may be nil).
func mergeKeys(dst, src map[string]any) map[string]any {
	if dst == nil {
		dst = make(map[string]any, len(src))
	}
	for k, v := range src {
		sm, sok := v.(map[string]any)
		dm, dok := dst[k].(map[string]any)
		switch {
		case sok && dok:
			dst[k] = mergeKeys(dm, sm)
		case sok:
			dst[k] = mergeKeys(nil, sm)
		default:
			dst[k] = v
		}
	}
	return dst
}

// deepCopy copies a facts value so that decoding into the copy (which
// appends into slices) cannot reach the original's arrays.
func deepCopy[T any](v T) T {
	var out T
	copyValue(reflect.ValueOf(&out).Elem(), reflect.ValueOf(v))
	return out
}

func copyValue(dst, src reflect.Value) {
	switch src.Kind() {
	case reflect.Struct:
		for i := 0; i < src.NumField(); i++ {
			if dst.Field(i).CanSet() {
				copyValue(dst.Field(i), src.Field(i))
			}
		}
	case reflect.Slice:
		if src.IsNil() {
			return
		}
		s := reflect.MakeSlice(src.Type(), src.Len(), src.Len())
		for i := 0; i < src.Len(); i++ {
			copyValue(s.Index(i), src.Index(i))
		}
		dst.Set(s)
	case reflect.Map:
		if src.IsNil() {
			return
		}
		m := reflect.MakeMapWithSize(src.Type(), src.Len())
		for it := src.MapRange(); it.Next(); {
			v := reflect.New(src.Type().Elem()).Elem()
			copyValue(v, it.Value())
			m.SetMapIndex(it.Key(), v)
		}
		dst.Set(m)
	case reflect.Pointer:
		if src.IsNil() {
			return
		}
		p := reflect.New(src.Type().Elem())
		copyValue(p.Elem(), src.Elem())
		dst.Set(p)
	default:
		dst.Set(src)
	}
}

// factField is a field of the Facts tree: its JSON name, its path from the
// facts root, and its fields when it is a struct that absentFacts enters.
type factField struct {
	name, path string
	fields     []factField
	isStruct   bool
}

// factTree is the Facts type's field tree, built once (reflection on every
// snapshot read cost a tenth of the decode).
var factTree = sync.OnceValue(func() []factField { return fieldsOf(reflect.TypeOf(Facts{}), "") })

func fieldsOf(t reflect.Type, prefix string) []factField {
	var out []factField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		ff := factField{name: name, path: prefix + name}
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Time{}) {
			ff.isStruct = true
			ff.fields = fieldsOf(f.Type, ff.path+".")
		}
		out = append(out, ff)
	}
	return out
}

// absentFacts appends to out the fact paths of fields that raw (the keys of
// the JSON object, see factKeys) lacks, so a fact missing from a snapshot is
// unknown rather than a silent zero. A missing object is reported once, not
// field by field; lists are not entered.
func absentFacts(fields []factField, raw map[string]any, out []string) []string {
	for _, f := range fields {
		v, ok := raw[f.name]
		switch {
		case !ok:
			out = append(out, f.path)
		case f.isStruct:
			if m, isMap := v.(map[string]any); isMap {
				out = absentFacts(f.fields, m, out)
			}
		}
	}
	return out
}

// factKeys returns the keys of the top-level "facts" object of b, nested:
// an object's value is the map of its own keys, any other value is true
// (lists are not entered). It scans JSON that the typed decode has already
// accepted, without decoding the values, and still fails safely on
// anything else.
func factKeys(b []byte) (map[string]any, error) {
	sc := keyScanner{b: b}
	sc.space()
	if !sc.eat('{') {
		return nil, nil // null: no facts (anything else failed the typed decode)
	}
	var facts map[string]any
	err := sc.members(func(key string) error {
		if !strings.EqualFold(key, "facts") { // encoding/json matches field names so
			return sc.skip()
		}
		v, err := sc.value(0)
		m, isMap := v.(map[string]any)
		switch {
		case !isMap:
			facts = nil
		case facts == nil:
			facts = m
		default: // a repeated "facts" adds to the first, as encoding/json does
			for k, x := range m {
				facts[k] = x
			}
		}
		return err
	})
	return facts, err
}

var errKeyScan = errors.New("malformed JSON")

// keyScanner walks JSON text for factKeys.
type keyScanner struct {
	b []byte
	i int
}

func (s *keyScanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *keyScanner) eat(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// members calls f for each key of the object whose '{' was just eaten, with
// the scanner at the key's value; f must consume the value.
func (s *keyScanner) members(f func(key string) error) error {
	s.space()
	if s.eat('}') {
		return nil
	}
	for {
		s.space()
		key, err := s.str()
		if err != nil {
			return err
		}
		s.space()
		if !s.eat(':') {
			return errKeyScan
		}
		s.space()
		if err := f(key); err != nil {
			return err
		}
		s.space()
		if s.eat('}') {
			return nil
		}
		if !s.eat(',') {
			return errKeyScan
		}
	}
}

// value consumes a value: an object becomes the map of its keys (up to a
// nesting depth far beyond the Facts types), anything else true.
func (s *keyScanner) value(depth int) (any, error) {
	if depth > 32 || !s.eat('{') {
		return true, s.skip()
	}
	m := map[string]any{}
	err := s.members(func(key string) error {
		v, err := s.value(depth + 1)
		m[key] = v
		return err
	})
	return m, err
}

// str consumes a string and returns its value.
func (s *keyScanner) str() (string, error) {
	start := s.i
	plain, err := s.skipStr()
	if err != nil {
		return "", err
	}
	if plain {
		return string(s.b[start+1 : s.i-1]), nil
	}
	var v string // escapes or non-ASCII: decoded as encoding/json does
	if err := json.Unmarshal(s.b[start:s.i], &v); err != nil {
		return "", errKeyScan
	}
	return v, nil
}

// skipStr consumes a string; plain reports that it has neither escapes nor
// non-ASCII bytes, so its bytes are its value.
func (s *keyScanner) skipStr() (plain bool, err error) {
	if !s.eat('"') {
		return false, errKeyScan
	}
	plain = true
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '\\':
			plain = false
			s.i += 2
			continue
		case c == '"':
			s.i++
			return plain, nil
		case c >= 0x80:
			plain = false
		}
		s.i++
	}
	return false, errKeyScan
}

// skip consumes any value.
func (s *keyScanner) skip() error {
	if s.i >= len(s.b) {
		return errKeyScan
	}
	switch s.b[s.i] {
	case '"':
		_, err := s.skipStr()
		return err
	case '{', '[':
		depth := 0
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '"':
				if _, err := s.skipStr(); err != nil {
					return err
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					s.i++
					return nil
				}
			}
			s.i++
		}
		return errKeyScan
	}
	start := s.i
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			if s.i == start {
				return errKeyScan
			}
			return nil
		}
		s.i++
	}
	return errKeyScan
}
