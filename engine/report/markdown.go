package report

import (
	"fmt"
	"io"
	"strings"
)

// mdCell makes a string safe inside a Markdown table cell.
func mdCell(s string) string {
	s = clean(s)
	r := strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;", ">", "&gt;", "`", "'")
	return r.Replace(s)
}

// Markdown writes a run report for a pull-request comment or a job summary.
func Markdown(w io.Writer, r Report) error {
	var b strings.Builder
	verdict := strings.ToUpper(r.Verdict.Class)
	if r.Verdict.Severity != "" {
		verdict += " (" + r.Verdict.Severity + ")"
	}
	fmt.Fprintf(&b, "## diagnose %s: %s\n\n", mdCell(r.Playbook), mdCell(verdict))
	fmt.Fprintf(&b, "_%s_\n\n", mdCell(runLine(r)))
	if len(r.Findings) > 0 {
		b.WriteString("| severity | rule | class | evidence | next |\n|---|---|---|---|---|\n")
		for _, f := range r.Findings {
			var next []string
			for _, n := range f.Next {
				next = append(next, "`"+strings.ReplaceAll(clean(n), "`", "'")+"`")
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", f.Severity, mdCell(f.Rule), mdCell(f.Class), mdCell(f.Evidence),
				strings.ReplaceAll(strings.Join(next, "<br>"), "|", `\|`))
		}
		b.WriteString("\n")
	}
	if len(r.Unknown) > 0 {
		b.WriteString("**Could not check**\n\n")
		for _, u := range r.Unknown {
			fmt.Fprintf(&b, "- `%s` (%s): %s\n", mdCell(u.Rule), mdCell(u.Class), mdCell(u.Reason))
		}
		b.WriteString("\n")
	}
	if r.Baseline != nil {
		writeMarkdownChanges(&b, *r.Baseline)
	}
	if len(r.Verdict.Exonerated) > 0 {
		fmt.Fprintf(&b, "Checked and clean: %s\n", mdCell(strings.Join(r.Verdict.Exonerated, ", ")))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeMarkdownChanges is the "changed since baseline" table.
func writeMarkdownChanges(b *strings.Builder, bl Baseline) {
	fmt.Fprintf(b, "**Changed since baseline** (%s)\n\n", mdCell(sideLine(bl.Side)))
	markdownChanges(b, bl.Changes)
}

// DiffMarkdown writes diagnose diff's report as Markdown.
func DiffMarkdown(w io.Writer, d Diff) error {
	var b strings.Builder
	fmt.Fprintf(&b, "## diagnose diff: %s → %s\n\n", mdCell(sideLine(d.Before)), mdCell(sideLine(d.After)))
	for _, n := range d.Notes {
		fmt.Fprintf(&b, "- %s\n", mdCell(n))
	}
	if len(d.Notes) > 0 {
		b.WriteString("\n")
	}
	markdownChanges(&b, d.Changes)
	_, err := io.WriteString(w, b.String())
	return err
}

func markdownChanges(b *strings.Builder, groups []ChangeGroup) {
	if len(groups) == 0 {
		b.WriteString("Nothing the playbook reads moved by a quarter or more.\n\n")
		return
	}
	b.WriteString("| class | fact | change |\n|---|---|---|\n")
	for _, g := range groups {
		for _, c := range g.Facts {
			fmt.Fprintf(b, "| %s | %s | %s |\n", mdCell(g.Class), mdCell(c.Fact), mdCell(changeText(c)))
		}
	}
	b.WriteString("\n")
}

// TestMarkdown writes a test report as a job summary.
func TestMarkdown(w io.Writer, r TestReport) error {
	var b strings.Builder
	status := "✅ all passed"
	if r.Failed > 0 {
		status = fmt.Sprintf("❌ %d failed", r.Failed)
	}
	fmt.Fprintf(&b, "## diagnose test: %s (%d passed, %d failed)\n\n", status, r.Passed, r.Failed)
	b.WriteString("| test | playbook | result |\n|---|---|---|\n")
	for _, s := range r.Suites {
		for _, c := range s.Cases {
			res := "pass"
			if !c.Passed {
				res = "**FAIL**: " + mdCell(strings.Join(c.Failures, "; "))
			}
			fmt.Fprintf(&b, "| %s:%d %s | %s | %s |\n", mdCell(s.File), c.Line, mdCell(c.Name), mdCell(s.Playbook), res)
		}
	}
	b.WriteString("\n")
	for _, s := range r.Coverage {
		fmt.Fprintf(&b, "Coverage of %s: %.0f%% of rules fired in some test", mdCell(s.Playbook), s.CoveragePct)
		if len(s.Missed) > 0 {
			fmt.Fprintf(&b, "; never: %s", mdCell(strings.Join(s.Missed, ", ")))
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
