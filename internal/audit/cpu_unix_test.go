//go:build unix

package audit

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user and system) the process has used: the
// benchmarks report it per record, which a busy machine changes less than
// the wall time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
