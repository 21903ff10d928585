// Package sandboxtest runs a built module the way a manifest without
// grants would, for the tests of packages that build or scaffold tools
// (internal/build, cmd/moat): one helper instead of a copy in each.
package sandboxtest

import (
	"context"
	"testing"

	"github.com/moatmcp/moat/internal/sandbox"
)

// Load loads wasm with no grants in a runtime of its own (no compile
// cache); both are closed when the test ends.
func Load(t testing.TB, wasm []byte, iso sandbox.Isolation) *sandbox.Module {
	t.Helper()
	ctx := context.Background()
	rt, err := sandbox.New(ctx, &sandbox.Options{NoCache: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(ctx) })
	mod, err := rt.Load(ctx, sandbox.Spec{Name: "tool", Wasm: wasm, Isolation: iso})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mod.Close(ctx) })
	return mod
}

// Call calls mod with args and fails the test on a host error.
func Call(t testing.TB, mod *sandbox.Module, args string) *sandbox.Result {
	t.Helper()
	res, err := mod.Call(context.Background(), []byte(args), nil)
	if err != nil {
		t.Fatalf("%s: %v", args, err)
	}
	return res
}
