// Package abi holds the names of moat's guest ABI v1 (docs/abi.md) in one
// place: the host module and its functions, and the exports the host
// calls. The sandbox links and calls them, moat build checks them; the
// guest SDKs spell them in their own languages (sdk/*.go in go:wasmimport
// directives, sdk/c/moat.h, tools/hello_as/assembly), and TestNames checks
// that every name they and docs/abi.md use is one of these, and that every
// host function is in each. It is a leaf: it imports nothing.
package abi

const (
	// Module is the import module of moat's host functions.
	Module = "moat"

	// Host functions, always linked.
	Log           = "log"
	Progress      = "progress"
	ExitCode      = "exit_code"
	InputRequest  = "input_request"
	InputResponse = "input_response"
	// Host functions linked with the [net] grant.
	HTTPRequest  = "http_request"
	HTTPResponse = "http_response"

	// CommandEntry is a command module's entry: WASI's _start.
	CommandEntry = "_start"
	// ReactorEntry is the function a reactor module exports for each
	// call: () -> (), reading the arguments from stdin and writing the
	// result to stdout exactly like a command's _start.
	ReactorEntry = "moat_call"
	// ReactorInit is the WASI reactor initialiser (Go's
	// -buildmode=c-shared and clang's -mexec-model=reactor export it); run
	// once, at Load.
	ReactorInit = "_initialize"
)

// Functions are the host functions of module moat, in the order
// docs/abi.md lists them.
var Functions = []string{Log, Progress, ExitCode, HTTPRequest, HTTPResponse, InputRequest, InputResponse}
