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
// is blocked and each sample reads stat, wchan, syscall and schedstat. The
// reading time advances a second per round so the rate limiter never skips
// one. cpu-ns/thread-sample (this process's CPU time, rusage) is the cost the sampling budget
// (sampleBudgetPerS) is based on. Needs root (probetest.Live).
func BenchmarkRead(b *testing.B) {
	probetest.Live(b)
	bin := probetest.BuildC(b, "mutex")
	for _, threads := range []int{200, 1000} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			cmd := probetest.Start(b, bin, strconv.Itoa(threads-1)) // workers + main thread
			time.Sleep(500 * time.Millisecond)
			r := New(probe.Target{PID: cmd.Process.Pid}, probe.Options{}).(*reader)
			now := time.Now()
			r.Read(probe.Host{Root: "/", Now: now}) // opens the files
			before := r.samples
			b.ReportAllocs()
			cpu0 := cpuTime()
			b.ResetTimer()
			for b.Loop() {
				now = now.Add(time.Second)
				r.Read(probe.Host{Root: "/", Now: now})
			}
			b.StopTimer()
			cpu := cpuTime() - cpu0
			n := r.samples - before
			if n == 0 {
				b.Fatal("no thread-samples")
			}
			// Wall time per thread-sample includes waiting for a CPU the
			// convoy also wants; CPU time is what diagnose costs.
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/thread-sample")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/thread-sample")
			b.ReportMetric(float64(n)/float64(b.N), "threads/round")
			r.Finish()
		})
	}
}
