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
			s.Status[p.Name] = probe.Status{State: probe.Unavailable, Reason: "not recorded in the snapshot"}
		}
	}
	for _, path := range absentFacts(factTree(), s.rawFacts, nil) {
		if _, ok := s.Status[path]; !ok {
			s.Status[path] = probe.Status{State: probe.Unavailable, Reason: "not in the snapshot (recorded by another version, or left out of a hand-written one)"}
		}
	}
	return s, nil
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
