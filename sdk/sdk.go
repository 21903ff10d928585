// Package sdk is what a Go tool author imports to write a moat tool.
//
// A moat tool is a WASI preview 1 module (GOOS=wasip1 GOARCH=wasm). The
// host writes the call's arguments — one JSON object, already validated
// against the manifest's input schema — to the tool's stdin, runs the
// tool's entry, and reads the result from stdout (ABI v1, docs/abi.md).
// The sdk does that plumbing so a tool is one typed function, registered
// at init time:
//
//	type In struct{ Path string `json:"path"` }
//
//	func init() { sdk.Handle(readFile) }
//	func main() { sdk.Main() }
//
//	func readFile(ctx context.Context, in In) (string, error) {
//		b, err := os.ReadFile(filepath.Join("/data", in.Path))
//		return string(b), err
//	}
//
// Registered in init, the handler is served two ways: `moat build` makes
// a reactor (-buildmode=c-shared), whose package inits run once when the
// host loads it and whose exported moat_call serves each call from a
// snapshot of that state (≈ 0.1 ms a call in process, its instance reset
// in place between calls, instead of ≈ 1.4 ms for a command that starts
// the Go runtime every time); built as a plain command, main calls Main,
// which serves one call. A tool error is reported with moat.exit_code, so
// it does not cost the reactor its instance. The older form,
// sdk.Run(h) in main, registers and serves in one step and always builds
// as a command.
//
// In the call path the sdk is the far end: transport → authenticate →
// rate limit → MCP server → authorise → validate → sandbox → (this
// package, inside the guest) → result → audit.
//
// The package uses the standard library only, so a tool's module stays
// small and its supply chain short.
package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// MaxInput is the most stdin Run reads. The host enforces the manifest's
// own cap before the tool starts; this is a second fence for tools run by
// hand.
const MaxInput = 64 << 20

// Error is a tool error: Run prints Msg to stderr and exits with Code
// (1 when zero). The host returns it to the agent as a result with
// isError set, so Msg must be written for the agent to read.
type Error struct {
	Msg  string
	Code int
}

func (e *Error) Error() string { return e.Msg }

// Errorf returns a tool error with a formatted message.
func Errorf(format string, args ...any) error {
	return &Error{Msg: fmt.Sprintf(format, args...)}
}

// Text is an output that is written to stdout as it is, not as JSON. A
// handler whose output type is string is treated the same way.
type Text string

// Run registers h and serves one call with it, as Main does: it decodes
// stdin into In, calls h, and writes its output to stdout — as text when
// Out is string or Text, as one JSON value otherwise. An error from h is
// written to stderr and the process exits with a non-zero code. Run does
// not return.
//
// Run natively with MOAT_SCHEMA=1 (see [SchemaEnv]), it prints the
// handler's input and output schemas instead and exits 0.
//
// A tool that calls Run from main is built as a command, which starts the
// Go runtime afresh for every call; prefer [Handle] in an init function
// and [Main] in main.
func Run[In, Out any](h func(ctx context.Context, in In) (Out, error)) {
	if registered != nil {
		fmt.Fprintln(os.Stderr, "sdk.Run: a handler is already registered with sdk.Handle; call sdk.Main from main instead")
		os.Exit(1)
	}
	registered = newHandler(h, false)
	Main()
}

func run[In, Out any](ctx context.Context, stdin io.Reader, stdout, stderr io.Writer, h func(context.Context, In) (Out, error)) int {
	var in In
	data, err := io.ReadAll(io.LimitReader(stdin, MaxInput+1))
	if err != nil {
		fmt.Fprintf(stderr, "reading arguments: %v\n", err)
		return 1
	}
	if len(data) > MaxInput {
		fmt.Fprintln(stderr, "arguments too large")
		return 1
	}
	if len(bytes.TrimSpace(data)) == 0 {
		data = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		fmt.Fprintf(stderr, "invalid arguments: %v\n", err)
		return 1
	}
	out, err := h(ctx, in)
	if err != nil {
		code := 1
		var te *Error
		if errors.As(err, &te) && te.Code != 0 {
			code = te.Code
		}
		fmt.Fprintln(stderr, err.Error())
		return code
	}
	if err := writeOutput(stdout, out); err != nil {
		fmt.Fprintf(stderr, "writing result: %v\n", err)
		return 1
	}
	return 0
}

func writeOutput(w io.Writer, out any) error {
	switch v := out.(type) {
	case string:
		_, err := io.WriteString(w, v)
		return err
	case Text:
		_, err := io.WriteString(w, string(v))
		return err
	}
	// No HTML escaping: the result is read by a model, as text, and
	// "\u003c" in place of "<" is noise to it. The output is not HTML.
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := w.Write(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
	return err
}
