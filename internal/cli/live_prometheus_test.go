package cli

// Real Prometheus components against diagnose's metrics: promtool, a
// prometheus-node-exporter reading the textfile, and a Prometheus server
// scraping diagnose serve (Debian's packages; .ci/run installs them).

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probetest"
)

// freeAddr is a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// poll GETs url until ok says its body is what the test waits for.
func poll(t *testing.T, url string, within time.Duration, ok func(body string) bool) string {
	t.Helper()
	deadline := time.Now().Add(within)
	var body string
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if body = string(b); resp.StatusCode == 200 && ok(body) {
				return body
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: not there within %s; last body:\n%.2000s", url, within, body)
	return ""
}

// startDaemon starts a server program, stopped when the test ends.
func startDaemon(t *testing.T, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	log, _ := os.Create(filepath.Join(t.TempDir(), filepath.Base(name)+".log"))
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("%s log:\n%.3000s", name, b)
		}
	})
}

// The textfile passes promtool and a real node_exporter serves it without a
// scrape error.
func TestLivePrometheusTextfile(t *testing.T) {
	probetest.Live(t)
	probetest.Need(t, "promtool", "prometheus-node-exporter")
	dir := t.TempDir()
	file := filepath.Join(dir, "diagnose.prom")
	if code, _, stderr := runCLI(t, "system", "--output", "prometheus="+file, "--format", "json"); code == exitUsage {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	check := exec.Command("promtool", "check", "metrics")
	check.Stdin, _ = os.Open(file)
	if out, err := check.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	addr := freeAddr(t)
	startDaemon(t, "prometheus-node-exporter", "--web.listen-address="+addr, "--collector.disable-defaults",
		"--collector.textfile", "--collector.textfile.directory="+dir)
	body := poll(t, "http://"+addr+"/metrics", 15*time.Second, func(b string) bool { return strings.Contains(b, "diagnose_verdict{") })
	for _, want := range []string{"node_textfile_scrape_error 0", `diagnose_findings{playbook="system",severity="critical"}`, "diagnose_cpu_busy_ratio{"} {
		if !strings.Contains(body, want) {
			t.Errorf("node_exporter's /metrics has no %q", want)
		}
	}
}

// A real Prometheus scrapes diagnose serve, and its query API returns the
// diagnose series; SIGTERM (the context) then stops serve cleanly.
func TestLivePrometheusScrapesServe(t *testing.T) {
	probetest.Live(t)
	probetest.Need(t, "prometheus")
	serveAddr, promAddr := freeAddr(t), freeAddr(t)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan int, 1)
	var stderr strings.Builder
	go func() {
		done <- MainContext(ctx, []string{"serve", "--listen", serveAddr, "--interval", "2s", "--playbook", "system", "--playbook", "oom-container"},
			strings.NewReader(""), io.Discard, &stderr)
	}()
	poll(t, "http://"+serveAddr+"/healthz", 15*time.Second, func(b string) bool { return strings.TrimSpace(b) == "ok" })

	dir := t.TempDir()
	config := filepath.Join(dir, "prometheus.yml")
	os.WriteFile(config, []byte(fmt.Sprintf("global: {scrape_interval: 1s}\nscrape_configs:\n  - job_name: diagnose\n    static_configs: [{targets: [%q]}]\n", serveAddr)), 0o644)
	startDaemon(t, "prometheus", "--config.file="+config, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr)
	type result struct {
		Data struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
			} `json:"result"`
		} `json:"data"`
	}
	query := func(q string) result {
		var r result
		body := poll(t, "http://"+promAddr+"/api/v1/query?query="+q, 60*time.Second, func(b string) bool {
			return json.Unmarshal([]byte(b), &r) == nil && len(r.Data.Result) > 0
		})
		json.Unmarshal([]byte(body), &r)
		return r
	}
	r := query("diagnose_verdict")
	playbooks := map[string]bool{}
	for _, s := range r.Data.Result {
		playbooks[s.Metric["playbook"]] = true
		if s.Metric["job"] != "diagnose" || s.Metric["class"] == "" {
			t.Errorf("series %v", s.Metric)
		}
	}
	if !playbooks["system"] || !playbooks["oom-container"] {
		t.Errorf("diagnose_verdict for %v, want system and oom-container", playbooks)
	}
	if r := query(`diagnose_playbook_up{playbook="system"}`); len(r.Data.Result) != 1 {
		t.Errorf("diagnose_playbook_up: %+v", r)
	}
	query("process_resident_memory_bytes") // client_golang's own process metrics
	stop()
	select {
	case code := <-done:
		if code != 0 || !strings.Contains(stderr.String(), "stopped") {
			t.Errorf("serve stopped with exit %d: %s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
	}
}

// The shipped alerts pass promtool's unit tests.
func TestPromtoolRules(t *testing.T) {
	probetest.Need(t, "promtool")
	dir := filepath.Join(probetest.RepoRoot(t), "deploy", "prometheus")
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts.test.yml"}} {
		cmd := exec.Command("promtool", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		}
	}
}

// Probes that fail are metrics, not a dead server: under an empty --root
// every probe is unavailable, and serve keeps serving that.
func TestServeReportsFailingProbes(t *testing.T) {
	root := t.TempDir()
	os.Mkdir(filepath.Join(root, "proc"), 0o755)
	addr := freeAddr(t)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan int, 1)
	go func() {
		done <- MainContext(ctx, []string{"serve", "--listen", addr, "--interval", "1s", "--duration", "100ms", "--root", root},
			strings.NewReader(""), io.Discard, io.Discard)
	}()
	body := poll(t, "http://"+addr+"/metrics", 15*time.Second, func(b string) bool { return strings.Contains(b, "diagnose_probe_ok{") })
	for _, want := range []string{`diagnose_probe_ok{playbook="system",probe="cpu"} 0`, `diagnose_playbook_up{error="",playbook="system"} 1`, "diagnose_verdict{"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics has no %q", want)
		}
	}
	time.Sleep(1500 * time.Millisecond) // another evaluation: still serving
	poll(t, "http://"+addr+"/healthz", 5*time.Second, func(b string) bool { return strings.TrimSpace(b) == "ok" })
	stop()
	if code := <-done; code != 0 {
		t.Errorf("exit %d", code)
	}
}

// A playbook that needs a parameter cannot be served: exit 2 at start.
func TestServeRefusesParameterisedPlaybooks(t *testing.T) {
	code, _, stderr := runCLI(t, "serve", "--listen", freeAddr(t), "--playbook", "slow-app")
	if code != exitUsage || !strings.Contains(stderr, "--playbook slow-app needs --pid") {
		t.Errorf("exit %d: %s", code, stderr)
	}
}
