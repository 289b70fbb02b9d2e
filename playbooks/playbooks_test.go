package playbooks_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/diagnose-sh/diagnose/engine"
	"github.com/diagnose-sh/diagnose/playbooks"
	"github.com/diagnose-sh/diagnose/probes"
)

// Every shipped playbook compiles against the real facts type: a misspelt
// fact, a type mismatch or a bad template fails CI, not a user at 3 a.m.
func TestShippedPlaybooksCompile(t *testing.T) {
	schema := engine.MustSchema(reflect.TypeOf(probes.Facts{}))
	names, err := fs.Glob(playbooks.FS, "*.yaml")
	if err != nil || len(names) == 0 {
		t.Fatalf("no embedded playbooks: %v", err)
	}
	registered := map[string]bool{}
	for _, p := range probes.Registry() {
		registered[p.Name] = true
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			src, err := fs.ReadFile(playbooks.FS, name)
			if err != nil {
				t.Fatal(err)
			}
			pb, err := engine.Load(name, src, schema)
			if err != nil {
				t.Fatalf("%v", err)
			}
			if want := strings.TrimSuffix(name, ".yaml"); pb.Name != want {
				t.Errorf("playbook in %s is named %q: the file name is the command, they must match", name, pb.Name)
			}
			if pb.Description == "" {
				t.Errorf("%s has no description: diagnose list and --help show it", name)
			}
			for _, s := range pb.Sections() {
				if !registered[s] {
					t.Errorf("%s reads section %q that no probe fills", name, s)
				}
			}
			for _, r := range pb.Rules {
				if strings.TrimSpace(r.Explain) == "" {
					t.Errorf("rule %s has no explain: a finding must say what it means", r.ID)
				}
				if r.Severity != "info" && len(r.Next) == 0 {
					t.Errorf("rule %s has no next step", r.ID)
				}
			}
		})
	}
}

// The complete example in docs/playbooks.md must stay a valid playbook.
func TestDocsExampleCompiles(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "playbooks.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```yaml\n")
	example, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("docs/playbooks.md has no ```yaml example")
	}
	schema := engine.MustSchema(reflect.TypeOf(probes.Facts{}))
	if _, err := engine.Load("docs/playbooks.md example", []byte(example), schema); err != nil {
		t.Fatalf("the documented example does not load:\n%v", err)
	}
}
