package sandbox

import (
	"crypto/rand"
	mrand "math/rand"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero/experimental"
)

// memoryAllocator backs one instance's linear memory and refuses to grow
// it past limit. It replaces wazero's per-runtime WithMemoryLimitPages so
// that one runtime can serve modules with different limits, and it
// records whether the guest ran into the limit (for OutcomeMemory).
//
// # Notes
//
//   - The first allocation (the module's declared minimum) always
//     succeeds: wazero panics if it fails, and Load refuses modules whose
//     minimum is over their limit.
type memoryAllocator struct {
	limit uint64 // bytes, a whole number of pages

	// pool, when set, holds zeroed buffers from finished calls of the
	// same module: reusing one skips the allocation, and the page faults
	// of fresh memory, which on this kind of VM cost more than a small
	// guest's whole run (see recycle).
	pool *memPool
	// data is written into the memory when it is first allocated: a
	// command's data segments, taken out of its module (commandData).
	data []dataSeg
	mem  *linearMemory // the memory Allocate made
	// trim, when set, is told of every new buffer, so that memory is
	// returned to the OS after a burst (budget.go).
	trim *trimmer

	refused atomic.Bool   // a grow past limit was refused
	atMax   atomic.Bool   // the memory grew to wazero's max (the module's own declared max)
	size    atomic.Uint64 // current length, for tests and the log
}

var _ experimental.MemoryAllocator = (*memoryAllocator)(nil)

// Allocate implements experimental.MemoryAllocator.
func (a *memoryAllocator) Allocate(capacity, max uint64) experimental.LinearMemory {
	a.mem = &linearMemory{a: a, max: max, capacity: capacity}
	return a.mem
}

// memPool is a module's pool of zeroed memories. All have capacity cap:
// the largest any call of the module has needed (up to maxPooled), so
// that a guest which grows its memory as it runs (AssemblyScript's and
// wasi-libc's allocators do) grows within the buffer instead of copying.
type memPool struct {
	pool sync.Pool
	cap  atomic.Uint64
}

// maxPooled bounds the memories kept for reuse: a bigger one is left to
// the garbage collector.
const maxPooled = 8 << 20

// recycle returns the instance's memory to the pool, zeroed. Call it only
// once the guest can no longer run: after InstantiateModule (or the
// function call) has returned, never from Free, which wazero calls when a
// call's context ends while the guest may still be running until its next
// check.
func (a *memoryAllocator) recycle() {
	if a.pool == nil || a.mem == nil || a.mem.buf == nil {
		return
	}
	b := a.mem.buf
	a.mem.buf = nil
	c := uint64(cap(b))
	if c > maxPooled {
		return
	}
	if pc := a.pool.cap.Load(); c > pc {
		a.pool.cap.CompareAndSwap(pc, c)
	}
	if c != a.pool.cap.Load() {
		return
	}
	clear(b) // up to len: past it the guest could not write, and it is still zero
	b = b[:0]
	a.pool.pool.Put(&b)
}

// writeData writes the data segments into a new memory (Load checked
// that they fit in the declared minimum, the size of the first
// allocation).
func (a *memoryAllocator) writeData(buf []byte) {
	for _, d := range a.data {
		copy(buf[d.off:], d.data)
	}
}

type linearMemory struct {
	a        *memoryAllocator
	buf      []byte
	max      uint64 // from the module (or wazero's 4 GiB)
	capacity uint64 // wazero's suggested initial capacity
	started  bool
}

// Reallocate implements experimental.LinearMemory. Like wazero's own
// memory, it grows by copying into a larger slice, doubling capacity (up
// to the limit) so that page-by-page growth stays linear.
func (m *linearMemory) Reallocate(size uint64) []byte {
	a := m.a
	if !m.started {
		m.started = true
		c := min(max(m.capacity, size), max(a.limit, size))
		if a.pool != nil {
			pc := a.pool.cap.Load()
			if b, ok := a.pool.pool.Get().(*[]byte); ok && uint64(cap(*b)) == pc && size <= pc {
				m.buf = (*b)[:size]
				m.a.size.Store(size)
				a.writeData(m.buf)
				return m.buf
			}
			c = min(max(c, pc), max(a.limit, size)) // poolable, and room to grow as earlier calls did
		}
		m.buf = make([]byte, size, c)
		a.noteAlloc(c)
		m.a.size.Store(size)
		a.writeData(m.buf)
		return m.buf
	}
	if size > a.limit {
		a.refused.Store(true)
		return nil
	}
	if size <= uint64(cap(m.buf)) {
		m.buf = m.buf[:size] // memory only grows: the tail was never written and is zero
	} else {
		c := min(max(2*uint64(cap(m.buf)), size), a.limit)
		grown := make([]byte, size, c)
		a.noteAlloc(c)
		copy(grown, m.buf)
		m.buf = grown
	}
	m.note(size)
	return m.buf
}

func (m *linearMemory) note(size uint64) {
	m.a.size.Store(size)
	if size >= m.max {
		m.a.atMax.Store(true)
	}
}

// noteAlloc tells the trimmer of a new buffer of c bytes.
func (a *memoryAllocator) noteAlloc(c uint64) {
	if a.trim != nil {
		a.trim.allocated(c)
	}
}

// Free implements experimental.LinearMemory. The buffer is kept: see
// recycle.
func (m *linearMemory) Free() {}

// exhausted reports whether the guest ran out of memory: a grow was
// refused at the limit, or the memory reached the module's own max.
func (a *memoryAllocator) exhausted() bool {
	return a != nil && (a.refused.Load() || a.atMax.Load())
}

// fakeRand is the deterministic randomness of a reactor instance without
// the random grant: wazero's own fake source (math/rand seeded with 42),
// restartable so that a reset instance draws what a new one would.
type fakeRand struct{ r *mrand.Rand }

func (f *fakeRand) Read(p []byte) (int, error) {
	if f.r == nil {
		f.r = mrand.New(mrand.NewSource(42))
	}
	return f.r.Read(p)
}

// restart makes the next Read start the sequence again.
func (f *fakeRand) restart() { f.r = nil }

// cryptoRand is the granted randomness source.
type cryptoRand struct{}

func (cryptoRand) Read(p []byte) (int, error) { return rand.Read(p) }
