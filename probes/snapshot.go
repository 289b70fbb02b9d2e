package probes

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	lr := &io.LimitedReader{R: r, N: MaxSnapshotBytes + 1}
	dec := json.NewDecoder(lr)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return s, fmt.Errorf("snapshot is not valid JSON at byte %d: %w", se.Offset, err)
		}
		return s, fmt.Errorf("decode snapshot: %w", err)
	}
	if lr.N <= 0 {
		return s, fmt.Errorf("snapshot larger than %d MiB", MaxSnapshotBytes>>20)
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
	return s, nil
}
