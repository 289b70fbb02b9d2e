package probes

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzSnapshotFixtures: any bytes, seeded from the snapshots recorded from
// real workloads, either fail to read with an error or read into a
// snapshot that writes and reads back unchanged in its facts.
func FuzzSnapshotFixtures(f *testing.F) {
	files, _ := filepath.Glob("../testdata/hosts/*/snapshot.json")
	more, _ := filepath.Glob("../testdata/snapshots/*.json")
	for _, p := range append(files, more...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ReadSnapshot(bytes.NewReader(b))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := WriteSnapshot(&buf, s); err != nil {
			t.Fatalf("a snapshot that reads does not write: %v", err)
		}
		s2, err := ReadSnapshot(&buf)
		if err != nil {
			t.Fatalf("a written snapshot does not read back: %v\n%s", err, buf.Bytes())
		}
		var a, c bytes.Buffer
		WriteSnapshot(&a, s)
		WriteSnapshot(&c, s2)
		if !bytes.Equal(a.Bytes(), c.Bytes()) {
			t.Fatalf("round trip changed the snapshot:\n%s\n%s", a.Bytes(), c.Bytes())
		}
	})
}
