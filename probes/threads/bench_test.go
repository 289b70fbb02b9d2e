package threads

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
	"github.com/diagnose-sh/diagnose/probes/probetest"
)

// BenchmarkRead: one sampling round (Read) over a live process with many
// threads: testdata/workloads/mutex.c, a lock convoy, so nearly every thread
// is blocked and runs between rounds, and each sample reads stat, syscall
// and schedstat (and a quarter of them wchan); and many_threads.c, an idle
// pool parked in pause(), whose threads do not run between rounds, so a
// sample is one schedstat read. Rounds come at the pace of a real run,
// threads/sampleBudgetPerS apart, so ns/op is mostly that pace: back to
// back, the convoy's threads would not run between rounds either, and the
// kernel's caches would stay warm. cpu-ns/thread-sample (this process's CPU
// time, rusage) is the cost the sampling budget (sampleBudgetPerS) is based
// on. Needs root (probetest.Live).
func BenchmarkRead(b *testing.B) {
	probetest.Live(b)
	for _, c := range []struct {
		name, workload string
		threads        int
	}{{"convoy", "mutex", 200}, {"convoy", "mutex", 1000}, {"idle", "many_threads", 200}} {
		bin := probetest.BuildC(b, c.workload, "-lpthread")
		b.Run(fmt.Sprintf("%s/threads=%d", c.name, c.threads), func(b *testing.B) {
			cmd := probetest.Start(b, bin, strconv.Itoa(c.threads-1)) // workers + main thread
			time.Sleep(500 * time.Millisecond)
			r := New(probe.Target{PID: cmd.Process.Pid}, probe.Options{}).(*reader)
			now := time.Now()
			r.Read(b.Context(), probe.Host{Root: "/", Now: now}) // opens the files
			before := r.samples
			b.ReportAllocs()
			cpu0 := cpuTime()
			b.ResetTimer()
			pace := time.Duration(float64(c.threads) / sampleBudgetPerS * float64(time.Second))
			for b.Loop() {
				time.Sleep(pace)
				now = now.Add(time.Second)
				r.Read(b.Context(), probe.Host{Root: "/", Now: now})
			}
			b.StopTimer()
			cpu := cpuTime() - cpu0
			n := r.samples - before
			if n == 0 {
				b.Fatal("no thread-samples")
			}
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/thread-sample")
			b.ReportMetric(float64(n)/float64(b.N), "threads/round")
			r.Finish()
		})
	}
}
