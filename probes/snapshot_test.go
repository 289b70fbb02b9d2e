package probes

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

func TestSnapshotRoundTrip(t *testing.T) {
	var f Facts
	f.Host.CPUCount = 8
	f.Host.Kernel = "6.18.0"
	f.CPU.IowaitPct = 12.5
	f.Memory.TotalBytes = 1 << 34
	in := Snapshot{Version: SnapshotVersion, Tool: "diagnose test", CollectedAt: time.Date(2026, 11, 29, 7, 0, 0, 0, time.UTC),
		WindowSeconds: 2, Target: probe.Target{PID: 42}, Facts: f, Status: probe.Statuses{}}
	for _, p := range Registry() {
		in.Status[p.Name] = probe.Status{State: probe.OK}
	}
	in.Status["psi"] = probe.Status{State: probe.Unavailable, Reason: "no /proc/pressure", Fix: "boot with psi=1"}
	var buf bytes.Buffer
	if err := WriteSnapshot(&buf, in); err != nil {
		t.Fatal(err)
	}
	out, err := ReadSnapshot(&buf)
	if err != nil {
		t.Fatal(err)
	}
	out.present = nil
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip changed the snapshot:\n in: %+v\nout: %+v", in, out)
	}
}

func TestReadSnapshotMarksAbsentFactsUnknown(t *testing.T) {
	src := `{"version": 1, "status": {"cpu": {"state": "ok"}}, "facts": {"cpu": {"iowait_pct": 30}}}`
	s, err := ReadSnapshot(strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if s.Facts.CPU.IowaitPct != 30 {
		t.Errorf("iowait = %v", s.Facts.CPU.IowaitPct)
	}
	if st := s.Status["cpu.run_queue"]; st.State != probe.Unavailable {
		t.Errorf("cpu.run_queue status = %+v, want unavailable: it is not in the snapshot", st)
	}
	if st := s.Status["cpu.iowait_pct"]; st.State != "" {
		t.Errorf("cpu.iowait_pct is recorded, got status %+v", st)
	}
	if st := s.Status["memory"]; st.State != probe.Unavailable {
		t.Errorf("memory status = %+v, want unavailable", st)
	}
}

func TestReadSnapshotErrors(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{`{"version": 1, "facts": {"cpu": {"iowait_pc": 1}}}`, `unknown object member name "iowait_pc" within "/facts/cpu"`},
		{`{"version": 99}`, "snapshot version 99"},
		{`{"version": 1,`, "snapshot is not valid JSON at byte 14"},
		{`{"version": 1, "version": 1}`, `duplicate object member name "version"`},
		{`{"Version": 1}`, `unknown object member name "Version"`},
		{`{"version": 1} {}`, "after top-level value"},
		{"{\"version\": 1, \"tool\": \"\xff\"}", "invalid UTF-8"},
		{`[1,2]`, "decode snapshot"},
		{`{"version": 1, "facts": {"cpu": {"iowait_pct": "high"}}}`, "decode snapshot"},
	} {
		_, err := ReadSnapshot(strings.NewReader(c.src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ReadSnapshot(%s) = %v, want an error containing %q", c.src, err, c.want)
		}
	}
}

func FuzzReadSnapshot(f *testing.F) {
	f.Add(`{"version": 1, "facts": {"cpu": {"iowait_pct": 30}}}`)
	f.Add(`{"version": 1, "status": {"psi": {"state": "unavailable"}}}`)
	f.Fuzz(func(t *testing.T, src string) {
		ReadSnapshot(strings.NewReader(src)) // must not panic
	})
}

func TestWithFactsMergesOverACopy(t *testing.T) {
	base, err := ReadSnapshot(strings.NewReader(`{"version": 1,
	  "status": {"cpu": {"state": "ok"}, "disks": {"state": "ok"}, "psi": {"state": "unavailable", "reason": "no psi"}},
	  "facts": {"cpu": {"run_queue": 1, "idle_pct": 90},
	            "disks": {"count": 1, "devices": [{"name": "vda", "util_pct": 3}], "busiest": {"name": "vda", "util_pct": 3}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := base.WithFacts([]byte(`{"cpu": {"run_queue": 9}, "disks": {"devices": [{"name": "vdb", "util_pct": 99}]}, "memory": {"total_bytes": 1024}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got.Facts.CPU.RunQueue != 9 || got.Facts.CPU.IdlePct != 90 {
		t.Errorf("cpu %+v: want run_queue replaced and idle_pct kept", got.Facts.CPU)
	}
	if got.Facts.Disks.Devices[0].Name != "vdb" || got.Facts.Disks.Busiest.Name != "vda" {
		t.Errorf("disks %+v", got.Facts.Disks)
	}
	if base.Facts.Disks.Devices[0].Name != "vda" || base.Facts.CPU.RunQueue != 1 {
		t.Errorf("the base snapshot changed: %+v %+v", base.Facts.CPU, base.Facts.Disks.Devices)
	}
	if st := got.Status["memory"]; st.State != probe.OK {
		t.Errorf("a section given inline is ok, got %+v", st)
	}
	if st := got.Status["memory.available_bytes"]; st.State != probe.Unavailable {
		t.Errorf("a fact of a given section that nobody gave stays unknown, got %+v", st)
	}
	if _, ok := got.Status["memory.total_bytes"]; ok {
		t.Errorf("memory.total_bytes was given but is still marked absent")
	}
	if st := got.Status["cpu.steal_pct"]; st.State != probe.Unavailable {
		t.Errorf("absent facts of the base stay unknown, got %+v", st)
	}
	if st := got.Status["psi"]; st.State != probe.Unavailable {
		t.Errorf("a section not given keeps its status, got %+v", st)
	}
	if _, err := base.WithFacts([]byte(`{"cpu": {"run_queu": 9}}`)); err == nil || !strings.Contains(err.Error(), `unknown object member name "run_queu" within "/cpu"`) {
		t.Errorf("a misspelt fact: %v", err)
	}
}

// FuzzWithFacts: any inline facts either fail with an error or give a
// snapshot whose facts marshal, and never change the base.
func FuzzWithFacts(f *testing.F) {
	f.Add([]byte(`{"cpu": {"run_queue": 9}}`))
	f.Add([]byte(`{"disks": {"devices": [{"name": "x"}]}, "memory": {}}`))
	f.Add([]byte(`{"cpu": null}`))
	base, err := ReadSnapshot(strings.NewReader(`{"version": 1, "facts": {"disks": {"devices": [{"name": "vda"}]}}}`))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, inline []byte) {
		got, err := base.WithFacts(inline)
		if err != nil {
			return
		}
		if _, err := json.Marshal(got.Facts); err != nil {
			t.Fatalf("facts do not marshal: %v", err)
		}
		if base.Facts.Disks.Devices[0].Name != "vda" {
			t.Fatalf("the base changed")
		}
	})
}

// A status of a section diagnose does not have, or a state it does not
// know, is an error that names it: a typo must not make a fact "recorded".
func TestSnapshotStatusesChecked(t *testing.T) {
	for in, want := range map[string]string{
		`{"version": 1, "status": {"cpux": {"state": "ok"}}, "facts": {}}`:                  `status of "cpux": no section "cpux"`,
		`{"version": 1, "status": {"cpu.idle_pct": {"state": "fine"}}, "facts": {}}`:        `status of "cpu.idle_pct": state "fine"`,
		`{"version": 1, "status": {"cpu": {"state": "unavailable"}}, "facts": {}}`:          "",
		`{"version": 1, "status": {"memory.total_bytes": {"state": "error"}}, "facts": {}}`: "",
	} {
		_, err := ReadSnapshot(strings.NewReader(in))
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v", in, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: %v, want %q", in, err, want)
		}
	}
}
