package cli

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/mattn/go-isatty"

	"github.com/diagnose-sh/diagnose/engine"
	"github.com/diagnose-sh/diagnose/playbooks"
	"github.com/diagnose-sh/diagnose/probes"
	"github.com/diagnose-sh/diagnose/probes/probe"
)

// env is one invocation's streams; there is no package-level state.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	schema         *engine.Schema
	code           int             // the exit code of a run that did not fail
	ctx            context.Context // ends on SIGINT/SIGTERM: sampling stops, helpers are killed
}

func newEnv(stdin io.Reader, stdout, stderr io.Writer) *env {
	return &env{stdin: stdin, stdout: stdout, stderr: stderr, schema: engine.MustSchema(reflect.TypeOf(probes.Facts{})), ctx: context.Background()}
}

// isTerminal reports whether w is a terminal that may receive colour and
// progress: never with NO_COLOR (https://no-color.org) or TERM=dumb.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	return isatty.IsTerminal(f.Fd())
}

// source is where a playbook came from.
type source struct {
	name string // playbook name (file base without .yaml)
	path string // shown in errors: "playbooks/slow-app.yaml (embedded)" or the file path
	src  []byte
	err  error // why the file could not be read
}

// playbookNamed loads a catalog playbook by name (--playbook NAME).
func (e *env) playbookNamed(name string, dirs []string) (*engine.Playbook, error) {
	cat, err := catalog(dirs)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(cat, func(s source) bool { return s.name == name })
	if i < 0 {
		return nil, usagef("--playbook %s: no such playbook; diagnose list shows them", name)
	}
	return e.load(cat[i], "")
}

// catalog lists the embedded playbooks and those in dirs; a playbook in a
// directory replaces an embedded one of the same name.
func catalog(dirs []string) ([]source, error) {
	byName := map[string]source{}
	entries, err := fs.ReadDir(playbooks.FS, ".")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		b, err := fs.ReadFile(playbooks.FS, e.Name())
		if err != nil {
			return nil, err
		}
		name := strings.TrimSuffix(e.Name(), ".yaml")
		byName[name] = source{name: name, path: "playbooks/" + e.Name() + " (embedded)", src: b}
	}
	for _, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(dir); err != nil {
			return nil, usagef("--playbooks %s: %v", dir, err)
		}
		for _, f := range files {
			b, err := readPlaybookFile(f)
			name := strings.TrimSuffix(filepath.Base(f), ".yaml")
			byName[name] = source{name: name, path: f, src: b, err: err}
		}
	}
	out := make([]source, 0, len(byName))
	for _, s := range byName {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

func readPlaybookFile(path string) ([]byte, error) {
	f, err := probe.OpenRegular(path)
	if err != nil {
		return nil, usagef("%v", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, engine.MaxPlaybookBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}
