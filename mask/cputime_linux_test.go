package mask_test

import (
	"runtime"
	"syscall"
	"time"
)

// threadCPU returns the CPU time the calling thread has used, and a function that
// unlocks it from its OS thread: on a machine shared with other work, CPU time measures
// the code, wall time the neighbours.
func threadCPU() (time.Duration, func()) {
	runtime.LockOSThread()
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0, runtime.UnlockOSThread
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), runtime.UnlockOSThread
}
