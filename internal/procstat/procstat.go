// Package procstat reads what this process has used, for measurements
// only (moat bench, the manual memory measurements, benchmarks): CPU time
// from getrusage and the memory fields of /proc/self/status. Nothing on
// the call path uses it. Where a figure cannot be read (another OS), it
// is 0 and the measurement says 0.
package procstat

import (
	"os"
	"strconv"
	"strings"
)

// Status returns the "kB" field name (VmRSS, VmHWM, …) of
// /proc/self/status in bytes, or 0 when it cannot be read.
func Status(name string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	return field(string(b), name)
}

// field finds name's value, in bytes, in the text of a status file.
func field(status, name string) int64 {
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil || kb < 0 {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// RSS is the process's resident set size, in bytes (0 where unknown).
func RSS() int64 { return Status("VmRSS") }

// PeakRSS is the process's peak resident set size, in bytes (0 where
// unknown).
func PeakRSS() int64 { return Status("VmHWM") }
