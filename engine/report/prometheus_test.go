package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/diagnose-sh/diagnose/engine"
)

func TestMetricName(t *testing.T) {
	for _, tc := range []struct {
		path, name string
		scale      float64
	}{
		{"cpu.idle_pct", "diagnose_cpu_idle_ratio", 0.01},
		{"tcp.response_p50_ms", "diagnose_tcp_response_p50_seconds", 1e-3},
		{"disks.busiest.read_kb_per_s", "diagnose_disks_busiest_read_bytes_per_second", 1024},
		{"process.read_bytes_per_s", "diagnose_process_read_bytes_per_second", 1},
		{"cpu.ctx_switches_per_s", "diagnose_cpu_ctx_switches_per_second", 1},
		{"memory.available_bytes", "diagnose_memory_available_bytes", 1},
		{"host.uptime_s", "diagnose_host_uptime_seconds", 1},
		{"cgroup.memory_usage_ratio", "diagnose_cgroup_memory_usage_ratio", 1},
		{"cpu.run_queue", "diagnose_cpu_run_queue", 1},
	} {
		if name, scale := MetricName(tc.path); name != tc.name || scale != tc.scale {
			t.Errorf("MetricName(%s) = %s ×%g, want %s ×%g", tc.path, name, scale, tc.name, tc.scale)
		}
	}
}

// The exposition parses back; exported facts are in base units, and one
// that was not read has no sample rather than a zero.
func TestPrometheusParsesBack(t *testing.T) {
	r := Report{Playbook: "system", Parameters: map[string]any{"pid": 42},
		Verdict:  engine.Verdict{Class: "cpu", Severity: "warning"},
		Findings: []engine.Finding{{Rule: "cpu-saturated", Class: "cpu", Severity: "warning"}},
		Probes:   map[string]ProbeStatus{"cpu": {State: "ok"}, "psi": {State: "unavailable"}},
		Facts: map[string]json.RawMessage{"cpu": json.RawMessage(`{"idle_pct": 25, "blocked": 2}`),
			"psi": json.RawMessage(`{"cpu": {"some_avg10": 0}}`)},
		Exports: []Export{{"cpu.idle_pct", "idle"}, {"cpu.blocked", "blocked"}, {"psi.cpu.some_avg10", "stalls"}},
	}
	var b bytes.Buffer
	if err := Prometheus(&b, r); err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(b.String()))
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	value := func(name string) (float64, bool) {
		mf := fams[name]
		if mf == nil || len(mf.Metric) != 1 {
			return 0, false
		}
		return mf.Metric[0].GetGauge().GetValue(), true
	}
	if v, ok := value("diagnose_cpu_idle_ratio"); !ok || v != 0.25 {
		t.Errorf("idle ratio %v %v", v, ok)
	}
	if v, ok := value("diagnose_cpu_blocked"); !ok || v != 2 {
		t.Errorf("blocked %v %v", v, ok)
	}
	if _, ok := fams["diagnose_psi_cpu_some_avg10"]; ok {
		t.Error("an unavailable fact has a sample")
	}
	if v, ok := value("diagnose_finding"); !ok || v != 1 {
		t.Errorf("finding %v %v", v, ok)
	}
	labels := map[string]string{}
	for _, l := range fams["diagnose_finding"].Metric[0].Label {
		labels[l.GetName()] = l.GetValue()
	}
	if labels["rule"] != "cpu-saturated" || labels["playbook"] != "system" || labels["pid"] != "42" {
		t.Errorf("labels %v", labels)
	}
	if n := len(fams["diagnose_findings"].Metric); n != 3 {
		t.Errorf("%d severities counted, want info, warning and critical", n)
	}
}
