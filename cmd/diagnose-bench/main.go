// Command diagnose-bench measures diagnose side by side with what it
// replaces, in one run on this machine, and prints ratios against the goals
// of docs/performance.md. It is a development tool (`make bench`), not part
// of diagnose. It needs root (diagnose reads other processes' /proc files),
// gcc, strace, timeout, vmstat and iostat.
//
//	go run ./cmd/diagnose-bench [-reps 3] [-bin bin/diagnose] [-only sockets]
//
// What it does:
//   - builds diagnose and testdata/workloads/syscall_heavy.c;
//   - throughput of the syscall-heavy target alone, under `diagnose slow-app`
//     (default window), and under `--strace` (during the traced phase and over
//     the whole run), read from the target's shared counter;
//   - diagnose's wall time against its window, its peak RSS (rusage maxrss)
//     and CPU (utime+stime over wall), also on a 200-thread target;
//   - the manual runbook (vmstat 1 5; iostat -xz 1 5; strace -c -f -p PID for
//     5 s), run sequentially as a person would;
//   - replay of the recorded slow-app snapshots: decode+evaluate and evaluate
//     alone, on one core (GOMAXPROCS=1);
//   - the tcp probe's socket sampling (testdata/workloads/manyconns): its CPU
//     in this process on a target with 1,000 connections and on a small one
//     in a namespace of 10,000 sockets, and diagnose's wall time and peak
//     RSS on both (-only sockets runs this alone).
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/diagnose-sh/diagnose/engine"
	"github.com/diagnose-sh/diagnose/playbooks"
	"github.com/diagnose-sh/diagnose/probes"
	"github.com/diagnose-sh/diagnose/probes/probe"
)

func main() {
	reps := flag.Int("reps", 3, "repetitions of each live measurement")
	bin := flag.String("bin", "", "diagnose binary (default: build ./cmd/diagnose into a temporary directory)")
	replayOnly := flag.Bool("replay-only", false, "only the replay measurement (no root needed)")
	only := flag.String("only", "", "only this measurement: sockets (the tcp probe's socket sampling budget) or containers (a container target)")
	flag.Parse()
	var err error
	switch {
	case *replayOnly:
		err = replay()
	case *only == "sockets" || *only == "containers":
		err = runOnly(*only, *reps, *bin)
	case *only != "":
		err = fmt.Errorf("-only %q: sockets or containers", *only)
	default:
		err = run(*reps, *bin)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "diagnose-bench:", err)
		os.Exit(1)
	}
	printGoals()
}

// goal is one line of the summary.
type goal struct {
	what, value, target string
	met                 bool
}

var goals []goal

func check(what, value, target string, met bool) {
	goals = append(goals, goal{what, value, target, met})
}

func run(reps int, bin string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("run as root: diagnose reads the target's /proc files and strace attaches")
	}
	for _, p := range []string{"gcc", "strace", "timeout", "vmstat", "iostat"} {
		if _, err := exec.LookPath(p); err != nil {
			return fmt.Errorf("%s not installed (apt-get install gcc strace coreutils procps sysstat)", p)
		}
	}
	tmp, bin, err := workdir(bin)
	defer os.RemoveAll(tmp)
	if err != nil {
		return err
	}
	heavy := filepath.Join(tmp, "syscall_heavy")
	mutex := filepath.Join(tmp, "mutex")
	pool := filepath.Join(tmp, "many_threads")
	fmt.Printf("machine: %s, %d CPUs, %s, %s; load average %s (other load skews the throughput ratios)\n",
		cpuModel(), runtime.NumCPU(), kernel(), runtime.Version(), loadavg())

	// The syscall-heavy target and its shared counter.
	counterFile := filepath.Join(tmp, "counter")
	target := exec.Command(heavy, counterFile)
	if err := target.Start(); err != nil {
		return err
	}
	defer func() { target.Process.Kill(); target.Wait() }()
	time.Sleep(300 * time.Millisecond)
	ctr, err := openCounter(counterFile)
	if err != nil {
		return err
	}
	pid := target.Process.Pid
	time.Sleep(700 * time.Millisecond) // warm up

	// 1. default slow-app vs. alone, interleaved.
	fmt.Printf("\n## syscall-heavy target (pid %d): 1-byte read+write loop, iterations/s\n", pid)
	var alone, under, walls, overs, cpus, samplingCPUs, rss []float64
	window := 0.0
	for r := range reps {
		// alone: the same span right before and right after the run.
		span := time.Duration((window + 0.03) * float64(time.Second))
		if window == 0 {
			span = 2 * time.Second
		}
		before := ctr.rate(span)
		d, err := diag(bin, byPID(pid), ctr)
		if err != nil {
			return err
		}
		window = d.window
		a := (before + ctr.rate(span)) / 2
		alone = append(alone, a)
		under = append(under, d.rate)
		walls = append(walls, d.wall)
		overs = append(overs, (d.wall-d.window)*1000)
		cpus = append(cpus, d.cpu/d.wall*100)
		rss = append(rss, float64(d.maxrssKiB)/1024)
		sampling, err := samplingCPU(bin, byPID(pid), d)
		if err != nil {
			return err
		}
		samplingCPUs = append(samplingCPUs, sampling)
		fmt.Printf("rep %d: alone %s/s, under diagnose slow-app %s/s (%.3f×); diagnose wall %.3f s for a %.1f s window (+%.0f ms), CPU %.3f s (%.2f%% of one core; while sampling %.2f%%), peak RSS %.1f MiB, verdict %s\n",
			r+1, si(a), si(d.rate), d.rate/a, d.wall, d.window, (d.wall-d.window)*1000, d.cpu, d.cpu/d.wall*100, sampling, float64(d.maxrssKiB)/1024, d.verdict)
	}
	ratios := make([]float64, len(alone))
	for i := range alone {
		ratios[i] = under[i] / alone[i]
	}
	fmt.Printf("alone median %s/s; under default slow-app median %s/s: ratio %.3f (range %.3f-%.3f)\n",
		si(median(alone)), si(median(under)), median(ratios), slices.Min(ratios), slices.Max(ratios))
	check("target throughput under default slow-app / alone", fmt.Sprintf("%.3f×", median(ratios)), "≥ 0.98×", median(ratios) >= 0.98)
	check("slow-app wall time − window", fmt.Sprintf("+%.0f ms (%.3f s for %.1f s)", median(overs), median(walls), window), "≤ +50 ms", median(overs) <= 50)
	check("diagnose peak RSS (1-thread target)", fmt.Sprintf("%.1f MiB", slices.Max(rss)), "≤ 30 MiB", slices.Max(rss) <= 30)
	check("diagnose CPU while sampling (1-thread target)", fmt.Sprintf("%.2f%% of one core", median(samplingCPUs)), "≤ 5%", median(samplingCPUs) <= 5)
	fmt.Printf("diagnose CPU while sampling %.2f%% of one core; whole run, start-up included, %.2f%%\n", median(samplingCPUs), median(cpus))

	// 2. --strace: traced phase and whole run.
	fmt.Printf("\n## --strace (strace -c -f -w attached after the window, for as long again)\n")
	var traced, whole []float64
	for r := range max(1, reps-1) {
		s, err := diagStrace(bin, pid, ctr)
		if err != nil {
			return err
		}
		a := ctr.rate(2 * time.Second)
		traced = append(traced, s.tracedRate/a)
		whole = append(whole, s.rate/a)
		fmt.Printf("rep %d: alone %s/s; traced for %.2f s: %s/s (%.4f× alone, %.0f× slower); whole run %.2f s: %s/s (%.3f×)\n",
			r+1, si(a), s.tracedS, si(s.tracedRate), s.tracedRate/a, a/s.tracedRate, s.wall, si(s.rate), s.rate/a)
	}
	fmt.Printf("--strace: traced phase %.4f× alone (%.0f× slower), whole run %.3f× alone\n", median(traced), 1/median(traced), median(whole))

	// 3. the manual runbook.
	fmt.Printf("\n## manual runbook, sequential: vmstat 1 5; iostat -xz 1 5; strace -c -f -p PID for 5 s\n")
	c0, t0 := ctr.read(), time.Now()
	var steps []string
	var straceRate float64
	for _, cmd := range [][]string{{"vmstat", "1", "5"}, {"iostat", "-xz", "1", "5"}, {"timeout", "-s", "INT", "5", "strace", "-c", "-f", "-p", strconv.Itoa(pid)}} {
		s0, st := ctr.read(), time.Now()
		c := exec.Command(cmd[0], cmd[1:]...)
		c.Stdout, c.Stderr = nil, nil
		err := c.Run()
		if ee, ok := err.(*exec.ExitError); err != nil && !(ok && cmd[0] == "timeout" && ee.ExitCode() == 124) {
			return fmt.Errorf("%s: %v", strings.Join(cmd, " "), err)
		}
		el := time.Since(st).Seconds()
		if cmd[0] == "timeout" {
			straceRate = float64(ctr.read()-s0) / el
		}
		steps = append(steps, fmt.Sprintf("%s %.2f s", strings.Join(cmd, " "), el))
	}
	manual := time.Since(t0).Seconds()
	manualRate := float64(ctr.read()-c0) / manual
	a := ctr.rate(2 * time.Second)
	fmt.Printf("%s\ntotal %.2f s; target over the runbook %.3f× alone, while strace ran %.4f×\n", strings.Join(steps, "\n"), manual, manualRate/a, straceRate/a)
	fmt.Printf("diagnose slow-app %.2f s vs. manual runbook %.2f s: %.1f× faster to a verdict\n", median(walls), manual, manual/median(walls))
	check("time to verdict vs. manual runbook", fmt.Sprintf("%.2f s vs %.2f s (%.1f×)", median(walls), manual, manual/median(walls)), "faster", median(walls) < manual)

	// 4. targets with more threads: the lock convoys of the live tests and
	// an idle pool, without the syscall-heavy loop competing for the CPUs.
	target.Process.Kill()
	target.Wait()
	for _, n := range []int{16, 200} {
		if err := manyThreads(bin, mutex, "a lock convoy", n, max(1, reps-1)); err != nil {
			return err
		}
	}
	// A pool of parked threads, like a big idle JVM's.
	if err := manyThreads(bin, pool, "an idle pool", 200, max(1, reps-1)); err != nil {
		return err
	}

	// A container of processes against one process of as many threads.
	if err := containers(bin, pool, max(1, reps-1)); err != nil {
		return err
	}

	// 5. replay.
	if err := replay(); err != nil {
		return err
	}

	// 6. socket sampling.
	return socketBudget(bin, reps)
}

// workdir makes a temporary directory and builds into it diagnose (unless
// bin names one) and the C workloads.
func workdir(bin string) (tmp, built string, err error) {
	if tmp, err = os.MkdirTemp("", "diagnose-bench-"); err != nil {
		return "", "", err
	}
	built, err = build(tmp, bin)
	return tmp, built, err
}

func build(tmp, bin string) (string, error) {
	if bin == "" {
		bin = filepath.Join(tmp, "diagnose")
		if out, err := exec.Command("go", "build", "-o", bin, "./cmd/diagnose").CombinedOutput(); err != nil {
			return "", fmt.Errorf("go build: %v\n%s", err, out)
		}
	}
	for _, src := range []string{"syscall_heavy", "mutex", "many_threads"} {
		if b, err := exec.Command("gcc", "-O1", "-o", filepath.Join(tmp, src), filepath.Join("testdata", "workloads", src+".c"), "-lpthread").CombinedOutput(); err != nil {
			return "", fmt.Errorf("gcc %s: %v\n%s", src, err, b)
		}
	}
	return bin, nil
}

// runOnly runs one measurement alone: sockets or containers.
func runOnly(what string, reps int, bin string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("run as root: diagnose reads the target's /proc files")
	}
	tmp, bin, err := workdir(bin)
	defer os.RemoveAll(tmp)
	if err != nil {
		return err
	}
	fmt.Printf("machine: %s, %d CPUs, %s, %s; load average %s\n", cpuModel(), runtime.NumCPU(), kernel(), runtime.Version(), loadavg())
	if what == "containers" {
		return containers(bin, filepath.Join(tmp, "many_threads"), reps)
	}
	return socketBudget(bin, reps)
}

// socketBudget measures the tcp probe's socket sampling (sock_diag dumps of
// the namespace and re-reads of the target's /proc/PID/fd, paced by the
// probe's cost model) on testdata/workloads/manyconns: a target with 1,000
// connections, then a target with 10 in a namespace of 10,000 sockets.
func socketBudget(bin string, reps int) error {
	tmp, err := os.MkdirTemp("", "diagnose-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	mc := filepath.Join(tmp, "manyconns")
	if out, err := exec.Command("go", "build", "-o", mc, "./testdata/workloads/manyconns").CombinedOutput(); err != nil {
		return fmt.Errorf("go build manyconns: %v\n%s", err, out)
	}
	var running []*exec.Cmd
	stop := func(c *exec.Cmd) {
		c.Process.Kill()
		c.Wait()
		running = slices.DeleteFunc(running, func(r *exec.Cmd) bool { return r == c })
	}
	defer func() { // clients before their servers
		for len(running) > 0 {
			stop(running[len(running)-1])
		}
	}()
	// start runs manyconns and returns its first line of output.
	start := func(args ...string) (*exec.Cmd, string, error) {
		c := exec.Command(mc, args...)
		c.Stderr = os.Stderr
		out, err := c.StdoutPipe()
		if err != nil {
			return nil, "", err
		}
		if err := c.Start(); err != nil {
			return nil, "", err
		}
		running = append(running, c)
		line := make(chan string, 1)
		go func() {
			l, _ := bufio.NewReader(out).ReadString('\n')
			line <- strings.TrimSpace(l)
		}()
		select {
		case l := <-line:
			if l == "" {
				return nil, "", fmt.Errorf("manyconns %s exited before it started", strings.Join(args, " "))
			}
			return c, l, nil
		case <-time.After(time.Minute):
			return nil, "", fmt.Errorf("manyconns %s: not started after a minute", strings.Join(args, " "))
		}
	}
	server := func() (string, error) {
		_, l, err := start("server")
		addr, ok := strings.CutPrefix(l, "listening ")
		if err == nil && !ok {
			err = fmt.Errorf("manyconns server printed %q", l)
		}
		return addr, err
	}

	addr, err := server()
	if err != nil {
		return err
	}
	big, _, err := start("client", "-addr", addr, "-conns", "1000", "-active", "10")
	if err != nil {
		return err
	}
	time.Sleep(500 * time.Millisecond)
	a, err := sockets(bin, big.Process.Pid, "target with 1,000 connections", "1,000 connections, 10 of them sending a line every 100 ms", 2, reps)
	if err != nil {
		return err
	}
	stop(big)

	filler, err := server()
	if err != nil {
		return err
	}
	if _, _, err := start("client", "-addr", filler, "-conns", "5000"); err != nil {
		return err
	}
	small, _, err := start("client", "-addr", addr, "-conns", "10", "-active", "10")
	if err != nil {
		return err
	}
	time.Sleep(500 * time.Millisecond)
	b, err := sockets(bin, small.Process.Pid, "10,000 sockets in the namespace", "10 connections, all sending a line every 100 ms, beside 5,000 idle ones (both ends in the namespace)", 5, reps)
	if err != nil {
		return err
	}
	fmt.Printf("\nsocket sampling: %.2f%% of one core on 1,000 connections, %.2f%% among 10,000 sockets (%.2f×)\n", a, b, b/a)
	return nil
}

// sockets measures the tcp probe alone on pid, in this process: its CPU
// (getrusage) over a 5 s window and the rate it chose; then diagnose
// slow-app's wall time and peak RSS on the same target. It returns the
// median CPU, % of one core; budget is the goal for it.
func sockets(bin string, pid int, what, desc string, budget float64, reps int) (float64, error) {
	fmt.Printf("\n## socket sampling, %s (testdata/workloads/manyconns, pid %d: %s)\n", what, pid, desc)
	var cpus, hz, over, rss []float64
	for r := range reps {
		runtime.GC()
		s := probes.Sampler{Host: probe.Host{Root: "/", SockDiag: probe.NetlinkSockDiag}, Clock: probes.RealClock{},
			Window: 5 * time.Second, Target: probe.Target{PID: pid}}
		c0, t0 := selfCPU(), time.Now()
		facts, st := s.Run(context.Background(), probes.Select([]string{"tcp"}))
		cpu, wall := selfCPU()-c0, time.Since(t0)
		if st["tcp"].State != probe.OK {
			return 0, fmt.Errorf("tcp probe on pid %d: %s: %s", pid, st["tcp"].State, st["tcp"].Reason)
		}
		t := facts.TCP
		share := cpu.Seconds() / wall.Seconds() * 100
		d, err := diag(bin, byPID(pid), nil)
		if err != nil {
			return 0, err
		}
		cpus = append(cpus, share)
		hz = append(hz, t.SampleHz)
		over = append(over, (d.wall-d.window)*1000)
		rss = append(rss, float64(d.maxrssKiB)/1024)
		fmt.Printf("rep %d: tcp probe alone: CPU %.1f ms over %.2f s (%.2f%% of one core), %d samples (%.1f/s), %d sockets in the namespace, %d outbound connections; diagnose slow-app wall %.3f s for a %.1f s window (+%.0f ms), CPU %.2f%% of one core, peak RSS %.1f MiB, verdict %s\n",
			r+1, float64(cpu)/float64(time.Millisecond), wall.Seconds(), share, t.Samples, t.SampleHz, t.NamespaceSockets, t.Outbound,
			d.wall, d.window, (d.wall-d.window)*1000, d.cpu/d.wall*100, float64(d.maxrssKiB)/1024, d.verdict)
	}
	fmt.Printf("socket sampling median %.2f%% of one core (%.2f× the %g%% goal) at %.1f samples/s\n", median(cpus), median(cpus)/budget, budget, median(hz))
	check("socket sampling CPU ("+what+")", fmt.Sprintf("%.2f%% of one core, %.1f/s", median(cpus), median(hz)), fmt.Sprintf("≤ %g%%", budget), median(cpus) <= budget)
	check("diagnose peak RSS ("+what+")", fmt.Sprintf("%.1f MiB", slices.Max(rss)), "≤ 30 MiB", slices.Max(rss) <= 30)
	check("slow-app wall time − window ("+what+")", fmt.Sprintf("+%.0f ms", median(over)), "≤ +50 ms", median(over) <= 50)
	return median(cpus), nil
}

func printGoals() {
	fmt.Printf("\n## goals\n")
	missed := 0
	for _, g := range goals {
		mark := "met"
		if !g.met {
			mark = "MISSED"
			missed++
		}
		fmt.Printf("%-50s %-32s goal %-10s %s\n", g.what, g.value, g.target, mark)
	}
	fmt.Printf("%d of %d goals met\n", len(goals)-missed, len(goals))
}

// manyThreads measures diagnose's CPU, RSS and wall time on a workload
// (a testdata/workloads program) with n worker threads; kind says what
// they do.
func manyThreads(bin, workload, kind string, n, reps int) error {
	fmt.Printf("\n## %d-thread target (testdata/workloads/%s.c %d: %s)\n", n+1, filepath.Base(workload), n, kind)
	m := exec.Command(workload, strconv.Itoa(n))
	if err := m.Start(); err != nil {
		return err
	}
	defer func() { m.Process.Kill(); m.Wait() }()
	time.Sleep(500 * time.Millisecond)
	_, err := measure(bin, byPID(m.Process.Pid), fmt.Sprintf("(%d-thread target, %s)", n+1, kind), reps)
	return err
}

// measure runs slow-app on a target reps times, prints each run and checks
// the CPU, RSS and wall-time goals; it returns the median CPU while
// sampling, % of one core.
func measure(bin string, target []string, what string, reps int) (float64, error) {
	var cpu, sampling, rss, over []float64
	for r := range reps {
		d, err := diag(bin, target, nil)
		if err != nil {
			return 0, err
		}
		sc, err := samplingCPU(bin, target, d)
		if err != nil {
			return 0, err
		}
		cpu = append(cpu, d.cpu/d.wall*100)
		sampling = append(sampling, sc)
		rss = append(rss, float64(d.maxrssKiB)/1024)
		over = append(over, (d.wall-d.window)*1000)
		fmt.Printf("rep %d: wall %.3f s (+%.0f ms), CPU %.3f s (%.2f%% of one core; while sampling %.2f%%), peak RSS %.1f MiB, verdict %s\n",
			r+1, d.wall, (d.wall-d.window)*1000, d.cpu, d.cpu/d.wall*100, sc, float64(d.maxrssKiB)/1024, d.verdict)
	}
	check("diagnose CPU while sampling "+what, fmt.Sprintf("%.2f%% of one core", median(sampling)), "≤ 5%", median(sampling) <= 5)
	fmt.Printf("diagnose CPU while sampling %.2f%% of one core; whole run, start-up included, %.2f%%\n", median(sampling), median(cpu))
	check("diagnose peak RSS "+what, fmt.Sprintf("%.1f MiB", slices.Max(rss)), "≤ 30 MiB", slices.Max(rss) <= 30)
	check("slow-app wall time − window "+what, fmt.Sprintf("+%.0f ms", median(over)), "≤ +50 ms", median(over) <= 50)
	return median(sampling), nil
}

// samplingCPU is diagnose's CPU while it samples, % of one core: the CPU
// one more second of window costs, from a run with a window a second
// longer than d's. Start-up (loading and compiling the playbook), the
// first and last readings and the report cost the same in both runs and
// cancel out; they are in the whole-run share diag reports.
func samplingCPU(bin string, target []string, d diagResult) (float64, error) {
	longer, err := diag(bin, target, nil, "--duration", fmt.Sprintf("%gs", d.window+1))
	if err != nil {
		return 0, err
	}
	return (longer.cpu - d.cpu) / (longer.window - d.window) * 100, nil
}

// counter reads the target's shared iteration counter.
type counter struct{ mem []byte }

func openCounter(path string) (*counter, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	mem, err := syscall.Mmap(int(f.Fd()), 0, 4096, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, err
	}
	return &counter{mem}, nil
}

func (c *counter) read() uint64 {
	if c == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(c.mem[:8])
}

// rate is the target's iterations per second over the next d, alone.
func (c *counter) rate(d time.Duration) float64 {
	c0, t0 := c.read(), time.Now()
	time.Sleep(d)
	return float64(c.read()-c0) / time.Since(t0).Seconds()
}

// diagResult is one diagnose run.
type diagResult struct {
	wall, window, cpu float64 // seconds
	maxrssKiB         int64
	rate              float64 // target iterations/s over the run
	verdict           string
}

// byPID is the slow-app target flags for one process.
func byPID(pid int) []string { return []string{"--pid", strconv.Itoa(pid)} }

func diag(bin string, target []string, ctr *counter, args ...string) (diagResult, error) {
	var res diagResult
	cmd := exec.Command(bin, slices.Concat([]string{"slow-app", "--format", "json"}, target, args)...)
	var out bytes.Buffer
	cmd.Stdout = &out
	c0, t0 := ctr.read(), time.Now()
	err := cmd.Run()
	res.wall = time.Since(t0).Seconds()
	res.rate = float64(ctr.read()-c0) / res.wall
	if ee, ok := err.(*exec.ExitError); err != nil && !(ok && ee.ExitCode() <= 3 && ee.ExitCode() != 2) {
		return res, fmt.Errorf("diagnose slow-app: %v\n%s", err, out.String())
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	res.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	res.maxrssKiB = ru.Maxrss
	var rep struct {
		WindowSeconds float64 `json:"window_seconds"`
		Verdict       struct {
			Class string `json:"class"`
		} `json:"verdict"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		return res, fmt.Errorf("diagnose output: %v", err)
	}
	res.window, res.verdict = rep.WindowSeconds, rep.Verdict.Class
	return res, nil
}

// straceResult is one --strace run.
type straceResult struct {
	wall, rate          float64
	tracedS, tracedRate float64
}

// diagStrace runs slow-app --strace and watches the target's TracerPid to
// find the traced phase.
func diagStrace(bin string, pid int, ctr *counter) (straceResult, error) {
	var res straceResult
	cmd := exec.Command(bin, "slow-app", "--pid", strconv.Itoa(pid), "--format", "json", "--strace")
	c0, t0 := ctr.read(), time.Now()
	if err := cmd.Start(); err != nil {
		return res, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var tc0, tc1 uint64
	var tt0, tt1 time.Time
	status := filepath.Join("/proc", strconv.Itoa(pid), "status")
	for poll := time.NewTicker(2 * time.Millisecond); ; {
		select {
		case err := <-done:
			poll.Stop()
			res.wall = time.Since(t0).Seconds()
			res.rate = float64(ctr.read()-c0) / res.wall
			if ee, ok := err.(*exec.ExitError); err != nil && !(ok && ee.ExitCode() != 2) {
				return res, fmt.Errorf("diagnose --strace: %v", err)
			}
			if tt0.IsZero() {
				return res, fmt.Errorf("strace never attached")
			}
			if tt1.IsZero() {
				tc1, tt1 = ctr.read(), time.Now()
			}
			res.tracedS = tt1.Sub(tt0).Seconds()
			res.tracedRate = float64(tc1-tc0) / res.tracedS
			return res, nil
		case <-poll.C:
			traced := tracerPid(status) != 0
			switch {
			case traced && tt0.IsZero():
				tc0, tt0 = ctr.read(), time.Now()
			case !traced && !tt0.IsZero() && tt1.IsZero():
				tc1, tt1 = ctr.read(), time.Now()
			}
		}
	}
}

func tracerPid(status string) int {
	b, _ := os.ReadFile(status)
	_, rest, ok := bytes.Cut(b, []byte("TracerPid:"))
	if !ok {
		return 0
	}
	line, _, _ := bytes.Cut(rest, []byte("\n"))
	n, _ := strconv.Atoi(strings.TrimSpace(string(line)))
	return n
}

// replay decodes and evaluates the recorded slow-app snapshots on one core.
func replay() error {
	fmt.Printf("\n## replay of recorded snapshots through slow-app, one core (GOMAXPROCS=1)\n")
	files, _ := filepath.Glob(filepath.Join("testdata", "hosts", "proc-slowapp-*", "snapshot.json"))
	if len(files) == 0 {
		return fmt.Errorf("no recorded snapshots under testdata/hosts/proc-slowapp-*")
	}
	src, err := fs.ReadFile(playbooks.FS, "slow-app.yaml")
	if err != nil {
		return err
	}
	pb, err := engine.Load("slow-app.yaml", src, engine.MustSchema(reflect.TypeOf(probes.Facts{})))
	if err != nil {
		return err
	}
	type input struct {
		raw     []byte
		snap    probes.Snapshot
		params  engine.Values
		missing engine.Missing
	}
	var ins []input
	size := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		in := input{raw: raw}
		if in.snap, in.params, in.missing, err = decode(pb, raw); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		ins = append(ins, in)
		size += len(raw)
	}
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	// Per core: replays per second of this process's CPU time (GC
	// included), so other load on the machine does not count against it.
	measure := func(f func(in input) error) (float64, error) {
		runtime.GC()
		n, t0, c0 := 0, time.Now(), selfCPU()
		for time.Since(t0) < time.Second {
			for _, in := range ins {
				if err := f(in); err != nil {
					return 0, err
				}
				n++
			}
		}
		return float64(n) / (selfCPU() - c0).Seconds(), nil
	}
	both, err := measure(func(in input) error {
		snap, params, missing, err := decode(pb, in.raw)
		if err != nil {
			return err
		}
		_, err = pb.Evaluate(snap.Facts, params, missing)
		return err
	})
	if err != nil {
		return err
	}
	eval, err := measure(func(in input) error {
		_, err := pb.Evaluate(in.snap.Facts, in.params, in.missing)
		return err
	})
	if err != nil {
		return err
	}
	dec, err := measure(func(in input) error { _, _, _, err := decode(pb, in.raw); return err })
	if err != nil {
		return err
	}
	fmt.Printf("%d snapshots, %d KiB average\n", len(ins), size/len(ins)/1024)
	fmt.Printf("decode+evaluate: %.0f/s per core (%.0f µs each)\n", both, 1e6/both)
	fmt.Printf("decode alone:    %.0f/s per core (%.0f µs each)\n", dec, 1e6/dec)
	fmt.Printf("evaluate alone:  %.0f/s per core (%.0f µs each)\n", eval, 1e6/eval)
	check("replay decode+evaluate per core", fmt.Sprintf("%.0f/s", both), "≥ 10,000/s", both >= 10000)
	check("replay evaluate alone per core", fmt.Sprintf("%.0f/s", eval), "≥ 10,000/s", eval >= 10000)
	return nil
}

// decode is what `diagnose slow-app --snapshot` does before evaluating.
func decode(pb *engine.Playbook, raw []byte) (probes.Snapshot, engine.Values, engine.Missing, error) {
	snap, err := probes.DecodeSnapshot(raw)
	if err != nil {
		return snap, nil, nil, err
	}
	params, err := pb.BindParams(map[string]string{"pid": strconv.Itoa(snap.Target.PID)})
	if err != nil {
		return snap, nil, nil, err
	}
	missing := engine.Missing{}
	for path, s := range snap.Status {
		if s.State != probe.OK {
			missing[path] = string(s.State) + ": " + s.Reason
		}
	}
	return snap, params, missing, nil
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// si prints a rate with a k/M suffix.
func si(x float64) string {
	switch {
	case x >= 1e6:
		return fmt.Sprintf("%.3fM", x/1e6)
	case x >= 1e3:
		return fmt.Sprintf("%.1fk", x/1e3)
	}
	return fmt.Sprintf("%.0f", x)
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func kernel() string {
	b, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return "Linux " + strings.TrimSpace(string(b))
}
