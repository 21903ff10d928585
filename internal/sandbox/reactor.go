package sandbox

import (
	"context"
	"fmt"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/moatmcp/moat/internal/sandbox/reactor"
	"github.com/moatmcp/moat/internal/telemetry"
)

// The reactor call path. A reactor module's Image, the reset in place and
// the idle pool live in internal/sandbox/reactor; this file is the
// sandbox's side of them: the wazero instance that implements
// reactor.Instance, and runReactor, which takes, restores, runs and puts
// back instances for Call.

// reactorModule is what a reactor Module has beyond a command's.
//
// # Notes
//
//   - Immutable after Load: img is immutable, pool has its own mutex and
//     stats its own atomics.
type reactorModule struct {
	img     *reactor.Image
	pool    *reactor.Pool[*instance]
	stats   reactor.Stats
	iso     Isolation // which calls may share an instance
	recycle int       // calls per reused instance (DefaultRecycleAfter)

	// reset says per-call instances are reset in place (reset.go);
	// resetBlocker says why not when they are not.
	reset        bool
	resetBlocker string
	fdCheck      bool // compare the descriptor table after each call (mounts)
}

// instance is one restored reactor instance. One call at a time uses it,
// and it is reset only between calls.
type instance struct {
	mod     api.Module
	call    api.Function
	alloc   *memoryAllocator
	io      *callIO
	fds     fdTable             // the descriptor table after instantiation (fdCheck)
	fdCheck bool                // compare it after each call
	clock   *fakeClock          // nil with the real clock
	wall    *fakeWall           // nil with the real clock
	rand    *fakeRand           // nil with real randomness
	globals []api.MutableGlobal // the image's globals' handles, in its order
	calls   int
}

var _ reactor.Instance = (*instance)(nil)

// Intact implements reactor.Instance: not closed (a proc_exit closes it),
// and with mounts, the same descriptors open as after instantiation.
func (in *instance) Intact() bool {
	if in.mod.IsClosed() {
		return false
	}
	if in.fdCheck {
		now, ok := readFDs(in.mod)
		return ok && len(in.fds.fds) > 0 && now.equal(in.fds)
	}
	return true
}

// Memory implements reactor.Instance.
func (in *instance) Memory() ([]byte, bool) {
	mem := in.mod.Memory()
	if mem == nil {
		return nil, true
	}
	return mem.Read(0, mem.Size())
}

// SetGlobals implements reactor.Instance.
func (in *instance) SetGlobals(g []reactor.Global) {
	for i, v := range g {
		in.globals[i].Set(v.Value)
	}
}

// Restart implements reactor.Instance: the fake clocks and the
// deterministic random source start again where a restored instance's do.
func (in *instance) Restart(nanos int64) {
	if in.clock != nil {
		in.clock.t.Store(nanos)
		in.wall.restart()
	}
	if in.rand != nil {
		in.rand.restart()
	}
}

// Close implements reactor.Instance.
func (in *instance) Close(ctx context.Context) { in.mod.Close(ctx) }

// SnapshotBytes is the size of the memory a reactor module's calls
// restore (0 for command modules): the host memory an idle reactor tool
// holds beyond its compiled code.
func (m *Module) SnapshotBytes() int {
	if m.rx == nil {
		return 0
	}
	return m.rx.img.Bytes
}

// Isolation is the module's isolation mode (IsolationPerCall for command
// modules).
func (m *Module) Isolation() Isolation {
	if m.rx == nil {
		return IsolationPerCall
	}
	return m.rx.iso
}

// Reactor reports whether the module is a reactor (exports moat_call and
// no _start): its calls start from a snapshot instead of re-running its
// start-up.
func (m *Module) Reactor() bool { return m.rx != nil }

// ResetInPlace reports whether per-call instances of the module are reset
// in place between calls (reset.go), and if not, why.
func (m *Module) ResetInPlace() (ok bool, why string) {
	if m.rx == nil {
		return false, "it is a command module"
	}
	return m.rx.reset, m.rx.resetBlocker
}

// Resets is how many calls a reset instance has served.
func (m *Module) Resets() uint64 {
	if m.rx == nil {
		return 0
	}
	return m.rx.stats.Resets()
}

// IdleInstances is how many instances the module keeps for its next
// calls (reset ones, or reused ones in the shared modes).
func (m *Module) IdleInstances() int {
	if m.rx == nil {
		return 0
	}
	return m.rx.pool.Idle()
}

// resetLater resets in in place and returns it to the pool, on another
// goroutine: the call's result goes back to the client while the reset
// runs (≈ 0.1 ms for a Go guest). Until it is back, Take may wait for it
// rather than restore a new instance (≈ 1.4 ms).
func (m *Module) resetLater(in *instance, key string) {
	rx := m.rx
	rx.pool.ResetStarted()
	m.calls.Add(1) // Close waits for it (the caller's call is counted, so the count is above zero)
	go func() {
		defer m.calls.Done()
		ok := m.stopCtx.Err() == nil && rx.img.Reset(in)
		if ok {
			rx.stats.Reset()
		}
		rx.pool.ResetDone(context.Background(), in, key, ok && m.stopCtx.Err() == nil)
	}()
}

// runReactor is run for reactor modules: a restored (or, in the shared
// modes, reused) instance runs moat_call.
func (m *Module) runReactor(parent context.Context, stdin []byte, hooks *Hooks) (*Result, error) {
	start := time.Now()
	env := m.newCallEnv(parent, hooks)
	defer env.release()
	ctx := env.ctx

	key, reuse := poolKey(parent, m.rx.iso)
	reuse = reuse || m.rx.reset
	var in *instance
	kind := "restored"
	if reuse {
		var ok bool
		if in, ok = m.rx.pool.Take(key); ok {
			kind = "reused"
			if m.rx.reset {
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
	}
	exit := exitError(err)
	if exit != nil && exit.ExitCode() == 0 {
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
	if m.rx.reset && clean {
		m.resetLater(in, key)
		return res, nil
	}
	if reuse && clean && in.calls < m.rx.recycle {
		m.rx.pool.Put(context.WithoutCancel(parent), in, key) // closed meanwhile: Put closes it
	} else {
		in.mod.Close(context.WithoutCancel(parent))
	}
	return res, nil
}
