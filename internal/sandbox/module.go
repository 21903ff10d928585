package sandbox

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/moatmcp/moat/internal/abi"

	"github.com/moatmcp/moat/internal/manifest"

	"github.com/moatmcp/moat/internal/wasmbin"

	"github.com/moatmcp/moat/internal/bytesize"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"
	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/experimental/sysfs"

	"github.com/moatmcp/moat/internal/rootfs"
)

// Defaults for the zero values of Limits: a manifest's defaults
// (internal/manifest owns them), and stderr's, which no manifest sets.
const (
	DefaultMemoryBytes    = manifest.DefaultMemory
	DefaultTimeout        = manifest.DefaultTimeout
	DefaultMaxInputBytes  = manifest.DefaultMaxInput
	DefaultMaxOutputBytes = manifest.DefaultMaxOutput
	DefaultMaxStderrBytes = 64 << 10
	DefaultMaxConcurrency = manifest.DefaultMaxConcurrency
)

const (
	pageSize = 64 << 10
	maxPages = 1 << 16 // wasm32: 4 GiB
)

// Mount grants the guest a host directory at GuestPath.
type Mount struct {
	HostDir   string // opened once at Load through internal/rootfs
	GuestPath string // absolute and clean, e.g. "/data"
	ReadOnly  bool
}

// Limits bound one call. Each zero value means its default (the Default*
// constants).
type Limits struct {
	MemoryBytes    uint64        // linear memory; rounded up to whole 64 KiB pages
	Timeout        time.Duration // wall time of one call
	MaxInputBytes  int64         // stdin (the arguments JSON)
	MaxOutputBytes int64         // stdout kept; more stops the guest
	MaxStderrBytes int64         // stderr kept; more stops the guest
	MaxConcurrency int           // calls of this module running at once
}

// withDefaults returns l with every zero field set to its default and the
// memory rounded up to whole pages (at most 4 GiB).
func (l Limits) withDefaults() Limits {
	if l.MemoryBytes == 0 {
		l.MemoryBytes = DefaultMemoryBytes
	}
	pages := (l.MemoryBytes + pageSize - 1) / pageSize
	if pages > maxPages || pages == 0 { // pages == 0: the sum overflowed
		pages = maxPages
	}
	l.MemoryBytes = pages * pageSize
	if l.Timeout <= 0 {
		l.Timeout = DefaultTimeout
	}
	if l.MaxInputBytes <= 0 {
		l.MaxInputBytes = DefaultMaxInputBytes
	}
	if l.MaxOutputBytes <= 0 {
		l.MaxOutputBytes = DefaultMaxOutputBytes
	}
	if l.MaxStderrBytes <= 0 {
		l.MaxStderrBytes = DefaultMaxStderrBytes
	}
	if l.MaxConcurrency <= 0 {
		l.MaxConcurrency = DefaultMaxConcurrency
	}
	return l
}

// Spec is everything a module is granted. An empty Spec grants nothing but
// WASI's stdio, the fake clock and deterministic randomness.
type Spec struct {
	Name       string   // argv[0]; also the name errors and logs use
	Wasm       []byte   // a WASI preview 1 command module
	Mounts     []Mount  // the only host directories the guest sees
	Env        []string // "NAME=value", exactly what the guest sees, nothing else
	RealClock  bool     // else wazero's fake clock (and sleep returns at once)
	RealRandom bool     // else deterministic randomness
	// HTTP makes the requests of moat.http_request; nil (the default)
	// means no [net] grant: a module importing it is refused at load.
	HTTP   HTTPDoer
	Limits Limits
	// Isolation is which calls may share an instance; anything but
	// IsolationPerCall needs a reactor module (reactor.go). A reused
	// instance serves DefaultRecycleAfter calls, then is discarded.
	Isolation Isolation
}

// Module is a compiled, checked tool module. Each Call runs it in a fresh
// instance.
//
// # Notes
//
//   - Safe for concurrent use.
//   - Close waits for calls in flight (until its ctx ends, then stops them).
type Module struct {
	rt          *Runtime
	name        string
	compiled    wazero.CompiledModule // shared with Modules of the same bytes (compiled.go)
	compiledKey [sha256.Size]byte     // its key in Runtime.compiled
	config      wazero.ModuleConfig   // everything but stdio
	limits      Limits                // with defaults applied
	sleeps      bool                  // granted the real clock: sleep really waits
	realRandom  bool                  // granted real randomness
	memPool     memPool               // zeroed memories from finished calls (memoryAllocator.recycle)
	cmdIO       sync.Pool             // a command's *commandIO, one per call in flight (callio.go)
	data        []dataSeg             // a command's data segments, written by the allocator (commandData)
	http        HTTPDoer              // nil without the [net] grant
	mounts      []mountFS
	mountPaths  []string       // the guest path of each mount
	digest      string         // "sha256:<hex>" of the wasm as given, for receipts
	slots       chan struct{}  // one token per running call
	rx          *reactorModule // reactor modules only (reactor.go)

	stopCtx context.Context // ends when Close gives up waiting
	stop    context.CancelCauseFunc

	mu     sync.RWMutex
	closed bool
	calls  sync.WaitGroup

	// testStarted, set by tests (under mu, before any call), receives
	// once per call that has taken its slot and its memory: tests wait
	// for that event instead of polling.
	testStarted chan struct{}
}

// mountFS is what a mount needs from internal/rootfs.
type mountFS interface {
	experimentalsys.FS
	Close() error
	Recording(mount string, rec func() *rootfs.Recorder) experimentalsys.FS
}

// Load checks and compiles spec.Wasm (through the compile cache), opens
// the mounts and returns the Module. Errors describe the problem for the
// operator, e.g. an import moat does not provide, or a declared memory
// above the limit; they are shown at load, never to agents.
func (r *Runtime) Load(ctx context.Context, spec Spec) (_ *Module, err error) {
	if r.closed.Load() {
		return nil, ErrClosed
	}
	if spec.Name == "" {
		return nil, errors.New("module has no name")
	}
	switch spec.Isolation {
	case "":
		spec.Isolation = IsolationPerCall
	case IsolationPerCall, IsolationPerPrincipal, IsolationShared:
	default:
		return nil, fmt.Errorf("isolation %q is not an isolation mode", string(spec.Isolation))
	}
	if err := checkEnv(spec.Env); err != nil {
		return nil, err
	}
	if err := checkMounts(spec.Mounts); err != nil {
		return nil, err
	}
	if err := wasmbin.CheckHeader(spec.Wasm); err != nil {
		return nil, err
	}
	limits := spec.Limits.withDefaults()
	wasm := spec.Wasm
	shape, reactor, err := asReactor(wasm)
	if err != nil {
		return nil, err
	}
	var resetBlocker string
	if reactor {
		wasm = shape.wasm // every global exported, for the snapshot
		if spec.Isolation == IsolationPerCall {
			var w []byte
			if w, resetBlocker = resetCapable(wasm, len(spec.Mounts)); resetBlocker == "" {
				wasm = w
			}
		} else {
			resetBlocker = "its isolation is " + spec.Isolation.String() + " (instances are reused as they are)"
		}
	} else if spec.Isolation != IsolationPerCall {
		return nil, fmt.Errorf("isolation %q needs a reactor module (exporting %s); this one is a command", spec.Isolation, ReactorExport)
	}
	var data []dataSeg
	if !reactor {
		if mp, err := declaredMinPages(wasm); err == nil {
			if out, segs, ok := commandData(wasm, uint64(mp)*pageSize); ok {
				wasm, data = out, segs
			}
		}
	}
	compiled, compiledKey, err := r.compile(ctx, wasm)
	if err != nil {
		return nil, fmt.Errorf("compile: %w", err)
	}
	m := &Module{
		rt:          r,
		name:        spec.Name,
		compiled:    compiled,
		compiledKey: compiledKey,
		limits:      limits,
		http:        spec.HTTP,
		slots:       make(chan struct{}, limits.MaxConcurrency),
		data:        data,
		digest:      moduleDigest(spec.Wasm),
	}
	m.stopCtx, m.stop = context.WithCancelCause(context.Background())
	defer func() {
		if err != nil {
			m.release(ctx)
		}
	}()

	if err := r.checkImports(compiled, grants{netGrant: spec.HTTP != nil}); err != nil {
		return nil, err
	}
	if reactor {
		if err := checkReactor(compiled); err != nil {
			return nil, err
		}
	} else if start, ok := compiled.ExportedFunctions()[abi.CommandEntry]; !ok {
		return nil, errors.New("module exports no _start function (ABI v1 needs a WASI command module)")
	} else if len(start.ParamTypes()) != 0 || len(start.ResultTypes()) != 0 {
		return nil, errors.New("module's _start function takes parameters or returns results")
	}
	minPages, err := declaredMinPages(spec.Wasm)
	if err != nil { // wazero accepted it, so this is a bug on one side
		return nil, fmt.Errorf("read memory section: %w", err)
	}
	if limits.MemoryBytes > r.budget.max {
		return nil, fmt.Errorf("memory limit of %s is over the host's guest memory budget of %s ([sandbox] max_guest_memory)",
			bytesize.Format(limits.MemoryBytes), bytesize.Format(r.budget.max))
	}
	if min := uint64(minPages) * pageSize; min > limits.MemoryBytes {
		return nil, fmt.Errorf("module declares a minimum memory of %s (%d pages), over its limit of %s",
			bytesize.Format(min), minPages, bytesize.Format(limits.MemoryBytes))
	}

	fsConfig := wazero.NewFSConfig()
	for _, mt := range spec.Mounts {
		fs, err := openMount(mt.HostDir, mt.ReadOnly)
		if err != nil {
			return nil, fmt.Errorf("mount %s: %w", mt.GuestPath, err)
		}
		m.mounts = append(m.mounts, fs)
		m.mountPaths = append(m.mountPaths, mt.GuestPath)
		fsConfig = fsConfig.(sysfs.FSConfig).WithSysFSMount(fs, mt.GuestPath)
	}

	// wazero's ModuleConfig defaults are the sandbox's: no args, no env, no
	// filesystem, fake clock, deterministic random, stdio discarded.
	cfg := wazero.NewModuleConfig().WithName("").WithArgs(spec.Name)
	for _, kv := range spec.Env {
		k, v, _ := strings.Cut(kv, "=")
		cfg = cfg.WithEnv(k, v)
	}
	if len(spec.Mounts) > 0 {
		cfg = cfg.WithFSConfig(fsConfig)
	}
	if spec.RealClock {
		// Sleep is set per call (see run): wazero's WithSysNanosleep is a
		// plain time.Sleep, which the call's timeout could not interrupt.
		cfg = cfg.WithSysWalltime().WithSysNanotime()
		m.sleeps = true
	}
	if spec.RealRandom {
		cfg = cfg.WithRandSource(cryptoRand{})
		m.realRandom = true
	}
	m.config = cfg

	if err := m.dryRun(ctx); err != nil {
		return nil, err
	}
	if reactor {
		if m.rx, err = m.takeSnapshot(ctx, shape, spec.Isolation, resetBlocker == ""); err != nil {
			return nil, err
		}
		if m.rx.resetBlocker == "" {
			m.rx.resetBlocker = resetBlocker
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed.Load() {
		return nil, ErrClosed
	}
	r.modules[m] = struct{}{}
	return m, nil
}

// dryRun instantiates the module once without running _start, so that
// what only instantiation checks (imported globals and tables, data
// segments that do not fit) fails at load rather than on every call.
func (m *Module) dryRun(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, m.limits.Timeout)
	defer cancel()
	ctx = experimental.WithMemoryAllocator(ctx, &memoryAllocator{limit: m.limits.MemoryBytes})
	mod, err := m.rt.rt.InstantiateModule(ctx, m.compiled, m.config.WithStartFunctions())
	if err != nil {
		return fmt.Errorf("instantiate: %w", err)
	}
	return mod.Close(ctx)
}

// Close waits for calls in flight, stops them if ctx ends first, then
// releases the compiled code and the mounts. Later Calls return ErrClosed.
func (m *Module) Close(ctx context.Context) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.mu.Unlock()

	done := make(chan struct{})
	go func() { m.calls.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		m.stop(ErrClosed)
		<-done // stopped calls return at their next check
	}
	return m.release(context.WithoutCancel(ctx))
}

// release frees what Load acquired.
func (m *Module) release(ctx context.Context) error {
	m.stop(ErrClosed)
	m.rt.mu.Lock()
	delete(m.rt.modules, m)
	m.rt.mu.Unlock()
	if m.rx != nil {
		m.rx.pool.Close(ctx)
	}
	errs := []error{m.rt.releaseCompiled(ctx, m.compiledKey)}
	for _, fs := range m.mounts {
		errs = append(errs, fs.Close())
	}
	m.mounts = nil
	return errors.Join(errs...)
}

// checkEnv accepts "NAME=value" entries with a non-empty NAME, each NAME
// once, and no NUL bytes (wazero would refuse them on every call).
func checkEnv(env []string) error {
	seen := make(map[string]bool, len(env))
	for _, kv := range env {
		k, _, ok := strings.Cut(kv, "=")
		switch {
		case !ok || k == "":
			return fmt.Errorf("env entry %q is not NAME=value", k)
		case strings.IndexByte(kv, 0) >= 0:
			return fmt.Errorf("env %s contains a NUL byte", k)
		case seen[k]:
			return fmt.Errorf("env %s declared twice", k)
		}
		seen[k] = true
	}
	return nil
}

// checkMounts accepts absolute, clean, distinct guest paths.
func checkMounts(mounts []Mount) error {
	seen := make(map[string]bool, len(mounts))
	for _, mt := range mounts {
		switch {
		case mt.HostDir == "":
			return fmt.Errorf("mount %s: no host directory", mt.GuestPath)
		case !path.IsAbs(mt.GuestPath) || path.Clean(mt.GuestPath) != mt.GuestPath:
			return fmt.Errorf("mount %q: guest path must be absolute and clean", mt.GuestPath)
		case seen[mt.GuestPath]:
			return fmt.Errorf("mount %s: guest path mounted twice", mt.GuestPath)
		}
		seen[mt.GuestPath] = true
	}
	return nil
}
