package sandbox

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// Reset in place (per-call isolation without a new instance per call).
//
// A reactor call under IsolationPerCall normally starts in a new instance
// restored from the snapshot: for a Go guest that is ≈ 1.4 ms, most of it
// allocating and zeroing a fresh 3 MiB memory and re-initialising a
// 1,600-entry function table. Resetting the *same* instance instead —
// writing the snapshot image back over its memory, which is still in the
// CPU cache, and restoring every global — costs ≈ 0.1 ms. It is only
// sound when nothing else in the instance can carry state from one call to
// the next, so Load allows it only when all of these hold:
//
//   - No instruction changes a table or a segment's dropped flag
//     (stateOps): wazero cannot read or restore those.
//   - The WASI descriptor table cannot change, or is checked. Without
//     mounts it holds only stdin, stdout and stderr: with no directory
//     descriptor, path_open cannot open anything; fd_renumber refuses
//     stdio (wazero treats it as pre-opened); fd_fdstat_set_flags changes
//     nothing on it. The one remaining change, fd_close on stdio, is
//     redirected at load to resetFDClose, which refuses it. With mounts,
//     a call may open, close and renumber files, so after each call the
//     table is compared with the one the instance started with
//     (fdtable.go): any file left open, any stdio or mount closed or
//     replaced, and the instance is discarded.
//
// and after each call, only when the call ended cleanly (no trap, exit,
// timeout or refused grow) and the memory has the snapshot's size (wasm
// memory cannot shrink, so a call that grew it discards the instance).
// What a mount's directory holds is not instance state: it is the host's,
// shared by every call in every isolation mode, as the manifest says.
// The fake clocks (monotonic and wall) and the deterministic random source
// restart where a new instance's would.
// Anything else discards the instance and the next call restores a new
// one, so what a reset instance offers a call is byte for byte what a
// restored one would: the snapshot.
//
// Who does what: this file decides at Load whether a module may be reset
// (what only wazero's view of the module can tell); the reset itself —
// the memory image, the globals, the clocks — is reactor.Image.Reset,
// through the instance's reactor.Instance methods (reactor.go), and the
// idle instances wait in a reactor.Pool.

// resetModule is the host module that stands in for the WASI functions
// reset-in-place modules may not use as is. Its name has the reserved
// prefix: a module that imports it itself is refused.
const resetModule = snapshotGlobalPrefix + "wasi"

// WASI errno values (wasi_snapshot_preview1 "errno").
const (
	errnoSuccess = 0
	errnoBadf    = 8
	errnoNotsup  = 58
)

// resetFDClose is fd_close for reset-in-place modules. With no mounts the
// only descriptors are 0, 1 and 2; closing one would leave the next call
// without it, so it is refused. Any other descriptor does not exist.
func resetFDClose(_ context.Context, _ api.Module, stack []uint64) {
	switch fd := int32(stack[0]); {
	case fd >= 0 && fd <= 2:
		stack[0] = errnoNotsup
	default:
		stack[0] = errnoBadf
	}
}

func instantiateReset(ctx context.Context, rt wazero.Runtime) error {
	_, err := rt.NewHostModuleBuilder(resetModule).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(resetFDClose), []api.ValueType{api.ValueTypeI32}, []api.ValueType{api.ValueTypeI32}).
		WithParameterNames("fd").
		Export("fd_close").
		Instantiate(ctx)
	return err
}

// resetCapable reports why a reactor module cannot be reset in place ("" when
// it can) and returns its bytes with fd_close redirected to resetModule.
func resetCapable(wasm []byte, mounts int) (out []byte, why string) {
	op, err := stateOps(wasm)
	switch {
	case err != nil:
		return nil, fmt.Sprintf("its code could not be scanned (%v)", err)
	case op != "":
		return nil, fmt.Sprintf("it uses %s", op)
	case mounts > 0:
		return wasm, "" // fd_close is needed as it is; the descriptor table is checked after each call instead
	}
	out, err = redirectImport(wasm, wasi_snapshot_preview1.ModuleName, "fd_close", resetModule)
	if err != nil {
		return nil, fmt.Sprintf("its imports could not be rewritten (%v)", err)
	}
	return out, ""
}
