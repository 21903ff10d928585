//go:build wasip1

package sdk

import "os"

// moatCall is the reactor entry (ABI v1, "Reactor entry"): a module built
// with -buildmode=c-shared exports it and no _start, the host runs the
// package inits once at load, and each call runs moatCall with the
// arguments on stdin. Returning is exit code 0; any other code ends the
// call through proc_exit, after which the host discards the instance.
//
// A command build exports it too, next to _start; the host then treats
// the module as a command and never calls it.
//
//go:wasmexport moat_call
func moatCall() {
	if code := serveCall(os.Stdin, os.Stdout, os.Stderr); code != 0 {
		os.Exit(code)
	}
}
