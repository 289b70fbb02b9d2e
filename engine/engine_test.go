package engine

import (
	"reflect"
	"strings"
	"testing"
)

// Small facts type for engine tests: the engine must work for any schema.
type testCPU struct {
	IOWaitPct float64 `expr:"iowait_pct" json:"iowait_pct" doc:"share of time in iowait"`
	RunQueue  float64 `expr:"run_queue" json:"run_queue"`
	Count     int     `expr:"count" json:"count"`
}

type testDisk struct {
	Name    string  `expr:"name" json:"name"`
	UtilPct float64 `expr:"util_pct" json:"util_pct"`
}

type testDisks struct {
	Devices []testDisk `expr:"devices" json:"devices"`
	Busiest testDisk   `expr:"busiest" json:"busiest"`
}

type testMem struct {
	LimitBytes uint64 `expr:"limit_bytes" json:"limit_bytes"`
	Limited    bool   `expr:"limited" json:"limited"`
}

type testFacts struct {
	CPU    testCPU   `expr:"cpu" json:"cpu"`
	Disks  testDisks `expr:"disks" json:"disks"`
	Memory testMem   `expr:"memory" json:"memory"`
}

var testSchema = func() *Schema {
	s := MustSchema(reflect.TypeOf(testFacts{}))
	s.ReserveFlags("format")
	return s
}()

const goodPlaybook = `name: demo
description: a demo
parameters:
  - name: pid
    type: int
    required: true
    description: the process
  - name: min_util
    type: int
    default: 80
classes: [cpu, io, memory]
conditions:
  saturated: cpu.run_queue > cpu.count
  very_saturated: saturated && cpu.run_queue > 2 * cpu.count
rules:
  - id: cpu-saturated
    class: cpu
    severity: warning
    when: saturated
    evidence: "run queue {{ cpu.run_queue }} on {{ cpu.count }} CPUs"
    next:
      - "perf top -p {{ params.pid }}"
  - id: cpu-very-saturated
    class: cpu
    severity: critical
    when: very_saturated
    evidence: "run queue {{ num(cpu.run_queue / cpu.count) }} per CPU"
  - id: busy-disk
    class: io
    severity: warning
    when: any(disks.devices, .util_pct > params.min_util)
    evidence: "{{ disks.busiest.name }} at {{ pct(disks.busiest.util_pct) }}"
  - id: iowait
    class: io
    severity: info
    when: cpu.iowait_pct > 10
    evidence: "iowait {{ pct(cpu.iowait_pct) }}"
  - id: no-limit
    class: memory
    severity: warning
    when: "!memory.limited"
    evidence: "no memory limit (limit {{ bytes(memory.limit_bytes) }})"
`

func load(t *testing.T, src string) *Playbook {
	t.Helper()
	pb, err := Load("demo.yaml", []byte(src), testSchema)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return pb
}

func TestLoadGoodPlaybook(t *testing.T) {
	pb := load(t, goodPlaybook)
	if got, want := strings.Join(pb.Sections(), ","), "cpu,disks,memory"; got != want {
		t.Errorf("sections = %s, want %s", got, want)
	}
	if got := strings.Join(pb.Rules[0].Reads(), ","); got != "cpu.count,cpu.run_queue" {
		t.Errorf("cpu-saturated reads %s, want the paths read through its condition", got)
	}
	if got := strings.Join(pb.Rules[2].Reads(), ","); got != "disks.devices" {
		t.Errorf("busy-disk reads %s", got)
	}
}

func TestEvaluate(t *testing.T) {
	pb := load(t, goodPlaybook)
	params, err := pb.BindParams(map[string]string{"pid": "4242"})
	if err != nil {
		t.Fatal(err)
	}
	facts := testFacts{
		CPU:    testCPU{IOWaitPct: 12.5, RunQueue: 5, Count: 2},
		Disks:  testDisks{Devices: []testDisk{{"vda", 91}}, Busiest: testDisk{"vda", 91}},
		Memory: testMem{Limited: true, LimitBytes: 1 << 30},
	}
	res, err := pb.Evaluate(facts, params, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range res.Findings {
		got = append(got, f.Severity+" "+f.Rule+": "+f.Evidence+" "+strings.Join(f.Next, "|"))
	}
	want := []string{
		"critical cpu-very-saturated: run queue 2.50 per CPU ",
		"warning cpu-saturated: run queue 5 on 2 CPUs perf top -p 4242",
		"warning busy-disk: vda at 91% ",
		"info iowait: iowait 12.5% ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if res.Verdict.Class != "cpu" || res.Verdict.Severity != "critical" {
		t.Errorf("verdict = %+v, want cpu critical", res.Verdict)
	}
	if strings.Join(res.Verdict.Also, ",") != "io" || strings.Join(res.Verdict.Exonerated, ",") != "memory" {
		t.Errorf("also %v exonerated %v, want [io] [memory]", res.Verdict.Also, res.Verdict.Exonerated)
	}
}

func TestEvaluateUnknownWhenFactMissing(t *testing.T) {
	pb := load(t, goodPlaybook)
	params, _ := pb.BindParams(map[string]string{"pid": "1"})
	res, err := pb.Evaluate(testFacts{Memory: testMem{Limited: true}}, params,
		Missing{"cpu": "unavailable: /proc/stat unreadable"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 0 {
		t.Errorf("findings %+v, want none", res.Findings)
	}
	var unknown []string
	for _, u := range res.Unknown {
		unknown = append(unknown, u.Rule+": "+u.Reason)
	}
	want := "cpu-saturated: cpu: unavailable: /proc/stat unreadable\ncpu-very-saturated: cpu: unavailable: /proc/stat unreadable\niowait: cpu: unavailable: /proc/stat unreadable"
	if strings.Join(unknown, "\n") != want {
		t.Errorf("unknown:\n%s\nwant:\n%s", strings.Join(unknown, "\n"), want)
	}
	if res.Verdict.Class != "inconclusive" {
		t.Errorf("verdict %q, want inconclusive: nothing fired but cpu rules were not checked", res.Verdict.Class)
	}
	if strings.Join(res.Verdict.Unchecked, ",") != "cpu" || strings.Join(res.Verdict.Exonerated, ",") != "io,memory" {
		t.Errorf("unchecked %v exonerated %v", res.Verdict.Unchecked, res.Verdict.Exonerated)
	}
}

func TestEvidenceNeverShowsMissingFactAsZero(t *testing.T) {
	pb := load(t, goodPlaybook)
	params, _ := pb.BindParams(map[string]string{"pid": "1"})
	res, _ := pb.Evaluate(testFacts{}, params, Missing{"memory.limit_bytes": "not permitted"})
	for _, u := range res.Unknown {
		if u.Rule == "no-limit" {
			t.Fatalf("no-limit should evaluate: it reads memory.limited only")
		}
	}
	for _, f := range res.Findings {
		if f.Rule == "no-limit" && f.Evidence != "no memory limit (limit (unavailable))" {
			t.Errorf("evidence %q", f.Evidence)
		}
	}
}

func TestBindParams(t *testing.T) {
	pb := load(t, goodPlaybook)
	if _, err := pb.BindParams(map[string]string{}); err == nil || !strings.Contains(err.Error(), "parameter pid is required") {
		t.Errorf("missing pid: %v", err)
	}
	if _, err := pb.BindParams(map[string]string{"pid": "x"}); err == nil || !strings.Contains(err.Error(), `parameter pid "x" is not a whole number`) {
		t.Errorf("bad pid: %v", err)
	}
	v, err := pb.BindParams(map[string]string{"pid": "7"})
	if err != nil || v["min_util"] != 80 || v["pid"] != 7 {
		t.Errorf("values %v %v", v, err)
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"4096": 4096, "512MiB": 512 << 20, "2G": 2 << 30, "1.5KiB": 1536, "10 MB": 10 << 20} {
		got, err := parseBytes(in)
		if err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "12XB", "1e9"} {
		if _, err := parseBytes(in); err == nil {
			t.Errorf("parseBytes(%q) accepted", in)
		}
	}
}

// A header is read without compiling: it says what Load would, and a
// playbook whose header is broken does not get one.
func TestReadHeader(t *testing.T) {
	h, err := ReadHeader("demo.yaml", []byte(goodPlaybook), testSchema)
	if err != nil {
		t.Fatal(err)
	}
	pb := load(t, goodPlaybook)
	if !reflect.DeepEqual(h, pb.Header()) {
		t.Errorf("header %+v, Load's %+v", h, pb.Header())
	}
	if h.Rules != len(pb.Rules) || h.Name == "" || len(h.Parameters) == 0 {
		t.Errorf("header %+v", h)
	}
	// The header does not compile: an unknown fact passes it, Load reports it.
	typo := strings.Replace(goodPlaybook, "cpu.run_queue", "cpu.run_qeue", 1)
	if _, err := ReadHeader("typo.yaml", []byte(typo), testSchema); err != nil {
		t.Errorf("ReadHeader compiled: %v", err)
	}
	if _, err := Load("typo.yaml", []byte(typo), testSchema); err == nil {
		t.Error("Load accepted an unknown fact")
	}
	if _, err := ReadHeader("bad.yaml", []byte("name: Bad Name\nclasses: [cpu]\nrules: []\n"), testSchema); err == nil {
		t.Error("a bad name passed the header")
	}
}

// A playbook that reads no facts needs no probe: its sections are an
// empty list, not nil (which probes.Select takes as every probe).
func TestSectionsOfAPlaybookReadingNothing(t *testing.T) {
	pb, err := Load("nothing.yaml", []byte("name: nothing\nclasses: [cpu]\nrules:\n  - {id: always, class: cpu, severity: info, when: 'true', evidence: always, explain: always}\n"), testSchema)
	if err != nil {
		t.Fatal(err)
	}
	if s := pb.Sections(); s == nil || len(s) != 0 {
		t.Errorf("sections %#v", s)
	}
}
