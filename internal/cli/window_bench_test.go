package cli

// The window study behind DefaultWindow (docs/performance.md): the live
// classification workloads of live_slowapp_test.go and live_system_test.go,
// each diagnosed at several window lengths several times, with the
// correctness per window printed as a table. It takes minutes, so it only
// runs when asked:
//
//	DIAGNOSE_WINDOW_STUDY=1 go test -count=1 -v -run TestWindowStudy ./internal/cli
//
// DIAGNOSE_WINDOWS (default "0.5s,1s,1.5s,2s,3s") and DIAGNOSE_WINDOW_REPS
// (default 3) change the grid. The test fails when the default window got a
// wrong verdict, so a shorter DefaultWindow cannot pass unnoticed.

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probetest"
)

// windowTally counts correct verdicts per window for one workload.
type windowTally struct {
	name    string
	ok, all map[time.Duration]int
	wrong   map[time.Duration][]string
}

func newTally(name string) *windowTally {
	return &windowTally{name: name, ok: map[time.Duration]int{}, all: map[time.Duration]int{}, wrong: map[time.Duration][]string{}}
}

func (w *windowTally) add(win time.Duration, good bool, what string) {
	w.all[win]++
	if good {
		w.ok[win]++
	} else {
		w.wrong[win] = append(w.wrong[win], what)
	}
}

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return strings.TrimSpace(string(b))
}

func studyGrid(t *testing.T) ([]time.Duration, int) {
	spec := os.Getenv("DIAGNOSE_WINDOWS")
	if spec == "" {
		spec = "0.5s,1s,1.5s,2s,3s"
	}
	var wins []time.Duration
	for _, s := range strings.Split(spec, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			t.Fatalf("DIAGNOSE_WINDOWS: %v", err)
		}
		wins = append(wins, d)
	}
	reps := 3
	if s := os.Getenv("DIAGNOSE_WINDOW_REPS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("DIAGNOSE_WINDOW_REPS=%q", s)
		}
		reps = n
	}
	return wins, reps
}

func TestWindowStudy(t *testing.T) {
	if os.Getenv("DIAGNOSE_WINDOW_STUDY") == "" {
		t.Skip("set DIAGNOSE_WINDOW_STUDY=1 to run the window study (minutes)")
	}
	probetest.Live(t)
	wins, reps := studyGrid(t)
	t.Logf("load average at the start: %s", loadAvg())
	var tallies []*windowTally

	// slow-app: each workload is started once and diagnosed reps times at
	// every window, windows interleaved so drift affects them alike.
	for _, tc := range slowAppWorkloads(t) {
		tally := newTally("slow-app " + tc.name)
		tallies = append(tallies, tally)
		t.Run(tc.name, func(t *testing.T) {
			pid := tc.pid(t)
			for r := range reps {
				for _, w := range wins {
					rep, code := runSlowApp(t, pid, "--duration", w.String())
					fired := tc.rule == ""
					for _, f := range rep.Findings {
						fired = fired || f.Rule == tc.rule
					}
					want := exitFindings
					if tc.class == "none" {
						want = exitOK
					}
					good := rep.Verdict.Class == tc.class && fired && code == want
					what := fmt.Sprintf("%s %v exit %d", rep.Verdict.Class, rep.rules(), code)
					if good && tc.again != nil {
						rep2, _ := runSlowApp(t, pid, append([]string{"--duration", w.String()}, tc.again...)...)
						good = rep2.Verdict.Class == tc.class && strings.Contains(strings.Join(rep2.rules(), " "), tc.againRule)
						what = fmt.Sprintf("%v: %s %v", tc.again, rep2.Verdict.Class, rep2.rules())
					}
					tally.add(w, good, what)
					t.Logf("rep %d window %s: %v (%s)", r+1, w, good, what)
				}
			}
		})
	}

	// system: more busy loops than CPUs (cpu via cpu-saturated).
	{
		tally := newTally("system cpu-saturated")
		tallies = append(tallies, tally)
		t.Run("system-cpu-saturated", func(t *testing.T) {
			for range 2*runtime.NumCPU() + 1 {
				probetest.Start(t, "sh", "-c", "while :; do :; done")
			}
			time.Sleep(300 * time.Millisecond)
			for r := range reps {
				for _, w := range wins {
					rep, code := runSystem(t, "--duration", w.String())
					good := rep.Verdict.Class == "cpu" && rep.fired("cpu-saturated") && code == exitFindings
					tally.add(w, good, fmt.Sprintf("%s %v exit %d", rep.Verdict.Class, rep.rules(), code))
					t.Logf("rep %d window %s: %v (%s %v)", r+1, w, good, rep.Verdict.Class, rep.rules())
				}
			}
		})
	}

	// system: direct-I/O writers (io-wait fires; disk-saturated only when the
	// facts say the disk is saturated).
	{
		tally := newTally("system io-wait")
		tallies = append(tallies, tally)
		t.Run("system-io-wait", func(t *testing.T) {
			probetest.Need(t, "fio")
			dir := t.TempDir()
			// fio's job processes (each in its own session) outlive a killed
			// parent and would disturb the next live test: bound the runtime,
			// and stop fio with SIGINT, which ends its jobs, before killing it.
			var total time.Duration
			for _, w := range wins {
				total += w + time.Second
			}
			secs := strconv.Itoa(int((time.Duration(reps)*total + 5*time.Second).Seconds()))
			fio := exec.Command("fio", "--name=w", "--directory="+dir, "--numjobs=4", "--rw=randwrite", "--bs=4k",
				"--direct=1", "--ioengine=psync", "--size=16M", "--time_based", "--runtime="+secs, "--output=/dev/null")
			if err := fio.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { fio.Wait(); close(done) }()
			t.Cleanup(func() {
				fio.Process.Signal(syscall.SIGINT)
				select {
				case <-done:
				case <-time.After(10 * time.Second):
					fio.Process.Kill()
					<-done
				}
			})
			time.Sleep(time.Second)
			for r := range reps {
				for _, w := range wins {
					rep, _ := runSystem(t, "--duration", w.String())
					saturated := false
					for _, d := range rep.Facts.Disks.Devices {
						saturated = saturated || (d.UtilPct >= 80 && d.AwaitMs >= 5 && d.AquSz >= 1)
					}
					good := rep.fired("io-wait") && (rep.Verdict.Class == "io" || contains(rep.Verdict.Also, "io")) &&
						rep.fired("disk-saturated") == saturated
					tally.add(w, good, fmt.Sprintf("%s also %v %v", rep.Verdict.Class, rep.Verdict.Also, rep.rules()))
					t.Logf("rep %d window %s: %v (%s %v)", r+1, w, good, rep.Verdict.Class, rep.rules())
				}
			}
		})
	}

	// The table, in the shape docs/performance.md shows.
	var b strings.Builder
	fmt.Fprintf(&b, "\n| workload |")
	for _, w := range wins {
		fmt.Fprintf(&b, " %s |", w)
	}
	fmt.Fprintf(&b, "\n|---|")
	for range wins {
		fmt.Fprintf(&b, "---|")
	}
	total := map[time.Duration][2]int{}
	for _, tl := range tallies {
		fmt.Fprintf(&b, "\n| %s |", tl.name)
		for _, w := range wins {
			fmt.Fprintf(&b, " %d/%d |", tl.ok[w], tl.all[w])
			c := total[w]
			total[w] = [2]int{c[0] + tl.ok[w], c[1] + tl.all[w]}
		}
	}
	fmt.Fprintf(&b, "\n| **all** |")
	for _, w := range wins {
		fmt.Fprintf(&b, " **%d/%d** |", total[w][0], total[w][1])
	}
	b.WriteString("\n\nwrong verdicts:\n")
	for _, tl := range tallies {
		for _, w := range wins {
			for _, s := range tl.wrong[w] {
				fmt.Fprintf(&b, "  %s @ %s: %s\n", tl.name, w, s)
			}
		}
	}
	b.WriteString("load average at the end: " + loadAvg() + "\n")
	t.Log(b.String())
	if c := total[DefaultWindow]; c[1] > 0 && c[0] != c[1] {
		t.Errorf("DefaultWindow %s classified %d of %d runs correctly", DefaultWindow, c[0], c[1])
	}
}
