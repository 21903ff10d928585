package reactor

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultTrimWindow is PoolOptions.Window's zero value. A burst leaves up
// to max_concurrency idle instances (≈ 3 MiB each for a Go guest); those
// no call needed during a whole window are closed at its end, so the pool
// follows the recent concurrency down within two windows of a burst's
// end, while a steady load keeps what it uses.
const DefaultTrimWindow = 2 * time.Second

// DefaultKeepLast is PoolOptions.KeepLast's zero value: a tool with no
// call for this long closes its last idle instance too (≈ 3 MiB for a Go
// guest), and its next call restores a new one (≈ 1.4 ms).
const DefaultKeepLast = 30 * time.Second

// Timer is what Pool needs of a timer (*time.Timer has it).
type Timer interface{ Stop() bool }

// PoolOptions configures NewPool. A nil *PoolOptions means the zero value.
type PoolOptions struct {
	// Max is how many idle instances the pool keeps (the tool's
	// max_concurrency): putting one more closes the oldest. Zero or less
	// means 1.
	Max int
	// Shared bounds the idle instances of every pool that shares it
	// (the host-wide cap); nil means no bound beyond Max.
	Shared *Cap
	// WaitForReset makes Take wait, when no instance is idle and two or
	// more are being reset, for one of those rather than return none:
	// the caller would otherwise restore a new instance (≈ 1.4 ms for a
	// Go guest, against ≈ 0.1 ms for a reset). With one reset running (a
	// lone client's previous call), Take does not wait: the caller
	// restores a second instance once, and from then on a lone client's
	// calls alternate between two instances without waiting.
	WaitForReset bool
	// Window is the trim period: at the end of each, the instances that
	// stayed idle through all of it are closed, except the most recently
	// used one. Zero or less means DefaultTrimWindow.
	Window time.Duration
	// KeepLast is how long the most recently used instance is kept when
	// no call takes or returns an instance: after it, the pool is
	// emptied. It is counted in whole windows, at least one. Zero or less
	// means DefaultKeepLast.
	KeepLast time.Duration
	// AfterFunc schedules the trim; nil means time.AfterFunc. Tests pass
	// one that only records f, and call Trim themselves.
	AfterFunc func(d time.Duration, f func()) Timer
}

// Pool is a tool's idle reactor instances: instances that finished a call
// cleanly (and, under per-call isolation, were reset) wait here for the
// next call. Key says which calls may take one: "" for any, a principal's
// id under per-principal isolation.
//
// # Notes
//
//   - Safe for concurrent use. Every field below mu is guarded by mu
//     (returned waits on it); trimming is a WaitGroup of trims closing
//     instances outside mu, which Close waits for. No lock is held
//     across an instance's Close or a wait other than returned's.
type Pool[I Instance] struct {
	max       int
	shared    *Cap
	waitReset bool
	window    time.Duration
	keepLast  int // windows without a call before the last instance goes
	afterFunc func(time.Duration, func()) Timer

	mu   sync.Mutex
	idle []entry[I] // oldest first; Take takes the most recent match
	// lowWater is the fewest idle instances since the last trim: that
	// many were not needed by any call in the window.
	lowWater  int
	busy      bool // an instance was taken or put since the last trim
	quiet     int  // trims in a row with busy false
	resetting int  // instances between ResetStarted and ResetDone
	closed    bool // no more puts or trims
	timer     Timer
	returned  sync.Cond // signalled when a reset ends

	trimming sync.WaitGroup
}

type entry[I Instance] struct {
	in  I
	key string
}

// NewPool returns an empty pool.
func NewPool[I Instance](o *PoolOptions) *Pool[I] {
	if o == nil {
		o = &PoolOptions{}
	}
	p := &Pool[I]{max: max(o.Max, 1), shared: o.Shared, waitReset: o.WaitForReset, window: o.Window, afterFunc: o.AfterFunc}
	if p.window <= 0 {
		p.window = DefaultTrimWindow
	}
	keep := o.KeepLast
	if keep <= 0 {
		keep = DefaultKeepLast
	}
	p.keepLast = max(1, int((keep+p.window-1)/p.window))
	if p.afterFunc == nil {
		p.afterFunc = func(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
	}
	p.returned.L = &p.mu
	return p
}

// Take returns an idle instance put with key (the most recently put), or
// false when there is none.
func (p *Pool[I]) Take(key string) (in I, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.waitReset && len(p.idle) == 0 && p.resetting > 1 && !p.closed {
		p.returned.Wait()
	}
	for i := len(p.idle) - 1; i >= 0; i-- {
		if p.idle[i].key == key {
			in = p.idle[i].in
			p.idle = append(p.idle[:i], p.idle[i+1:]...)
			p.lowWater = min(p.lowWater, len(p.idle))
			p.busy = true
			p.shared.release(1)
			return in, true
		}
	}
	return in, false
}

// Put keeps in for calls with key. It closes, after unlocking, the oldest
// idle instance when that makes more than Max, or in itself when the pool
// is closed or the shared cap is reached.
func (p *Pool[I]) Put(ctx context.Context, in I, key string) {
	p.mu.Lock()
	closeIt, ok := p.putLocked(in, key)
	p.mu.Unlock()
	if ok {
		closeIt.Close(ctx)
	}
}

// putLocked adds in and returns the instance to close, if any.
func (p *Pool[I]) putLocked(in I, key string) (closeIt I, ok bool) {
	if p.closed || !p.shared.admit() {
		return in, true
	}
	p.idle = append(p.idle, entry[I]{in: in, key: key})
	p.busy = true
	if p.timer == nil {
		p.timer = p.afterFunc(p.window, p.Trim)
	}
	if len(p.idle) > p.max {
		closeIt, ok = p.idle[0].in, true
		p.idle[0] = entry[I]{}
		p.idle = p.idle[1:]
		p.lowWater = min(p.lowWater, len(p.idle))
		p.shared.release(1)
	}
	return closeIt, ok
}

// ResetStarted counts one instance being reset: until ResetDone, Take may
// wait for it (PoolOptions.WaitForReset).
func (p *Pool[I]) ResetStarted() {
	p.mu.Lock()
	p.resetting++
	p.mu.Unlock()
}

// ResetDone ends what ResetStarted began: with ok (the reset succeeded)
// in is put back for calls with key, else it is closed.
func (p *Pool[I]) ResetDone(ctx context.Context, in I, key string, ok bool) {
	p.mu.Lock()
	p.resetting--
	closeIt, closing := in, true
	if ok {
		closeIt, closing = p.putLocked(in, key)
	}
	p.returned.Broadcast()
	p.mu.Unlock()
	if closing {
		closeIt.Close(ctx)
	}
}

// Settle waits until no instance is being reset.
func (p *Pool[I]) Settle() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.resetting > 0 {
		p.returned.Wait()
	}
}

// Trim closes the instances that stayed idle through the whole window
// since the last Trim, keeping at least the most recently used one unless
// no call took or returned an instance for KeepLast, and schedules the
// next Trim while any is idle. The timer calls it; it picks the
// instances under mu and closes them after, and Close waits for it.
func (p *Pool[I]) Trim() {
	p.mu.Lock()
	p.timer = nil
	if p.closed {
		p.mu.Unlock()
		return
	}
	n := min(p.lowWater, len(p.idle)-1) // the oldest n were not needed in the window
	if p.busy {
		p.quiet = 0
	} else if p.quiet++; p.quiet >= p.keepLast {
		n = len(p.idle) // no call for KeepLast: the last one goes too
	}
	p.busy = false
	var expired []entry[I]
	if n > 0 {
		expired = append(expired, p.idle[:n]...)
		clear(p.idle[:n])
		p.idle = p.idle[n:]
		p.shared.release(n)
	}
	p.lowWater = len(p.idle)
	if len(p.idle) > 0 {
		p.timer = p.afterFunc(p.window, p.Trim)
	}
	p.trimming.Add(1)
	p.mu.Unlock()
	defer p.trimming.Done()
	for _, e := range expired {
		e.in.Close(context.Background())
	}
}

// Drain closes every idle instance.
func (p *Pool[I]) Drain(ctx context.Context) {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.lowWater = nil, 0
	p.shared.release(len(idle))
	p.mu.Unlock()
	for _, e := range idle {
		e.in.Close(ctx)
	}
}

// Close stops the trims, waits for the resets in progress (each closes
// its instance) and for a trim closing instances, and closes the idle
// instances. Later Puts close what they are given.
func (p *Pool[I]) Close(ctx context.Context) {
	p.mu.Lock()
	p.closed = true
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	p.returned.Broadcast() // a Take waiting for a reset returns
	p.mu.Unlock()
	p.Settle()
	p.trimming.Wait()
	p.Drain(ctx)
}

// Idle is how many instances the pool holds.
func (p *Pool[I]) Idle() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

// Cap bounds the idle instances kept across every pool sharing it: each
// tool keeps at most its max_concurrency, and together they keep at most
// Max (≈ 3 MiB each for a Go reactor), so many tools after a burst cannot
// hold the host's memory until their trims.
//
// # Notes
//
//   - Lock-free: n is atomic and Max is set before the Cap is shared.
//     A nil *Cap admits everything.
type Cap struct {
	Max int64
	n   atomic.Int64
}

// Len is how many idle instances the Cap counts now.
func (c *Cap) Len() int64 {
	if c == nil {
		return 0
	}
	return c.n.Load()
}

// admit counts one more idle instance, or reports false at the cap.
func (c *Cap) admit() bool {
	if c == nil {
		return true
	}
	if c.n.Add(1) > c.Max {
		c.n.Add(-1)
		return false
	}
	return true
}

func (c *Cap) release(k int) {
	if c != nil && k > 0 {
		c.n.Add(-int64(k))
	}
}

// Stats counts what a tool's reactor instances did.
//
// # Notes
//
//   - Lock-free: every field is atomic.
type Stats struct {
	resets atomic.Uint64
}

// Reset counts one reset in place.
func (s *Stats) Reset() { s.resets.Add(1) }

// Resets is how many resets in place were done.
func (s *Stats) Resets() uint64 { return s.resets.Load() }
