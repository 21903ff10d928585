//go:build wasip1

package sdk

import "os"

// moatCall is the reactor entry (ABI v1, "Reactor entry"): a module built
// with -buildmode=c-shared exports it and no _start, the host runs the
// package inits once at load, and each call runs moatCall with the
// arguments on stdin. A tool error's code is reported with moat.exit_code
// and moatCall returns: unlike proc_exit, that leaves the instance intact,
// so the host can reset and reuse it for the next call.
//
// A command build exports it too, next to _start; the host then treats
// the module as a command and never calls it.
//
//go:wasmexport moat_call
func moatCall() {
	if code := serveCall(registered, os.Stdin, os.Stdout, os.Stderr); code != 0 {
		exitCode(int32(code))
	}
}

// exitCode is moat.exit_code: the call's exit code when moat_call returns.
//
//go:wasmimport moat exit_code
func exitCode(code int32)
