package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/moatmcp/moat/internal/rootfs"
	"github.com/moatmcp/moat/internal/telemetry"
)

// A reactor module (it exports moat_call and no _start) is initialised
// once, at Load: its _initialize runs in a template instance (for a Go
// guest, the runtime's start-up and the package inits, ≈ 4.5 ms), then
// the template's linear memory and globals are copied — the Wizer idea,
// done at load instead of at build. Each call instantiates the module
// afresh without start functions, restores the copy and calls moat_call,
// so a call pays for instantiation and a memory copy instead of the Go
// runtime's start-up, and still starts from exactly the same state as
// every other call.
//
// What a snapshot cannot capture, and why it does not matter here:
//   - Host-side WASI state (open files, the args and environment) is
//     rebuilt per instance from the same ModuleConfig; the guest's copy of
//     args and environment is in the snapshot and identical.
//   - Tables are re-initialised from element segments; a guest that
//     changes its table during _initialize would see the original table
//     (Go and clang never do).
//   - Randomness drawn during _initialize (Go's runtime seeds its map
//     hashes and math/rand/v2's global source from it) is the same in
//     every call of a process. crypto/rand draws afresh on each call.
//   - The fake clock continues from where the template left it, so the
//     guest's monotonic clock never goes backwards.

// snapshot is a reactor's initialised state.
type snapshot struct {
	pages   uint32    // memory size
	runs    []memRun  // where the initialised memory differs from a fresh instance's
	globals []global  // mutable globals' values
	nanos   int64     // the fake monotonic clock after _initialize
	bytes   int       // sum of the runs' lengths, for the log and bench
	iso     Isolation // which calls may share an instance
	recycle int       // calls per reused instance

	// reset says per-call instances are reset in place (reset.go) from
	// image, the whole initialised memory as runs over zero;
	// resetBlocker says why not when they are not.
	reset        bool
	image        []memRun
	resetBlocker string
	fdCheck      bool          // compare the descriptor table after each call (mounts)
	resets       atomic.Uint64 // resets done
	resetting    int           // instances being reset (under mu)
	closed       bool          // under mu: no more trims
	trimTimer    *time.Timer   // under mu: pending trim, if any
	returned     sync.Cond     // signalled (with mu) when a reset ends

	mu   sync.Mutex
	idle []*instance // reusable instances, oldest first (shared modes only)
	// trimming counts trims closing the instances they took out of idle.
	trimming sync.WaitGroup
	// pool counts idle instances across the runtime (nil: no host-wide cap).
	pool *idlePool
}

type memRun struct {
	off  uint32
	data []byte
}

type global struct {
	name string
	val  uint64
}

// instance is one restored reactor instance. One call at a time uses it.
type instance struct {
	mod       api.Module
	call      api.Function
	alloc     *memoryAllocator
	io        *callIO
	fds       fdTable             // the descriptor table after instantiation (snapshot.fdCheck)
	idleSince time.Time           // when it went back to the pool
	clock     *fakeClock          // nil with the real clock
	wall      *fakeWall           // nil with the real clock
	rand      *fakeRand           // nil with real randomness
	globals   []api.MutableGlobal // s.globals' handles, for a reset
	key       string              // pool key of the calls it served
	calls     int
}

// snapshotChunk is the granularity at which the snapshot is compared with
// a fresh instance's memory: small enough that unchanged data segments
// are not copied again, large enough to keep the run list short.
const snapshotChunk = 4 << 10

// takeSnapshot runs the reactor's _initialize in a template instance and
// records what it changed. It runs at Load, under the module's limits.
func (m *Module) takeSnapshot(ctx context.Context, shape reactorShape, iso Isolation, recycle int, reset bool) (*snapshot, error) {
	if recycle <= 0 {
		recycle = DefaultRecycleAfter
	}
	ctx, cancel := context.WithTimeoutCause(ctx, m.limits.Timeout, errTimeout)
	defer cancel()

	// The template: _initialize with output discarded.
	clock := &fakeClock{}
	cfg := m.config.WithStartFunctions()
	if m.sleeps {
		cfg = cfg.WithNanosleep(func(ns int64) { sleep(ctx, ns) })
	} else {
		cfg = cfg.WithNanotime(clock.nanotime, 1)
	}
	tmplCtx := experimental.WithMemoryAllocator(ctx, &memoryAllocator{limit: m.limits.MemoryBytes})
	tmplCtx = withCall(tmplCtx, nil)
	tmpl, err := m.rt.rt.InstantiateModule(tmplCtx, m.compiled, cfg)
	if err != nil {
		return nil, fmt.Errorf("instantiate: %w", err)
	}
	defer tmpl.Close(context.WithoutCancel(ctx))
	if shape.data != nil { // the data section was removed: apply it here
		mem := tmpl.Memory()
		for _, d := range shape.data {
			if mem == nil || !mem.Write(d.off, d.data) {
				return nil, fmt.Errorf("data segment at %d (%d bytes) is outside memory", d.off, len(d.data))
			}
		}
	}
	if init := tmpl.ExportedFunction(reactorInit); init != nil {
		if _, err := init.Call(tmplCtx); err != nil {
			if context.Cause(ctx) == errTimeout {
				return nil, fmt.Errorf("%s: initialisation did not finish within the timeout (%v)", reactorInit, m.limits.Timeout)
			}
			return nil, fmt.Errorf("%s: %w", reactorInit, err)
		}
	}

	// What a restored instance starts from: zero memory without a data
	// section, else a fresh instance's.
	var before []byte
	if shape.data == nil {
		fresh, err := m.rt.rt.InstantiateModule(experimental.WithMemoryAllocator(ctx, &memoryAllocator{limit: m.limits.MemoryBytes}),
			m.compiled, m.config.WithStartFunctions())
		if err != nil {
			return nil, fmt.Errorf("instantiate: %w", err)
		}
		defer fresh.Close(context.WithoutCancel(ctx))
		if fm := fresh.Memory(); fm != nil {
			before, _ = fm.Read(0, fm.Size())
		}
	}

	s := &snapshot{iso: iso, recycle: recycle, nanos: clock.t.Load(), reset: reset, pool: &m.rt.idle}
	s.returned.L = &s.mu
	if reset && len(m.mounts) > 0 {
		if _, ok := readFDs(tmpl); ok {
			s.fdCheck = true
		} else {
			s.reset, s.resetBlocker = false, "it has mounts, and wazero's descriptor table could not be read to check them"
		}
	}
	for _, name := range shape.globals {
		g, ok := tmpl.ExportedGlobal(name).(api.MutableGlobal)
		if !ok {
			continue // immutable: a fresh instance has the same value
		}
		s.globals = append(s.globals, global{name: name, val: g.Get()})
	}
	mem := tmpl.Memory()
	if mem == nil {
		return s, nil
	}
	size := mem.Size()
	s.pages = size / pageSize
	after, _ := mem.Read(0, size)
	for off := 0; off < len(after); off += snapshotChunk {
		end := min(off+snapshotChunk, len(after))
		var was []byte
		if off < len(before) {
			was = before[off:min(end, len(before))]
		}
		now := after[off:end]
		if bytes.Equal(now, was) || (len(was) == 0 && allZero(now)) {
			continue
		}
		if n := len(s.runs); n > 0 && int(s.runs[n-1].off)+len(s.runs[n-1].data) == off {
			s.runs[n-1].data = append(s.runs[n-1].data, now...)
		} else {
			s.runs = append(s.runs, memRun{off: uint32(off), data: append([]byte(nil), now...)})
		}
		s.bytes += len(now)
	}
	s.runs = m.rt.images.intern(s.runs)
	s.image = s.runs
	if reset && before != nil { // the runs are relative to the data segments: the image is relative to zero
		s.image = m.rt.images.intern(nonZeroRuns(after))
	}
	return s, nil
}

// nonZeroRuns returns the snapshotChunk-aligned runs of b that are not all
// zero.
func nonZeroRuns(b []byte) []memRun {
	var runs []memRun
	for off := 0; off < len(b); off += snapshotChunk {
		now := b[off:min(off+snapshotChunk, len(b))]
		if allZero(now) {
			continue
		}
		if n := len(runs); n > 0 && int(runs[n-1].off)+len(runs[n-1].data) == off {
			runs[n-1].data = append(runs[n-1].data, now...)
		} else {
			runs = append(runs, memRun{off: uint32(off), data: append([]byte(nil), now...)})
		}
	}
	return runs
}

// resetInPlace puts in back into the snapshot's state, reporting false
// when it cannot (see reset.go): in must then be discarded.
func (s *snapshot) resetInPlace(in *instance) bool {
	if in.mod.IsClosed() {
		return false
	}
	if s.fdCheck {
		if now, ok := readFDs(in.mod); !ok || len(in.fds.fds) == 0 || !now.equal(in.fds) {
			return false
		}
	}
	if mem := in.mod.Memory(); mem != nil {
		size := uint64(mem.Size())
		if size != uint64(s.pages)*pageSize {
			return false
		}
		buf, ok := mem.Read(0, uint32(size))
		if !ok {
			return false
		}
		off := 0
		for _, r := range s.image {
			clear(buf[off:r.off])
			off = int(r.off) + copy(buf[r.off:], r.data)
		}
		clear(buf[off:])
	} else if s.pages != 0 {
		return false
	}
	for i, g := range s.globals {
		in.globals[i].Set(g.val)
	}
	if in.clock != nil {
		in.clock.t.Store(s.nanos)
		in.wall.restart()
	}
	if in.rand != nil {
		in.rand.restart()
	}
	s.resets.Add(1)
	return true
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// SnapshotBytes is the size of the memory a reactor module's calls
// restore (0 for command modules): the host memory an idle reactor tool
// holds beyond its compiled code.
func (m *Module) SnapshotBytes() int {
	if m.snap == nil {
		return 0
	}
	return m.snap.bytes
}

// Isolation is the module's isolation mode (IsolationPerCall for command
// modules).
func (m *Module) Isolation() Isolation {
	if m.snap == nil {
		return IsolationPerCall
	}
	return m.snap.iso
}

// restore instantiates the module without start functions and puts the
// snapshot in it.
func (m *Module) restore(ctx context.Context) (*instance, error) {
	s := m.snap
	in := &instance{alloc: &memoryAllocator{limit: m.limits.MemoryBytes, trim: m.rt.budget.trimmer}, io: &callIO{}}
	cfg := m.config.WithStartFunctions().WithStdin(in.io).WithStdout(stdoutOf{in.io}).WithStderr(stderrOf{in.io})
	if len(m.mounts) > 0 {
		// The instance may serve several calls in turn: each open is
		// recorded on the receipt of the call running then.
		cfg = cfg.WithFSConfig(m.fsConfigFor(func() *rootfs.Recorder { return filesOf(in.io.context()) }))
	}
	if m.sleeps {
		cfg = cfg.WithNanosleep(func(ns int64) { sleep(in.io.context(), ns) })
	} else {
		in.clock = &fakeClock{}
		in.clock.t.Store(s.nanos)
		in.wall = newFakeWall()
		cfg = cfg.WithNanotime(in.clock.nanotime, 1).WithWalltime(in.wall.walltime, sys.ClockResolution(time.Microsecond))
	}
	if !m.realRandom {
		in.rand = &fakeRand{}
		cfg = cfg.WithRandSource(in.rand)
	}
	alloc := sizedAllocator{a: in.alloc, capacity: uint64(s.pages) * pageSize}
	mod, err := m.rt.rt.InstantiateModule(experimental.WithMemoryAllocator(ctx, alloc), m.compiled, cfg)
	if err != nil {
		return nil, err
	}
	in.mod = mod
	if mem := mod.Memory(); mem != nil {
		if have := mem.Size() / pageSize; have < s.pages {
			if _, ok := mem.Grow(s.pages - have); !ok {
				mod.Close(context.WithoutCancel(ctx))
				return nil, errors.New("restore snapshot: memory did not grow")
			}
		}
		for _, r := range s.runs {
			if !mem.Write(r.off, r.data) {
				mod.Close(context.WithoutCancel(ctx))
				return nil, errors.New("restore snapshot: write outside memory")
			}
		}
	}
	in.globals = make([]api.MutableGlobal, len(s.globals))
	for i, g := range s.globals {
		in.globals[i] = mod.ExportedGlobal(g.name).(api.MutableGlobal)
		in.globals[i].Set(g.val)
	}
	in.call = mod.ExportedFunction(ReactorExport)
	if s.fdCheck {
		in.fds, _ = readFDs(mod) // a failed read leaves it empty: never equal, never reset
	}
	return in, nil
}

// resetLater resets in in place and returns it to the pool, on another
// goroutine: the call's result goes back to the client while the reset
// runs (≈ 0.1 ms for a Go guest). Until it is back, take may wait for it
// rather than restore a new instance (≈ 1.4 ms).
func (m *Module) resetLater(in *instance) {
	s := m.snap
	s.mu.Lock()
	s.resetting++
	s.mu.Unlock()
	m.calls.Add(1) // Close waits for it (the caller's call is counted, so the count is above zero)
	go func() {
		defer m.calls.Done()
		ok := s.resetInPlace(in) && m.stopCtx.Err() == nil
		discard := in
		s.mu.Lock()
		s.resetting--
		if ok {
			discard = s.putLocked(in, m.limits.MaxConcurrency)
		}
		s.returned.Broadcast()
		s.mu.Unlock()
		if discard != nil {
			discard.mod.Close(context.Background())
		}
		if ok && m.stopCtx.Err() != nil { // closed meanwhile: release what drain missed
			s.drain(context.Background())
		}
	}()
}

// take returns an idle instance for key, or nil. With reset in place it
// waits for an instance being reset when two or more are: with only one
// (a lone client's previous call), a second instance is restored once,
// and from then on a lone client's calls alternate between two instances
// without waiting for either's reset.
func (s *snapshot) take(key string) *instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.reset && len(s.idle) == 0 && s.resetting > 1 {
		s.returned.Wait()
	}
	for i := len(s.idle) - 1; i >= 0; i-- {
		if in := s.idle[i]; in.key == key {
			s.idle = append(s.idle[:i], s.idle[i+1:]...)
			s.pool.release(1)
			return in
		}
	}
	return nil
}

// put keeps in for reuse, closing the oldest idle instance past max.
func (s *snapshot) put(ctx context.Context, in *instance, max int) {
	s.mu.Lock()
	evict := s.putLocked(in, max)
	s.mu.Unlock()
	if evict != nil {
		evict.mod.Close(ctx)
	}
}

// putLocked adds in to the idle instances and returns the oldest one if
// that makes more than max (the tool's max_concurrency), for the caller to
// close outside s.mu; or in itself when the runtime's idle instances are
// at the host-wide cap (Options.MaxIdleInstances).
func (s *snapshot) putLocked(in *instance, max int) (evict *instance) {
	if !s.pool.admit() {
		return in
	}
	s.idle = append(s.idle, in)
	in.idleSince = time.Now()
	s.scheduleTrim()
	if len(s.idle) > max {
		evict = s.idle[0]
		s.idle = s.idle[1:]
		s.pool.release(1)
	}
	return evict
}

// close drains the pool.
func (s *snapshot) close(ctx context.Context) {
	s.mu.Lock()
	s.closed = true
	if s.trimTimer != nil {
		s.trimTimer.Stop()
	}
	s.mu.Unlock()
	s.trimming.Wait() // a trim that started before closes its instances first
	s.drain(ctx)
}

// idleTTL is how long an idle instance is kept when it is not the only
// one: a burst of calls leaves up to max_concurrency instances (≈ 3 MiB
// each for a Go guest), and all but the most recently used go after this.
var idleTTL = 30 * time.Second

// scheduleTrim arms the trim timer when there is something to trim. Call
// it with s.mu held.
func (s *snapshot) scheduleTrim() {
	if s.trimTimer == nil && !s.closed && len(s.idle) > 1 {
		s.trimTimer = time.AfterFunc(idleTTL, s.trim)
	}
}

// trim closes the instances idle for longer than idleTTL, except the
// most recently used one. It picks them under s.mu and closes them after
// (no lock is held across a module close); close waits for it
// (s.trimming), so the compiled code is never released under a closing
// instance.
func (s *snapshot) trim() {
	s.mu.Lock()
	s.trimTimer = nil
	if s.closed {
		s.mu.Unlock()
		return
	}
	cutoff := time.Now().Add(-idleTTL)
	keep := s.idle[:0]
	var expired []*instance
	for i, in := range s.idle {
		if i < len(s.idle)-1 && in.idleSince.Before(cutoff) {
			expired = append(expired, in)
			continue
		}
		keep = append(keep, in)
	}
	clear(s.idle[len(keep):])
	s.idle = keep
	s.pool.release(len(expired))
	s.scheduleTrim()
	s.trimming.Add(1)
	s.mu.Unlock()
	defer s.trimming.Done()
	for _, in := range expired {
		in.mod.Close(context.Background())
	}
}

// drain closes every idle instance.
func (s *snapshot) drain(ctx context.Context) {
	s.mu.Lock()
	idle := s.idle
	s.idle = nil
	s.pool.release(len(idle))
	s.mu.Unlock()
	for _, in := range idle {
		in.mod.Close(ctx)
	}
}

// Reactor reports whether the module is a reactor (exports moat_call and
// no _start): its calls start from a snapshot instead of re-running its
// start-up.
func (m *Module) Reactor() bool { return m.snap != nil }

// ResetInPlace reports whether per-call instances of the module are reset
// in place between calls (reset.go), and if not, why.
func (m *Module) ResetInPlace() (ok bool, why string) {
	if m.snap == nil {
		return false, "it is a command module"
	}
	return m.snap.reset, m.snap.resetBlocker
}

// Resets is how many calls a reset instance has served.
func (m *Module) Resets() uint64 {
	if m.snap == nil {
		return 0
	}
	return m.snap.resets.Load()
}

// IdleInstances is how many reused instances a shared-mode module keeps.
func (m *Module) IdleInstances() int {
	if m.snap == nil {
		return 0
	}
	m.snap.mu.Lock()
	defer m.snap.mu.Unlock()
	return len(m.snap.idle)
}

// runReactor is run for reactor modules: a restored (or, in the shared
// modes, reused) instance runs moat_call.
func (m *Module) runReactor(parent context.Context, stdin []byte, hooks *Hooks) (*Result, error) {
	start := time.Now()
	env := m.newCallEnv(parent, hooks)
	defer env.release()
	ctx := env.ctx

	key, reuse := poolKey(parent, m.snap.iso)
	reuse = reuse || m.snap.reset
	var in *instance
	kind := "restored"
	if reuse {
		if in = m.snap.take(key); in != nil {
			kind = "reused"
			if m.snap.reset {
				kind = "reset"
			}
		}
	}
	if in == nil {
		var err error
		rctx, rspan := telemetry.Start(ctx, "moat.sandbox.restore")
		in, err = m.restore(rctx)
		rspan.End()
		if err != nil {
			if ctx.Err() == nil && !m.rt.closed.Load() {
				return nil, fmt.Errorf("restore %s: %w", m.name, err)
			}
			in = nil
		}
	}

	var err error
	if in == nil {
		err = context.Cause(ctx)
	} else {
		if rec := receiptOf(parent); rec != nil {
			rec.Instance = kind
		}
		rctx, span := telemetry.Start(ctx, "moat.sandbox.run")
		span.SetString("moat.sandbox.instance", kind)
		in.alloc.refused.Store(false)
		in.io.set(rctx, stdin, env.stdout, env.stderr)
		_, err = in.call.Call(rctx)
		in.io.clear()
		span.End()
		in.calls++
		in.key = key
	}
	var exit *sys.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 0 {
		err = nil // proc_exit(0): the instance is closed, the call succeeded
	}
	res := &Result{Duration: time.Since(start), Err: err}
	if in == nil {
		return m.finish(env, res, nil)
	}
	res.Memory = in.alloc.size.Load()
	if _, cerr := m.finish(env, res, in.alloc); cerr != nil {
		return nil, cerr
	}
	// Reuse only an instance whose call ended cleanly and that has calls
	// left (per-call: that could be reset); anything else (an error, a
	// timeout, proc_exit) discards it.
	// A normal return is clean, whatever exit code moat.exit_code set.
	returned := err == nil && exit == nil
	clean := returned && (res.Outcome == OutcomeOK || res.Outcome == OutcomeExit) && m.stopCtx.Err() == nil
	if m.snap.reset && clean {
		m.resetLater(in)
		return res, nil
	}
	if reuse && clean && in.calls < m.snap.recycle {
		m.snap.put(context.WithoutCancel(parent), in, m.limits.MaxConcurrency)
		if m.stopCtx.Err() != nil { // closed meanwhile: release drained before our put
			m.snap.drain(context.WithoutCancel(parent))
		}
	} else {
		in.mod.Close(context.WithoutCancel(parent))
	}
	return res, nil
}

// callIO is an instance's stdio and context, switched for every call so
// that a reused instance writes each call's output to that call only.
type callIO struct {
	ctx    context.Context
	stdin  *bytes.Reader
	stdout io.Writer
	stderr io.Writer
}

func (c *callIO) set(ctx context.Context, stdin []byte, stdout, stderr io.Writer) {
	c.ctx, c.stdout, c.stderr = ctx, stdout, stderr
	c.stdin = nil
	if stdin != nil {
		c.stdin = bytes.NewReader(stdin)
	}
}

// clear detaches the instance from the call that ended: output between
// calls is dropped, stdin is empty.
func (c *callIO) clear() {
	c.ctx, c.stdin, c.stdout, c.stderr = nil, nil, nil, nil
}

func (c *callIO) context() context.Context {
	if c.ctx == nil {
		return context.Background()
	}
	return c.ctx
}

// Read implements io.Reader: the current call's stdin.
func (c *callIO) Read(p []byte) (int, error) {
	if c.stdin == nil {
		return 0, io.EOF
	}
	return c.stdin.Read(p)
}

type stdoutOf struct{ c *callIO }

func (w stdoutOf) Write(p []byte) (int, error) {
	if w.c.stdout == nil {
		return len(p), nil // between calls (a leftover goroutine): dropped
	}
	return w.c.stdout.Write(p)
}

type stderrOf struct{ c *callIO }

func (w stderrOf) Write(p []byte) (int, error) {
	if w.c.stderr == nil {
		return len(p), nil
	}
	return w.c.stderr.Write(p)
}

// fakeClock is wazero's fake monotonic clock (1 ms per reading) with a
// settable start, so a restored instance continues the template's time.
type fakeClock struct{ t atomic.Int64 }

func (c *fakeClock) nanotime() int64 { return c.t.Add(int64(time.Millisecond)) }

// fakeWall is wazero's fake wall clock (2022-01-01, then 1 ms per
// reading), restartable so that a reset instance reads what a new one
// would.
type fakeWall struct{ t atomic.Int64 }

// fakeEpoch is wazero's fake wall-clock start (platform.FakeEpochNanos).
const fakeEpoch = 1640995200000 * int64(time.Millisecond)

func newFakeWall() *fakeWall {
	w := &fakeWall{}
	w.restart()
	return w
}

func (w *fakeWall) restart() { w.t.Store(fakeEpoch - int64(time.Millisecond)) }

func (w *fakeWall) walltime() (sec int64, nsec int32) {
	t := w.t.Add(int64(time.Millisecond))
	return t / 1e9, int32(t % 1e9)
}

// sizedAllocator allocates a restored instance's memory with the
// snapshot's size as capacity: the grow to that size then copies nothing,
// and no capacity up to the limit is zeroed in advance.
type sizedAllocator struct {
	a        *memoryAllocator
	capacity uint64
}

// Allocate implements experimental.MemoryAllocator.
func (s sizedAllocator) Allocate(_, max uint64) experimental.LinearMemory {
	return &linearMemory{a: s.a, max: max, capacity: s.capacity}
}

// idlePool bounds the idle instances kept for reuse across every module of
// a runtime: each tool keeps at most its max_concurrency, and together
// they keep at most max (≈ 3 MiB each for a Go reactor), so many tools
// after a burst cannot hold the host's memory until their idle trim.
type idlePool struct {
	max int64
	n   atomic.Int64
}

// admit counts one more idle instance, or reports false at the cap. A nil
// pool admits everything.
func (p *idlePool) admit() bool {
	if p == nil {
		return true
	}
	if p.n.Add(1) > p.max {
		p.n.Add(-1)
		return false
	}
	return true
}

func (p *idlePool) release(k int) {
	if p != nil && k > 0 {
		p.n.Add(-int64(k))
	}
}
