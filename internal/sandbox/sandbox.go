// Package sandbox runs one tool call in a fresh WebAssembly instance that
// can reach only what the tool's manifest grants.
//
// It is the "sandbox" stage of the call path:
//
//	transport → authenticate → rate limit → MCP server → authorise →
//	validate (internal/schema) → sandbox (internal/sandbox, internal/rootfs) → result → audit
//
// A Runtime holds one wazero runtime (compiler, private compile cache,
// WASI preview 1 and the always-linked moat host functions). Runtime.Load
// checks and compiles a tool's module once; Module.Call then instantiates
// it afresh for every call, with stdin = the arguments JSON, argv = [name],
// the declared environment and mounts only, and captured, capped
// stdout/stderr, under a memory limit, a timeout and a concurrency cap.
// A reactor module (exporting moat_call, no _start) is initialised once at
// Load and each call restores that snapshot into a fresh instance, resets
// a used one in place or, if its Spec opts into IsolationPerPrincipal or
// IsolationShared, reuses a pooled instance: the snapshot image, the reset
// and the idle pool are package internal/sandbox/reactor, which this
// package drives through its Instance interface (reactor.go here).
//
// A call's Receipt (WithReceipt, receipt.go) records what it used as the
// host observed it: the files opened through the mounts (internal/rootfs
// counts them at the descriptor), wall time, memory peak, output bytes and
// the module's digest; the host adds each outbound request. A call that
// traps midway keeps what it did on its receipt. With tracing on
// (internal/telemetry), Call's span has children for restoring an instance
// and running the guest, and each outbound request gets a client span
// whose trace context is sent to the host contacted.
//
// Guest misbehaviour (non-zero exit, trap, timeout, memory exhaustion,
// output overflow, cancellation) is reported as a Result with an Outcome;
// Call returns an error only for host faults and the sentinels
// ErrInputTooLarge, ErrBusy, ErrHostMemoryBudget and ErrClosed.
// Result.Err carries wazero's error for the log; it must never reach a
// client.
//
// All calls in flight, across modules, share one guest memory budget
// (Options.MaxGuestMemory, budget.go): a call holds its memory limit while
// it runs, and after a burst the memories are trimmed and returned to the
// OS, so the process goes back close to its idle size.
//
// # Design notes
//
// Memory limits are per Module although wazero's WithMemoryLimitPages is a
// runtime option. Instead of one wazero runtime per distinct limit, every
// instance gets a memory allocator (experimental.WithMemoryAllocator) that
// refuses to grow past the module's limit. One runtime then serves all
// modules, and the allocator knows exactly when a guest hit its limit,
// which is how OutcomeMemory is detected (a Go guest then exits 2, a C
// guest's malloc returns NULL, a WAT guest traps: all look alike
// otherwise). The declared minimum memory is checked at Load, so the first
// allocation never exceeds the limit.
//
// wazero's compiled code is only interruptible when the runtime is built
// WithCloseOnContextDone(true): loops then check a flag set when the
// instance's context ends. Each call's context carries the timeout (with a
// private cause) and is cancelled with another private cause when an
// output cap is hit, so Call can tell timeout, overflow and the caller's
// own cancellation apart. The checks have a price: on this project's
// 2-core test machine a tight loop iteration costs ~30 ns instead of
// ~1.4 ns (wazero exits to Go at every loop back-edge); CPU-heavy tools
// pay it, and it is the only way to stop a runaway guest.
//
// Not bounded here: wazero grows a guest's call stack on the host up to
// about 50-100 MB before it reports a stack overflow, outside the memory
// limit (wazero offers no knob for it).
//
// The compile cache holds native code that we execute, so its directory
// must be private: Load refuses a cache directory that is a symlink, not
// owned by us, or writable by group or others.
package sandbox

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/moatmcp/moat/internal/manifest"
	"github.com/moatmcp/moat/internal/sandbox/reactor"
)

var (
	// ErrInputTooLarge is returned by Module.Call, before any instance is
	// created, when stdin is larger than Limits.MaxInputBytes.
	ErrInputTooLarge = errors.New("input too large")
	// ErrBusy is returned by Module.Call when Limits.MaxConcurrency calls
	// are running and no slot freed before ctx ended or the wait bound
	// (the module's timeout) expired.
	ErrBusy = errors.New("too many concurrent calls")
	// ErrClosed is returned by Module.Call after Module.Close or
	// Runtime.Close.
	ErrClosed = errors.New("module closed")
	// ErrInsecureCacheDir is returned by New when the compile cache
	// directory could be written by someone else.
	ErrInsecureCacheDir = errors.New("insecure compile cache directory")
)

// Options configures New. A nil *Options means the zero value.
type Options struct {
	// CacheDir is where compiled native code is cached across processes.
	// "" means filepath.Join(os.UserCacheDir(), "moat", "wazero"). It is
	// created with mode 0700 if missing; an existing directory must be
	// owned by the current user, not a symlink and not writable by group
	// or others.
	CacheDir string
	// NoCache keeps compiled code in memory only (CacheDir is ignored).
	// Every process then compiles every module again.
	NoCache bool
	// MaxGuestMemory is the guest memory all calls in flight may hold
	// together, across every module: each call holds its module's
	// Limits.MemoryBytes while it runs (budget.go says why the declared
	// limit). A call that would go over waits briefly (up to a second, or
	// its context), then fails with ErrHostMemoryBudget; Load refuses a
	// module whose limit alone is over it. 0 means
	// DefaultMaxGuestMemory(): half of the machine's (or container's)
	// memory, at most 64 GiB.
	MaxGuestMemory uint64
	// MaxIdleInstances caps the reactor instances kept idle for reuse
	// across every module (each module keeps at most its
	// Limits.MaxConcurrency): past it, a finished call's instance is
	// closed instead of kept. The host sets it from [sandbox]
	// max_idle_instances. 0 or less means DefaultMaxIdleInstances.
	MaxIdleInstances int
}

// DefaultMaxIdleInstances is Options.MaxIdleInstances's zero value
// ([sandbox] max_idle_instances' default, which internal/manifest owns):
// about 400 MiB of idle Go reactor instances at ≈ 3 MiB each.
const DefaultMaxIdleInstances = manifest.DefaultMaxIdleInstances

// Runtime compiles and runs tool modules. Create it with New.
//
// # Notes
//
//   - Safe for concurrent use.
//   - Close it after closing its Modules (it closes them too).
type Runtime struct {
	rt       wazero.Runtime
	cache    wazero.CompilationCache
	wasi     map[string]api.FunctionDefinition // WASI preview 1 exports, by name
	cacheDir string                            // "" when NoCache
	closed   atomic.Bool

	budget *memBudget     // guest memory of the calls in flight
	images reactor.Images // reactor snapshot images, shared by content
	idle   reactor.Cap    // idle reactor instances across modules (Options.MaxIdleInstances)
	// poolTimer schedules the idle pools' trims (nil: time.AfterFunc);
	// tests set it before Load to trim by hand.
	poolTimer func(time.Duration, func()) reactor.Timer

	compiling atomic.Int32 // compilations in flight, to share the cores (compiled.go)

	mu       sync.Mutex
	modules  map[*Module]struct{}                  // open modules, closed by Close
	compiled map[[sha256.Size]byte]*sharedCompiled // compiled code by the bytes compiled (compiled.go)
}

// New creates a Runtime: one wazero runtime using the compiler where
// available, the compile cache, WASI preview 1 and the moat host module.
//
//	rt, err := sandbox.New(ctx, nil) // cache in the user's cache dir
//	defer rt.Close(ctx)
func New(ctx context.Context, opts *Options) (*Runtime, error) {
	if opts == nil {
		opts = &Options{}
	}
	budget := opts.MaxGuestMemory
	if budget == 0 {
		budget = DefaultMaxGuestMemory()
	}
	r := &Runtime{modules: map[*Module]struct{}{}, compiled: map[[sha256.Size]byte]*sharedCompiled{}, budget: newMemBudget(budget)}
	r.idle.Max = int64(opts.MaxIdleInstances)
	if r.idle.Max <= 0 {
		r.idle.Max = DefaultMaxIdleInstances
	}
	if opts.NoCache {
		r.cache = wazero.NewCompilationCache()
	} else {
		dir := opts.CacheDir
		if dir == "" {
			base, err := os.UserCacheDir()
			if err != nil {
				return nil, fmt.Errorf("compile cache: %w", err)
			}
			dir = filepath.Join(base, "moat", "wazero")
		}
		if err := prepareCacheDir(dir); err != nil {
			return nil, err
		}
		cache, err := wazero.NewCompilationCacheWithDir(dir)
		if err != nil {
			return nil, fmt.Errorf("compile cache %s: %w", dir, err)
		}
		// wazero adds a versioned subdirectory; hold it to the same rule.
		if err := checkCacheSubdirs(dir); err != nil {
			cache.Close(ctx)
			return nil, err
		}
		r.cache, r.cacheDir = cache, dir
	}
	cfg := wazero.NewRuntimeConfig().
		WithCloseOnContextDone(true).
		WithCompilationCache(r.cache)
	r.rt = wazero.NewRuntimeWithConfig(ctx, cfg)
	if err := r.instantiateHostModules(ctx); err != nil {
		r.Close(ctx)
		return nil, err
	}
	return r, nil
}

func (r *Runtime) instantiateHostModules(ctx context.Context) error {
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r.rt); err != nil {
		return fmt.Errorf("instantiate WASI: %w", err)
	}
	wasi := r.rt.Module(wasi_snapshot_preview1.ModuleName)
	if wasi == nil {
		return errors.New("instantiate WASI: module missing")
	}
	r.wasi = wasi.ExportedFunctionDefinitions()
	if err := instantiateMoat(ctx, r.rt); err != nil {
		return fmt.Errorf("instantiate moat host module: %w", err)
	}
	if err := instantiateReset(ctx, r.rt); err != nil {
		return fmt.Errorf("instantiate reset host module: %w", err)
	}
	return nil
}

// Close closes every open Module (each waits for its calls in flight
// until ctx ends, then stops them), then the host modules and the
// in-memory compile cache. Later Loads and Calls fail.
func (r *Runtime) Close(ctx context.Context) error {
	r.mu.Lock()
	r.closed.Store(true) // under mu: no Load registers a module after this
	mods := make([]*Module, 0, len(r.modules))
	for m := range r.modules {
		mods = append(mods, m)
	}
	r.mu.Unlock()
	var errs []error
	for _, m := range mods {
		errs = append(errs, m.Close(ctx))
	}
	if r.rt != nil {
		errs = append(errs, r.rt.Close(ctx))
	}
	if r.cache != nil {
		errs = append(errs, r.cache.Close(ctx))
	}
	r.budget.trimmer.stop()
	return errors.Join(errs...)
}
