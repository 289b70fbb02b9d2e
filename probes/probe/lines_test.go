package probe

import (
	"errors"
	"maps"
	"strings"
	"testing"
)

func TestParseProcStatus(t *testing.T) {
	in := "Name:\tmutex\nState:\tS (sleeping)\nTracerPid:\t0\nNSpid:\t4242\t7\nVmRSS:\t    1296 kB\nVmSwap:\t       0 kB\nThreads:\t5\nvoluntary_ctxt_switches:\t2\nnonvoluntary_ctxt_switches:\t7\n"
	s, err := ParseProcStatus([]byte(in))
	want := ProcStatus{Name: "mutex", State: "S (sleeping)", Threads: 5, VmRSSKB: 1296, Voluntary: 2, Involuntary: 7, NSpid: "7", HasRSS: true, HasCtxt: true}
	if err != nil || s != want {
		t.Fatalf("got %+v %v\nwant %+v", s, err, want)
	}
	for in, msg := range map[string]string{
		"":                          "no Name/State lines",
		"garbage":                   "no Name/State lines",
		"Name:\tx\nVmRSS:\t12 MB\n": `status VmRSS: unit "MB", want kB`,
		"Name:\tx\nVmRSS:\t99999999999999999 kB\n": "status VmRSS: 99999999999999999 kB is more than any machine has",
		"Name:\tx\nThreads:\tmany\n":               "status Threads",
		"Name:\tx\nvoluntary_ctxt_switches:\t-1\n": "status voluntary_ctxt_switches",
	} {
		if _, err := ParseProcStatus([]byte(in)); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: %v, want %q", in, err, msg)
		}
	}
}

func TestKeyValues(t *testing.T) {
	got := map[string]string{}
	err := KeyValues([]byte("anon 4096\n\n  file   12\n"), "memory.stat", func(k, v string) error { got[k] = v; return nil })
	if err != nil || !maps.Equal(got, map[string]string{"anon": "4096", "file": "12"}) {
		t.Errorf("%v %v", got, err)
	}
	for _, in := range []string{"anon\n", "anon 1 2\n", "anon 1\nfile\x00 2 \x1b[31m\n"} {
		err := KeyValues([]byte(in), "memory.stat", func(string, string) error { return nil })
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), `memory.stat: want "key value" lines`) || strings.ContainsAny(err.Error(), "\x00\x1b") {
			t.Errorf("%q: %v", in, err)
		}
	}
	stop := errors.New("stop")
	if err := KeyValues([]byte("a 1\nb 2\n"), "x", func(string, string) error { return stop }); err != stop {
		t.Errorf("each's error: %v", err)
	}
}

func TestColonValues(t *testing.T) {
	var keys, values []string
	err := ColonValues([]byte("MemTotal:   1024 kB\nno colon here\nrchar: 3980\n"), func(k, v string) error {
		keys, values = append(keys, k), append(values, v)
		return nil
	})
	if err != nil || strings.Join(keys, ",") != "MemTotal,rchar" || strings.Join(values, ",") != "1024 kB,3980" {
		t.Errorf("%q %q %v", keys, values, err)
	}
}

func TestHeaderValues(t *testing.T) {
	m, err := HeaderValues([]byte("Tcp: RtoAlgorithm OutSegs RetransSegs\nTcp: 1 1583 -1\nUdp: InErrors\nUdp: 4994\n"), "/proc/net/snmp")
	if err != nil || len(m) != 4 || m["Tcp.OutSegs"] != 1583 || m["Tcp.RetransSegs"] != -1 || m["Udp.InErrors"] != 4994 {
		t.Fatalf("%v %v", m, err)
	}
	for in, msg := range map[string]string{
		"":                       "/proc/net/snmp: 1 lines, want header/value pairs",
		"Tcp: A B\n":             "/proc/net/snmp: 1 lines, want header/value pairs",
		"Tcp: A B\nTcp: 1\n":     `/proc/net/snmp: mismatched lines "Tcp: A B"`,
		"Tcp: A\nUdp: 1\n":       `/proc/net/snmp: mismatched lines "Tcp: A"`,
		"Tcp: A\nTcp: x\n":       `/proc/net/snmp Tcp.A: "x"`,
		"Tcp A\nTcp 1\n":         `/proc/net/snmp: mismatched lines "Tcp A"`,
		"Tcp: \x1b[2J\nTcp: x\n": `/proc/net/snmp Tcp.\x1b[2J: "x"`,
	} {
		if _, err := HeaderValues([]byte(in), "/proc/net/snmp"); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: %v, want %s", in, err, msg)
		}
	}
}

func FuzzParseProcStatus(f *testing.F) {
	f.Add([]byte("Name:\tmutex\nState:\tS (sleeping)\nVmRSS:\t    1296 kB\nThreads:\t5\nvoluntary_ctxt_switches:\t2\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseProcStatus(b)
		KeyValues(b, "fuzz", func(string, string) error { return nil })
		HeaderValues(b, "fuzz")
	})
}
