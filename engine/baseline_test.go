package engine

import (
	"slices"
	"strings"
	"testing"
)

const baselinePlaybook = `name: changed
description: compares with a baseline
classes: [cpu, io]
conditions:
  busier: cpu.run_queue >= 2 * baseline.cpu.run_queue && cpu.run_queue - baseline.cpu.run_queue >= 1
rules:
  - id: run-queue-doubled
    class: cpu
    severity: warning
    when: busier
    evidence: "run queue {{ cpu.run_queue }}, baseline {{ baseline.cpu.run_queue }}"
  - id: iowait
    class: io
    severity: warning
    when: cpu.iowait_pct >= 20
    evidence: "iowait {{ cpu.iowait_pct }} (baseline {{ baseline.cpu.iowait_pct }})"
`

func TestBaselineRules(t *testing.T) {
	pb, err := Load("changed.yaml", []byte(baselinePlaybook), testSchema)
	if err != nil {
		t.Fatal(err)
	}
	if got := pb.Sections(); !slices.Equal(got, []string{"cpu"}) {
		t.Errorf("sections %v: the baseline is read from the snapshot, not gathered", got)
	}
	now := testFacts{CPU: testCPU{RunQueue: 4, IOWaitPct: 30}}

	t.Run("without a baseline its rules are skipped, not unknown", func(t *testing.T) {
		res, err := pb.Evaluate(now, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Skipped) != 1 || res.Skipped[0].Rule != "run-queue-doubled" || res.Skipped[0].Reason != NoBaseline || len(res.Unknown) != 0 {
			t.Fatalf("skipped %+v, unknown %+v", res.Skipped, res.Unknown)
		}
		if res.Verdict.Class != "io" || slices.Contains(res.Verdict.Unchecked, "cpu") || slices.Contains(res.Verdict.Exonerated, "cpu") {
			t.Errorf("verdict %+v: cpu's one rule was skipped, so it is neither unchecked nor exonerated", res.Verdict)
		}
		// A template that shows a baseline fact shows it unavailable, never a zero.
		if ev := res.Findings[0].Evidence; ev != "iowait 30 (baseline (unavailable))" {
			t.Errorf("evidence %q", ev)
		}
	})
	t.Run("with one they compare", func(t *testing.T) {
		res, err := pb.EvaluateAgainst(now, testFacts{CPU: testCPU{RunQueue: 1.5, IOWaitPct: 2}}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Skipped) != 0 || len(res.Findings) != 2 || res.Findings[0].Rule != "run-queue-doubled" ||
			res.Findings[0].Evidence != "run queue 4, baseline 1.50" || res.Findings[1].Evidence != "iowait 30 (baseline 2)" {
			t.Errorf("findings %+v, skipped %+v", res.Findings, res.Skipped)
		}
		res, _ = pb.EvaluateAgainst(now, testFacts{CPU: testCPU{RunQueue: 3}}, nil, nil)
		if slices.ContainsFunc(res.Findings, func(f Finding) bool { return f.Rule == "run-queue-doubled" }) {
			t.Errorf("run queue 3 to 4 fired: %+v", res.Findings)
		}
	})
	t.Run("a fact the baseline lacks makes its rules unknown", func(t *testing.T) {
		res, _ := pb.EvaluateAgainst(now, testFacts{}, nil, Missing{"baseline.cpu": "unavailable in the baseline"})
		if len(res.Unknown) != 1 || res.Unknown[0].Rule != "run-queue-doubled" || !strings.Contains(res.Unknown[0].Reason, "baseline.cpu") {
			t.Errorf("unknown %+v", res.Unknown)
		}
	})
	t.Run("a baseline of another type is an error", func(t *testing.T) {
		if _, err := pb.EvaluateAgainst(now, testCPU{}, nil, nil); err == nil || !strings.Contains(err.Error(), "baseline") {
			t.Errorf("err %v", err)
		}
	})
}

func TestBaselineIsTypeChecked(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{strings.Replace(baselinePlaybook, "baseline.cpu.run_queue >= 1", "baseline.cpu.run_queues >= 1", 1), "run_queues"},
		{strings.Replace(baselinePlaybook, "  busier:", "  baseline: cpu.count > 0\n  busier:", 1), `the name "baseline" is the baseline's facts`},
	} {
		_, err := Load("changed.yaml", []byte(tc.src), testSchema)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "changed.yaml:") {
			t.Errorf("error %v, want %q at a position", err, tc.want)
		}
	}
}
