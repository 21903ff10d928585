package sdk

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
)

// handler is the registered tool handler with its types erased, so that
// Main and moat_call, which are not generic, can serve it.
type handler struct {
	serve   func(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) int
	schemas func(stdout, stderr io.Writer) int
	// atInit says the handler was registered before main.main ran, i.e.
	// by a package init: only then does a reactor build, which runs the
	// inits and never main, have a handler to serve.
	atInit bool
}

// registered is the tool's one handler. It is set while the program
// starts (by Handle in an init, or by Run in main) and only read after, so
// it needs no lock; a reactor's calls all see the value its inits left.
var registered *handler

// noHandler is what Main and moat_call say when nothing was registered;
// the usual cause is sdk.Run in main in a c-shared build, which never runs
// main.
const noHandler = "no handler registered: call sdk.Handle(handler) from an init function (a reactor build runs only package inits, never main)"

func newHandler[In, Out any](h func(context.Context, In) (Out, error), atInit bool) *handler {
	return &handler{
		serve: func(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) int {
			return run(ctx, stdin, stdout, stderr, h)
		},
		schemas: func(stdout, stderr io.Writer) int {
			return printSchemas[In, Out](stdout, stderr, atInit)
		},
		atInit: atInit,
	}
}

// Handle registers h as the tool's handler. Call it from an init function
// and call [Main] from main:
//
//	func init() { sdk.Handle(search) }
//	func main() { sdk.Main() }
//
// Registered at init time, the handler can be served by a reactor build:
// the host runs the package inits once when it loads the module and each
// call then runs only the handler, starting from a snapshot of that
// initialised state. So do in init what every call needs and nothing that
// belongs to one call: no reading of stdin, files, the clock or the
// environment a call might see differently. Handle itself, called from an
// init, encodes a zero In and a zero Out once (running their MarshalJSON
// methods, if any, on zero values) so that encoding/json's reflection
// caches are built before the snapshot rather than in every call.
//
// A tool has one handler: Handle panics when called twice or with nil.
func Handle[In, Out any](h func(ctx context.Context, in In) (Out, error)) {
	handleInto(&registered, h)
}

// handleInto is Handle registering into slot: &registered in a tool, a
// test's own variable in tests.
func handleInto[In, Out any](slot **handler, h func(ctx context.Context, in In) (Out, error)) {
	if h == nil {
		panic("sdk.Handle: nil handler")
	}
	if *slot != nil {
		panic("sdk.Handle: a handler is already registered; a tool has one")
	}
	atInit := !mainRunning()
	if atInit {
		warmJSON[In, Out]() // into a reactor's snapshot (warm.go)
	}
	*slot = newHandler(h, atInit)
}

// Main serves one call with the handler registered by [Handle]: it reads
// the arguments from stdin and writes the result to stdout, or a tool
// error to stderr, and exits with the code, as [Run] does. Run natively
// with MOAT_SCHEMA=1 it prints the handler's schemas instead. Main does
// not return.
//
// A reactor build never runs main, so Main is what a command build of the
// same source runs (and `go run`, and the schema probe of `moat build`).
func Main() {
	os.Exit(serveMain(registered, schemaRequested(), os.Stdin, os.Stdout, os.Stderr))
}

// serveMain is Main without the process, serving h (the registered
// handler): it returns the exit code.
func serveMain(h *handler, schema bool, stdin io.Reader, stdout, stderr io.Writer) int {
	if h == nil {
		fmt.Fprintln(stderr, "sdk.Main: "+noHandler)
		return 1
	}
	if schema {
		return h.schemas(stdout, stderr)
	}
	return h.serve(context.Background(), stdin, stdout, stderr)
}

// serveCall is the body of a reactor's moat_call (reactor_wasip1.go),
// run once per call, possibly many times in one instance: it serves h,
// the registered handler, and returns the exit code. A panic in the handler is
// reported like the Go runtime reports one in a command (exit code 2, the
// value and the stack on stderr) instead of trapping, so the host treats
// it as the tool failing rather than as a fault of the module.
//
// It keeps no state between calls; the handler's own package state is its
// author's business (docs/authoring.md).
func serveCall(h *handler, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	if h == nil {
		fmt.Fprintln(stderr, "moat_call: "+noHandler)
		return 1
	}
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "panic: %v\n\n%s", r, debug.Stack())
			code = 2
		}
	}()
	return h.serve(context.Background(), stdin, stdout, stderr)
}

// mainRunning reports whether main.main is on the calling goroutine's
// stack: false during package initialisation, which runs before it.
func mainRunning() bool {
	pcs := make([]uintptr, 64)
	for {
		n := runtime.Callers(1, pcs)
		if n < len(pcs) {
			pcs = pcs[:n]
			break
		}
		pcs = make([]uintptr, 2*len(pcs))
	}
	frames := runtime.CallersFrames(pcs)
	for {
		f, more := frames.Next()
		if f.Function == "main.main" {
			return true
		}
		if !more {
			return false
		}
	}
}
