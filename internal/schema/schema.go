// Package schema validates a tool's arguments against the input JSON Schema of
// its manifest, and the tool's structured output against its output schema.
//
// It sits after authorisation and before the sandbox on the call path:
//
//	transport → authenticate → rate limit → MCP server → authorise →
//	validate (internal/schema) → sandbox → result (output validated here too) → audit
//
// Schemas are JSON Schema 2020-12 (draft-07 is accepted when declared with
// $schema), checked by github.com/google/jsonschema-go. Each schema is
// compiled once, when the manifest is loaded; compiling refuses what could
// hurt the host later: oversized or deeply nested schemas, references outside
// the document (nothing is ever fetched), reference cycles that would recurse
// without consuming input, and numbers the validator cannot hold exactly.
//
// Documents are decoded by this package, not by the validator's caller, so
// that the validator sees exactly what the guest will parse: duplicate keys
// (including keys that differ only in letter case), invalid UTF-8, unpaired
// surrogate escapes, trailing data and imprecise numbers are refused. The
// decode on the call path is one pass over the bytes; encoding/json's token
// walk stays as its reference and words every refusal (see decode).
//
// Errors for a document are [*ValidationError]: a JSON Pointer to the
// offending field and a short reason meant for the agent, with no Go type names
// and no echoed value longer than 64 bytes. Errors from compiling wrap
// [ErrInvalidSchema] and are meant for the operator.
package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"

	"github.com/google/jsonschema-go/jsonschema"
)

// MaxSchemaBytes is the largest raw schema accepted by CompileInput and
// CompileOutput.
const MaxSchemaBytes = 256 << 10

// Errors returned by CompileInput and CompileOutput. Every one of them wraps
// ErrInvalidSchema.
var (
	ErrInvalidSchema  = errors.New("invalid schema")
	ErrSchemaTooLarge = fmt.Errorf("%w: larger than %d bytes", ErrInvalidSchema, MaxSchemaBytes)
	ErrExternalRef    = fmt.Errorf("%w: only in-document references (\"#...\") are allowed", ErrInvalidSchema)
	ErrRefCycle       = fmt.Errorf("%w: reference cycle", ErrInvalidSchema)
)

// Schema is a compiled JSON Schema.
//
// # Notes
//
//   - Immutable after compiling; safe for concurrent use.
type Schema struct {
	raw      json.RawMessage
	input    bool
	resolved *jsonschema.Resolved
	// tree is the schema as a generic JSON tree, walked by explain to name
	// the offending field when the validator rejects a document.
	tree     any
	nodes    map[string]any    // canonical JSON Pointer → subschema (object or bool)
	anchors  map[string]string // $anchor → canonical JSON Pointer
	patterns map[string]*regexp.Regexp
}

// CompileInput compiles the input schema of a tool. On top of CompileOutput's
// checks, the schema's top-level "type", if present, must be "object": MCP tool
// arguments are always an object.
func CompileInput(raw json.RawMessage) (*Schema, error) {
	s, err := compile(raw)
	if err != nil {
		return nil, err
	}
	if t, ok := s.tree.(map[string]any)["type"]; ok && t != "object" {
		return nil, fmt.Errorf("%w: an input schema's type must be \"object\"", ErrInvalidSchema)
	}
	s.input = true
	return s, nil
}

// CompileOutput compiles the output schema of a tool. The schema must be a
// JSON object of at most MaxSchemaBytes, nested at most MaxDepth levels, whose
// references ($ref) all point inside the document.
func CompileOutput(raw json.RawMessage) (*Schema, error) {
	return compile(raw)
}

func compile(raw json.RawMessage) (s *Schema, err error) {
	if len(raw) > MaxSchemaBytes {
		return nil, ErrSchemaTooLarge
	}
	tree, derr := decode(raw, schemaNumbers)
	if derr != nil {
		if derr.path != "" {
			return nil, fmt.Errorf("%w: at %q: %s", ErrInvalidSchema, derr.path, derr.msg)
		}
		return nil, fmt.Errorf("%w: %s", ErrInvalidSchema, derr.msg)
	}
	root, ok := tree.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: not a JSON object", ErrInvalidSchema)
	}
	s = &Schema{
		raw:      append(json.RawMessage(nil), raw...),
		tree:     root,
		nodes:    map[string]any{},
		anchors:  map[string]string{},
		patterns: map[string]*regexp.Regexp{},
	}
	if err := s.index(root, "", true); err != nil {
		return nil, err
	}
	if err := s.checkCycles(); err != nil {
		return nil, err
	}
	if err := s.checkFanOut(); err != nil {
		return nil, err
	}

	// jsonschema-go is a library written for trusted schemas; a panic in it
	// must not take the host down while loading a manifest.
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("%w: rejected by the validator", ErrInvalidSchema)
		}
	}()
	var js jsonschema.Schema
	if err := json.Unmarshal(raw, &js); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidSchema, err)
	}
	resolved, err := js.Resolve(&jsonschema.ResolveOptions{
		Loader: func(*url.URL) (*jsonschema.Schema, error) {
			return nil, ErrExternalRef // index has refused these already
		},
		ValidateDefaults: true,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidSchema, err)
	}
	s.resolved = resolved
	return s, nil
}

// Raw returns the schema as it was given, for tools/list. The caller must not
// modify it.
func (s *Schema) Raw() json.RawMessage { return s.raw }

// Validate checks one JSON document, the arguments of a call or the output of
// a tool, and returns nil or a *ValidationError.
//
// The document is validated exactly as given: a tools/call without arguments
// must be passed as {}, not as null or an empty slice. The caller caps its
// size; Validate caps its nesting at MaxDepth. Arguments (for a schema from
// CompileInput) must be a JSON object.
func (s *Schema) Validate(doc json.RawMessage) (err error) {
	v, derr := decode(doc, documentNumbers)
	if derr != nil {
		return s.invalid(derr.path, derr.msg)
	}
	if _, ok := v.(map[string]any); s.input && !ok {
		return s.invalid("", "arguments must be a JSON object, got "+jsonType(v))
	}
	defer func() {
		if r := recover(); r != nil {
			err = s.invalid("", "does not match the schema")
		}
	}()
	verr := s.resolved.Validate(v)
	if verr == nil {
		return nil
	}
	// The validator's own messages echo whole values and Go types, and do
	// not say where in the document the problem is; explain finds the
	// field. If it cannot, the keyword that failed is still worth naming.
	if e := s.explain(v); e != nil {
		return s.invalid(e.path, e.msg)
	}
	msg := "does not match the schema"
	if kw := failedKeyword(verr.Error()); kw != "" {
		msg += " (" + strconv.Quote(kw) + " not satisfied)"
	}
	return s.invalid("", msg)
}

func (s *Schema) invalid(path, msg string) *ValidationError {
	return &ValidationError{Path: path, Msg: msg, output: !s.input}
}

// ValidationError is a document that does not match its schema.
type ValidationError struct {
	// Path is a JSON Pointer to the offending field: "/path", "/items/3/name",
	// or "" for the whole document. For a missing required property it points
	// to where the property should be.
	Path string
	// Msg is a short reason meant for the agent.
	Msg string

	output bool
}

// Error returns e.g. `invalid argument "/path": expected string, got number`.
func (e *ValidationError) Error() string {
	what := "argument"
	if e.output {
		what = "output"
	}
	if e.Path == "" {
		if what == "argument" {
			what = "arguments"
		}
		return "invalid " + what + ": " + e.Msg
	}
	return "invalid " + what + " " + strconv.Quote(e.Path) + ": " + e.Msg
}
