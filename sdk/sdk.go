// Package sdk is what a Go tool author imports to write a moat tool.
//
// A moat tool is a WASI preview 1 command module (GOOS=wasip1 GOARCH=wasm).
// The host writes the call's arguments — one JSON object, already validated
// against the manifest's input schema — to the tool's stdin, runs it once,
// and reads the result from stdout (ABI v1, docs/abi.md). Run does that
// plumbing so a tool is one typed function:
//
//	type In struct{ Path string `json:"path"` }
//
//	func main() {
//		sdk.Run(func(ctx context.Context, in In) (string, error) {
//			b, err := os.ReadFile(filepath.Join("/data", in.Path))
//			return string(b), err
//		})
//	}
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

// Run decodes stdin into In, calls h, and writes its output to stdout: as
// text when Out is string or Text, as one JSON value otherwise. An error
// from h is written to stderr and the process exits with a non-zero code.
// Run does not return.
//
// Run natively with MOAT_SCHEMA=1 (see [SchemaEnv]), it prints the
// handler's input and output schemas instead and exits 0.
func Run[In, Out any](h func(ctx context.Context, in In) (Out, error)) {
	if schemaRequested() {
		os.Exit(printSchemas[In, Out](os.Stdout, os.Stderr))
	}
	os.Exit(run(context.Background(), os.Stdin, os.Stdout, os.Stderr, h))
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
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
