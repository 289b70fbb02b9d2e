package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/diagnose-sh/diagnose/probes/probetest"
)

// block is a fenced code block of a Markdown file.
type block struct {
	lang, text string
	line       int // of the opening fence
}

func codeBlocks(md string) []block {
	var out []block
	var cur *block
	for i, line := range strings.Split(md, "\n") {
		switch {
		case cur == nil && strings.HasPrefix(line, "```"):
			cur = &block{lang: strings.TrimPrefix(line, "```"), line: i + 1}
		case cur != nil && line == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.text += line + "\n"
		}
	}
	return out
}

// matchOutput compares a command's output with a doc's: a line "..." stands
// for any lines, "..." inside a line for any text.
func matchOutput(want, got string) bool {
	var re strings.Builder
	re.WriteString(`^`)
	for _, line := range strings.Split(strings.TrimRight(want, "\n"), "\n") {
		if line == "..." {
			re.WriteString(`(?:.*\n)*?`)
			continue
		}
		re.WriteString(strings.ReplaceAll(regexp.QuoteMeta(line), `\.\.\.`, `.*`) + `\n`)
	}
	return regexp.MustCompile(re.String() + `$`).MatchString(strings.TrimRight(got, "\n") + "\n")
}

// runDocCommand runs one documented diagnose command line in the current
// directory, with the shell's glob expansion, and returns its exit code and
// output (stdout, then stderr).
func runDocCommand(t *testing.T, line string) (int, string) {
	t.Helper()
	words := strings.Fields(line)
	if len(words) == 0 || words[0] != "diagnose" {
		t.Fatalf("not a diagnose command: %q", line)
	}
	var args []string
	for _, w := range words[1:] {
		if strings.ContainsAny(w, "*?[") {
			matches, _ := filepath.Glob(w)
			if len(matches) == 0 {
				t.Fatalf("%q: %s matches no file", line, w)
			}
			args = append(args, matches...)
			continue
		}
		args = append(args, w)
	}
	var stdout, stderr bytes.Buffer
	code := Main(args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String() + stderr.String()
}

// checkConsole runs each "$ diagnose ..." line of a console block and
// compares the output with the lines that follow it.
func checkConsole(t *testing.T, doc string, b block) {
	t.Helper()
	var cmd, want string
	flush := func() {
		if cmd == "" {
			return
		}
		code, got := runDocCommand(t, cmd)
		if !matchOutput(want, got) {
			t.Errorf("%s:%d: $ %s (exit %d)\n--- got ---\n%s--- the doc shows ---\n%s", doc, b.line, cmd, code, got, want)
		}
	}
	for _, line := range strings.Split(strings.TrimRight(b.text, "\n"), "\n") {
		if c, ok := strings.CutPrefix(line, "$ "); ok {
			flush()
			cmd, want = c, ""
			continue
		}
		want += line + "\n"
	}
	flush()
}

// docFile is the file a YAML block shows, from its first line "# NAME.yaml".
var docFile = regexp.MustCompile(`^# ([\w.-]+\.yaml)\n`)

// docs/writing-playbooks.md is followed as written: its files are those of
// testdata/custom, every console command prints what the doc shows, and the
// CI job's diagnose steps pass over the files the doc wrote.
func TestWritingPlaybooksRunsAsWritten(t *testing.T) {
	repo := probetest.RepoRoot(t)
	const doc = "docs/writing-playbooks.md"
	src, err := os.ReadFile(filepath.Join(repo, doc))
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	if out, err := exec.Command("cp", "-r", filepath.Join(repo, "testdata", "custom")+"/.", work).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	t.Chdir(work)
	var written []string
	var workflow *block
	for _, b := range codeBlocks(string(src)) {
		switch {
		case b.lang == "yaml" && docFile.MatchString(b.text):
			name := docFile.FindStringSubmatch(b.text)[1]
			file, err := os.ReadFile(name)
			if err != nil {
				t.Errorf("%s:%d shows %s, which testdata/custom does not have", doc, b.line, name)
				continue
			}
			if shown := docFile.ReplaceAllString(b.text, ""); shown != string(file) {
				t.Errorf("%s:%d: the %s shown differs from testdata/custom/%s", doc, b.line, name, name)
			}
			written = append(written, name)
		case b.lang == "yaml" && strings.Contains(b.text, "jobs:"):
			workflow = &b
		case b.lang == "console":
			checkConsole(t, doc, b)
		default:
			t.Errorf("%s:%d: a %q block the test does not know how to run", doc, b.line, b.lang)
		}
	}
	if workflow == nil {
		t.Fatalf("%s: no CI workflow block", doc)
	}
	// The CI job: the doc's files in playbooks/, its diagnose steps in order.
	ci := filepath.Join(work, "ci")
	if err := os.MkdirAll(filepath.Join(ci, "playbooks"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range append(written, "snapshots") {
		if out, err := exec.Command("cp", "-r", name, filepath.Join(ci, "playbooks", name)).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v %s", err, out)
		}
	}
	t.Chdir(ci)
	steps := 0
	for _, step := range workflowSteps(workflow.text) {
		if !strings.HasPrefix(step, "diagnose ") {
			continue
		}
		steps++
		if code, out := runDocCommand(t, step); code != exitOK {
			t.Errorf("%s:%d: CI step %q: exit %d\n%s", doc, workflow.line, step, code, out)
		}
	}
	if steps < 2 {
		t.Errorf("%s: the workflow has %d diagnose steps, want validate and test", doc, steps)
	}
	for _, out := range []string{"playbook-tests.xml", "summary.md"} {
		if _, err := os.Stat(out); err != nil {
			t.Errorf("CI step output: %v", err)
		}
	}
}

// workflowSteps returns the commands of a GitHub Actions workflow's run:
// steps, folded (run: >) ones joined into one line.
func workflowSteps(yaml string) []string {
	var steps []string
	lines := strings.Split(yaml, "\n")
	for i := 0; i < len(lines); i++ {
		_, cmd, ok := strings.Cut(lines[i], "run: ")
		if !ok {
			continue
		}
		if cmd == ">" {
			indent := len(lines[i+1]) - len(strings.TrimLeft(lines[i+1], " "))
			var parts []string
			for i+1 < len(lines) && len(lines[i+1])-len(strings.TrimLeft(lines[i+1], " ")) == indent && strings.TrimSpace(lines[i+1]) != "" {
				i++
				parts = append(parts, strings.TrimSpace(lines[i]))
			}
			cmd = strings.Join(parts, " ")
		}
		steps = append(steps, strings.TrimSpace(cmd))
	}
	return steps
}

// The README's console examples print what the README shows.
func TestReadmeExamplesRunAsWritten(t *testing.T) {
	repo := probetest.RepoRoot(t)
	src, err := os.ReadFile(filepath.Join(repo, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(repo)
	n := 0
	for _, b := range codeBlocks(string(src)) {
		if b.lang == "console" {
			checkConsole(t, "README.md", b)
			n++
		}
	}
	if n == 0 {
		t.Error("README.md has no console examples")
	}
}
