package probes

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
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

	rawFacts map[string]any // the facts as decoded JSON, to find absent ones
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
	var raw struct {
		Facts map[string]any `json:"facts"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return s, fmt.Errorf("decode snapshot: %w", err)
	}
	s.rawFacts = raw.Facts
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
	for _, path := range absentFacts(reflect.TypeOf(s.Facts), s.rawFacts, "") {
		if _, ok := s.Status[path]; !ok {
			s.Status[path] = probe.Status{State: probe.Unavailable, Reason: "not in the snapshot (recorded by another version, or left out of a hand-written one)"}
		}
	}
	return s, nil
}

// absentFacts lists the fact paths of t that raw (decoded JSON) lacks, so a
// fact missing from a snapshot is unknown rather than a silent zero. A
// missing object is reported once, not field by field; lists are not entered.
func absentFacts(t reflect.Type, raw map[string]any, prefix string) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		path := prefix + name
		v, ok := raw[name]
		switch {
		case !ok:
			out = append(out, path)
		case f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Time{}):
			if m, isMap := v.(map[string]any); isMap {
				out = append(out, absentFacts(f.Type, m, path+".")...)
			}
		}
	}
	return out
}
