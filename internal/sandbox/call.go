package sandbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/moatmcp/moat/internal/telemetry"
)

// Outcome says how a call ended.
type Outcome int

const (
	OutcomeOK             Outcome = iota // exit code 0
	OutcomeExit                          // a non-zero exit code (a Go panic exits 2)
	OutcomeTimeout                       // Limits.Timeout passed
	OutcomeMemory                        // the guest ran out of memory (Limits.MemoryBytes or its own max)
	OutcomeOutputOverflow                // stdout or stderr went over its cap
	OutcomeTrap                          // unreachable, out-of-bounds access, bad host call, ...
	OutcomeCanceled                      // the caller's ctx ended (or the module was closed)
	OutcomeInputRequired                 // the guest asked for input the host did not have yet (Hooks.Input, ErrInputRequired)
)

var outcomeNames = [...]string{"ok", "exit", "timeout", "memory", "output_overflow", "trap", "canceled", "input_required"}

// String returns the outcome's log name: "ok", "exit", "timeout",
// "memory", "output_overflow", "trap", "canceled" or "input_required".
func (o Outcome) String() string {
	if o >= 0 && int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return fmt.Sprintf("outcome(%d)", int(o))
}

// Result is what one call did.
type Result struct {
	Outcome  Outcome
	ExitCode uint32 // set for OutcomeOK and OutcomeExit
	Stdout   []byte // at most Limits.MaxOutputBytes
	Stderr   []byte // at most Limits.MaxStderrBytes
	Duration time.Duration
	// Memory is the size of the guest's linear memory when the call
	// ended (memory only grows, so also its largest): what the call held.
	Memory uint64
	// Err is the guest's error as wazero reported it (nil for OutcomeOK),
	// for the log only: it can contain guest stack traces and must never
	// be shown to a client.
	Err error
}

// errTimeout is the cause of a call's context that timed out, which
// outcome tells from one that ended early (OutcomeCanceled).
var errTimeout = errors.New("call timed out")

// Call runs one call in a fresh instance of m: stdin holds the arguments,
// argv is [Name], and stdout and stderr are captured up to their caps.
// hooks receive the guest's moat.log and moat.progress notifications; nil
// drops them.
//
// The error is non-nil only for host faults and for ErrInputTooLarge,
// ErrBusy, ErrHostMemoryBudget and ErrClosed; whatever the guest does is
// a Result.
func (m *Module) Call(ctx context.Context, stdin []byte, hooks *Hooks) (*Result, error) {
	ctx, span := telemetry.Start(ctx, "moat.sandbox")
	defer span.End()
	if n := int64(len(stdin)); n > m.limits.MaxInputBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrInputTooLarge, n, m.limits.MaxInputBytes)
	}
	m.mu.RLock()
	if m.closed || m.rt.closed.Load() {
		m.mu.RUnlock()
		return nil, ErrClosed
	}
	m.calls.Add(1)
	started := m.testStarted
	m.mu.RUnlock()
	defer m.calls.Done()

	if err := m.acquire(ctx); err != nil {
		return nil, err
	}
	defer func() { <-m.slots }()
	if err := m.rt.budget.acquire(ctx, m.limits.MemoryBytes, min(m.rt.budget.wait, m.limits.Timeout)); err != nil {
		return nil, err
	}
	defer m.rt.budget.release(m.limits.MemoryBytes)
	if started != nil {
		started <- struct{}{}
	}
	var res *Result
	var err error
	if m.rx != nil {
		res, err = m.runReactor(ctx, stdin, hooks)
	} else {
		res, err = m.run(ctx, stdin, hooks)
	}
	m.fill(receiptOf(ctx), res)
	if res != nil {
		span.SetString("moat.sandbox.outcome", res.Outcome.String())
		if res.Outcome != OutcomeOK {
			span.Fail(res.Outcome.String())
		}
	}
	return res, err
}

// acquire takes a concurrency slot, waiting at most until ctx ends or the
// slot wait passes (WithSlotWait; by default the module's timeout): a call
// that cannot start in time is better refused than queued without bound.
func (m *Module) acquire(ctx context.Context) error {
	select {
	case m.slots <- struct{}{}:
		return nil
	default:
	}
	limit := m.limits.Timeout
	if d := optionsOf(ctx).SlotWait; d > 0 {
		limit = d
	}
	wait := time.NewTimer(limit)
	defer wait.Stop()
	select {
	case m.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w (%d running): %w", ErrBusy, m.limits.MaxConcurrency, context.Cause(ctx))
	case <-wait.C:
		return fmt.Errorf("%w (%d running): no slot freed within %v", ErrBusy, m.limits.MaxConcurrency, limit)
	case <-m.stopCtx.Done():
		return ErrClosed
	}
}

// WithSlotWait returns ctx telling Call how long to wait for a free slot
// when Limits.MaxConcurrency calls are already running, before it fails
// with ErrBusy. Zero or less, or a ctx without it: the module's timeout.
// The host sets it from [rate_limits] concurrency_wait.
func WithSlotWait(ctx context.Context, d time.Duration) context.Context {
	o := optionsOf(ctx)
	o.SlotWait = d
	return WithCallOptions(ctx, o)
}

func (m *Module) run(parent context.Context, stdin []byte, hooks *Hooks) (*Result, error) {
	start := time.Now() // before the timeout starts, so Duration >= Timeout on a timeout
	env := m.newCallEnv(parent, hooks)
	defer env.release()

	mem := &memoryAllocator{limit: m.limits.MemoryBytes, pool: &m.memPool, data: m.data, trim: m.rt.budget.trimmer}
	// A command instantiates and runs in one step (_start runs in
	// InstantiateModule): one span for both.
	ctx, span := telemetry.Start(env.ctx, "moat.sandbox.run")
	defer span.End()
	span.SetString("moat.sandbox.instance", "fresh")
	ctx = experimental.WithMemoryAllocator(ctx, mem)
	if rec := receiptOf(parent); rec != nil {
		rec.Instance = "fresh"
	}
	cio := m.takeCommandIO()
	cio.start(ctx, stdin, env.stdout, env.stderr)
	defer m.putCommandIO(cio) // after mod.Close below
	cfg := cio.cfg

	mod, err := m.rt.rt.InstantiateModule(ctx, m.compiled, cfg)
	res := &Result{Duration: time.Since(start), Err: err, Memory: mem.size.Load()}
	if mod != nil {
		mod.Close(context.WithoutCancel(parent))
	}
	mem.recycle() // the guest has stopped: InstantiateModule returned
	return m.finish(env, res, mem)
}

// callEnv is what every call has around its instance, command or
// reactor: a context that ends when the Module closes, at the timeout or
// when the output overflows, carrying the call's hooks and network; and
// the capped stdout and stderr. It is one allocation with the call's
// state and both writers inside.
type callEnv struct {
	ctx            context.Context
	stdout, stderr *capWriter // &out, &errOut

	out, errOut capWriter
	state       callState // behind callKey in ctx
	cancel      context.CancelFunc
	unhook      func() bool
}

// newCallEnv makes the call's context: one context with the timeout
// (its cause errTimeout), ended early by Module.Close giving up
// (AfterFunc on stopCtx) and by an output overflow (capWriter). Those two
// need no cause of their own: outcome tells an overflow by the writers'
// flags and anything else that ended the context early is
// OutcomeCanceled, as before.
func (m *Module) newCallEnv(parent context.Context, hooks *Hooks) *callEnv {
	env := &callEnv{state: callState{hooks: hooks}}
	ctx, cancel := context.WithTimeoutCause(parent, m.limits.Timeout, errTimeout)
	env.cancel = cancel
	env.unhook = context.AfterFunc(m.stopCtx, cancel)
	env.out = capWriter{max: m.limits.MaxOutputBytes, stop: cancel}
	env.errOut = capWriter{max: m.limits.MaxStderrBytes, stop: cancel}
	env.stdout, env.stderr = &env.out, &env.errOut
	env.ctx = withNet(context.WithValue(ctx, callKey{}, &env.state), m.http)
	return env
}

// release ends the call's context; call it when the call is over.
func (env *callEnv) release() {
	env.unhook()
	env.cancel()
}

// finish fills in res's output and says how the call ended (res.Err is
// the instance's error, or nil). mem is the instance's allocator, nil when
// no instance ran.
func (m *Module) finish(env *callEnv, res *Result, mem *memoryAllocator) (*Result, error) {
	res.Stdout, res.Stderr = env.stdout.buf, env.stderr.buf
	var err error
	if res.Outcome, res.ExitCode, err = m.outcome(env.ctx, res.Err, env.stdout.over || env.stderr.over, mem); err != nil {
		return nil, err
	}
	if res.Outcome == OutcomeExit && res.Err == nil { // returned after moat.exit_code
		res.Err = fmt.Errorf("exit code %d (moat.exit_code)", res.ExitCode)
	}
	return res, nil
}

// sleep waits ns nanoseconds or until ctx ends, whichever is first, so a
// guest granted the real clock cannot sleep past its timeout (the guest is
// then stopped at its next check).
func sleep(ctx context.Context, ns int64) {
	t := time.NewTimer(time.Duration(ns))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// capWriter keeps at most max bytes. The first write past the cap keeps
// what fits, stops the guest (stop ends the call's context) and fails,
// so a flooding guest is halted at the cap instead of buffered without
// bound.
type capWriter struct {
	buf  []byte
	max  int64
	over bool
	stop context.CancelFunc
}

var errCapReached = errors.New("output cap reached")

func (w *capWriter) Write(p []byte) (int, error) {
	if w.over {
		return 0, errCapReached
	}
	room := w.max - int64(len(w.buf))
	if int64(len(p)) <= room {
		w.buf = append(w.buf, p...)
		return len(p), nil
	}
	w.buf = append(w.buf, p[:room]...)
	w.over = true
	w.stop()
	return int(room), errCapReached
}

// outcome classifies how one call ended, for every isolation mode: err is
// what running the guest returned, overflow whether stdout or stderr hit its
// cap. A non-nil error (ErrClosed) means the runtime closed under the call.
func (m *Module) outcome(ctx context.Context, err error, overflow bool, mem *memoryAllocator) (Outcome, uint32, error) {
	switch cause := context.Cause(ctx); {
	case inputRequired(ctx):
		// The guest was ended on purpose where it asked; its output so
		// far is not a result.
		return OutcomeInputRequired, 0, nil
	case overflow:
		// Even if the guest ignored the failed write and exited 0, what it
		// wrote was cut: never pass a truncated result off as complete.
		return OutcomeOutputOverflow, 0, nil
	case err == nil:
		if code := exitCode(ctx); code != 0 { // the entry returned after moat.exit_code
			return OutcomeExit, code, nil
		}
		return OutcomeOK, 0, nil
	case ctx.Err() != nil && cause == errTimeout:
		return OutcomeTimeout, 0, nil
	case ctx.Err() != nil:
		return OutcomeCanceled, 0, nil
	case mem.exhausted():
		return OutcomeMemory, 0, nil
	case exitError(err) != nil:
		return OutcomeExit, exitError(err).ExitCode(), nil
	case m.rt.closed.Load():
		return 0, 0, ErrClosed
	}
	return OutcomeTrap, 0, nil
}

// exitError is err's *sys.ExitError, or nil. (A function of its own, so
// that the variable errors.As needs is made only for an error, not on
// every call.)
func exitError(err error) *sys.ExitError {
	if err == nil {
		return nil
	}
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		return exit
	}
	return nil
}
