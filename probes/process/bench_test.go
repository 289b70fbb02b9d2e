package process

import (
	"fmt"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
	"github.com/diagnose-sh/diagnose/probes/probetest"
)

// BenchmarkRead: one reading of a live process with many threads
// (testdata/workloads/mutex.c): /proc/PID/{stat,status,cmdline,io,fd} and
// every thread's stat, status and schedstat. The reading time advances a
// second per reading so none is skipped. cpu-ns/thread is this process's CPU
// time (rusage) per thread read. Needs root (probetest.Live).
func BenchmarkRead(b *testing.B) {
	probetest.Live(b)
	bin := probetest.BuildC(b, "mutex")
	for _, threads := range []int{16, 200} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			cmd := probetest.Start(b, bin, strconv.Itoa(threads-1))
			time.Sleep(500 * time.Millisecond)
			r := New(probe.Target{PID: cmd.Process.Pid}, probe.Options{})
			now := time.Now()
			r.Read(b.Context(), probe.Host{Root: "/", Now: now})
			b.ReportAllocs()
			cpu0 := cpuTime()
			b.ResetTimer()
			for b.Loop() {
				now = now.Add(time.Second)
				r.Read(b.Context(), probe.Host{Root: "/", Now: now})
			}
			b.StopTimer()
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N*threads), "cpu-ns/thread")
			if _, st := r.Finish(); st[""].State != probe.OK {
				b.Fatalf("status %+v", st[""])
			}
		})
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
