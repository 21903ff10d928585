//go:build !unix

package bench

import "time"

// processCPU is 0 where getrusage is not available: the CPU column then
// reads 0.
func processCPU() time.Duration { return 0 }
