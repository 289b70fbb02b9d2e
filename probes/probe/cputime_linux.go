package probe

import (
	"runtime"
	"syscall"
	"time"
)

// rusageThread is RUSAGE_THREAD (getrusage(2)): the calling thread alone.
const rusageThread = 1

// CPUMeter measures the CPU a piece of work costs on the calling
// goroutine's OS thread, which it holds for the measurement: unlike wall
// time, that does not grow when other work holds the CPUs, so a probe that
// paces itself by its cost does not slow its readings down under load.
type CPUMeter struct{ start time.Duration }

// StartCPU locks the goroutine to its thread and starts measuring.
func StartCPU() CPUMeter {
	runtime.LockOSThread()
	return CPUMeter{threadCPU()}
}

// Elapsed is the thread's CPU time since StartCPU.
func (m CPUMeter) Elapsed() time.Duration { return threadCPU() - m.start }

// Stop releases the thread.
func (m CPUMeter) Stop() { runtime.UnlockOSThread() }

func threadCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(rusageThread, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
