// Package manifest reads the two files an operator writes: one tool
// manifest per tool (a TOML file declaring the tool's module, schemas and
// capability grants) and the server config, moat.toml.
//
// It sits before the call path rather than on it: cmd/moat loads the
// manifests and config at start-up, and the host builds every later stage
// from the result — the transport (listen, TLS, Origin and Host checks, body
// cap) from Config, and for each call the validate stage (internal/schema, from
// Tool.InputSchema/OutputSchema) and the sandbox stage (internal/sandbox and
// internal/rootfs, from Tool.Mounts, Env, Clock, Random, Limits) from Tool.
//
// Decoding is strict and fails closed: an unknown key (with a "did you
// mean" for a likely typo), a value of the wrong type, a duplicate key or a
// value that breaks a rule is an *Error naming the file, line, column and
// field. Nothing is granted by default: no mounts, no environment, a fake
// clock and deterministic randomness. docs/manifest.md and docs/config.md
// describe every field.
//
// This is the one package that imports go-toml, and it imports no other
// moat package: the vocabulary types it defines (Rate, Size, Duration,
// HostPattern) are used by the runtime packages that enforce them.
//
// # Notes
//
//   - Values are checked once, at load; a Tool or Config is not changed
//     afterwards and is safe to share between goroutines.
//   - Host-side state is captured at load: the module's bytes and digest,
//     the values of [env] variables taken from the host's environment, and
//     the existence of mounted folders. Reload to pick up changes.
//   - Tool.Digest and Config.Digest cover every decoded field and the bytes
//     of every referenced file (digest.go): a reload compares them instead
//     of a hand-kept list of fields, and watches Tool.Files and Config.Files.
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

	"github.com/moatmcp/moat/internal/bytesize"
)

// Caps on what a manifest may declare or name. They bound the memory one
// manifest can make the host use at load, and are far above real use.
// The caps on lists and tables ([[mount]], [env], required_scopes, the
// lists of [net] and moat.toml) are the max tags of the decode structs.
const (
	maxManifestBytes    = 1 << 20   // the manifest file itself
	maxModuleBytes      = 256 << 20 // the module file
	maxSchemaFileBytes  = 256 << 10 // input_schema_file, output_schema_file
	maxNameLen          = 128       // name, in bytes (ASCII only)
	maxTitleBytes       = 1 << 10   // title
	maxDescriptionBytes = 8 << 10   // description
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
//     digest, so the module that runs is the one that was checked. For a
//     module from a registry (ModuleRef) both are empty here: the host's
//     loader fetches the artifact by digest, verifies it (and its
//     signature, with SignedBy) and fills them in on a copy.
type Tool struct {
	File         string          `digest:"-"` // absolute path of the manifest
	Name         string          // MCP tool name: 1–128 bytes of [A-Za-z0-9_.-]
	Title        string          // optional display name
	Description  string          // optional but recommended; at most 8 KiB
	ModulePath   string          // absolute, resolved relative to the manifest's folder
	Wasm         []byte          `digest:"-"` // the module's bytes (at most 256 MiB; a core module, version 1); in Digest through SHA256
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
	// Language is the language moat build builds the module from
	// (language): "go", "c" or "assemblyscript"; "" = moat build detects
	// it from the tool's folder. It changes nothing at run time.
	Language string
	// RequiredScopes are the scopes a caller must hold to see and call the
	// tool (required_scopes); empty = none beyond being allowed the tool.
	RequiredScopes []string
	// ClientCapabilities are the MCP client capabilities the tool cannot
	// work without (client_capabilities: "elicitation", "sampling",
	// "roots"), sorted: a call from a client that did not declare one is
	// refused with MissingRequiredClientCapabilityError (-32021) before the
	// tool runs. Empty = the tool copes with any client (a request it makes
	// through moat.input_request that the client cannot answer gets
	// InputErrUnsupported).
	ClientCapabilities []ClientCapability
	// Net is the [net] grant (outbound HTTP through moat.http_request);
	// nil means no network.
	Net *NetGrant
	// ModuleRef is module = "oci://HOST[:PORT]/REPO@sha256:<64 hex>": the
	// module is the one of that OCI artifact (docs/supply-chain.md), named
	// by digest; "" for a module file. ModulePath is "" then.
	ModuleRef string
	// SignedBy are the absolute paths of signed_by's PEM public keys: the
	// artifact must carry a valid signature by one of them, or the tool
	// does not load. Only with ModuleRef. Their bytes are in Digest.
	SignedBy []string

	// Line returns the line of a field path such as "limits.memory" or
	// "mount[0].host", or of its nearest ancestor present in the manifest,
	// or 0. The host uses it to position errors it finds later, such as a
	// schema that does not compile.
	Line func(field string) int `digest:"-"`

	// Digest is "sha256:<hex>" over every field of the Tool but File,
	// Line, Wasm (covered by SHA256) and Digest itself, and over the bytes
	// of every file in Files but the manifest: two loads with equal
	// digests serve the same tool, so a reload compares digests and cannot
	// miss a field (digest.go). Secrets enter it only hashed.
	Digest string `digest:"-"`
	// Files are the absolute paths of the manifest and of every file it
	// references (module, schema files, secret files), for a reload to
	// watch. Mounted folders are not files of the tool and are not listed.
	Files []string
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
	Name  string
	Value string `digest:"secret"` // often a secret (from_host): in Tool.Digest only as its sha256
}

// String and GoString hide the value, which is often a secret (from_host),
// so a Tool logged with %v, %+v or %#v does not leak it.
func (e EnvVar) String() string { return e.Name + "=[hidden]" }

// GoString implements fmt.GoStringer; see String.
func (e EnvVar) GoString() string {
	return fmt.Sprintf("manifest.EnvVar{Name:%q, Value:\"[hidden]\"}", e.Name)
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

// The default limits, written once: a manifest's [limits] table gets them
// for the fields it leaves out, and the sandbox for zero fields of its
// own Limits (internal/sandbox's Default* constants are these).
const (
	DefaultMemory         = 64 << 20
	DefaultTimeout        = 10 * time.Second
	DefaultMaxInput       = 1 << 20
	DefaultMaxOutput      = 1 << 20
	DefaultMaxConcurrency = 8
)

// DefaultLimits returns the limits a manifest gets for the fields its
// [limits] table leaves out.
func DefaultLimits() Limits {
	return Limits{
		Memory:         DefaultMemory,
		Timeout:        DefaultTimeout,
		MaxInput:       DefaultMaxInput,
		MaxOutput:      DefaultMaxOutput,
		MaxConcurrency: DefaultMaxConcurrency,
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
	t.Files = append([]string{file}, pathsOf(d.files)...)
	t.Digest = digestOf(t, d.files)
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

// toolFile is a manifest as written, one struct per table, for go-toml's
// strict decoding; tool validates it and builds the Tool. Pointers tell an
// absent key from a zero value where the difference matters. Field order is
// the order of "known fields" in error messages.
type toolFile struct {
	Name             *string             `toml:"name"`
	Title            string              `toml:"title"`
	Description      string              `toml:"description"`
	Module           string              `toml:"module"`
	SHA256           *string             `toml:"sha256"`
	Result           *string             `toml:"result"`
	InputSchema      *map[string]any     `toml:"input_schema" want:"a table (a JSON Schema object written in TOML)"`
	InputSchemaFile  *string             `toml:"input_schema_file"`
	OutputSchema     *map[string]any     `toml:"output_schema" want:"a table (a JSON Schema object written in TOML)"`
	OutputSchemaFile *string             `toml:"output_schema_file"`
	Annotations      annotationsTable    `toml:"annotations"`
	Mount            []mountTable        `toml:"mount" want:"an array of tables ([[mount]])" max:"64"`
	Env              map[string]envValue `toml:"env" max:"256"`
	Grants           grantsTable         `toml:"grants"`
	Net              *netTable           `toml:"net"`
	Limits           limitsTable         `toml:"limits"`
	RequiredScopes   []string            `toml:"required_scopes" max:"256"`
	ClientCaps       []string            `toml:"client_capabilities" max:"3"`
	Isolation        *string             `toml:"isolation"`
	SignedBy         []string            `toml:"signed_by" max:"16"`
	Language         *string             `toml:"language"`
}

// annotationsTable is [annotations].
type annotationsTable struct {
	ReadOnly    *bool `toml:"read_only"`
	Destructive *bool `toml:"destructive"`
	Idempotent  *bool `toml:"idempotent"`
	OpenWorld   *bool `toml:"open_world"`
}

// mountTable is one [[mount]].
type mountTable struct {
	Host  string  `toml:"host"`
	Guest *string `toml:"guest"`
	Mode  *string `toml:"mode"`
}

// envValue is one [env] entry: NAME = "literal" (UnmarshalText) or
// NAME = { from_host = "HOSTVAR" } (the table).
type envValue struct {
	Literal  *string `toml:"-"`
	FromHost *string `toml:"from_host"`
}

func (e *envValue) UnmarshalText(b []byte) error {
	s := string(b)
	e.Literal = &s
	return nil
}

func (envValue) tomlWant() string { return `a string or { from_host = "NAME" }` }

// grantsTable is [grants].
type grantsTable struct {
	Clock  bool `toml:"clock"`
	Random bool `toml:"random"`
}

// limitsTable is [limits].
type limitsTable struct {
	Memory         *Size     `toml:"memory"`
	Timeout        *Duration `toml:"timeout"`
	MaxInput       *Size     `toml:"max_input"`
	MaxOutput      *Size     `toml:"max_output"`
	MaxConcurrency *int64    `toml:"max_concurrency"`
	Rate           Rate      `toml:"rate"`
	RateAll        Rate      `toml:"rate_all"`
}

// tool decodes and validates the whole manifest into t, in the order the
// fields are documented; the first error wins.
func (d *doc) tool(t *Tool, dir string) error {
	var f toolFile
	if err := d.decodeInto(&f); err != nil {
		return err
	}
	if f.Name == nil {
		return d.errorf("name", ErrMissing, "required: the tool's MCP name")
	}
	if msg := CheckToolName(*f.Name); msg != "" {
		return d.errorf("name", ErrInvalid, "%s", msg)
	}
	t.Name = *f.Name

	t.Title = f.Title
	if len(t.Title) > maxTitleBytes {
		return d.errorf("title", ErrTooLarge, "%d bytes; the limit is %s", len(t.Title), bytesize.Format(maxTitleBytes))
	}
	t.Description = f.Description
	if len(t.Description) > maxDescriptionBytes {
		return d.errorf("description", ErrTooLarge, "%d bytes; the limit is %s", len(t.Description), bytesize.Format(maxDescriptionBytes))
	}

	if err := d.module(t, &f, dir); err != nil {
		return err
	}

	var err error
	if t.InputSchema, err = d.schema("input_schema", f.InputSchema, f.InputSchemaFile, dir); err != nil {
		return err
	}
	if t.InputSchema == nil {
		t.InputSchema = append(json.RawMessage(nil), defaultInputSchema...)
	}
	if t.OutputSchema, err = d.schema("output_schema", f.OutputSchema, f.OutputSchemaFile, dir); err != nil {
		return err
	}
	if t.Result, err = d.result(f.Result, t.OutputSchema != nil); err != nil {
		return err
	}
	if f.Language != nil {
		switch l := *f.Language; l {
		case "go", "c", "assemblyscript":
			t.Language = l
		default:
			return d.errorf("language", ErrInvalid, "%q is not a language moat build knows: use \"go\", \"c\" or \"assemblyscript\"", l)
		}
	}
	if t.Isolation, err = d.isolation(f.Isolation); err != nil {
		return err
	}

	t.Annotations = Annotations(f.Annotations)

	if t.Mounts, err = d.mounts(f.Mount, dir); err != nil {
		return err
	}
	if t.Env, err = d.env(f.Env); err != nil {
		return err
	}
	t.Clock, t.Random = f.Grants.Clock, f.Grants.Random

	if t.Net, err = d.net(f.Net, dir); err != nil {
		return err
	}
	if t.RequiredScopes, err = d.scopes("required_scopes", f.RequiredScopes); err != nil {
		return err
	}
	if t.ClientCapabilities, err = d.clientCaps(f.ClientCaps); err != nil {
		return err
	}
	t.Limits, err = d.limits(f.Limits)
	return err
}

// CheckToolName returns what is wrong with an MCP tool name, or "": moat's
// one tool-name rule, 1–128 bytes of A-Z a-z 0-9 _ . -. Manifests are
// checked with it; `moat new` and the metrics' label backstop call it too,
// so a name one of them accepts the others accept.
func CheckToolName(name string) string {
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
func (d *doc) module(t *Tool, f *toolFile, dir string) error {
	rel := f.Module
	if rel == "" {
		return d.errorf("module", ErrMissing, "required: the path of the tool's .wasm file, relative to the manifest")
	}
	if strings.HasPrefix(rel, OCIScheme) {
		return d.ociModule(t, f, dir)
	}
	if len(f.SignedBy) > 0 {
		return d.errorf("signed_by", ErrInvalid, "needs module = \"oci://HOST/REPO@sha256:…\": a signature is checked on an artifact in a registry, not on a module file")
	}
	var want string
	if f.SHA256 != nil {
		want = strings.TrimPrefix(*f.SHA256, "sha256:")
		if _, herr := hex.DecodeString(want); herr != nil || len(want) != 2*sha256.Size {
			return d.errorf("sha256", ErrInvalid, "expected 64 hexadecimal digits (optionally after \"sha256:\")")
		}
		want = strings.ToLower(want)
	}
	t.ModulePath = resolve(dir, rel)
	wasm, err := d.readFile(t.ModulePath, maxModuleBytes)
	if err != nil {
		return fileError(d.errorf("module", nil, ""), fmt.Sprintf("module %q (%s)", rel, t.ModulePath), err)
	}
	if msg := checkWasmHeader(wasm); msg != "" {
		return d.errorf("module", ErrModule, "module %q: %s", rel, msg)
	}
	sum := sha256.Sum256(wasm)
	t.Wasm, t.SHA256 = wasm, hex.EncodeToString(sum[:])
	if f.SHA256 != nil {
		if t.SHA256 != want {
			return d.errorf("sha256", ErrDigest, "module %q has sha256 %s, but the manifest pins %s", rel, t.SHA256, want)
		}
		t.Pinned = true
	}
	return nil
}

// OCIScheme starts a module reference into an OCI registry.
const OCIScheme = "oci://"

// ociModule reads module = "oci://HOST/REPO@sha256:…" and signed_by. The
// reference must name a digest: a tag can be moved to other content, so a
// manifest that names one could silently change what runs.
func (d *doc) ociModule(t *Tool, f *toolFile, dir string) error {
	ref := f.Module
	if f.SHA256 != nil {
		return d.errorf("sha256", ErrInvalid, "not with an oci:// module: the digest in the reference pins the artifact")
	}
	if msg := checkOCIRef(ref); msg != "" {
		return d.errorf("module", ErrInvalid, "%s", msg)
	}
	t.ModuleRef = ref
	for i, rel := range f.SignedBy {
		field := indexPath("signed_by", i)
		if rel == "" {
			return d.errorf(field, ErrInvalid, "must not be empty")
		}
		p := resolve(dir, rel)
		if _, err := d.readFile(p, maxSchemaFileBytes); err != nil {
			return fileError(d.errorf(field, nil, ""), fmt.Sprintf("public key %q (%s)", rel, p), err)
		}
		t.SignedBy = append(t.SignedBy, p)
	}
	return nil
}

// checkOCIRef returns what is wrong with an oci:// module reference, or
// "": oci://HOST[:PORT]/REPO@sha256:<64 lower-case hex>.
func checkOCIRef(ref string) string {
	rest := strings.TrimPrefix(ref, OCIScheme)
	name, dgst, ok := strings.Cut(rest, "@")
	if !ok {
		return fmt.Sprintf("%q names no digest: moat serves a registry module only by digest (oci://HOST/REPO@sha256:…, as moat push prints it); a tag could be moved to other content", ref)
	}
	hexPart, isSHA := strings.CutPrefix(dgst, "sha256:")
	if _, err := hex.DecodeString(hexPart); !isSHA || err != nil || len(hexPart) != 2*sha256.Size || strings.ToLower(hexPart) != hexPart {
		return fmt.Sprintf("%q: the digest must be sha256: and 64 lower-case hexadecimal digits", ref)
	}
	host, repo, ok := strings.Cut(name, "/")
	if !ok || host == "" || repo == "" || strings.ContainsAny(name, " \t\\?#") || strings.Contains(repo, ":") {
		return fmt.Sprintf("%q is not oci://HOST[:PORT]/REPO@sha256:…", ref)
	}
	return ""
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
func (d *doc) schema(key string, inlineSet *map[string]any, file *string, dir string) (json.RawMessage, error) {
	var inline map[string]any
	if inlineSet != nil {
		inline = *inlineSet
		if inline == nil {
			inline = map[string]any{}
		}
	}
	fileKey := key + "_file"
	switch {
	case inline != nil && file != nil:
		return nil, d.errorf(fileKey, ErrInvalid, "give %s or %s, not both", key, fileKey)
	case inline != nil:
		v, err := d.toJSON(key, inline)
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
		if msg := checkSchemaType(inline["type"]); msg != "" {
			return nil, d.errorf(joinPath(key, "type"), ErrInvalid, "%s", msg)
		}
		return raw, nil
	case file != nil:
		rel := *file
		if rel == "" {
			return nil, d.errorf(fileKey, ErrInvalid, "must not be empty")
		}
		p := resolve(dir, rel)
		data, err := d.readFile(p, maxSchemaFileBytes)
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
func (d *doc) result(set *string, hasOutput bool) (ResultMode, error) {
	if set == nil {
		if hasOutput {
			return ResultJSON, nil
		}
		return ResultText, nil
	}
	s := *set
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

// mounts checks [[mount]].
func (d *doc) mounts(in []mountTable, dir string) ([]Mount, error) {
	if len(in) == 0 {
		return nil, nil
	}
	mounts := make([]Mount, 0, len(in))
	for i, m := range in {
		f := indexPath("mount", i)
		if m.Host == "" {
			return nil, d.errorf(joinPath(f, "host"), ErrMissing, "required: the host folder to mount, relative to the manifest")
		}
		hostAbs := resolve(dir, m.Host)
		st, err := os.Stat(hostAbs)
		if err != nil {
			return nil, fileError(d.errorf(joinPath(f, "host"), nil, ""), fmt.Sprintf("host folder %q (%s)", m.Host, hostAbs), err)
		}
		if !st.IsDir() {
			return nil, d.errorf(joinPath(f, "host"), ErrFile, "host folder %q (%s) is not a folder", m.Host, hostAbs)
		}

		if m.Guest == nil {
			return nil, d.errorf(joinPath(f, "guest"), ErrMissing, `required: where the guest sees the folder, e.g. "/data"`)
		}
		guest := *m.Guest
		if msg := checkGuestPath(guest); msg != "" {
			return nil, d.errorf(joinPath(f, "guest"), ErrInvalid, "%s", msg)
		}

		readOnly := true
		switch {
		case m.Mode == nil || *m.Mode == "ro":
		case *m.Mode == "rw":
			readOnly = false
		default:
			return nil, d.errorf(joinPath(f, "mode"), ErrInvalid, `%q is not a mode: use "ro" (read-only, the default) or "rw"`, *m.Mode)
		}

		for j, prev := range mounts {
			if prev.Guest == guest {
				return nil, d.errorf(joinPath(f, "guest"), ErrInvalid, "%q is already the guest path of mount[%d]", guest, j)
			}
			if a, b := prev.Guest, guest; strings.HasPrefix(b, a+"/") || strings.HasPrefix(a, b+"/") {
				return nil, d.errorf(joinPath(f, "guest"), ErrInvalid, "%q overlaps mount[%d] at %q: guest paths may not be inside one another", guest, j, prev.Guest)
			}
		}
		mounts = append(mounts, Mount{Host: hostAbs, Guest: guest, ReadOnly: readOnly})
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

// env checks [env]: NAME = "literal" or NAME = { from_host = "HOSTVAR" }.
func (d *doc) env(in map[string]envValue) ([]EnvVar, error) {
	if len(in) == 0 {
		return nil, nil
	}
	names := make([]string, 0, len(in))
	for k := range in {
		names = append(names, k)
	}
	sort.Strings(names)
	vars := make([]EnvVar, 0, len(names))
	for _, name := range names {
		f := joinPath("env", name)
		if !isEnvName(name) {
			return nil, d.errorf(f, ErrInvalid, "%s is not a variable name: use A-Z, a-z, 0-9 and '_', not starting with a digit", strconv.Quote(name))
		}
		var value string
		switch v := in[name]; {
		case v.Literal != nil:
			value = *v.Literal
		case v.FromHost == nil:
			return nil, d.errorf(joinPath(f, "from_host"), ErrMissing, "required: the host variable to copy")
		default:
			hostVar := *v.FromHost
			if !isEnvName(hostVar) {
				return nil, d.errorf(joinPath(f, "from_host"), ErrInvalid, "%s is not a variable name", strconv.Quote(hostVar))
			}
			var set bool
			if value, set = os.LookupEnv(hostVar); !set {
				return nil, d.errorf(joinPath(f, "from_host"), ErrEnvUnset, "host variable %s is not set", hostVar)
			}
			// Never echo the value: it is often a secret.
			if strings.IndexByte(value, 0) >= 0 {
				return nil, d.errorf(joinPath(f, "from_host"), ErrInvalid, "host variable %s contains a NUL byte", hostVar)
			}
		}
		if len(value) > maxEnvValueBytes {
			return nil, d.errorf(f, ErrTooLarge, "value is %d bytes; the limit is %s", len(value), bytesize.Format(maxEnvValueBytes))
		}
		vars = append(vars, EnvVar{Name: name, Value: value})
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

// limits checks [limits], filling in defaults.
func (d *doc) limits(in limitsTable) (Limits, error) {
	l := DefaultLimits()
	l.Rate, l.RateAll = in.Rate, in.RateAll
	var err error
	if l.Memory, err = d.size("limits.memory", in.Memory, l.Memory, minMemory, maxMemory); err != nil {
		return l, err
	}
	l.Memory = (l.Memory + pageSize - 1) / pageSize * pageSize

	if l.Timeout, err = d.duration("limits.timeout", in.Timeout, l.Timeout, minTimeout, maxTimeout); err != nil {
		return l, err
	}

	n, err := d.size("limits.max_input", in.MaxInput, uint64(l.MaxInput), minIO, maxIO)
	if err != nil {
		return l, err
	}
	l.MaxInput = int64(n)
	if n, err = d.size("limits.max_output", in.MaxOutput, uint64(l.MaxOutput), minIO, maxIO); err != nil {
		return l, err
	}
	l.MaxOutput = int64(n)

	c, err := d.integer("limits.max_concurrency", in.MaxConcurrency, int64(l.MaxConcurrency), minConcurrency, maxConcurrency)
	if err != nil {
		return l, err
	}
	l.MaxConcurrency = int(c)
	return l, nil
}

// size checks an optional size against [min, max]; def when absent.
func (d *doc) size(field string, v *Size, def, min, max uint64) (uint64, error) {
	if v == nil {
		return def, nil
	}
	n := uint64(*v)
	if n < min || n > max {
		return 0, d.errorf(field, ErrInvalid, "%s is out of bounds: must be between %s and %s", bytesize.Format(n), bytesize.Format(min), bytesize.Format(max))
	}
	return n, nil
}

// duration checks an optional duration against [min, max]; def when
// absent.
func (d *doc) duration(field string, v *Duration, def, min, max time.Duration) (time.Duration, error) {
	if v == nil {
		return def, nil
	}
	t := time.Duration(*v)
	if t < min || t > max {
		return 0, d.errorf(field, ErrInvalid, "%s is out of bounds: must be between %s and %s", t, min, max)
	}
	return t, nil
}

// integer checks an optional integer against [min, max]; def when absent.
func (d *doc) integer(field string, v *int64, def, min, max int64) (int64, error) {
	if v == nil {
		return def, nil
	}
	if *v < min || *v > max {
		return 0, d.errorf(field, ErrInvalid, "%d is out of bounds: must be between %d and %d", *v, min, max)
	}
	return *v, nil
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
	return fmt.Sprintf("is %d bytes; the limit is %s", e.size, bytesize.Format(uint64(e.max)))
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
