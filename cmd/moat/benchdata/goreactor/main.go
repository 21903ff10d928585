// Command goreactor is the reactor form of goecho for `moat bench`: built
// with -buildmode=c-shared, its runtime starts once, at load, and each
// call runs moat_call from a snapshot of the initialised instance (or, in
// the shared modes, a reused instance).
package main

import (
	"io"
	"os"
)

//lint:ignore U1000 called by the host through go:wasmexport, which staticcheck does not see
//go:wasmexport moat_call
func moatCall() { io.Copy(os.Stdout, os.Stdin) }

func main() {}
