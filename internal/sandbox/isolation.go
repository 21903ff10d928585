package sandbox

import (
	"context"
	"fmt"

	"github.com/moatmcp/moat/internal/manifest"

	"github.com/tetratelabs/wazero/api"
)

// Isolation says which calls of a reactor module may share an instance:
// the manifest's vocabulary (internal/manifest owns it; "" means per-call).
// Command modules (the ABI v1 default) are always IsolationPerCall.
type Isolation = manifest.Isolation

// The isolation modes, as the manifest spells them.
const (
	// IsolationPerCall runs every call in a fresh instance: nothing one
	// call writes is visible to the next. The default, and the only mode
	// for command modules. Reactors start each call from the snapshot
	// taken after their initialisation.
	IsolationPerCall = manifest.IsolationPerCall
	// IsolationPerPrincipal reuses instances across calls of the same
	// principal (see WithPrincipal) only; calls without a principal get a
	// fresh instance.
	IsolationPerPrincipal = manifest.IsolationPerPrincipal
	// IsolationShared reuses instances across all callers. What one call
	// leaves in memory (globals, caches, goroutines) the next may see.
	IsolationShared = manifest.IsolationShared
)

// DefaultRecycleAfter is how many calls a reused instance serves before it
// is discarded, bounding how long state can build up in a shared
// instance.
const DefaultRecycleAfter = 100

// WithPrincipal returns ctx carrying the id of the caller a call runs for.
// Under IsolationPerPrincipal, instances are reused only between calls
// with the same non-empty id; the host sets it from the authenticated
// principal.
func WithPrincipal(ctx context.Context, id string) context.Context {
	o := optionsOf(ctx)
	o.Principal = id
	return WithCallOptions(ctx, o)
}

// poolKey says which idle instances a call may take: ok is false when the
// call must run in a fresh one.
func poolKey(ctx context.Context, iso Isolation) (key string, ok bool) {
	switch iso {
	case IsolationShared:
		return "", true
	case IsolationPerPrincipal:
		id := optionsOf(ctx).Principal
		return id, id != "" // no principal: fail closed, share with nobody
	}
	return "", false
}

// checkReactor checks the reactor entry's signature: () -> ().
func checkReactor(compiled interface {
	ExportedFunctions() map[string]api.FunctionDefinition
}) error {
	fn := compiled.ExportedFunctions()[ReactorExport]
	if len(fn.ParamTypes()) != 0 || len(fn.ResultTypes()) != 0 {
		return fmt.Errorf("module's %s function takes parameters or returns results", ReactorExport)
	}
	return nil
}
