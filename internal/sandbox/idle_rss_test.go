package sandbox

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/moatmcp/moat/internal/sandbox/reactor"
)

// TestMeasureIdleTools measures what idle Go reactor tools hold: the
// process's RSS and Go heap per tool after loading n distinct copies of
// the Go reactor (each with its own digest, so nothing is shared but what
// is equal in their memories), after one call each (each keeps its reset
// instance), and per tool for n identical copies. It is a measurement, not
// a test: it runs only with MOAT_MEASURE_IDLE=1 and asserts nothing; run
// it twice with the same MOAT_MEASURE_CACHE (a compile cache folder) for
// the warm numbers; MOAT_MEASURE_QUIET=1 adds the idle size once the
// pools have closed their last instance. The numbers are in
// docs/performance.md.
//
//	MOAT_MEASURE_IDLE=1 MOAT_MEASURE_CACHE=/tmp/c go test ./internal/sandbox -run TestMeasureIdleTools -v -count 1
func TestMeasureIdleTools(t *testing.T) {
	if os.Getenv("MOAT_MEASURE_IDLE") != "1" {
		t.Skip("a measurement: set MOAT_MEASURE_IDLE=1")
	}
	const n = 20
	ctx := context.Background()
	wasm := goReactor(t)
	settle := func() (rss, heap int64) {
		time.Sleep(200 * time.Millisecond) // the resets run in the background: a measurement, not a test
		runtime.GC()
		debug.FreeOSMemory()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return int64(status(t, "VmRSS")) << 10, int64(ms.HeapAlloc) // status: rss_test.go
	}
	rss0, heap0 := settle()
	rt, err := New(ctx, &Options{CacheDir: os.Getenv("MOAT_MEASURE_CACHE"), NoCache: os.Getenv("MOAT_MEASURE_CACHE") == ""})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	start := time.Now()
	var mods []*Module
	for i := range n {
		name := fmt.Sprintf("idle-%d", i)
		sec := append(append([]byte{byte(len(name))}, name...), 0)
		distinct := append(append(append([]byte(nil), wasm...), 0, byte(len(sec))), sec...)
		m, err := rt.Load(ctx, Spec{Name: name, Wasm: distinct})
		if err != nil {
			t.Fatal(err)
		}
		mods = append(mods, m)
	}
	load := time.Since(start)
	rss1, heap1 := settle()
	for _, m := range mods {
		if res, err := m.Call(ctx, []byte("count"), nil); err != nil || res.Outcome != OutcomeOK {
			t.Fatalf("call: %v %v", res, err)
		}
	}
	rss2, heap2 := settle()
	rssB, heapB := rss2, heap2                  // before the identical copies
	if os.Getenv("MOAT_MEASURE_QUIET") == "1" { // wait out the last instance's keep (and a trim)
		time.Sleep(reactor.DefaultKeepLast + 2*reactor.DefaultTrimWindow)
		rssQ, heapQ := settle()
		t.Logf("idle after one call and %v without one: %d KiB RSS, %d KiB Go heap per tool", reactor.DefaultKeepLast+2*reactor.DefaultTrimWindow, (rssQ-rss0)/n>>10, (heapQ-heap0)/n>>10)
		rssB, heapB = rssQ, heapQ
	}
	for i := range n {
		m, err := rt.Load(ctx, Spec{Name: fmt.Sprintf("same-%d", i), Wasm: wasm})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close(ctx)
	}
	rss3, heap3 := settle()
	if f := os.Getenv("MOAT_MEASURE_HEAPPROFILE"); f != "" {
		out, err := os.Create(f)
		if err != nil {
			t.Fatal(err)
		}
		defer out.Close()
		if err := pprof.WriteHeapProfile(out); err != nil {
			t.Fatal(err)
		}
	}
	kib := func(d int64) int64 { return d / n >> 10 }
	t.Logf("load of %d distinct Go reactors: %v", n, load)
	t.Logf("idle, never called: %d KiB RSS, %d KiB Go heap per tool", kib(rss1-rss0), kib(heap1-heap0))
	t.Logf("idle after one call: %d KiB RSS, %d KiB Go heap per tool", kib(rss2-rss0), kib(heap2-heap0))
	t.Logf("identical copies, never called: %d KiB RSS, %d KiB Go heap per tool", kib(rss3-rssB), kib(heap3-heapB))
}
