package cli

import (
	"io"
	"strings"
	"testing"

	"github.com/diagnose-sh/diagnose/engine/report"
)

// BenchmarkStartup is what every invocation pays before it does anything:
// building the command tree over the embedded playbooks.
func BenchmarkStartup(b *testing.B) {
	for _, args := range [][]string{{"version"}, {"slow-app", "--help"}} {
		b.Run(strings.Join(args, " "), func(b *testing.B) {
			for b.Loop() {
				if code := Main(args, strings.NewReader(""), io.Discard, io.Discard); code != 0 {
					b.Fatalf("exit %d", code)
				}
			}
		})
	}
}

// BenchmarkBaselineCompare is what --baseline adds to a run once both
// snapshots are read: the comparison of every fact slow-app reads.
func BenchmarkBaselineCompare(b *testing.B) {
	before, err := readSnapshot("BEFORE", pairPath(b, "cpu-up", "before"))
	if err != nil {
		b.Fatal(err)
	}
	after, err := readSnapshot("AFTER", pairPath(b, "cpu-up", "after"))
	if err != nil {
		b.Fatal(err)
	}
	pb, err := newEnv(strings.NewReader(""), io.Discard, io.Discard).playbookNamed("slow-app", nil)
	if err != nil {
		b.Fatal(err)
	}
	mb, ma := report.Missing(statusReport(before.Status)), report.Missing(statusReport(after.Status))
	b.ReportAllocs()
	for b.Loop() {
		if len(report.Compare(pb, before.Facts, after.Facts, mb, ma)) == 0 {
			b.Fatal("no changes")
		}
	}
}
