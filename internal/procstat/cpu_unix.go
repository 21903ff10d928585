//go:build unix

package procstat

import (
	"syscall"
	"time"
)

// CPU is the CPU time (user and system) this process has used: a busy,
// shared machine changes it less than wall time.
func CPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
