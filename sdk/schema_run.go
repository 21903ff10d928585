package sdk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
)

// SchemaEnv is the environment variable that makes Main and Run print the
// tool's schemas instead of serving a call, when the tool runs natively
// (not as wasm). `moat build` builds an sdk tool for the host OS and runs
// it with SchemaEnv=1, so the schemas come from the same Go types the
// handler uses and no wasm runs to get them; the reply also says whether
// the handler was registered at init time, which decides whether the tool
// is built as a reactor. The argument --moat-schema does the same.
//
// Inside moat the flag is ignored: a wasip1 build always serves the call.
const SchemaEnv = "MOAT_SCHEMA"

// schemaRequested reports whether this process was asked for its schemas.
func schemaRequested() bool {
	if runtime.GOOS == "wasip1" {
		return false
	}
	if os.Getenv(SchemaEnv) == "1" {
		return true
	}
	for _, a := range os.Args[1:] {
		if a == "--moat-schema" {
			return true
		}
	}
	return false
}

// Schemas is what a tool prints in schema mode: its input schema, its
// output schema or null for a text result, and whether its handler was
// registered at init time.
type Schemas struct {
	Input  json.RawMessage `json:"input"`
	Output json.RawMessage `json:"output"`
	// Reactor says the handler was registered before main ran ([Handle]
	// in an init function), so a -buildmode=c-shared build, which runs
	// only the package inits, serves it from moat_call: moat build then
	// builds a reactor. False (and absent) for [Run] in main.
	Reactor bool `json:"reactor,omitempty"`
}

// printSchemas writes {"input":...,"output":...,"reactor":...} for a
// handler from In to Out, and returns the exit code.
func printSchemas[In, Out any](stdout, stderr io.Writer, reactor bool) int {
	in, err := InputSchema[In]()
	if err != nil {
		fmt.Fprintf(stderr, "input schema: %v\n", err)
		return 1
	}
	out, err := OutputSchema[Out]()
	if err != nil {
		fmt.Fprintf(stderr, "output schema: %v\n", err)
		return 1
	}
	s := Schemas{Input: in, Output: out, Reactor: reactor}
	if out == nil {
		s.Output = json.RawMessage("null")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		fmt.Fprintf(stderr, "schemas: %v\n", err)
		return 1
	}
	if _, err := stdout.Write(buf.Bytes()); err != nil {
		return 1
	}
	return 0
}
