package report

import (
	"fmt"
	"io"
	"strings"
)

// TestText writes `diagnose test` results for people: each failure with
// expected against got, then the coverage of each playbook.
func TestText(w io.Writer, r TestReport, st Style) error {
	p := st.palette()
	var b strings.Builder
	for _, s := range r.Suites {
		for _, c := range s.Cases {
			if c.Passed {
				fmt.Fprintf(&b, "%s %s:%d %s\n", p.green("PASS"), clean(s.File), c.Line, clean(c.Name))
				continue
			}
			fmt.Fprintf(&b, "%s %s:%d %s\n", p.red("FAIL"), clean(s.File), c.Line, clean(c.Name))
			for _, f := range c.Failures {
				fmt.Fprintf(&b, "     %s\n", clean(f))
			}
			var fired []string
			for _, f := range c.Result.Findings {
				fired = append(fired, f.Rule+" ("+f.Severity+")")
			}
			if len(fired) == 0 {
				fired = []string{"nothing"}
			}
			fmt.Fprintf(&b, "     %s verdict %s; fired: %s\n", p.dim("got:"), clean(c.Result.Verdict.Class), clean(strings.Join(fired, ", ")))
		}
	}
	for _, s := range r.Coverage {
		fmt.Fprintf(&b, "coverage %s: %d/%d rules fired in some test (%.0f%%)", clean(s.Playbook),
			len(s.Exercised), len(s.Exercised)+len(s.Missed), s.CoveragePct)
		if len(s.Missed) > 0 {
			fmt.Fprintf(&b, "; never: %s", clean(strings.Join(s.Missed, ", ")))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "%d passed, %d failed\n", r.Passed, r.Failed)
	_, err := io.WriteString(w, b.String())
	return err
}
