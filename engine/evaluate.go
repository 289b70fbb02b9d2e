package engine

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/expr-lang/expr"
)

// Result is what a playbook concluded over a set of facts.
type Result struct {
	Playbook    string    `json:"playbook"`
	Description string    `json:"description,omitempty"`
	Verdict     Verdict   `json:"verdict"`
	Findings    []Finding `json:"findings"`
	Unknown     []Unknown `json:"unknown"`
	// Skipped are the rules that compare with a baseline, in a run without
	// one: neither findings nor unknown.
	Skipped []Skipped `json:"skipped"`
}

// Verdict is the one answer: the primary class, the other classes that also
// fired, and the classes that were checked and found clean (exonerated).
type Verdict struct {
	// Class is the primary class, "none" when every rule was checked and none
	// fired, or "inconclusive" when none fired but some could not be checked.
	Class    string `json:"class"`
	Severity string `json:"severity,omitempty"`
	// Also lists the other classes with findings, most severe first.
	Also []string `json:"also"`
	// Exonerated classes had every rule evaluated and none fired.
	Exonerated []string `json:"exonerated"`
	// Unchecked classes had no finding but some rules were unknown.
	Unchecked []string `json:"unchecked"`
}

// Finding is a rule that fired, with the numbers that made it fire.
type Finding struct {
	Rule     string   `json:"rule"`
	Class    string   `json:"class"`
	Severity string   `json:"severity"`
	Evidence string   `json:"evidence"`
	Explain  string   `json:"explain,omitempty"`
	Next     []string `json:"next"`
}

// Unknown is a rule that could not be evaluated, and why.
type Unknown struct {
	Rule     string `json:"rule"`
	Class    string `json:"class"`
	Severity string `json:"severity"`
	Reason   string `json:"reason"`
}

// Skipped is a rule that was not evaluated because it compares with a
// baseline and the run has none.
type Skipped struct {
	Rule     string `json:"rule"`
	Class    string `json:"class"`
	Severity string `json:"severity"`
	Reason   string `json:"reason"`
}

// NoBaseline is why a rule that reads baseline.* was skipped.
const NoBaseline = "compares with a baseline, and this run has none (--baseline SNAPSHOT; diagnose collect records one)"

// Missing maps fact paths that were not delivered ("psi", "process.read_bytes_per_s")
// to the reason, in words a person can act on.
type Missing map[string]string

// missingFact is one entry of a Missing, for iteration without a map.
type missingFact struct{ path, reason string }

// missingList is a Missing as a slice: Evaluate asks for the reasons of
// every condition, rule and template, and ranging over a map that often
// cost more than the expressions themselves.
type missingList []missingFact

func (m Missing) sorted() missingList {
	l := make(missingList, 0, len(m))
	for k, reason := range m {
		l = append(l, missingFact{k, reason})
	}
	sort.Slice(l, func(i, j int) bool { return l[i].path < l[j].path })
	return l
}

// Lookup returns a function giving the reason a fact path cannot be
// trusted, or "" (see why), sorting m once for many lookups.
func (m Missing) Lookup() func(path string) string {
	l := m.sorted()
	return func(path string) string { return l.why([]string{path}) }
}

// why returns the reason a set of fact paths cannot be trusted, or "".
// A path is missing when it, a section above it, or a fact below it was not
// delivered.
func (l missingList) why(paths []string) string {
	if len(l) == 0 {
		return ""
	}
	var byReason map[string][]string // facts that share a reason are named together
	for _, p := range paths {
		for _, m := range l {
			if m.path == p || under(p, m.path) || under(m.path, p) {
				if byReason == nil {
					byReason = map[string][]string{}
				}
				byReason[m.reason] = appendUnique(byReason[m.reason], m.path)
			}
		}
	}
	if byReason == nil {
		return ""
	}
	var parts []string
	for reason, keys := range byReason {
		sort.Strings(keys)
		parts = append(parts, fmt.Sprintf("%s: %s", strings.Join(keys, ", "), reason))
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

// under reports whether path is below section ("cpu.idle_pct" is below
// "cpu"), without building section+"." (Evaluate calls this for every read
// path and every missing fact).
func under(path, section string) bool {
	return len(path) > len(section) && path[len(section)] == '.' && path[:len(section)] == section
}

// Evaluate runs every rule over facts (a value of the schema's type) with the
// given parameters. Rules that read a missing fact are Unknown, never a
// silent non-match; rules that read a baseline are Skipped. Evaluate is safe
// for concurrent use.
func (p *Playbook) Evaluate(facts any, params Values, m Missing) (Result, error) {
	return p.EvaluateAgainst(facts, nil, params, m)
}

// EvaluateAgainst is Evaluate with a baseline: facts of the same type
// recorded earlier, read as baseline.SECTION.FACT (nil: none, and the rules
// that read it are Skipped). The baseline's missing facts are in m with
// their paths under "baseline.".
func (p *Playbook) EvaluateAgainst(facts, baseline any, params Values, m Missing) (Result, error) {
	if baseline == nil { // a template that shows a baseline fact shows it unavailable
		m = maps.Clone(m)
		if m == nil {
			m = Missing{}
		}
		m[Baseline] = NoBaseline
	}
	missing := m.sorted()
	env := p.schema.env()
	if err := p.schema.values(facts, env); err != nil {
		return Result{}, err
	}
	if baseline != nil {
		if err := p.schema.check(baseline); err != nil {
			return Result{}, fmt.Errorf("baseline: %w", err)
		}
		env[Baseline] = baseline
	}
	needsBaseline := func(reads []string) bool { return baseline == nil && slices.ContainsFunc(reads, isBaseline) }
	env["params"] = p.paramValue(params)
	condErr := map[string]string{}
	for _, c := range p.order {
		env[c.Name] = false
		if c.program == nil {
			continue
		}
		if missing.why(c.reads) != "" {
			continue // rules using it read the same paths and become unknown (or skipped)
		}
		v, err := expr.Run(c.program, env)
		if err != nil {
			condErr[c.Name] = fmt.Sprintf("condition %s failed: %s", c.Name, firstLine(err.Error()))
			continue
		}
		env[c.Name] = v.(bool)
	}

	res := Result{Playbook: p.Name, Description: p.Description, Findings: []Finding{}, Unknown: []Unknown{}, Skipped: []Skipped{}}
	for _, r := range p.Rules {
		if r.Disabled != "" || r.program == nil {
			continue
		}
		if needsBaseline(r.reads) {
			res.Skipped = append(res.Skipped, Skipped{Rule: r.ID, Class: r.Class, Severity: r.Severity, Reason: NoBaseline})
			continue
		}
		reason := missing.why(r.reads)
		for _, c := range r.conds {
			if e := condErr[c]; e != "" && reason == "" {
				reason = e
			}
		}
		if reason == "" {
			v, err := expr.Run(r.program, env)
			switch {
			case err != nil:
				reason = "evaluation failed: " + firstLine(err.Error())
			case v.(bool):
				f := Finding{Rule: r.ID, Class: r.Class, Severity: r.Severity, Explain: r.Explain,
					Evidence: r.evidence.render(env, missing.why), Next: []string{}}
				for _, n := range r.next {
					if step := n.render(env, missing.why); strings.TrimSpace(step) != "" {
						f.Next = append(f.Next, step) // an empty step is a conditional one that does not apply
					}
				}
				res.Findings = append(res.Findings, f)
			}
		}
		if reason != "" {
			res.Unknown = append(res.Unknown, Unknown{Rule: r.ID, Class: r.Class, Severity: r.Severity, Reason: reason})
		}
	}
	p.sortFindings(res.Findings)
	res.Verdict = p.verdict(res)
	return res, nil
}

// sortFindings orders findings most severe first, ties by the order of the
// playbook's classes, then by rule order.
func (p *Playbook) sortFindings(fs []Finding) {
	classRank := map[string]int{}
	for i, c := range p.Classes {
		classRank[c] = i
	}
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if sa, sb := SeverityRank(a.Severity), SeverityRank(b.Severity); sa != sb {
			return sa > sb
		}
		return classRank[a.Class] < classRank[b.Class]
	})
}

// verdict picks the primary class: the most severe finding at warning or
// above, ties broken by the order of the playbook's classes. Info findings
// are context and do not make a verdict.
func (p *Playbook) verdict(res Result) Verdict {
	v := Verdict{Class: "none", Also: []string{}, Exonerated: []string{}, Unchecked: []string{}}
	fired := map[string]bool{}
	for _, f := range res.Findings {
		if SeverityRank(f.Severity) < SeverityRank("warning") {
			continue
		}
		if v.Class == "none" {
			v.Class, v.Severity = f.Class, f.Severity
		} else if !fired[f.Class] {
			v.Also = append(v.Also, f.Class)
		}
		fired[f.Class] = true
	}
	unknown := map[string]bool{} // info rules are context: they neither decide nor block a class
	for _, u := range res.Unknown {
		if SeverityRank(u.Severity) >= SeverityRank("warning") {
			unknown[u.Class] = true
		}
	}
	anyFinding := map[string]bool{}
	for _, f := range res.Findings {
		anyFinding[f.Class] = true
	}
	for _, c := range p.Classes {
		switch {
		case fired[c]:
		case unknown[c]: // an info finding does not check the rules that could not run
			v.Unchecked = append(v.Unchecked, c)
		case anyFinding[c]:
		case p.hasActiveRule(c, res.Skipped):
			v.Exonerated = append(v.Exonerated, c)
		}
	}
	if v.Class == "none" && len(v.Unchecked) > 0 {
		v.Class = "inconclusive"
	}
	return v
}

// hasActiveRule says whether a rule of the class was evaluated.
func (p *Playbook) hasActiveRule(class string, skipped []Skipped) bool {
	for _, r := range p.Rules {
		if r.Class == class && r.Disabled == "" && !slices.ContainsFunc(skipped, func(s Skipped) bool { return s.Rule == r.ID }) {
			return true
		}
	}
	return false
}
