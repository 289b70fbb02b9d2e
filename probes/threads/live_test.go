package threads

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
	"github.com/diagnose-sh/diagnose/probes/probetest"
)

// sampleFor drives r like the sampler does: a reading every 10 ms for d.
func sampleFor(r probe.Reader, d time.Duration) (any, probe.Statuses) {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		r.Read(context.Background(), probe.Host{Root: "/", Now: time.Now()})
		time.Sleep(10 * time.Millisecond)
	}
	r.Read(context.Background(), probe.Host{Root: "/", Now: time.Now()})
	return probe.Complete(context.Background(), r, probe.Host{})
}

func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestLiveLargeProcess: 200 contending threads. The rate adapts to the
// thread count (at most 2000 thread-samples/s), files are kept open
// between rounds and closed at Finish, and the convoy is still seen.
func TestLiveLargeProcess(t *testing.T) {
	probetest.Live(t)
	bin := probetest.BuildC(t, "mutex")
	cmd := probetest.Start(t, bin, "200")
	time.Sleep(500 * time.Millisecond)
	before := openFDs(t)
	cpu0 := cpuTime()
	r := New(probe.Target{PID: cmd.Process.Pid}, probe.Options{})
	got, st := sampleFor(r, 1500*time.Millisecond)
	used := cpuTime() - cpu0
	if st[""].State != probe.OK {
		t.Fatalf("status %+v", st)
	}
	f := got.(Facts)
	t.Logf("threads=%d rounds=%d hz=%.1f lock=%.1f%% contending=%d wakeups/s=%.0f same-futex avg=%.1f; sampler CPU %v",
		f.Threads, f.Samples, f.SampleHz, f.LockPct, f.ContendingThreads, f.LockWakeupsPerS, f.SameFutexWaitersAvg, used)
	if f.Threads != 201 {
		t.Errorf("threads %d, want 201", f.Threads)
	}
	// 201 threads: one round every ~100 ms, not every 10 ms.
	if f.SampleHz > 12 || f.Samples < 5 {
		t.Errorf("sample rate %.1f Hz over %d rounds: not adapted to 201 threads", f.SampleHz, f.Samples)
	}
	if f.ContendingThreads < 2 || f.LockThreads < 100 {
		t.Errorf("convoy not seen: %+v", f)
	}
	if after := openFDs(t); after > before+5 {
		t.Errorf("%d fds open after Finish, %d before: files leaked", after, before)
	}
}

// TestLiveKeepsFilesOpen: rounds re-read the thread's descriptors instead
// of opening files again, and Finish closes them.
func TestLiveKeepsFilesOpen(t *testing.T) {
	probetest.Live(t)
	bin := probetest.BuildC(t, "sleeper")
	cmd := probetest.Start(t, bin)
	time.Sleep(200 * time.Millisecond)
	before := openFDs(t)
	r := New(probe.Target{PID: cmd.Process.Pid}, probe.Options{}).(*reader)
	now := time.Now()
	r.Read(t.Context(), probe.Host{Root: "/", Now: now})
	kept := openFDs(t) - before
	if r.files.Open() != 1 || kept < 3 {
		t.Fatalf("after one round: %d threads, %d descriptors kept", r.files.Open(), kept)
	}
	for range 8 { // enough rounds for the subsampled wchan reads
		now = now.Add(time.Second)
		r.Read(t.Context(), probe.Host{Root: "/", Now: now})
	}
	if got := openFDs(t) - before; got != kept && got != kept+1 { // +1: wchan, opened when first needed
		t.Errorf("%d descriptors after 9 rounds, %d after the first: files reopened", got, kept)
	}
	got, _ := probe.Complete(context.Background(), r, probe.Host{})
	if f := got.(Facts); f.IdlePct < 99 || len(f.TopWchans) == 0 || f.TopWchans[0].Name != "hrtimer_nanosleep" {
		t.Errorf("sleeper: %+v", f)
	}
	if n := openFDs(t) - before; n > 0 {
		t.Errorf("%d descriptors open after Finish", n)
	}
}

// TestLiveIdlePool: 200 threads parked in pause() do not run between
// rounds, so after the first round their samples are reused from
// schedstat alone, and the profile still says idle.
func TestLiveIdlePool(t *testing.T) {
	probetest.Live(t)
	bin := probetest.BuildC(t, "many_threads", "-lpthread")
	cmd := probetest.Start(t, bin, "200")
	time.Sleep(500 * time.Millisecond)
	r := New(probe.Target{PID: cmd.Process.Pid}, probe.Options{}).(*reader)
	got, st := sampleFor(r, time.Second)
	if st[""].State != probe.OK {
		t.Fatalf("status %+v", st)
	}
	f := got.(Facts)
	later := f.ThreadSamples - f.Threads // every sample after each thread's first
	t.Logf("threads=%d rounds=%d thread-samples=%d reused=%d idle=%.1f%%", f.Threads, f.Samples, f.ThreadSamples, r.reused, f.IdlePct)
	if f.Threads != 201 || f.Samples < 5 {
		t.Fatalf("threads %d, rounds %d", f.Threads, f.Samples)
	}
	if r.reused < later*9/10 {
		t.Errorf("reused %d of %d later thread-samples: parked threads were read again", r.reused, later)
	}
	if f.IdlePct < 95 || len(f.TopSyscalls) == 0 || f.TopSyscalls[0].Name != "pause" {
		t.Errorf("idle pool: %+v", f)
	}
}
