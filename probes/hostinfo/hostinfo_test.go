package hostinfo

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/diagnose-sh/diagnose/probes/probe"
	"github.com/diagnose-sh/diagnose/probes/probetest"
)

func TestParseLoadavg(t *testing.T) {
	if got, err := parseLoadavg([]byte("0.20 0.18 0.09 1/85 6815\n")); err != nil || got != (loadavg{0.20, 0.18, 0.09}) {
		t.Errorf("got %+v, %v", got, err)
	}
	for _, in := range []string{"", "1.0", "1 2", "a b c", "1 2 -3", "NaN 1 1", "1 +Inf 1", "\x00\xff 1 1"} {
		if _, err := parseLoadavg([]byte(in)); !errors.Is(err, probe.ErrFormat) {
			t.Errorf("%q: %v", in, err)
		}
	}
}

func TestParseUptime(t *testing.T) {
	if got, err := parseUptime([]byte("300.29 553.94\n")); err != nil || got != 300.29 {
		t.Errorf("got %v, %v", got, err)
	}
	for _, in := range []string{"", " ", "NaN 3", "-1 2", "x"} {
		if _, err := parseUptime([]byte(in)); !errors.Is(err, probe.ErrFormat) {
			t.Errorf("%q: %v", in, err)
		}
	}
}

func TestParseOSRelease(t *testing.T) {
	if got, err := parseOSRelease([]byte("6.18.44-fc-v857\n")); err != nil || got != "6.18.44-fc-v857" {
		t.Errorf("got %q, %v", got, err)
	}
	if got, _ := parseOSRelease([]byte("6.1\x1b[31m")); got != `6.1\x1b[31m` {
		t.Errorf("control bytes not escaped: %q", got)
	}
	for _, in := range []string{"", "\n", "a\nb"} {
		if _, err := parseOSRelease([]byte(in)); !errors.Is(err, probe.ErrFormat) {
			t.Errorf("%q: %v", in, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"sys-idle", "sys-garbled"} {
		for _, p := range []string{"loadavg", "uptime"} {
			if b, err := os.ReadFile(probetest.Fixture(f, s, "t0", "proc", p)); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		parseLoadavg(b)
		parseUptime(b)
		parseOSRelease(b)
		commOf(b)
	})
}

func replay(t *testing.T, scenario string, readings ...string) (Facts, probe.Statuses) {
	t.Helper()
	return probetest.ReplayFixture[Facts](t, New(probe.Target{}, probe.Options{}), scenario, readings...)
}

func TestFixtures(t *testing.T) {
	for _, s := range probetest.SystemScenarios {
		t.Run(s, func(t *testing.T) {
			f, st := replay(t, s, "t0", "t1")
			probetest.Golden(t, probetest.Fixture(t, s, "host.golden.json"), probetest.Result{Facts: f, Status: st})
		})
	}
}

func TestFixtureValues(t *testing.T) {
	f, st := replay(t, "sys-idle", "t0", "t1")
	if f.CPUCount != 2 || f.Kernel == "" || f.UptimeS <= 0 || f.InContainer || st[""].State != probe.OK || len(st) != 1 {
		t.Errorf("idle: %+v %+v", f, st)
	}
	f, _ = replay(t, "sys-container", "t0", "t1")
	if !f.InContainer || f.ContainerEvidence == "" {
		t.Errorf("container: %+v", f)
	}
	_, st = replay(t, "sys-garbled", "t0", "t1")
	for _, k := range []string{"cpu_count", "kernel", "uptime_s", "load1"} {
		if st[k].State == "" || st[k].State == probe.OK {
			t.Errorf("garbled %s: %+v", k, st[k])
		}
	}
}

func TestContainerEvidence(t *testing.T) {
	write := func(root, p, s string) {
		os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755)
		os.WriteFile(filepath.Join(root, p), []byte(s), 0o644)
	}
	host := t.TempDir()
	write(host, "proc/1/stat", "1 (systemd) S 0")
	write(host, "proc/2/stat", "2 (kthreadd) S 0")
	write(host, ".dockerenv", "") // VM images built from Docker keep it: not evidence
	if in, why := detectContainer(probe.Host{Root: host}); in {
		t.Errorf("host taken for a container: %s", why)
	}
	podman := t.TempDir()
	write(podman, "run/.containerenv", "")
	nspawn := t.TempDir()
	write(nspawn, "run/systemd/container", "systemd-nspawn\n")
	env := t.TempDir()
	write(env, "proc/1/environ", "PATH=/bin\x00container=docker\x00")
	nopid2 := t.TempDir()
	write(nopid2, "proc/1/stat", "1 (sh) S 0")
	for _, root := range []string{podman, nspawn, env, nopid2} {
		if in, why := detectContainer(probe.Host{Root: root}); !in || why == "" {
			t.Errorf("%s: container not seen", root)
		}
	}
}
