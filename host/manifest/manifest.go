// Package manifest reads the two files an operator writes: one tool
// manifest per tool (a TOML file declaring the tool's module, schemas and
// capability grants) and the server config, moat.toml.
//
// It sits before the call path rather than on it: cmd/moat loads the
// manifests and config at start-up, and the host builds every later stage
// from the result — the transport (listen, TLS, Origin and Host checks, body
// cap) from Config, and for each call the validate stage (host/schema, from
// Tool.InputSchema/OutputSchema) and the sandbox stage (host/sandbox and
// host/rootfs, from Tool.Mounts, Env, Clock, Random, Limits) from Tool.
//
// Decoding is strict and fails closed: an unknown key, a value of the wrong
// type, a duplicate key or a value that breaks a rule is an *Error naming the
// file, line, column and field. Nothing is granted by default: no mounts, no
// environment, a fake clock and deterministic randomness. docs/manifest.md
// and docs/config.md describe every field.
//
// # Notes
//
//   - Values are checked once, at load; a Tool or Config is not changed
//     afterwards and is safe to share between goroutines.
//   - Host-side state is captured at load: the module's bytes and digest,
//     the values of [env] variables taken from the host's environment, and
//     the existence of mounted folders. Reload to pick up changes.
package manifest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Caps on what a manifest may declare or name. They bound the memory one
// manifest can make the host use at load, and are far above real use.
const (
	maxManifestBytes    = 1 << 20   // the manifest file itself
	maxModuleBytes      = 256 << 20 // the module file
	maxSchemaFileBytes  = 256 << 10 // input_schema_file, output_schema_file
	maxNameLen          = 128       // name, in bytes (ASCII only)
	maxTitleBytes       = 1 << 10   // title
	maxDescriptionBytes = 8 << 10   // description
	maxMounts           = 64        // [[mount]] entries
	maxEnv              = 256       // [env] entries
	maxGuestPathBytes   = 1024      // mount guest path
	maxEnvValueBytes    = 32 << 10  // one [env] value
)

// Bounds of [limits].
const (
	pageSize = 64 << 10 // a WebAssembly memory page

	minMemory = pageSize // one page: enough for a small C or WAT guest (a Go guest needs ~42 pages)
	maxMemory = 4 << 30  // the whole wasm32 address space

	minTimeout = time.Millisecond
	maxTimeout = 10 * time.Minute

	minIO = 1
	maxIO = 64 << 20 // max_input, max_output: both are buffered in host memory per call

	minConcurrency = 1
	maxConcurrency = 1024
)

// Tool is one validated tool manifest.
//
// # Notes
//
//   - Paths are absolute and cleaned; a mount's host folder existed at
//     load time.
//   - Wasm holds the module's bytes as read at load, and SHA256 their
//     digest, so the module that runs is the one that was checked.
type Tool struct {
	File         string          // absolute path of the manifest
	Name         string          // MCP tool name: 1–128 bytes of [A-Za-z0-9_.-]
	Title        string          // optional display name
	Description  string          // optional but recommended; at most 8 KiB
	ModulePath   string          // absolute, resolved relative to the manifest's folder
	Wasm         []byte          // the module's bytes (at most 256 MiB; a core module, version 1)
	SHA256       string          // lower-case hex sha256 of Wasm, always computed
	Pinned       bool            // the manifest has sha256, and Wasm matches it
	InputSchema  json.RawMessage // a JSON object with "type": "object"; default {"type":"object"}
	OutputSchema json.RawMessage // nil when none; else as InputSchema
	Result       ResultMode      // how stdout becomes the call result
	Annotations  Annotations     // hints the manifest sets; unset ones are derived by the host
	Mounts       []Mount         // in manifest order; guest paths never overlap
	Env          []EnvVar        // sorted by Name
	Clock        bool            // [grants] clock: the real wall and monotonic clock (default: wazero's fake clock)
	Random       bool            // [grants] random: crypto/rand (default: deterministic)
	Limits       Limits          // every field set (defaults filled in)
	Isolation    Isolation       // which calls may share an instance; default per-call (isolation.go)
	// RequiredScopes are the scopes a caller must hold to see and call the
	// tool (required_scopes); empty = none beyond being allowed the tool.
	RequiredScopes []string
	// Net is the [net] grant (outbound HTTP through moat.http_request);
	// nil means no network.
	Net *NetGrant

	// Line returns the line of a field path such as "limits.memory" or
	// "mount[0].host", or of its nearest ancestor present in the manifest,
	// or 0. The host uses it to position errors it finds later, such as a
	// schema that does not compile.
	Line func(field string) int
}

// ResultMode says how a tool's stdout becomes the MCP call result.
type ResultMode string

const (
	// ResultText returns stdout as one text content item. The default
	// without an output schema.
	ResultText ResultMode = "text"
	// ResultJSON parses stdout as one JSON value, validates it against the
	// output schema and returns it as structuredContent plus a text copy.
	// The default, and then required, with an output schema.
	ResultJSON ResultMode = "json"
	// ResultContent parses stdout as a CallToolResult ({"content": [...],
	// "structuredContent"?, "isError"?}), for images and several items.
	ResultContent ResultMode = "content"
)

// Annotations are the MCP tool hints a manifest sets explicitly ([annotations]
// read_only, destructive, idempotent, open_world). nil means not set: the
// host then derives the hint from the grants, so a tool never claims less
// power than it has.
type Annotations struct {
	ReadOnly, Destructive, Idempotent, OpenWorld *bool
}

// Mount is one host folder visible to the guest.
type Mount struct {
	Host     string // absolute, cleaned; a folder at load time
	Guest    string // absolute, clean, not "/", e.g. "/data"
	ReadOnly bool   // mode = "ro" (the default); false for mode = "rw"
}

// EnvVar is one environment variable of the guest.
type EnvVar struct {
	Name, Value string
}

// Limits bound one call of a tool.
type Limits struct {
	Memory         uint64        // linear memory, bytes, a whole number of 64 KiB pages
	Timeout        time.Duration // wall-clock time of one call
	MaxInput       int64         // stdin (the argument JSON), bytes
	MaxOutput      int64         // stdout, bytes
	MaxConcurrency int           // calls of this tool running at once
	Rate           Rate          // rate: calls per principal of this tool; zero = the server's per_principal_tool
	RateAll        Rate          // rate_all: calls of this tool by everyone together; zero = the server's per_tool
}

// DefaultLimits returns the limits a manifest gets for the fields its
// [limits] table leaves out.
func DefaultLimits() Limits {
	return Limits{
		Memory:         64 << 20,
		Timeout:        10 * time.Second,
		MaxInput:       1 << 20,
		MaxOutput:      1 << 20,
		MaxConcurrency: 8,
	}
}

// defaultInputSchema accepts any object: the MCP minimum for a tool that
// takes no declared arguments.
var defaultInputSchema = json.RawMessage(`{"type":"object"}`)

// Load reads, decodes and validates one tool manifest. Relative paths inside
// it are relative to the manifest's folder. Every error is an *Error.
func Load(path string) (*Tool, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, &Error{File: path, Msg: "cannot resolve the path", Err: ErrFile}
	}
	data, err := readCapped(abs, maxManifestBytes)
	if err != nil {
		return nil, fileError(&Error{File: abs}, "manifest", err)
	}
	return Parse(abs, data)
}

// Parse is Load without reading the manifest file itself: file names the
// manifest (for errors and to resolve relative paths against its folder) and
// data is its content. It still reads the module and schema files the
// manifest names, and checks its mount folders and host variables.
func Parse(file string, data []byte) (*Tool, error) {
	if abs, err := filepath.Abs(file); err == nil {
		file = abs
	}
	d, err := decodeTOML(file, data, maxManifestBytes)
	if err != nil {
		return nil, err
	}
	ix := d.ix
	t := &Tool{File: file, Line: func(field string) int { return ix.pos(field).line }}
	if err := d.tool(t, filepath.Dir(file)); err != nil {
		return nil, err
	}
	return t, nil
}

// LoadDir loads every *.toml file directly in dir, in name order, skipping
// names that start with "." (editor and backup files). It returns the tools
// that loaded and one error per file that did not. A tool name defined by
// two files is an error naming both; the first file keeps the name.
func LoadDir(dir string) ([]*Tool, []error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, []error{&Error{File: dir, Msg: "cannot resolve the path", Err: ErrFile}}
	}
	entries, err := os.ReadDir(abs)
	if err != nil {
		return nil, []error{fileError(&Error{File: abs}, "manifest folder", err)}
	}
	var (
		tools []*Tool
		errs  []error
		seen  = map[string]string{}
	)
	for _, e := range entries { // sorted by name
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".toml") || strings.HasPrefix(name, ".") {
			continue
		}
		t, err := Load(filepath.Join(abs, name))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if prev, dup := seen[t.Name]; dup {
			errs = append(errs, &Error{
				File: t.File, Line: t.Line("name"), Field: "name",
				Msg: fmt.Sprintf("tool %q is already defined in %s", t.Name, prev),
				Err: ErrDuplicateTool,
			})
			continue
		}
		seen[t.Name] = t.File
		tools = append(tools, t)
	}
	return tools, errs
}

// tool decodes and validates the whole manifest into t, in the order the
// fields are documented; the first error wins.
func (d *doc) tool(t *Tool, dir string) error {
	root := table{m: d.root}
	if err := d.strict(root, "name", "title", "description", "module", "sha256", "result",
		"input_schema", "input_schema_file", "output_schema", "output_schema_file",
		"annotations", "mount", "env", "grants", "net", "limits", "required_scopes", "isolation"); err != nil {
		return err
	}

	name, ok, err := d.str(root, "name")
	if err != nil {
		return err
	}
	if !ok {
		return d.errorf("name", ErrMissing, "required: the tool's MCP name")
	}
	if msg := checkToolName(name); msg != "" {
		return d.errorf("name", ErrInvalid, "%s", msg)
	}
	t.Name = name

	if t.Title, _, err = d.str(root, "title"); err != nil {
		return err
	}
	if len(t.Title) > maxTitleBytes {
		return d.errorf("title", ErrTooLarge, "%d bytes; the limit is %s", len(t.Title), formatSize(maxTitleBytes))
	}
	if t.Description, _, err = d.str(root, "description"); err != nil {
		return err
	}
	if len(t.Description) > maxDescriptionBytes {
		return d.errorf("description", ErrTooLarge, "%d bytes; the limit is %s", len(t.Description), formatSize(maxDescriptionBytes))
	}

	if err := d.module(t, root, dir); err != nil {
		return err
	}

	if t.InputSchema, err = d.schema(root, "input_schema", dir); err != nil {
		return err
	}
	if t.InputSchema == nil {
		t.InputSchema = append(json.RawMessage(nil), defaultInputSchema...)
	}
	if t.OutputSchema, err = d.schema(root, "output_schema", dir); err != nil {
		return err
	}
	if t.Result, err = d.result(root, t.OutputSchema != nil); err != nil {
		return err
	}
	if t.Isolation, err = d.isolation(root); err != nil {
		return err
	}

	ann, _, err := d.sub(root, "annotations")
	if err != nil {
		return err
	}
	if err := d.strict(ann, "read_only", "destructive", "idempotent", "open_world"); err != nil {
		return err
	}
	for _, f := range []struct {
		key string
		dst **bool
	}{
		{"read_only", &t.Annotations.ReadOnly},
		{"destructive", &t.Annotations.Destructive},
		{"idempotent", &t.Annotations.Idempotent},
		{"open_world", &t.Annotations.OpenWorld},
	} {
		if *f.dst, err = d.optBool(ann, f.key); err != nil {
			return err
		}
	}

	if t.Mounts, err = d.mounts(root, dir); err != nil {
		return err
	}
	if t.Env, err = d.env(root); err != nil {
		return err
	}

	grants, _, err := d.sub(root, "grants")
	if err != nil {
		return err
	}
	if err := d.strict(grants, "clock", "random"); err != nil {
		return err
	}
	if t.Clock, _, err = d.boolean(grants, "clock"); err != nil {
		return err
	}
	if t.Random, _, err = d.boolean(grants, "random"); err != nil {
		return err
	}

	if t.Net, err = d.net(root, dir); err != nil {
		return err
	}
	if t.RequiredScopes, err = d.requiredScopes(root); err != nil {
		return err
	}
	t.Limits, err = d.limits(root)
	return err
}

// checkToolName returns what is wrong with an MCP tool name, or "".
func checkToolName(name string) string {
	if name == "" {
		return "must not be empty"
	}
	if len(name) > maxNameLen {
		return fmt.Sprintf("is %d bytes long; the limit is %d", len(name), maxNameLen)
	}
	for _, r := range name {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			return fmt.Sprintf("%q is not allowed: use only A-Z, a-z, 0-9, '_', '.' and '-'", r)
		}
	}
	return ""
}

// module reads and checks module and sha256.
func (d *doc) module(t *Tool, root table, dir string) error {
	rel, ok, err := d.str(root, "module")
	if err != nil {
		return err
	}
	if !ok || rel == "" {
		return d.errorf("module", ErrMissing, "required: the path of the tool's .wasm file, relative to the manifest")
	}
	want, pinned, err := d.str(root, "sha256")
	if err != nil {
		return err
	}
	if pinned {
		want = strings.TrimPrefix(want, "sha256:")
		if _, herr := hex.DecodeString(want); herr != nil || len(want) != 2*sha256.Size {
			return d.errorf("sha256", ErrInvalid, "expected 64 hexadecimal digits (optionally after \"sha256:\")")
		}
		want = strings.ToLower(want)
	}
	t.ModulePath = resolve(dir, rel)
	wasm, err := readCapped(t.ModulePath, maxModuleBytes)
	if err != nil {
		return fileError(d.errorf("module", nil, ""), fmt.Sprintf("module %q (%s)", rel, t.ModulePath), err)
	}
	if msg := checkWasmHeader(wasm); msg != "" {
		return d.errorf("module", ErrModule, "module %q: %s", rel, msg)
	}
	sum := sha256.Sum256(wasm)
	t.Wasm, t.SHA256 = wasm, hex.EncodeToString(sum[:])
	if pinned {
		if t.SHA256 != want {
			return d.errorf("sha256", ErrDigest, "module %q has sha256 %s, but the manifest pins %s", rel, t.SHA256, want)
		}
		t.Pinned = true
	}
	return nil
}

// checkWasmHeader returns what is wrong with a module's preamble, or "".
// Components (the component model's binary, "layer 1") are named, since
// wasm32-wasip2 output is the likeliest mistake.
func checkWasmHeader(b []byte) string {
	if len(b) < 8 || string(b[:4]) != "\x00asm" {
		return "not a WebAssembly binary (no \\0asm header)"
	}
	switch string(b[4:8]) {
	case "\x01\x00\x00\x00":
		return ""
	case "\x0d\x00\x01\x00":
		return "is a WebAssembly component; moat runs core modules (build for wasm32-wasip1)"
	}
	return fmt.Sprintf("unsupported WebAssembly binary version % x", b[4:8])
}

// schema reads KEY (an inline table) or KEY_file (a JSON file); nil when
// neither is given.
func (d *doc) schema(root table, key, dir string) (json.RawMessage, error) {
	fileKey := key + "_file"
	inline, hasInline := root.m[key]
	_, hasFile := root.m[fileKey]
	switch {
	case hasInline && hasFile:
		return nil, d.errorf(fileKey, ErrInvalid, "give %s or %s, not both", key, fileKey)
	case hasInline:
		m, ok := inline.(map[string]any)
		if !ok {
			return nil, d.wrongType(key, "a table (a JSON Schema object written in TOML)", inline)
		}
		v, err := d.toJSON(key, m)
		if err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return nil, d.errorf(key, ErrInvalid, "cannot be written as JSON")
		}
		raw := json.RawMessage(bytes.TrimSpace(buf.Bytes()))
		if msg := checkSchemaType(m["type"]); msg != "" {
			return nil, d.errorf(joinPath(key, "type"), ErrInvalid, "%s", msg)
		}
		return raw, nil
	case hasFile:
		rel, _, err := d.str(root, fileKey)
		if err != nil {
			return nil, err
		}
		if rel == "" {
			return nil, d.errorf(fileKey, ErrInvalid, "must not be empty")
		}
		p := resolve(dir, rel)
		data, err := readCapped(p, maxSchemaFileBytes)
		if err != nil {
			return nil, fileError(d.errorf(fileKey, nil, ""), fmt.Sprintf("schema file %q (%s)", rel, p), err)
		}
		if msg := checkJSONObject(data); msg != "" {
			return nil, d.errorf(fileKey, ErrInvalid, "schema file %q: %s", rel, msg)
		}
		var top map[string]json.RawMessage
		_ = json.Unmarshal(data, &top) // checked above
		var typ any
		if raw, ok := top["type"]; ok {
			_ = json.Unmarshal(raw, &typ)
		}
		if msg := checkSchemaType(typ); msg != "" {
			return nil, d.errorf(fileKey, ErrInvalid, "schema file %q: %s", rel, msg)
		}
		var buf bytes.Buffer
		_ = json.Compact(&buf, data) // valid, checked above
		return json.RawMessage(buf.Bytes()), nil
	}
	return nil, nil
}

// checkSchemaType enforces MCP's rule that input and output schemas describe
// objects: arguments and structuredContent are always JSON objects.
func checkSchemaType(v any) string {
	if v == nil {
		return `a tool schema needs type = "object"`
	}
	if s, ok := v.(string); !ok || s != "object" {
		return `must be "object": MCP tool arguments and structured results are JSON objects`
	}
	return ""
}

// checkJSONObject returns what is wrong with a schema file, or "": it must
// be valid UTF-8, exactly one JSON object, and no object in it may repeat a
// key (encoding/json keeps the last, other validators the first: a schema
// must not mean two things).
func checkJSONObject(data []byte) string {
	if !utf8.Valid(data) {
		return "not valid UTF-8"
	}
	if !json.Valid(data) {
		return "not valid JSON"
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type frame struct {
		keys      map[string]bool // nil for an array
		expectKey bool
	}
	var stack []*frame
	values := 0
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].keys != nil {
			stack[n-1].expectKey = true
		}
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "not valid JSON"
		}
		if len(stack) == 0 {
			if values++; values > 1 {
				return "more than one JSON value"
			}
			if tok != json.Delim('{') {
				return "not a JSON object"
			}
		}
		if n := len(stack); n > 0 && stack[n-1].keys != nil && stack[n-1].expectKey {
			if tok == json.Delim('}') {
				stack = stack[:n-1]
				valueDone()
				continue
			}
			k, _ := tok.(string)
			if stack[n-1].keys[k] {
				return fmt.Sprintf("key %q appears twice in one object", k)
			}
			stack[n-1].keys[k] = true
			stack[n-1].expectKey = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{keys: map[string]bool{}, expectKey: true})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone()
		default:
			valueDone()
		}
	}
	return ""
}

// result reads result and checks it against the output schema.
func (d *doc) result(root table, hasOutput bool) (ResultMode, error) {
	s, ok, err := d.str(root, "result")
	if err != nil {
		return "", err
	}
	if !ok {
		if hasOutput {
			return ResultJSON, nil
		}
		return ResultText, nil
	}
	switch m := ResultMode(s); m {
	case ResultText:
		if hasOutput {
			return "", d.errorf("result", ErrInvalid, `"text" cannot carry the structured result an output schema declares: use "json" or "content"`)
		}
		return m, nil
	case ResultJSON:
		if !hasOutput {
			return "", d.errorf("result", ErrInvalid, `"json" needs an output schema (output_schema or output_schema_file)`)
		}
		return m, nil
	case ResultContent:
		return m, nil
	}
	return "", d.errorf("result", ErrInvalid, `%q is not a result mode: use "text", "json" or "content"`, s)
}

// mounts reads [[mount]].
func (d *doc) mounts(root table, dir string) ([]Mount, error) {
	v, ok := root.m["mount"]
	if !ok {
		return nil, nil
	}
	arr, isArr := v.([]any)
	if !isArr {
		return nil, d.wrongType("mount", "an array of tables ([[mount]])", v)
	}
	if len(arr) > maxMounts {
		return nil, d.errorf("mount", ErrTooLarge, "%d mounts; the limit is %d", len(arr), maxMounts)
	}
	mounts := make([]Mount, 0, len(arr))
	for i, e := range arr {
		f := indexPath("mount", i)
		m, isTable := e.(map[string]any)
		if !isTable {
			return nil, d.wrongType(f, "a table with host, guest and mode", e)
		}
		mt := table{path: f, m: m}
		if err := d.strict(mt, "host", "guest", "mode"); err != nil {
			return nil, err
		}

		host, ok, err := d.str(mt, "host")
		if err != nil {
			return nil, err
		}
		if !ok || host == "" {
			return nil, d.errorf(mt.field("host"), ErrMissing, "required: the host folder to mount, relative to the manifest")
		}
		hostAbs := resolve(dir, host)
		st, err := os.Stat(hostAbs)
		if err != nil {
			return nil, fileError(d.errorf(mt.field("host"), nil, ""), fmt.Sprintf("host folder %q (%s)", host, hostAbs), err)
		}
		if !st.IsDir() {
			return nil, d.errorf(mt.field("host"), ErrFile, "host folder %q (%s) is not a folder", host, hostAbs)
		}

		guest, ok, err := d.str(mt, "guest")
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, d.errorf(mt.field("guest"), ErrMissing, `required: where the guest sees the folder, e.g. "/data"`)
		}
		if msg := checkGuestPath(guest); msg != "" {
			return nil, d.errorf(mt.field("guest"), ErrInvalid, "%s", msg)
		}

		mode, ok, err := d.str(mt, "mode")
		if err != nil {
			return nil, err
		}
		readOnly := true
		switch {
		case !ok || mode == "ro":
		case mode == "rw":
			readOnly = false
		default:
			return nil, d.errorf(mt.field("mode"), ErrInvalid, `%q is not a mode: use "ro" (read-only, the default) or "rw"`, mode)
		}

		for j, prev := range mounts {
			if prev.Guest == guest {
				return nil, d.errorf(mt.field("guest"), ErrInvalid, "%q is already the guest path of mount[%d]", guest, j)
			}
			if a, b := prev.Guest, guest; strings.HasPrefix(b, a+"/") || strings.HasPrefix(a, b+"/") {
				return nil, d.errorf(mt.field("guest"), ErrInvalid, "%q overlaps mount[%d] at %q: guest paths may not be inside one another", guest, j, prev.Guest)
			}
		}
		mounts = append(mounts, Mount{Host: hostAbs, Guest: guest, ReadOnly: readOnly})
	}
	if len(mounts) == 0 {
		return nil, nil
	}
	return mounts, nil
}

// checkGuestPath returns what is wrong with a guest path, or "". Unclean
// paths are refused, not cleaned, so the path in the manifest is exactly the
// path the guest sees.
func checkGuestPath(p string) string {
	switch {
	case p == "":
		return "must not be empty"
	case len(p) > maxGuestPathBytes:
		return fmt.Sprintf("is %d bytes long; the limit is %d", len(p), maxGuestPathBytes)
	case p[0] != '/':
		return fmt.Sprintf("%q is not absolute: guest paths start with '/'", p)
	case p == "/":
		return `"/" cannot be a mount point: mount at a folder such as "/data"`
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return fmt.Sprintf("%q contains %q, which guest paths may not", p, r)
		}
	}
	if c := path.Clean(p); c != p {
		return fmt.Sprintf("%q is not clean (no \"..\", \".\", \"//\" or trailing '/'): write %q", p, c)
	}
	return ""
}

// env reads [env]: NAME = "literal" or NAME = { from_host = "HOSTVAR" }.
func (d *doc) env(root table) ([]EnvVar, error) {
	et, _, err := d.sub(root, "env")
	if err != nil {
		return nil, err
	}
	if len(et.m) > maxEnv {
		return nil, d.errorf("env", ErrTooLarge, "%d variables; the limit is %d", len(et.m), maxEnv)
	}
	names := make([]string, 0, len(et.m))
	for k := range et.m {
		names = append(names, k)
	}
	sort.Strings(names)
	vars := make([]EnvVar, 0, len(names))
	for _, name := range names {
		f := et.field(name)
		if !isEnvName(name) {
			return nil, d.errorf(f, ErrInvalid, "%s is not a variable name: use A-Z, a-z, 0-9 and '_', not starting with a digit", strconv.Quote(name))
		}
		var value string
		switch v := et.m[name].(type) {
		case string:
			if err := d.checkString(f, v); err != nil {
				return nil, err
			}
			value = v
		case map[string]any:
			vt := table{path: f, m: v}
			if err := d.strict(vt, "from_host"); err != nil {
				return nil, err
			}
			hostVar, ok, err := d.str(vt, "from_host")
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, d.errorf(vt.field("from_host"), ErrMissing, "required: the host variable to copy")
			}
			if !isEnvName(hostVar) {
				return nil, d.errorf(vt.field("from_host"), ErrInvalid, "%s is not a variable name", strconv.Quote(hostVar))
			}
			var set bool
			if value, set = os.LookupEnv(hostVar); !set {
				return nil, d.errorf(vt.field("from_host"), ErrEnvUnset, "host variable %s is not set", hostVar)
			}
			// Never echo the value: it is often a secret.
			if strings.IndexByte(value, 0) >= 0 {
				return nil, d.errorf(vt.field("from_host"), ErrInvalid, "host variable %s contains a NUL byte", hostVar)
			}
		default:
			return nil, d.wrongType(f, `a string or { from_host = "NAME" }`, v)
		}
		if len(value) > maxEnvValueBytes {
			return nil, d.errorf(f, ErrTooLarge, "value is %d bytes; the limit is %s", len(value), formatSize(maxEnvValueBytes))
		}
		vars = append(vars, EnvVar{Name: name, Value: value})
	}
	if len(vars) == 0 {
		return nil, nil
	}
	return vars, nil
}

// isEnvName reports whether s is a portable environment variable name.
func isEnvName(s string) bool {
	if s == "" || len(s) > 256 || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// limits reads [limits], filling in defaults.
func (d *doc) limits(root table) (Limits, error) {
	l := DefaultLimits()
	lt, _, err := d.sub(root, "limits")
	if err != nil {
		return l, err
	}
	if err := d.strict(lt, "memory", "timeout", "max_input", "max_output", "max_concurrency", "rate", "rate_all"); err != nil {
		return l, err
	}
	if l.Rate, err = d.rate(lt, "rate"); err != nil {
		return l, err
	}
	if l.RateAll, err = d.rate(lt, "rate_all"); err != nil {
		return l, err
	}
	if l.Memory, err = d.size(lt, "memory", l.Memory, minMemory, maxMemory); err != nil {
		return l, err
	}
	l.Memory = (l.Memory + pageSize - 1) / pageSize * pageSize

	if v, ok := lt.m["timeout"]; ok {
		f := lt.field("timeout")
		s, isStr := v.(string)
		if !isStr {
			return l, d.wrongType(f, `a duration such as "5s" or "500ms"`, v)
		}
		t, err := time.ParseDuration(s)
		if err != nil {
			return l, d.errorf(f, ErrInvalid, `%q is not a duration: write e.g. "5s", "500ms" or "2m"`, s)
		}
		if t < minTimeout || t > maxTimeout {
			return l, d.errorf(f, ErrInvalid, "%s is out of bounds: must be between %s and %s", t, minTimeout, maxTimeout)
		}
		l.Timeout = t
	}

	in, err := d.size(lt, "max_input", uint64(l.MaxInput), minIO, maxIO)
	if err != nil {
		return l, err
	}
	out, err := d.size(lt, "max_output", uint64(l.MaxOutput), minIO, maxIO)
	if err != nil {
		return l, err
	}
	l.MaxInput, l.MaxOutput = int64(in), int64(out)

	n, err := d.integer(lt, "max_concurrency", int64(l.MaxConcurrency), minConcurrency, maxConcurrency)
	if err != nil {
		return l, err
	}
	l.MaxConcurrency = int(n)
	return l, nil
}

// resolve makes p absolute against dir, and cleans it.
func resolve(dir, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(dir, p)
}

// readCapped reads a regular file of at most max bytes. Checking the type
// first keeps a manifest from naming a FIFO or device that would block or
// never end.
func readCapped(p string, max int64) ([]byte, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, errNotRegular
	}
	if st.Size() > max {
		return nil, &sizeError{size: st.Size(), max: max}
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max { // grew since Stat
		return nil, &sizeError{size: int64(len(data)), max: max}
	}
	return data, nil
}

var errNotRegular = errors.New("not a regular file")

type sizeError struct{ size, max int64 }

func (e *sizeError) Error() string {
	return fmt.Sprintf("is %d bytes; the limit is %s", e.size, formatSize(uint64(e.max)))
}

// fileError fills e (positioned at the field that names the file) for a file
// that cannot be used, with a message that does not repeat Go's error text.
func fileError(e *Error, what string, err error) *Error {
	var se *sizeError
	switch {
	case errors.As(err, &se):
		e.Msg, e.Err = what+" "+se.Error(), ErrTooLarge
		return e
	case errors.Is(err, errNotRegular):
		e.Msg = what + " is not a regular file"
	case errors.Is(err, fs.ErrNotExist):
		e.Msg = what + " does not exist"
	case errors.Is(err, fs.ErrPermission):
		e.Msg = what + " cannot be read: permission denied"
	default:
		e.Msg = what + " cannot be read"
	}
	e.Err = fmt.Errorf("%w: %w", ErrFile, err)
	return e
}
