package report

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/fatih/color"

	"github.com/diagnose-sh/diagnose/engine"
	"github.com/diagnose-sh/diagnose/internal/safetext"
)

// Style decides how text is decorated.
type Style struct {
	Color bool
}

type palette struct {
	bold, red, yellow, cyan, green, dim func(...any) string
}

func (s Style) palette() palette {
	mk := func(attrs ...color.Attribute) func(...any) string {
		c := color.New(attrs...)
		if s.Color {
			c.EnableColor()
		} else {
			c.DisableColor()
		}
		return c.Sprint
	}
	return palette{
		bold: mk(color.Bold), red: mk(color.FgRed, color.Bold), yellow: mk(color.FgYellow),
		cyan: mk(color.FgCyan), green: mk(color.FgGreen), dim: mk(color.Faint),
	}
}

// clean makes a string from the system or a playbook inert for a terminal.
func clean(s string) string { return safetext.Clean(s) }

// Text writes the report for people: the verdict first, then findings with
// their evidence and next steps, then what could not be checked and what was
// found clean.
func Text(w io.Writer, r Report, st Style) error {
	p := st.palette()
	var b strings.Builder
	sev := func(s string) string {
		switch s {
		case "critical":
			return p.red("CRITICAL")
		case "warning":
			return p.yellow("WARNING ")
		}
		return p.cyan("info    ")
	}

	head := fmt.Sprintf("%s: ", clean(r.Playbook))
	switch r.Verdict.Class {
	case "none":
		head += p.green("no problem found")
	case "inconclusive":
		head += p.yellow("inconclusive") + " (nothing fired, but some checks could not run)"
	default:
		head += p.bold(strings.ToUpper(clean(r.Verdict.Class))) + " " + sev(r.Verdict.Severity)
	}
	fmt.Fprintln(&b, strings.TrimRight(head, " "))
	fmt.Fprintf(&b, "  %s\n", p.dim(runLine(r)))
	if len(r.Verdict.Also) > 0 {
		fmt.Fprintf(&b, "  also: %s\n", clean(strings.Join(r.Verdict.Also, ", ")))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "  note: %s\n", clean(n))
	}

	if len(r.Findings) > 0 {
		fmt.Fprintf(&b, "\n%s\n", p.bold("Findings"))
		for _, f := range r.Findings {
			fmt.Fprintf(&b, "  %s %s  [%s]\n", sev(f.Severity), p.bold(clean(f.Rule)), clean(f.Class))
			fmt.Fprintf(&b, "      %s\n", clean(f.Evidence))
			if f.Explain != "" {
				for _, line := range wrap(clean(strings.TrimSpace(f.Explain)), 72) {
					fmt.Fprintf(&b, "      %s\n", p.dim(line))
				}
			}
			for i, n := range f.Next {
				label := "next:"
				if i > 0 {
					label = "     "
				}
				fmt.Fprintf(&b, "      %s %s\n", label, p.cyan(clean(n)))
			}
		}
	}
	// Rules that could not be checked, those sharing a reason on one line.
	// Info rules are context: they are listed apart, so that what could not
	// be checked among the rules that decide stands out.
	var deciding, context []engine.Unknown
	for _, u := range r.Unknown {
		if u.Severity == "info" {
			context = append(context, u)
		} else {
			deciding = append(deciding, u)
		}
	}
	if len(deciding) > 0 {
		fmt.Fprintf(&b, "\n%s\n", p.bold("Could not check"))
		writeUnknown(&b, deciding, fmt.Sprint)
	}
	if len(context) > 0 {
		fmt.Fprintf(&b, "\n%s\n", p.dim("Context not gathered (info rules)"))
		writeUnknown(&b, context, p.dim)
	}
	if r.Baseline != nil {
		fmt.Fprintf(&b, "\n%s\n", p.bold("Changed since baseline")+" "+p.dim("("+clean(sideLine(r.Baseline.Side))+")"))
		writeChanges(&b, r.Baseline.Changes)
	}
	if len(r.Skipped) > 0 {
		var ids []string
		for _, s := range r.Skipped {
			ids = append(ids, clean(s.Rule))
		}
		fmt.Fprintf(&b, "\n%s\n", p.dim("Not compared: "+strings.Join(ids, ", ")+" need a baseline (--baseline SNAPSHOT)"))
	}
	if len(r.Verdict.Exonerated) > 0 {
		fmt.Fprintf(&b, "\n%s %s\n", p.bold("Checked and clean:"), p.green(clean(strings.Join(r.Verdict.Exonerated, ", "))))
	}
	if len(r.Verdict.Unchecked) > 0 {
		fmt.Fprintf(&b, "%s %s\n", p.bold("Not checked:"), p.yellow(clean(strings.Join(r.Verdict.Unchecked, ", "))))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeChanges lists the facts that moved, by class, aligned.
func writeChanges(b *strings.Builder, groups []ChangeGroup) {
	if len(groups) == 0 {
		fmt.Fprintln(b, "  nothing the playbook reads moved by a quarter or more")
		return
	}
	wc, wf := 0, 0
	for _, g := range groups {
		wc = max(wc, len(g.Class))
		for _, c := range g.Facts {
			wf = max(wf, len(c.Fact))
		}
	}
	for _, g := range groups {
		for i, c := range g.Facts {
			class := ""
			if i == 0 {
				class = g.Class
			}
			fmt.Fprintf(b, "  %-*s  %-*s  %s\n", wc, clean(class), wf, clean(c.Fact), clean(changeText(c)))
		}
	}
}

// changeText is "0.2 → 98.7 % (×493)": before, after, unit, factor.
func changeText(c Change) string {
	unit := ""
	if c.Unit != "" {
		unit = " " + c.Unit
	}
	factor := "from 0"
	if c.Ratio != nil {
		factor = "×" + strconv.FormatFloat(*c.Ratio, 'g', 3, 64)
	}
	return fmt.Sprintf("%s → %s%s (%s)", short(c.Before), short(c.After), unit, factor)
}

func short(x float64) string { return strconv.FormatFloat(round(x), 'f', -1, 64) }

// sideLine says where facts came from.
func sideLine(s Side) string {
	parts := []string{s.Source}
	if s.CollectedAt != "" {
		parts = append(parts, "recorded "+s.CollectedAt)
	}
	return strings.Join(parts, ", ")
}

// DiffText writes diagnose diff's report for people.
func DiffText(w io.Writer, d Diff, st Style) error {
	p := st.palette()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", p.bold("diff:"), clean(sideLine(d.Before)+" → "+sideLine(d.After)))
	for _, n := range d.Notes {
		fmt.Fprintf(&b, "  note: %s\n", clean(n))
	}
	fmt.Fprintf(&b, "\n%s\n", p.bold("Changed, by "+clean(d.Playbook)+"'s classes"))
	writeChanges(&b, d.Changes)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeUnknown lists unknown rules, one line per reason.
func writeUnknown(b *strings.Builder, us []engine.Unknown, style func(...any) string) {
	var reasons []string
	rules := map[string][]string{}
	for _, u := range us {
		if _, seen := rules[u.Reason]; !seen {
			reasons = append(reasons, u.Reason)
		}
		rules[u.Reason] = append(rules[u.Reason], fmt.Sprintf("%s [%s]", clean(u.Rule), clean(u.Class)))
	}
	for _, reason := range reasons {
		fmt.Fprintf(b, "  %s\n", style("? "+strings.Join(rules[reason], ", ")+": "+clean(reason)))
	}
}

func runLine(r Report) string {
	var parts []string
	keys := make([]string, 0, len(r.Parameters))
	for k := range r.Parameters {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if v := fmt.Sprint(r.Parameters[k]); v != "" && v != "0" { // unset target parameters say nothing
			parts = append(parts, fmt.Sprintf("%s=%v", k, v))
		}
	}
	src := r.Source
	if r.WindowSeconds > 0 {
		src += fmt.Sprintf(", %.1fs window", r.WindowSeconds)
		if r.WindowRequestedSeconds > 0 {
			src += fmt.Sprintf(" (cut short of the %.1fs asked for)", r.WindowRequestedSeconds)
		}
	}
	parts = append(parts, src)
	return clean(strings.Join(parts, ", "))
}

// wrap breaks text into lines of at most width runes at spaces.
func wrap(s string, width int) []string {
	var lines []string
	var cur strings.Builder
	for _, word := range strings.Fields(s) {
		if cur.Len() > 0 && cur.Len()+1+len(word) > width {
			lines = append(lines, cur.String())
			cur.Reset()
		}
		if cur.Len() > 0 {
			cur.WriteByte(' ')
		}
		cur.WriteString(word)
	}
	if cur.Len() > 0 {
		lines = append(lines, cur.String())
	}
	return lines
}
