package sandbox

import (
	"context"
	"crypto/sha256"
	"runtime"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"
)

// Modules with identical bytes share one wazero.CompiledModule. wazero
// already keeps one copy of the native code per module digest, but each
// CompileModule call decodes the module again and keeps the decoding for
// the compiled module's life: for a Go tool that is ≈ 2.7 MiB of Go heap
// (mostly a copy of every function body), held once per tool. The same
// Go tool served under several names, or a reload that loads the tool set
// again next to the old one, then holds it once.
//
// Sharing is safe: a CompiledModule is immutable and any number of
// instances of it may run at once; what differs between two tools of one
// module (name, environment, mounts, limits) is in their ModuleConfig and
// Module, never in the compiled code.

// sharedCompiled is one compiled module and how many Modules use it.
// Runtime.mu guards refs.
type sharedCompiled struct {
	compiled wazero.CompiledModule
	refs     int
}

// compile returns the compiled form of wasm, compiling it only when no
// open Module of r uses the same bytes, and the key to release it with.
func (r *Runtime) compile(ctx context.Context, wasm []byte) (wazero.CompiledModule, [sha256.Size]byte, error) {
	key := sha256.Sum256(wasm)
	r.mu.Lock()
	if s, ok := r.compiled[key]; ok {
		s.refs++
		r.mu.Unlock()
		return s.compiled, key, nil
	}
	r.mu.Unlock()
	n := r.compiling.Add(1)
	c, err := r.rt.CompileModule(experimental.WithCompilationWorkers(ctx, workersFor(runtime.GOMAXPROCS(0), int(n))), wasm)
	r.compiling.Add(-1)
	if err != nil {
		return nil, key, err
	}
	r.mu.Lock()
	if s, ok := r.compiled[key]; ok { // compiled meanwhile by another Load
		s.refs++
		r.mu.Unlock()
		c.Close(ctx)
		return s.compiled, key, nil
	}
	r.compiled[key] = &sharedCompiled{compiled: c, refs: 1}
	r.mu.Unlock()
	return c, key, nil
}

// releaseCompiled drops a Module's use of the compiled module under key,
// closing it with the last one.
func (r *Runtime) releaseCompiled(ctx context.Context, key [sha256.Size]byte) error {
	r.mu.Lock()
	s, ok := r.compiled[key]
	if !ok {
		r.mu.Unlock()
		return nil
	}
	if s.refs--; s.refs > 0 {
		r.mu.Unlock()
		return nil
	}
	delete(r.compiled, key)
	r.mu.Unlock()
	return s.compiled.Close(ctx)
}

// workersFor is the number of goroutines wazero compiles one module's
// functions with when inFlight compilations (this one included) share
// cores: all of them when it is the only one in flight (one tool loaded
// or reloaded, or the last of a batch), one each when host.LoadTools
// already runs a compilation per core. wazero's function-level workers
// cost more memory and a serial relocation pass, so module-level
// parallelism is preferred when there is enough of it. The share is taken
// when a compilation starts and not revised.
func workersFor(cores, inFlight int) int {
	return max(1, cores/max(1, inFlight))
}
