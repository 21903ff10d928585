package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moatmcp/moat/internal/bytesize"
)

// ErrHostMemoryBudget is returned by Module.Call when the calls in flight
// across every module of the Runtime hold so much guest memory that this
// call's would not fit in Options.MaxGuestMemory, and none ended within
// the short wait (memBudget.wait, or the call's context, whichever is first).
// The host answers it as a tool error: "the host is out of guest memory;
// retry later".
var ErrHostMemoryBudget = errors.New("the host is out of guest memory; retry later")

// Host-wide guest memory: the default budget and how it is found.
const (
	// fallbackGuestMemory is the budget when the machine's memory cannot
	// be read (not Linux, no /proc).
	fallbackGuestMemory = 2 << 30
	// maxDefaultGuestMemory caps the default budget: on a big machine the
	// other half of memory is not the only thing that needs some, and an
	// operator who wants more says so.
	maxDefaultGuestMemory = 64 << 30
)

// defaultBudgetWait bounds how long a call waits for guest memory to free
// before it is refused (memBudget.wait): long enough to ride out the end
// of a burst, short enough that a client is told to retry rather than left
// hanging; the call's context and timeout bound it too.
const defaultBudgetWait = time.Second

// DefaultMaxGuestMemory is the budget a zero Options.MaxGuestMemory means:
// half of the memory available to this process — the smaller of the
// machine's MemTotal (/proc/meminfo) and its cgroup's memory.max (a
// container's own limit) — at most 64 GiB; 2 GiB when neither can be
// read. Half, because the rest is the Go heap, compiled code, the page
// cache and whatever else runs on the machine: guest memory is the only
// part a client can make grow on demand, so it is the part to bound.
func DefaultMaxGuestMemory() uint64 {
	avail := readMemTotal("/proc/meminfo")
	if cg := readCgroupMax("/sys/fs/cgroup/memory.max"); cg > 0 && (avail == 0 || cg < avail) {
		avail = cg
	}
	if avail == 0 {
		return fallbackGuestMemory
	}
	return min(avail/2, maxDefaultGuestMemory) &^ (1<<20 - 1) // whole MiB, for the messages
}

// readMemTotal returns MemTotal from a /proc/meminfo file, in bytes, or 0.
func readMemTotal(path string) uint64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil || kb > 1<<50 {
			return 0
		}
		return kb << 10
	}
	return 0
}

// readCgroupMax returns a cgroup v2 memory.max in bytes, or 0 for "max",
// a missing file or anything unreadable.
func readCgroupMax(path string) uint64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// memBudget is the Runtime's guest memory budget: each call in flight
// holds its module's whole memory limit (Limits.MemoryBytes) from before
// its instance exists until it has ended.
//
// Why the declared limit, not what the guest actually grows to: a
// reservation made before the call starts can be refused cleanly (the
// call never runs, the client is told to retry), and once granted it can
// never be exceeded, because the allocator already stops the guest at
// its limit. Accounting actual growth would instead fail guests in the
// middle of their work, at a point that depends on what other calls
// happen to be doing — an out-of-memory that is not the tool's fault and
// that no test could pin down. The price is that a tool which declares
// far more memory than it uses holds budget it does not need: declare
// limits close to need.
//
// # Notes
//
//   - Safe for concurrent use.
//   - Memory between calls is not counted: a module's pooled command
//     memories (at most 8 MiB each, dropped by the trimmer) and idle
//     reactor instances (at most limits.max_concurrency per module and
//     Options.MaxIdleInstances in all, trimmed to what the calls need
//     within two reactor.DefaultTrimWindow of a burst's end, the last
//     one after reactor.DefaultKeepLast without a call).
type memBudget struct {
	max uint64

	mu      sync.Mutex
	used    uint64
	calls   int           // calls holding memory
	freed   chan struct{} // closed (and replaced) when memory is released while waiting is set
	waiting bool          // a call waits on freed: release must wake it
	busyFn  func() bool   // b.busy, made once (a method value allocates)
	onWait  func()        // tests: called when a call starts to wait
	trimmer *trimmer
	// wait bounds a call's wait for memory (defaultBudgetWait); tests of
	// this package change it before any call starts.
	wait time.Duration
}

func newMemBudget(max uint64) *memBudget {
	b := &memBudget{max: max, freed: make(chan struct{}), trimmer: newTrimmer(), wait: defaultBudgetWait}
	b.busyFn = b.busy
	return b
}

// acquire reserves n bytes, waiting up to wait (and no longer than ctx)
// for calls in flight to release enough. The error wraps
// ErrHostMemoryBudget; a request larger than the whole budget fails at
// once (Load refuses such modules, so this is a safety net).
func (b *memBudget) acquire(ctx context.Context, n uint64, wait time.Duration) error {
	if n > b.max {
		return fmt.Errorf("%w: a call needs %s, the whole budget is %s", ErrHostMemoryBudget, bytesize.Format(n), bytesize.Format(b.max))
	}
	var timer *time.Timer
	for {
		b.mu.Lock()
		if b.used+n <= b.max {
			b.used += n
			b.calls++
			b.mu.Unlock()
			if timer != nil {
				timer.Stop()
			}
			return nil
		}
		freed, used, onWait := b.freed, b.used, b.onWait
		b.waiting = true
		b.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(wait)
			defer timer.Stop()
			if onWait != nil {
				onWait()
			}
		}
		select {
		case <-freed:
		case <-timer.C:
			return fmt.Errorf("%w: %s of %s held by calls in flight, %s more needed", ErrHostMemoryBudget, bytesize.Format(used), bytesize.Format(b.max), bytesize.Format(n))
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrHostMemoryBudget, context.Cause(ctx))
		}
	}
}

// release returns n bytes and wakes the calls waiting for memory. When
// the last call in flight ends, the trimmer may return memory to the OS.
func (b *memBudget) release(n uint64) {
	b.mu.Lock()
	b.used -= n
	b.calls--
	if b.waiting { // a new channel only when someone waits on this one
		close(b.freed)
		b.freed = make(chan struct{})
		b.waiting = false
	}
	idle := b.calls == 0
	b.mu.Unlock()
	if idle {
		b.trimmer.idle(b.busyFn)
	}
}

// busy reports whether any call holds memory.
func (b *memBudget) busy() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls > 0
}

// InUse returns the guest memory held by calls in flight, and the budget.
func (r *Runtime) InUse() (used, max uint64) {
	r.budget.mu.Lock()
	defer r.budget.mu.Unlock()
	return r.budget.used, r.budget.max
}

// Trimming: after a burst of calls, the memories they used are garbage
// (or in a module's pool), and the Go runtime would hand them back to the
// OS only slowly, so the process stayed at its peak RSS long after. Once
// no call has been running for trimQuiet, the trimmer runs two garbage
// collections (the first moves sync.Pool contents to the victim cache,
// the second drops them: the pooled memories go) and debug.FreeOSMemory
// returns the freed pages to the OS. It runs at most once per trimEvery:
// a full collection costs milliseconds of CPU, and a server that goes
// idle between every call must not pay that each time.
var (
	trimQuiet = 500 * time.Millisecond
	trimEvery = 10 * time.Second
)

// defaultTrimGrowth is how much guest memory must have been allocated
// since the last trim for the next to be worth it (trimmer.growth).
const defaultTrimGrowth uint64 = 64 << 20

type trimmer struct {
	mu      sync.Mutex
	pending *time.Timer
	last    time.Time
	trims   int    // done, for tests
	onTrim  func() // tests: called after a trim
	grown   uint64
	growth  uint64 // defaultTrimGrowth; the measurement in rss_test.go raises it
}

func newTrimmer() *trimmer { return &trimmer{growth: defaultTrimGrowth} }

// allocated records n bytes of new guest memory (not from a pool).
func (t *trimmer) allocated(n uint64) {
	t.mu.Lock()
	t.grown += n
	t.mu.Unlock()
}

// idle is called when the last call in flight ended; busy says whether
// calls started again since.
func (t *trimmer) idle(busy func() bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pending != nil || t.grown < t.growth {
		return
	}
	delay := trimQuiet
	if next := time.Until(t.last.Add(trimEvery)); next > delay {
		delay = next
	}
	t.pending = time.AfterFunc(delay, func() {
		t.mu.Lock()
		t.pending = nil
		if busy() {
			t.mu.Unlock()
			return // the next idle schedules it again
		}
		t.grown, t.last = 0, time.Now()
		t.trims++
		onTrim := t.onTrim
		t.mu.Unlock()
		runtime.GC()
		debug.FreeOSMemory()
		if onTrim != nil {
			onTrim()
		}
	})
}

// stop cancels a pending trim (Runtime.Close).
func (t *trimmer) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pending != nil {
		t.pending.Stop()
		t.pending = nil
	}
}
