package cli

import (
	"io"
	"strings"
	"testing"
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
