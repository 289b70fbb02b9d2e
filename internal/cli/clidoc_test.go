package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/diagnose-sh/diagnose/probes/probetest"
)

// docs/cli.md's reference is generated from the command definitions; this
// fails when a flag or command changed and the file was not regenerated.
func TestCLIReferenceIsCurrent(t *testing.T) {
	path := filepath.Join(repoRoot(), "docs", "cli.md")
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := UpdateReference(doc, Command())
	if err != nil {
		t.Fatal(err)
	}
	if probetest.Update() {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(doc, want) {
		t.Errorf("docs/cli.md is stale: run make docs (or go test ./internal/cli -run TestCLIReference -update)")
	}
	for _, s := range []string{"### diagnose slow-app", "| `--pid int` |", "| `--fail-on severity` | `warning` |", "### diagnose collect", "| `-o, --out FILE` | `-` |", "diagnose completion bash|fish|powershell|zsh"} {
		if !strings.Contains(string(want), s) {
			t.Errorf("reference lacks %q", s)
		}
	}
}
