package procstat

import (
	"runtime"
	"testing"
)

// TestField reads kB fields as /proc/self/status writes them, and 0 for
// what is missing or malformed.
func TestField(t *testing.T) {
	const status = "Name:\tmoat\nVmHWM:\t  104000 kB\nVmRSS:\t   47104 kB\nVmBad:\tlots kB\nVmNeg:\t-5 kB\n"
	for _, c := range []struct {
		name string
		want int64
	}{
		{"VmHWM", 104000 << 10},
		{"VmRSS", 47104 << 10},
		{"VmSwap", 0},
		{"VmBad", 0},
		{"VmNeg", 0},
		{"Vm", 0},
		{"Name", 0},
	} {
		if got := field(status, c.name); got != c.want {
			t.Errorf("field(%s) = %d, want %d", c.name, got, c.want)
		}
	}
}

// TestLive: on Linux the live figures are there and consistent.
func TestLive(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc/self/status is Linux's")
	}
	if rss, peak := RSS(), PeakRSS(); rss <= 0 || peak < rss {
		t.Errorf("RSS %d, peak %d: want 0 < RSS <= peak", rss, peak)
	}
	if CPU() <= 0 {
		t.Error("CPU() = 0 in a running process")
	}
}
