//go:build unix

package pack

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time (user and system) this process has used: unlike
// the wall time, it does not grow when other processes share the cores.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
