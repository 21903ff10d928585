package sandbox

import (
	"context"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/moatmcp/moat/internal/bytesize"
	"github.com/moatmcp/moat/internal/procstat"
)

// TestMeasureRSS measures the process's resident memory around a burst of
// 8 concurrent membomb guests (each grows its memory to the limit): idle,
// the peak, right after, and 60 s later. It is a measurement, not a test:
// it runs only with MOAT_MEASURE_RSS=1 and asserts nothing. The numbers
// are in docs/performance.md.
//
//	MOAT_MEASURE_RSS=1 go test ./internal/sandbox -run TestMeasureRSS -v -count 1
//
// MOAT_MEASURE_NOTRIM=1 turns the trimmer off, to see what it saves;
// MOAT_MEASURE_LIMIT sets each guest's memory limit in MiB (default 192);
// MOAT_MEASURE_BUDGET the host's guest memory budget in MiB (default: the
// machine's default).
func TestMeasureRSS(t *testing.T) {
	if os.Getenv("MOAT_MEASURE_RSS") != "1" {
		t.Skip("a measurement: set MOAT_MEASURE_RSS=1")
	}
	limit := uint64(192)
	var err error
	if s := os.Getenv("MOAT_MEASURE_LIMIT"); s != "" {
		var n uint64
		n, err = strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		limit = n
	}
	var budgetMiB uint64
	if s := os.Getenv("MOAT_MEASURE_BUDGET"); s != "" {
		if budgetMiB, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatal(err)
		}
	}
	rt, err := New(context.Background(), &Options{NoCache: true, MaxGuestMemory: budgetMiB << 20})
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("MOAT_MEASURE_NOTRIM") == "1" {
		rt.budget.trimmer.growth = 1 << 62
	}
	defer rt.Close(context.Background())
	m, err := rt.Load(context.Background(), Spec{Name: "membomb", Wasm: guest(t, "lim_membomb.wasm"), Limits: Limits{MemoryBytes: limit << 20}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	_, budget := rt.InUse()

	idle := status(t, "VmRSS")
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil { // resets VmHWM
		t.Logf("cannot reset VmHWM (%v): the peak is the process's", err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	refused := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := m.Call(context.Background(), nil, nil); err != nil {
				mu.Lock()
				refused++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	peak, after := status(t, "VmHWM"), status(t, "VmRSS")
	time.Sleep(60 * time.Second) // the measurement itself: what is left a minute later
	later := status(t, "VmRSS")
	t.Logf("8 × membomb at %d MiB, budget %s (%d refused): idle %d MiB, peak %d MiB, right after %d MiB, 60 s later %d MiB",
		limit, bytesize.Format(budget), refused, idle>>10, peak>>10, after>>10, later>>10)
}

// status reads a "kB" field of /proc/self/status, in KiB.
func status(t *testing.T, field string) uint64 {
	n := procstat.Status(field)
	if n <= 0 {
		t.Fatalf("no %s in /proc/self/status", field)
	}
	return uint64(n >> 10)
}
