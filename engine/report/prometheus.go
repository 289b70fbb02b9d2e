package report

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"

	"github.com/diagnose-sh/diagnose/engine"
)

// Prometheus writes the report's metrics (Metrics) in the text exposition
// format, as node_exporter's textfile collector reads it.
func Prometheus(w io.Writer, r Report) error {
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range Metrics(r) {
		if err := enc.Encode(mf); err != nil {
			return err
		}
	}
	return nil
}

// Metrics are a run as Prometheus metrics (docs/metrics.md): the verdict,
// one series per finding, unknown and skipped rule, counts by severity, the
// probes' states, the run's time and window, and the facts the playbook
// exports, in base units. Every series has the playbook's label, and the
// target's (pid, container, pod, namespace, cgroup) when the run has one.
func Metrics(r Report) []*dto.MetricFamily {
	m := metrics{playbook: r.Playbook}
	// The target, when the run has one: series of several runs stay apart.
	for _, name := range []string{"pid", "container", "pod", "namespace", "cgroup"} {
		if v := fmt.Sprint(r.Parameters[name]); r.Parameters[name] != nil && v != "" && v != "0" {
			m.target = append(m.target, name, v)
		}
	}
	m.gauge("diagnose_verdict", "the run's verdict: 1 for its class (none, inconclusive or a class) and severity",
		1, "class", r.Verdict.Class, "severity", r.Verdict.Severity)
	counts := map[string]float64{"info": 0, "warning": 0, "critical": 0}
	for _, f := range r.Findings {
		counts[f.Severity]++
		m.gauge("diagnose_finding", "a rule that fired: 1 per finding", 1, "rule", f.Rule, "class", f.Class, "severity", f.Severity)
	}
	for _, sev := range engine.Severities() {
		m.gauge("diagnose_findings", "findings of the run, by severity", counts[sev], "severity", sev)
	}
	for _, u := range r.Unknown {
		m.gauge("diagnose_rule_unknown", "a rule that could not be evaluated (a fact it reads is unavailable): 1 per rule", 1,
			"rule", u.Rule, "class", u.Class, "severity", u.Severity)
	}
	m.gauge("diagnose_rules_unknown", "rules that could not be evaluated", float64(len(r.Unknown)))
	m.gauge("diagnose_rules_skipped", "rules that compare with a baseline, in a run without one", float64(len(r.Skipped)))
	sections := make([]string, 0, len(r.Probes))
	for path := range r.Probes {
		if !strings.Contains(path, ".") {
			sections = append(sections, path)
		}
	}
	sort.Strings(sections)
	for _, s := range sections {
		ok := 0.0
		if r.Probes[s].State == "ok" {
			ok = 1
		}
		m.gauge("diagnose_probe_ok", "1 when the probe delivered its section, 0 when it was unavailable or failed", ok, "probe", s)
	}
	if !r.At.IsZero() {
		m.gauge("diagnose_run_timestamp_seconds", "when the facts were gathered (a snapshot's: when it was recorded), Unix time", float64(r.At.UnixNano())/1e9)
	}
	m.gauge("diagnose_run_window_seconds", "the sampling window the facts span", r.WindowSeconds)
	m.facts(r)
	return m.families()
}

// metrics collects gauge families by name, in the order first seen.
type metrics struct {
	playbook string
	target   []string // label pairs naming the run's target
	order    []string
	byName   map[string]*dto.MetricFamily
}

func (m *metrics) gauge(name, help string, v float64, labels ...string) {
	if m.byName == nil {
		m.byName = map[string]*dto.MetricFamily{}
	}
	mf := m.byName[name]
	if mf == nil {
		mf = &dto.MetricFamily{Name: proto.String(name), Help: proto.String(help), Type: dto.MetricType_GAUGE.Enum()}
		m.byName[name] = mf
		m.order = append(m.order, name)
	}
	pairs := []*dto.LabelPair{{Name: proto.String("playbook"), Value: proto.String(m.playbook)}}
	labels = append(slices.Clip(labels), m.target...)
	for i := 0; i+1 < len(labels); i += 2 {
		pairs = append(pairs, &dto.LabelPair{Name: proto.String(labels[i]), Value: proto.String(clean(labels[i+1]))})
	}
	mf.Metric = append(mf.Metric, &dto.Metric{Label: pairs, Gauge: &dto.Gauge{Value: proto.Float64(v)}})
}

func (m *metrics) families() []*dto.MetricFamily {
	out := make([]*dto.MetricFamily, 0, len(m.order))
	for _, n := range m.order {
		out = append(out, m.byName[n])
	}
	return out
}

// facts adds the exported facts that were read, each named by its path in
// Prometheus's base units (MetricName).
func (m *metrics) facts(r Report) {
	if len(r.Exports) == 0 {
		return
	}
	values := map[string]float64{}
	for section, raw := range r.Facts {
		var tree any
		if json.Unmarshal(raw, &tree) == nil {
			flatten(section, tree, func(path string, x float64, _ bool) { values[path] = x })
		}
	}
	why := Missing(r.Probes).Lookup()
	for _, e := range r.Exports {
		v, ok := values[e.Path]
		if !ok || why(e.Path) != "" {
			continue // unavailable: no sample, never a zero
		}
		name, scale := MetricName(e.Path)
		help := fmt.Sprintf("%s (fact %s)", e.Doc, e.Path)
		if scale != 1 {
			help = fmt.Sprintf("%s (fact %s ×%g: in base units)", e.Doc, e.Path, scale)
		}
		m.gauge(name, help, v*scale)
	}
}

// Export is an exported fact and its meaning (the metric's help).
type Export struct{ Path, Doc string }

// baseUnits are fact-name suffixes and the Prometheus base unit each
// becomes, with the factor to it.
var baseUnits = []struct {
	suffix, unit string
	scale        float64
}{
	{"_kb_per_s", "_bytes_per_second", 1024}, {"_bytes_per_s", "_bytes_per_second", 1}, {"_per_s", "_per_second", 1},
	{"_pct", "_ratio", 0.01}, {"_ms", "_seconds", 1e-3}, {"_us", "_seconds", 1e-6}, {"_ns", "_seconds", 1e-9},
	{"_kb", "_bytes", 1024}, {"_s", "_seconds", 1},
}

// MetricName is a fact's metric: diagnose_ and its path, with the unit in
// Prometheus's base units (cpu.idle_pct is diagnose_cpu_idle_ratio, 0-1),
// and the factor that converts the fact's value.
func MetricName(path string) (string, float64) {
	name := "diagnose_" + strings.ReplaceAll(path, ".", "_")
	for _, u := range baseUnits {
		if strings.HasSuffix(name, u.suffix) {
			return strings.TrimSuffix(name, u.suffix) + u.unit, u.scale
		}
	}
	return name, 1
}
