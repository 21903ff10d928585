//go:build !unix

package procstat

import "time"

// CPU is 0 where getrusage is not available.
func CPU() time.Duration { return 0 }
