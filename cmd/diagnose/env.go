package main

import (
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/mattn/go-isatty"

	"github.com/diagnose-sh/diagnose/engine"
	"github.com/diagnose-sh/diagnose/playbooks"
	"github.com/diagnose-sh/diagnose/probes"
)

// env is one invocation's streams; there is no package-level state.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	schema         *engine.Schema
}

func newEnv(stdin io.Reader, stdout, stderr io.Writer) *env {
	return &env{stdin: stdin, stdout: stdout, stderr: stderr, schema: engine.MustSchema(reflect.TypeOf(probes.Facts{}))}
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
			if err != nil {
				return nil, err
			}
			name := strings.TrimSuffix(filepath.Base(f), ".yaml")
			byName[name] = source{name: name, path: f, src: b}
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
	f, err := os.Open(path)
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

// playbooksDirs finds --playbooks values before the full flag set exists
// (the set depends on the playbook, which may come from those folders).
func playbooksDirs(args []string) []string {
	var dirs []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		for _, p := range []string{"--playbooks=", "-playbooks="} {
			if v, ok := strings.CutPrefix(a, p); ok {
				dirs = append(dirs, v)
			}
		}
		if (a == "--playbooks" || a == "-playbooks") && i+1 < len(args) {
			dirs = append(dirs, args[i+1])
			i++
		}
	}
	return dirs
}

// parseInterspersed parses flags anywhere among positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// checkFormat validates --format.
func checkFormat(f string, valid ...string) error {
	for _, v := range valid {
		if f == v {
			return nil
		}
	}
	return usagef("--format %q: valid formats are %s", f, strings.Join(valid, ", "))
}
