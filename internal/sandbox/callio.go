package sandbox

import (
	"bytes"
	"context"
	"io"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/sys"

	"github.com/moatmcp/moat/internal/rootfs"
)

// callIO is an instance's stdio and context, switched for every call so
// that a reused instance writes each call's output to that call only.
type callIO struct {
	ctx    context.Context
	stdin  bytes.Reader // held by value: no allocation per call
	stdout io.Writer
	stderr io.Writer
}

func (c *callIO) set(ctx context.Context, stdin []byte, stdout, stderr io.Writer) {
	c.ctx, c.stdout, c.stderr = ctx, stdout, stderr
	c.stdin.Reset(stdin) // nil reads as empty
}

// clear detaches the instance from the call that ended: output between
// calls is dropped, stdin is empty (and no longer holds the arguments).
func (c *callIO) clear() {
	c.ctx, c.stdout, c.stderr = nil, nil, nil
	c.stdin.Reset(nil)
}

func (c *callIO) context() context.Context {
	if c.ctx == nil {
		return context.Background()
	}
	return c.ctx
}

// Read implements io.Reader: the current call's stdin.
func (c *callIO) Read(p []byte) (int, error) {
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

// commandIO is what a command's fresh instance needs from the host besides
// its memory: stdio, clocks, random source, and the ModuleConfig that
// points wazero at them. Building that config per call cost a clone of
// wazero's moduleConfig (two allocations) for every With* call, and
// wazero's default fake clocks two closures each; a commandIO builds it
// once and is reused by one call at a time (Module.cmdIO), its state
// restarted so that each instance reads exactly what a new one with
// wazero's defaults would (the same fake clocks and random sequence).
//
// # Notes
//
//   - One call at a time: taken from the pool before InstantiateModule,
//     cleared and returned after it returned (the guest cannot run any
//     more, and wazero keeps nothing of the config once the instance is
//     closed).
type commandIO struct {
	cfg   wazero.ModuleConfig
	io    callIO
	clock *fakeClock // nil with the real clock
	wall  *fakeWall  // nil with the real clock
	rand  *fakeRand  // nil with real randomness
}

// newCommandIO builds m's per-call config on top of m.config.
func (m *Module) newCommandIO() *commandIO {
	c := &commandIO{}
	cfg := m.config.WithStdin(&c.io).WithStdout(stdoutOf{&c.io}).WithStderr(stderrOf{&c.io})
	if len(m.mounts) > 0 {
		// Each open is recorded on the receipt of the call running then.
		cfg = cfg.WithFSConfig(m.fsConfigFor(func() *rootfs.Recorder { return filesOf(c.io.context()) }))
	}
	if m.sleeps {
		cfg = cfg.WithNanosleep(func(ns int64) { sleep(c.io.context(), ns) })
	} else {
		// wazero's defaults (platform.NewFakeNanotime, NewFakeWalltime):
		// nanotime reads 0 first, walltime fakeEpoch, each +1 ms.
		c.clock, c.wall = &fakeClock{}, newFakeWall()
		cfg = cfg.WithNanotime(c.clock.nanotime, 1).WithWalltime(c.wall.walltime, sys.ClockResolution(time.Microsecond))
	}
	if !m.realRandom {
		// The same sequence as wazero's default, but seeded on first use:
		// seeding math/rand is ≈ 10 µs, a sixth of a small guest's call,
		// and most guests never draw.
		c.rand = &fakeRand{}
		cfg = cfg.WithRandSource(c.rand)
	}
	c.cfg = cfg
	return c
}

// start attaches c to one call: its context, stdin and capped output,
// the clocks and random source as a new instance's.
func (c *commandIO) start(ctx context.Context, stdin []byte, stdout, stderr io.Writer) {
	c.io.set(ctx, stdin, stdout, stderr)
	if c.clock != nil {
		c.clock.t.Store(-int64(time.Millisecond))
		c.wall.restart()
	}
	if c.rand != nil {
		c.rand.restart()
	}
}

// takeCommandIO returns a commandIO for one call of m; give it back with
// putCommandIO once InstantiateModule has returned.
func (m *Module) takeCommandIO() *commandIO {
	if c, ok := m.cmdIO.Get().(*commandIO); ok {
		return c
	}
	return m.newCommandIO()
}

func (m *Module) putCommandIO(c *commandIO) {
	c.io.clear()
	m.cmdIO.Put(c)
}
