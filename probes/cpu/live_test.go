package cpu

import (
	"bufio"
	"bytes"
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
	"github.com/diagnose-sh/diagnose/probes/probetest"
)

// vmstatLine is one line of `vmstat -n 1 N`.
type vmstatLine struct{ r, b, us, sy, id, wa, st float64 }

// sampleWithVmstat runs `vmstat -n 1 N+1` while our reader reads every
// 250 ms over the same N seconds, and returns both. vmstat's first line is
// since boot (only its r and b, instantaneous, belong to the window).
func sampleWithVmstat(t *testing.T, seconds int) (Facts, probe.Statuses, []vmstatLine, *reader) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command("vmstat", "-n", "1", strconv.Itoa(seconds+1))
	cmd.Stdout = &out
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := New(probe.Target{}, probe.Options{})
	start := time.Now()
	end := start.Add(time.Duration(seconds) * time.Second)
	r.Read(t.Context(), probe.Host{Root: "/", Now: start})
	for {
		next := time.Now().Add(250 * time.Millisecond)
		if !next.Before(end) {
			break
		}
		time.Sleep(time.Until(next))
		r.Read(t.Context(), probe.Host{Root: "/", Now: time.Now()})
	}
	time.Sleep(time.Until(end))
	r.Read(t.Context(), probe.Host{Root: "/", Now: time.Now()})
	if err := cmd.Wait(); err != nil {
		t.Fatalf("vmstat: %v\n%s", err, out.String())
	}
	v, st := r.Finish()
	return v.(Facts), st, parseVmstatOutput(t, out.String()), r.(*reader)
}

func parseVmstatOutput(t *testing.T, s string) []vmstatLine {
	t.Helper()
	var lines []vmstatLine
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 17 {
			continue
		}
		n := make([]float64, len(f))
		ok := true
		for i, x := range f {
			v, err := strconv.ParseFloat(x, 64)
			if err != nil {
				ok = false
				break
			}
			n[i] = v
		}
		if !ok {
			continue // header
		}
		// r b swpd free buff cache si so bi bo in cs us sy id wa st [gu]
		lines = append(lines, vmstatLine{r: n[0], b: n[1], us: n[12], sy: n[13], id: n[14], wa: n[15], st: n[16]})
	}
	if len(lines) < 2 {
		t.Fatalf("vmstat printed %d data lines:\n%s", len(lines), s)
	}
	return lines
}

// compare checks our facts against vmstat over the same window: CPU shares
// within 2 points, r and b within 1. vmstat's r counts vmstat itself; ours
// excludes diagnose (this test process), so vmstat r - 1 is the reference.
func compare(t *testing.T, f Facts, st probe.Statuses, v []vmstatLine, r *reader) {
	t.Helper()
	for k, s := range st {
		if s.State != probe.OK {
			t.Errorf("status %q: %+v", k, s)
		}
	}
	var ref vmstatLine
	for _, l := range v[1:] {
		ref.us += l.us
		ref.sy += l.sy
		ref.id += l.id
		ref.wa += l.wa
		ref.st += l.st
	}
	n := float64(len(v) - 1)
	ref.us, ref.sy, ref.id, ref.wa, ref.st = ref.us/n, ref.sy/n, ref.id/n, ref.wa/n, ref.st/n
	for _, l := range v {
		ref.r += l.r - 1
		ref.b += l.b
	}
	ref.r /= float64(len(v))
	ref.b /= float64(len(v))
	t.Logf("ours:   us %.1f sy %.1f id %.1f wa %.1f st %.1f r %.2f b %.2f (%d readings) cs %.0f in %.0f",
		f.UserPct, f.SystemPct, f.IdlePct, f.IowaitPct, f.StealPct, f.RunQueue, f.Blocked, f.Readings, f.CtxSwitchesPerS, f.InterruptsPerS)
	t.Logf("vmstat: us %.1f sy %.1f id %.1f wa %.1f st %.1f r-1 %.2f b %.2f", ref.us, ref.sy, ref.id, ref.wa, ref.st, ref.r, ref.b)
	check := func(name string, got, want, tol float64) {
		if tol > 1 && (name == "run_queue" || name == "blocked") {
			t.Logf("%s: readings spread, tolerance %.2f", name, tol)
		}
		t.Helper()
		if math.Abs(got-want) > tol {
			t.Errorf("%s = %.2f, vmstat %.2f (tolerance %.0f)", name, got, want, tol)
		}
	}
	check("user_pct", f.UserPct, ref.us, 2)
	check("system_pct", f.SystemPct, ref.sy, 2)
	check("idle_pct", f.IdlePct, ref.id, 2)
	check("iowait_pct", f.IowaitPct, ref.wa, 2)
	check("steal_pct", f.StealPct, ref.st, 2)
	// r and b are instantaneous: vmstat samples them once a second, we every
	// 250 ms, at other instants. When other work on the machine makes them
	// jump, the two means differ by sampling noise alone: with σ the spread
	// of our readings, the difference of a 4-sample and a 12-sample mean has
	// a standard error of about 0.6σ. The tolerance is 1 plus two of those
	// (exactly 1 when r and b are steady, as with busy loops on an otherwise
	// quiet machine).
	var rs, bs []float64
	for _, x := range r.samples {
		rs = append(rs, float64(max(int64(x.stat.procsRunning)-int64(x.own), 0)))
		bs = append(bs, float64(x.stat.procsBlocked))
	}
	check("run_queue", f.RunQueue, ref.r, 1+1.2*stddev(rs))
	check("blocked", f.Blocked, ref.b, 1+1.2*stddev(bs))
	if sum := f.UserPct + f.SystemPct + f.IdlePct + f.IowaitPct + f.StealPct; math.Abs(sum-100) > 0.01 {
		t.Errorf("shares add up to %.3f, not 100", sum)
	}
}

func stddev(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	var m, v float64
	for _, a := range x {
		m += a
	}
	m /= float64(len(x))
	for _, a := range x {
		v += (a - m) * (a - m)
	}
	return math.Sqrt(v / float64(len(x)))
}

func TestLiveIdleMatchesVmstat(t *testing.T) {
	probetest.Live(t)
	probetest.Need(t, "vmstat")
	f, st, v, r := sampleWithVmstat(t, 2)
	compare(t, f, st, v, r) // "idle": other work on the machine is allowed, the match is what counts
}

// Four busy loops on this machine's CPUs (more loops than CPUs): r must
// show them (vmstat showed r=5 with 4 spinners on 2 CPUs: 4 + itself).
func TestLiveCPUSaturatedMatchesVmstat(t *testing.T) {
	probetest.Live(t)
	probetest.Need(t, "vmstat")
	spinners := 2 * runtime.NumCPU()
	for range spinners {
		probetest.Start(t, "sh", "-c", "while :; do :; done")
	}
	time.Sleep(300 * time.Millisecond)
	f, st, v, r := sampleWithVmstat(t, 3)
	compare(t, f, st, v, r)
	if f.RunQueue < float64(spinners)-1 {
		t.Errorf("run_queue %.2f with %d spinners", f.RunQueue, spinners)
	}
	if f.BusyPct < 90 {
		t.Errorf("busy_pct %.1f with %d spinners on %d CPUs", f.BusyPct, spinners, runtime.NumCPU())
	}
}

// Busy goroutines of this process are diagnose's own threads: run_queue
// must not count them, while vmstat does.
func TestLiveOwnThreadsNotCounted(t *testing.T) {
	probetest.Live(t)
	probetest.Need(t, "vmstat")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := runtime.GOMAXPROCS(0)
	for range n {
		go func() {
			for ctx.Err() == nil {
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	f, _, v, _ := sampleWithVmstat(t, 2)
	cancel()
	var vr float64
	for _, l := range v {
		vr += l.r - 1
	}
	vr /= float64(len(v))
	t.Logf("ours r %.2f, vmstat r-1 %.2f with %d busy goroutines in this process", f.RunQueue, vr, n)
	if f.RunQueue > vr-float64(n)+1 {
		t.Errorf("run_queue %.2f counts our own %d busy threads (vmstat r-1 %.2f)", f.RunQueue, n, vr)
	}
}

// A direct-I/O writer on the real disk: b and wa must match vmstat.
func TestLiveIOWaitMatchesVmstat(t *testing.T) {
	probetest.Live(t)
	probetest.Need(t, "vmstat", "fio")
	dir := t.TempDir()
	probetest.Start(t, "fio", "--name=w", "--filename="+filepath.Join(dir, "f"), "--rw=randwrite", "--bs=4k",
		"--direct=1", "--ioengine=psync", "--size=32M", "--time_based", "--runtime=30", "--output=/dev/null")
	time.Sleep(800 * time.Millisecond) // file layout
	f, st, v, r := sampleWithVmstat(t, 3)
	compare(t, f, st, v, r)
	if f.Blocked < 0.2 && f.IowaitPct < 5 {
		t.Errorf("a direct-I/O writer gave blocked %.2f and iowait %.1f%%", f.Blocked, f.IowaitPct)
	}
}
