package sandbox_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/moatmcp/moat/internal/sandbox"
)

// Load a tool module once, then run each call in a fresh instance.
func Example() {
	ctx := context.Background()
	rt, err := sandbox.New(ctx, &sandbox.Options{NoCache: true})
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close(ctx)

	wasm, err := os.ReadFile("../../testdata/guests/lim_echo.wasm")
	if err != nil {
		log.Fatal(err)
	}
	mod, err := rt.Load(ctx, sandbox.Spec{
		Name:   "echo",
		Wasm:   wasm,
		Env:    []string{"LANG=C.UTF-8"},
		Limits: sandbox.Limits{MemoryBytes: 16 << 20, MaxOutputBytes: 64 << 10},
	})
	if err != nil {
		log.Fatal(err) // for the operator: e.g. an import moat does not provide
	}
	defer mod.Close(ctx)

	res, err := mod.Call(ctx, []byte(`{"text":"hi"}`), nil)
	if err != nil {
		log.Fatal(err) // a host fault, ErrInputTooLarge or ErrBusy
	}
	fmt.Println(res.Outcome, res.ExitCode, string(res.Stdout))
	// Output: ok 0 {"text":"hi"}
}
