package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/engine"
	"github.com/diagnose-sh/diagnose/engine/report"
	"github.com/diagnose-sh/diagnose/probes/probetest"
)

// changed returns the change of fact in class, if the report lists it.
func changed(r liveReport, class, fact string) (report.Change, bool) {
	if r.Baseline == nil {
		return report.Change{}, false
	}
	for _, g := range r.Baseline.Changes {
		if g.Class != class {
			continue
		}
		for _, c := range g.Facts {
			if c.Fact == fact {
				return c, true
			}
		}
	}
	return report.Change{}, false
}

// startPhases starts testdata/workloads/phases.c: idle until SIGUSR1, then
// spinning.
func startPhases(t *testing.T) int {
	t.Helper()
	cmd, _ := probetest.StartPrinting(t, "started", probetest.BuildC(t, "phases"))
	return cmd.Process.Pid
}

// The seed's "it became slow": a process recorded while it idles, then
// diagnosed live against that baseline once it spins.
func TestLiveBaseline(t *testing.T) {
	probetest.Live(t)
	pid := startPhases(t)
	before := filepath.Join(t.TempDir(), "well.json")
	collectTo(t, before, "--pid", strconv.Itoa(pid))
	if err := syscall.Kill(pid, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	rep, code := runSlowApp(t, pid, "--baseline", before)
	if code != exitFindings || rep.Verdict.Class != "cpu" || !rep.fired("cpu-up") {
		t.Fatalf("exit %d, verdict %+v, findings %v", code, rep.Verdict, rep.rules())
	}
	// At least what cpu-up needs (+25 points): on a loaded CI machine the
	// spinner may get only half a core.
	c, ok := changed(rep, "cpu", "process.cpu_pct")
	if !ok || c.Before > 5 || c.After < 25 || c.Unit != "%" {
		t.Errorf("process.cpu_pct change %+v (listed %v); changes %+v", c, ok, rep.Baseline)
	}
	if f, _ := rep.finding("cpu-up"); !strings.Contains(f.Evidence, "in the baseline") {
		t.Errorf("evidence %q", f.Evidence)
	}
	if len(rep.Skipped) != 0 {
		t.Errorf("skipped %v with a baseline", rep.Skipped)
	}
	// Without the baseline the same run skips its rules: not unknown.
	rep, _ = runSlowApp(t, pid)
	if !slices.ContainsFunc(rep.Skipped, func(s engine.Skipped) bool { return s.Rule == "cpu-up" }) || rep.Baseline != nil {
		t.Errorf("without --baseline: skipped %v, baseline %v", rep.Skipped, rep.Baseline)
	}
	for _, u := range rep.Unknown {
		if u.Rule == "cpu-up" {
			t.Errorf("cpu-up is unknown without a baseline: %+v", u)
		}
	}
}

// pairPath is where a recorded baseline pair lives.
func pairPath(t testing.TB, name, which string) string {
	return filepath.Join(probetest.RepoRoot(t), "testdata", "hosts", "baseline-"+name, which+".json")
}

// TestRecordBaselinePairs records the before/after snapshot pairs of
// TestBaselinePairs. Run by hand, as root:
//
//	DIAGNOSE_RECORD=1 go test -run TestRecordBaselinePairs ./internal/cli
func TestRecordBaselinePairs(t *testing.T) {
	if os.Getenv("DIAGNOSE_RECORD") == "" {
		t.Skip("set DIAGNOSE_RECORD=1 to re-record the baseline pairs")
	}
	probetest.Live(t)
	t.Run("cpu-up", func(t *testing.T) {
		pid := startPhases(t)
		collectTo(t, pairPath(t, "cpu-up", "before"), "--pid", strconv.Itoa(pid))
		syscall.Kill(pid, syscall.SIGUSR1)
		time.Sleep(300 * time.Millisecond)
		collectTo(t, pairPath(t, "cpu-up", "after"), "--pid", strconv.Itoa(pid))
	})
	t.Run("unchanged", func(t *testing.T) {
		pid := probetest.Start(t, probetest.BuildC(t, "sleeper")).Process.Pid
		collectTo(t, pairPath(t, "unchanged", "before"), "--pid", strconv.Itoa(pid))
		collectTo(t, pairPath(t, "unchanged", "after"), "--pid", strconv.Itoa(pid))
	})
	// The backend slowed down overnight and the client was restarted: the
	// same program under another PID.
	t.Run("responses-slower", func(t *testing.T) {
		httpload := probetest.BuildGo(t, "httpload")
		for _, phase := range []struct{ which, delay string }{{"before", "100ms"}, {"after", "400ms"}} {
			srv, addr := probetest.StartPrinting(t, "listening", httpload, "server", "-delay", phase.delay)
			client, _ := probetest.StartPrinting(t, "started", httpload, "client", "-url", "http://"+addr+"/", "-concurrency", "1")
			time.Sleep(500 * time.Millisecond)
			collectTo(t, pairPath(t, "responses-slower", phase.which), "--pid", strconv.Itoa(client.Process.Pid))
			probetest.Stop(client)
			probetest.Stop(srv)
		}
	})
	t.Run("system-busier", func(t *testing.T) {
		collectTo(t, pairPath(t, "system-busier", "before"))
		spinner := probetest.BuildC(t, "spinner")
		for range 2 {
			probetest.Start(t, spinner)
		}
		time.Sleep(300 * time.Millisecond)
		collectTo(t, pairPath(t, "system-busier", "after"))
	})
}

// TestBaselinePairs replays recorded pairs: AFTER against BEFORE, the rule
// that names the change, and the change itself in the report.
func TestBaselinePairs(t *testing.T) {
	for _, tc := range []struct {
		name, playbook, rule, class, fact, note string
		noRule                                  bool
	}{
		{name: "cpu-up", playbook: "slow-app", rule: "cpu-up", class: "cpu", fact: "process.cpu_pct"},
		{name: "responses-slower", playbook: "slow-app", rule: "responses-slower", class: "network", fact: "tcp.response_p50_ms",
			note: "the same program (httpload) before a restart"},
		{name: "system-busier", playbook: "system", rule: "cpu-busier", class: "cpu", fact: "cpu.busy_pct"},
		{name: "unchanged", playbook: "slow-app", noRule: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, _ := runJSON(t, tc.playbook, "--snapshot", pairPath(t, tc.name, "after"), "--baseline", pairPath(t, tc.name, "before"))
			if rep.Baseline == nil {
				t.Fatalf("no baseline in the report; findings %v", rep.rules())
			}
			baselineRules := []string{"cpu-up", "responses-slower", "gc-share-up", "disk-wait-up", "syscall-rate-up", "cpu-busier", "disk-await-up"}
			if tc.noRule {
				for _, r := range rep.rules() {
					if slices.Contains(baselineRules, r) {
						t.Errorf("%s fired on an unchanged process", r)
					}
				}
				return
			}
			if !rep.fired(tc.rule) {
				t.Errorf("%s did not fire: findings %v, unknown %v", tc.rule, rep.rules(), rep.Unknown)
			}
			if c, ok := changed(rep, tc.class, tc.fact); !ok || c.Ratio != nil && *c.Ratio < 2 {
				t.Errorf("%s in %s: %+v (listed %v); changes %+v", tc.fact, tc.class, c, ok, rep.Baseline.Changes)
			}
			if tc.note != "" && !slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.Contains(n, tc.note) }) {
				t.Errorf("notes %q, want %q", rep.Notes, tc.note)
			}
			// diagnose diff lists the same changes.
			var d report.Diff
			code, out, stderr := runCLI(t, "diff", pairPath(t, tc.name, "before"), pairPath(t, tc.name, "after"), "--playbook", tc.playbook, "--format", "json")
			if err := json.Unmarshal([]byte(out), &d); err != nil || code != 0 {
				t.Fatalf("diff: exit %d, %v: %s", code, err, stderr)
			}
			if got, _ := json.Marshal(d.Changes); string(got) != string(mustJSON(t, rep.Baseline.Changes)) {
				t.Errorf("diff changes %s, the report's %s", got, mustJSON(t, rep.Baseline.Changes))
			}
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A baseline that cannot be compared is a usage error that says why.
func TestBaselineRefused(t *testing.T) {
	dir := t.TempDir()
	edited := func(name, from string, edit func(map[string]any)) string {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		var snap map[string]any
		if err := json.Unmarshal(b, &snap); err != nil {
			t.Fatal(err)
		}
		edit(snap)
		path := filepath.Join(dir, name)
		os.WriteFile(path, mustJSON(t, snap), 0o644)
		return path
	}
	before, after := pairPath(t, "cpu-up", "before"), pairPath(t, "cpu-up", "after")
	section := func(s map[string]any, name string) map[string]any {
		return s["facts"].(map[string]any)[name].(map[string]any)
	}
	otherHost := edited("host.json", before, func(s map[string]any) { section(s, "host")["hostname"] = "db-7" })
	otherProgram := edited("prog.json", before, func(s map[string]any) {
		s["target"].(map[string]any)["pid"] = 1
		section(s, "process")["name"] = "postgres"
	})
	newer := edited("version.json", before, func(s map[string]any) { s["version"] = 99 })
	noProcess := edited("noproc.json", before, func(s map[string]any) {
		st := s["status"].(map[string]any)
		for _, sec := range []string{"process", "threads", "tcp", "hotspot", "syscalls"} {
			st[sec] = map[string]any{"state": "unavailable", "reason": "no target process"}
		}
	})
	for _, tc := range []struct{ name, baseline, want string }{
		{"another host", otherHost, "was recorded on host db-7, this is vm"},
		{"another program", otherProgram, "is of PID 1 (postgres), not of PID"},
		{"another snapshot version", newer, "snapshot version 99"},
		{"recorded without the process", noProcess, "has none of the facts slow-app compares"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := runCLI(t, "slow-app", "--snapshot", after, "--baseline", tc.baseline)
			if code != exitUsage || out != "" || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and %q", code, out, stderr, tc.want)
			}
		})
	}
}
