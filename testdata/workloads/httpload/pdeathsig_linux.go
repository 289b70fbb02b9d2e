package main

import "syscall"

// setPdeathsig asks the kernel to SIGKILL this process when the thread that
// started it exits, so a workload never outlives the test that started it.
// Go threads never exit here, so setting it on the current one is enough.
func setPdeathsig() {
	syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGKILL), 0)
}
