package probes

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

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

	present []bool // which facts the JSON held (factPresence), by factField.id
}

// MaxSnapshotBytes bounds a snapshot read, so a wrong file fails fast.
const MaxSnapshotBytes = 64 << 20

// WriteSnapshot writes s as indented JSON.
func WriteSnapshot(w io.Writer, s Snapshot) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// strict are the decoding rules of snapshots and inline facts: those of
// encoding/json/v2 (exact-case names; duplicate names, invalid UTF-8 and
// trailing data are errors) plus unknown names as errors, so that a
// misspelt fact in a hand-written snapshot cannot silently read as zero.
// The decoder is github.com/go-json-experiment/json, the mirror of the
// standard library's encoding/json/v2 (stable in Go 1.27): 3× faster than
// encoding/json on our snapshots.
var strict = jsonv2.RejectUnknownMembers(true)

// ReadSnapshot decodes a snapshot strictly (see strict). Sections absent
// from its status are marked unavailable, facts absent from its JSON
// unknown.
func ReadSnapshot(r io.Reader) (Snapshot, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxSnapshotBytes+1))
	if err != nil {
		return Snapshot{}, fmt.Errorf("read snapshot: %w", err)
	}
	return DecodeSnapshot(b)
}

// DecodeSnapshot is ReadSnapshot over bytes already read.
func DecodeSnapshot(b []byte) (Snapshot, error) {
	var s Snapshot
	if len(b) > MaxSnapshotBytes {
		return s, fmt.Errorf("snapshot larger than %d MiB", MaxSnapshotBytes>>20)
	}
	err := jsonv2.Unmarshal(b, &s, strict)
	if err != nil {
		var se *jsontext.SyntacticError
		if errors.As(err, &se) {
			return s, fmt.Errorf("snapshot is not valid JSON at byte %d: %w", se.ByteOffset, err)
		}
		return s, fmt.Errorf("decode snapshot: %w", err)
	}
	// Which facts the JSON holds, from a scan of its keys (no second decode).
	if s.present, err = factPresence(b); err != nil {
		return s, fmt.Errorf("decode snapshot: %w", err)
	}
	if s.Version != SnapshotVersion {
		return s, fmt.Errorf("snapshot version %d, this diagnose reads version %d: record it again with this diagnose collect", s.Version, SnapshotVersion)
	}
	if s.Status == nil {
		s.Status = probe.Statuses{}
	}
	if err := checkStatuses(s.Status); err != nil {
		return s, fmt.Errorf("decode snapshot: %w", err)
	}
	for _, section := range factTree().fields {
		if _, ok := s.Status[section.name]; !ok {
			s.Status[section.name] = notRecorded
		}
	}
	s.markAbsent()
	return s, nil
}

// checkStatuses refuses statuses of sections diagnose does not have, and
// states other than ok, unavailable and error: a typo would otherwise make
// a fact silently "recorded".
func checkStatuses(st probe.Statuses) error {
	known := map[string]bool{}
	var names []string
	for _, section := range factTree().fields {
		known[section.name] = true
		names = append(names, section.name)
	}
	paths := make([]string, 0, len(st))
	for p := range st {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if sec, _, _ := strings.Cut(p, "."); !known[sec] {
			return fmt.Errorf("status of %q: no section %q; the sections are %s", p, sec, strings.Join(names, ", "))
		}
		switch st[p].State {
		case probe.OK, probe.Unavailable, probe.Error:
		default:
			return fmt.Errorf("status of %q: state %q; the states are ok, unavailable and error", p, st[p].State)
		}
	}
	return nil
}

var (
	notRecorded = probe.Status{State: probe.Unavailable, Reason: "not recorded in the snapshot"}
	notInFacts  = probe.Status{State: probe.Unavailable, Reason: "not in the snapshot (recorded by another version, or left out of a hand-written one)"}
)

// markAbsent gives every fact the snapshot's JSON lacks an unavailable
// status (unless it has a status of its own).
func (s *Snapshot) markAbsent() {
	for _, path := range absentFacts(factTree().fields, s.present, nil) {
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
	if err := jsonv2.Unmarshal(facts, &out.Facts, strict); err != nil {
		return s, fmt.Errorf("facts: %w", err)
	}
	given, err := factPresence(append(append([]byte(`{"facts":`), facts...), '}'))
	if err != nil {
		return s, fmt.Errorf("facts: %w", err)
	}
	out.present = make([]bool, len(given))
	for i := range given {
		out.present[i] = given[i] || i < len(s.present) && s.present[i]
	}
	out.Status = make(probe.Statuses, len(s.Status))
	for path, st := range s.Status {
		if st != notInFacts { // recomputed below from the merged keys
			out.Status[path] = st
		}
	}
	for _, section := range factTree().fields {
		if !given[section.id] {
			continue
		}
		if st, ok := out.Status[section.name]; !ok || st.State != probe.OK {
			out.Status[section.name] = probe.Status{State: probe.OK}
		}
	}
	out.markAbsent()
	return out, nil
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
// facts root, its number in a presence set, and its fields (by name too)
// when it is a struct that absentFacts enters.
type factField struct {
	name, path string
	id         int
	fields     []factField
	byName     map[string]int // index into fields
	isStruct   bool
}

// factIndex is the Facts type's field tree; its root stands for "facts",
// count is the number of ids given.
type factIndex struct {
	factField
	count int
}

// factTree is built once (reflection on every snapshot read cost a tenth
// of the decode).
var factTree = sync.OnceValue(func() *factIndex {
	root := &factIndex{factField: factField{isStruct: true}, count: 1}
	root.fields, root.byName = fieldsOf(reflect.TypeOf(Facts{}), "", &root.count)
	return root
})

func fieldsOf(t reflect.Type, prefix string, n *int) ([]factField, map[string]int) {
	var out []factField
	byName := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		ff := factField{name: name, path: prefix + name, id: *n}
		*n++
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Time{}) {
			ff.isStruct = true
			ff.fields, ff.byName = fieldsOf(f.Type, ff.path+".", n)
		}
		byName[name] = len(out)
		out = append(out, ff)
	}
	return out, byName
}

// absentFacts appends to out the fact paths of fields not present, so a
// fact missing from a snapshot is unknown rather than a silent zero. A
// missing object is reported once, not field by field; lists are not
// entered. A nil present set (no facts at all) marks every section.
func absentFacts(fields []factField, present []bool, out []string) []string {
	for _, f := range fields {
		switch {
		case f.id >= len(present) || !present[f.id]:
			out = append(out, f.path)
		case f.isStruct:
			out = absentFacts(f.fields, present, out)
		}
	}
	return out
}

// factPresence scans b, JSON the strict decode has accepted (so names are
// exact and unique), for the facts its top-level "facts" object holds: an
// object's member is present when its key is, and the fields of a struct
// are looked for only when its value is an object. It does not decode
// values, allocates only the result, and fails safely on malformed input.
func factPresence(b []byte) ([]bool, error) {
	tree := factTree()
	present := make([]bool, tree.count)
	sc := keyScanner{b: b}
	sc.space()
	if !sc.eat('{') {
		return present, nil // null: no facts (anything else failed the typed decode)
	}
	err := sc.members(func(key []byte) error {
		if string(key) != "facts" {
			return sc.skip()
		}
		return sc.mark(&tree.factField, present)
	})
	return present, err
}

// mark consumes the value of field f: an object's known members are marked
// present and, for structs, entered.
func (s *keyScanner) mark(f *factField, present []bool) error {
	if !f.isStruct || !s.eat('{') {
		return s.skip()
	}
	next := 0 // diagnose writes fields in declaration order: try the next one first
	return s.members(func(key []byte) error {
		i := next
		if i >= len(f.fields) || f.fields[i].name != string(key) {
			var ok bool
			if i, ok = f.byName[string(key)]; !ok {
				return s.skip()
			}
		}
		next = i + 1
		child := &f.fields[i]
		present[child.id] = true
		return s.mark(child, present)
	})
}

var errKeyScan = errors.New("malformed JSON")

// keyScanner walks JSON text for factPresence.
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
// the scanner at the key's value; f must consume the value. The key is
// valid until the next call.
func (s *keyScanner) members(f func(key []byte) error) error {
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

// str consumes a string and returns its value: its own bytes when it has
// no escapes (the common case: no allocation), else decoded.
func (s *keyScanner) str() ([]byte, error) {
	start := s.i
	plain, err := s.skipStr()
	if err != nil {
		return nil, err
	}
	if plain {
		return s.b[start+1 : s.i-1], nil
	}
	var v string
	if err := jsonv2.Unmarshal(s.b[start:s.i], &v); err != nil {
		return nil, errKeyScan
	}
	return []byte(v), nil
}

// skipStr consumes a string; plain reports that it has neither escapes nor
// non-ASCII bytes, so its bytes are its value.
func (s *keyScanner) skipStr() (plain bool, err error) {
	start := s.i
	end, ok := endOfString(s.b, start)
	if !ok {
		return false, errKeyScan
	}
	s.i = end
	for _, c := range s.b[start+1 : end-1] {
		if c == '\\' || c >= 0x80 {
			return false, nil
		}
	}
	return true, nil
}

// endOfString returns the index just past the string that starts with the
// quote at b[i].
func endOfString(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, false
	}
	i++
	for {
		n := bytes.IndexByte(b[i:], '"')
		if n < 0 {
			return 0, false
		}
		// The quote ends the string unless an odd run of backslashes escapes it.
		bs := 0
		for bs < n && b[i+n-1-bs] == '\\' {
			bs++
		}
		i += n + 1
		if bs%2 == 0 {
			return i, true
		}
	}
}

// skip consumes any value.
func (s *keyScanner) skip() error {
	b, i := s.b, s.i
	if i >= len(b) {
		return errKeyScan
	}
	switch b[i] {
	case '"':
		end, ok := endOfString(b, i)
		if !ok {
			return errKeyScan
		}
		s.i = end
		return nil
	case '{', '[':
		depth := 0
		for i < len(b) {
			for i < len(b) && !structural[b[i]] {
				i++
			}
			if i == len(b) {
				break
			}
			switch b[i] {
			case '"':
				end, ok := endOfString(b, i)
				if !ok {
					return errKeyScan
				}
				i = end
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					s.i = i + 1
					return nil
				}
			}
			i++
		}
		return errKeyScan
	}
	start := i
	for i < len(b) && !delimiter[b[i]] {
		i++
	}
	if i == start || i == len(b) {
		return errKeyScan
	}
	s.i = i
	return nil
}

// structural marks the bytes skip stops at inside a list or object;
// delimiter those that end a number or literal.
var structural, delimiter = func() (st, de [256]bool) {
	for _, c := range []byte(`"{}[]`) {
		st[c] = true
	}
	for _, c := range []byte(",}] \t\n\r") {
		de[c] = true
	}
	return
}()
