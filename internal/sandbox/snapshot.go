package sandbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/moatmcp/moat/internal/rootfs"
	"github.com/moatmcp/moat/internal/sandbox/reactor"
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

// takeSnapshot runs the reactor's _initialize in a template instance and
// records what it changed. It runs at Load, under the module's limits.
func (m *Module) takeSnapshot(ctx context.Context, shape reactorShape, iso Isolation, reset bool) (*reactorModule, error) {
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

	rx := &reactorModule{iso: iso, recycle: DefaultRecycleAfter, reset: reset}
	if reset && len(m.mounts) > 0 {
		if _, ok := readFDs(tmpl); ok {
			rx.fdCheck = true
		} else {
			rx.reset, rx.resetBlocker = false, "it has mounts, and wazero's descriptor table could not be read to check them"
		}
	}
	capture := reactor.Capture{Before: before, Nanos: clock.t.Load(), Reset: rx.reset}
	for _, name := range shape.globals {
		g, ok := tmpl.ExportedGlobal(name).(api.MutableGlobal)
		if !ok {
			continue // immutable: a fresh instance has the same value
		}
		capture.Globals = append(capture.Globals, reactor.Global{Name: name, Value: g.Get()})
	}
	if mem := tmpl.Memory(); mem != nil {
		capture.After, _ = mem.Read(0, mem.Size())
	}
	rx.img = reactor.NewImage(capture, &m.rt.images)
	rx.pool = reactor.NewPool[*instance](&reactor.PoolOptions{
		Max:          m.limits.MaxConcurrency,
		Shared:       &m.rt.idle,
		WaitForReset: rx.reset,
		AfterFunc:    m.rt.poolTimer,
	})
	return rx, nil
}

// restore instantiates the module without start functions and puts the
// snapshot image in it.
func (m *Module) restore(ctx context.Context) (*instance, error) {
	img := m.rx.img
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
		in.clock.t.Store(img.Nanos)
		in.wall = newFakeWall()
		cfg = cfg.WithNanotime(in.clock.nanotime, 1).WithWalltime(in.wall.walltime, sys.ClockResolution(time.Microsecond))
	}
	if !m.realRandom {
		in.rand = &fakeRand{}
		cfg = cfg.WithRandSource(in.rand)
	}
	alloc := sizedAllocator{a: in.alloc, capacity: uint64(img.Pages) * pageSize}
	mod, err := m.rt.rt.InstantiateModule(experimental.WithMemoryAllocator(ctx, alloc), m.compiled, cfg)
	if err != nil {
		return nil, err
	}
	in.mod = mod
	if mem := mod.Memory(); mem != nil {
		if have := mem.Size() / pageSize; have < img.Pages {
			if _, ok := mem.Grow(img.Pages - have); !ok {
				mod.Close(context.WithoutCancel(ctx))
				return nil, errors.New("restore snapshot: memory did not grow")
			}
		}
		if buf, ok := mem.Read(0, mem.Size()); !ok || !img.Restore(buf) {
			mod.Close(context.WithoutCancel(ctx))
			return nil, errors.New("restore snapshot: memory is not the snapshot's size")
		}
	}
	in.globals = make([]api.MutableGlobal, len(img.Globals))
	for i, g := range img.Globals {
		in.globals[i] = mod.ExportedGlobal(g.Name).(api.MutableGlobal)
	}
	in.SetGlobals(img.Globals)
	in.call = mod.ExportedFunction(ReactorExport)
	if m.rx.fdCheck {
		in.fdCheck = true
		in.fds, _ = readFDs(mod) // a failed read leaves it empty: never equal, never reset
	}
	return in, nil
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
