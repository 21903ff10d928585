package manifest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// minimalWasm is the smallest valid core module: the preamble alone.
const minimalWasm = "\x00asm\x01\x00\x00\x00"

// fixture makes a folder holding what manifests in tests refer to:
//
//	m.wasm          a valid module
//	text.wasm       not a module
//	component.wasm  a component-model binary
//	data/, data2/, data/sub/   folders to mount
//	file            a regular file
//	in.json         a schema file
func fixture(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("m.wasm", minimalWasm)
	write("text.wasm", "hello, world")
	write("component.wasm", "\x00asm\x0d\x00\x01\x00")
	write("file", "x")
	write("in.json", "{\n  \"type\": \"object\",\n  \"required\": [\"q\"]\n}\n")
	write("array.json", "[1]")
	write("dupkey.json", `{"type":"object","properties":{"a":{},"a":{"type":"string"}}}`)
	write("notype.json", `{"properties":{}}`)
	write("twovalues.json", `{"type":"object"} {}`)
	write("badjson.json", `{"type":"object",}`)
	for _, d := range []string{"data/sub", "data2"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestParseErrors(t *testing.T) {
	dir := fixture(t)
	file := filepath.Join(dir, "tool.toml")
	t.Setenv("MOAT_TEST_UNSET_VAR", "")
	os.Unsetenv("MOAT_TEST_UNSET_VAR")

	// base is a valid manifest, lines 1 and 2; cases add from line 3.
	const base = "name = \"t\"\nmodule = \"m.wasm\"\n"
	mount := func(host, guest string) string {
		return "[[mount]]\nhost = \"" + host + "\"\nguest = \"" + guest + "\"\n"
	}
	tests := []struct {
		name  string
		toml  string
		line  int
		field string
		is    error
		msg   string // a substring of the message
	}{
		// Strictness.
		{"unknown top-level key", base + "nmae = \"x\"\n", 3, "nmae", ErrUnknownField, `unknown field "nmae" (known fields at the top level: name, title`},
		{"unknown key in limits", base + "[limits]\nmemory = \"1MiB\"\nmemroy = \"1MiB\"\n", 5, "limits.memroy", ErrUnknownField, `unknown field "memroy" (known fields in limits: memory, timeout`},
		{"unknown key in mount", base + mount("data", "/d") + "mod = \"rw\"\n", 6, "mount[0].mod", ErrUnknownField, `unknown field "mod"`},
		{"unknown key in second mount", base + mount("data", "/d") + mount("data2", "/e") + "x = 1\n", 9, "mount[1].x", ErrUnknownField, `unknown field "x"`},
		{"unknown key in inline mount", base + "mount = [{host = \"data\", guest = \"/d\"},\n  {host = \"data2\", gest = \"/e\"}]\n", 4, "mount[1].gest", ErrUnknownField, `unknown field "gest"`},
		{"unknown key in grants", base + "[grants]\nnetwork = true\n", 4, "grants.network", ErrUnknownField, `unknown field "network"`},
		{"unknown key in annotations", base + "[annotations]\nreadonly = true\n", 4, "annotations.readonly", ErrUnknownField, `unknown field "readonly"`},
		{"unknown key in from_host", base + "[env]\nA = { from_host = \"HOME\", default = \"x\" }\n", 4, "env.A.default", ErrUnknownField, `unknown field "default"`},
		{"reserved future key", base + "[sockets]\n", 3, "sockets", ErrUnknownField, "unknown field"},
		{"bad required scope", base + "required_scopes = [\"a b\"]\n", 3, "required_scopes[0]", ErrInvalid, "not a valid OAuth scope"},
		{"unknown client capability", base + "client_capabilities = [\"sampling\", \"telepathy\"]\n", 3, "client_capabilities[1]", ErrInvalid, `"telepathy" is not a client capability a tool can require`},
		{"client capability twice", base + "client_capabilities = [\"roots\", \"roots\"]\n", 3, "client_capabilities[1]", ErrInvalid, `"roots" is listed twice`},
		{"bad tool rate", base + "[limits]\nrate = \"fast\"\n", 4, "limits.rate", ErrInvalid, `rate "fast": want "N/unit"`},
		{"first unknown key in document order", base + "zzz = 1\naaa = 2\n", 3, "zzz", ErrUnknownField, `"zzz"`},

		// Types.
		{"wrong type title", base + "title = 3\n", 3, "title", ErrType, "expected a string, got an integer"},
		{"wrong type clock", base + "[grants]\nclock = \"yes\"\n", 4, "grants.clock", ErrType, "expected a boolean, got a string"},
		{"wrong type concurrency", base + "[limits]\nmax_concurrency = \"8\"\n", 4, "limits.max_concurrency", ErrType, "expected an integer, got a string"},
		{"wrong type limits", base + "limits = 5\n", 3, "limits", ErrType, "expected a table, got an integer"},
		{"mount as table", base + "[mount]\nhost = \"data\"\nguest = \"/d\"\n", 3, "mount", ErrType, "expected an array of tables ([[mount]]), got a table"},
		{"mount element not table", base + "mount = [\"data\"]\n", 3, "mount[0]", ErrType, "got a string"},
		{"env value wrong type", base + "[env]\nN = 1\n", 4, "env.N", ErrType, `expected a string or { from_host = "NAME" }, got an integer`},
		{"timeout as integer", base + "[limits]\ntimeout = 5\n", 4, "limits.timeout", ErrType, "expected a duration"},
		{"memory as float", base + "[limits]\nmemory = 1.5\n", 4, "limits.memory", ErrType, "got a float"},

		// TOML syntax and duplicates.
		{"duplicate key", base + "name = \"u\"\n", 3, "name", ErrSyntax, "key name is already defined"},
		{"duplicate key in second mount", base + mount("data", "/d") + mount("data2", "/e") + "host = \"data\"\n", 9, "mount[1].host", ErrSyntax, "key host is already defined"},
		{"duplicate key in env", base + "[env]\nA = \"1\"\nA = \"2\"\n", 5, "env.A", ErrSyntax, "key A is already defined"},
		{"duplicate table", base + "[limits]\n[limits]\n", 4, "limits", ErrSyntax, "table limits already exists"},
		{"syntax error", base + "title = \n", 3, "", ErrSyntax, "unexpected character U+000A at start of value"},
		{"NUL byte in document", base + "title = \"a\x00\"\n", 3, "", ErrSyntax, "NUL byte"},
		{"NUL escape in string", base + "title = \"a\\u0000\"\n", 3, "title", ErrInvalid, "NUL"},

		// Name.
		{"name missing", "module = \"m.wasm\"\n", 0, "name", ErrMissing, "required"},
		{"name empty", "name = \"\"\nmodule = \"m.wasm\"\n", 1, "name", ErrInvalid, "must not be empty"},
		{"name with space", "name = \"read file\"\nmodule = \"m.wasm\"\n", 1, "name", ErrInvalid, `' ' is not allowed`},
		{"name 129 chars", "name = \"" + strings.Repeat("a", 129) + "\"\nmodule = \"m.wasm\"\n", 1, "name", ErrInvalid, "is 129 bytes long; the limit is 128"},
		{"name unicode", "name = \"café\"\nmodule = \"m.wasm\"\n", 1, "name", ErrInvalid, `'é' is not allowed`},
		{"name slash", "name = \"a/b\"\nmodule = \"m.wasm\"\n", 1, "name", ErrInvalid, `'/' is not allowed`},

		// Text.
		{"description too long", base + "description = \"" + strings.Repeat("d", 8<<10+1) + "\"\n", 3, "description", ErrTooLarge, "8193 bytes; the limit is 8KiB"},

		// Module and digest.
		{"module missing field", "name = \"t\"\n", 0, "module", ErrMissing, "required"},
		{"module file missing", "name = \"t\"\nmodule = \"nope.wasm\"\n", 2, "module", fs.ErrNotExist, `module "nope.wasm" (` + filepath.Join(dir, "nope.wasm") + `) does not exist`},
		{"module is a folder", "name = \"t\"\nmodule = \"data\"\n", 2, "module", ErrFile, "is not a regular file"},
		{"module not wasm", "name = \"t\"\nmodule = \"text.wasm\"\n", 2, "module", ErrModule, `module "text.wasm": not a WebAssembly binary`},
		{"module is a component", "name = \"t\"\nmodule = \"component.wasm\"\n", 2, "module", ErrModule, "is a WebAssembly component"},
		{"sha256 not hex", base + "sha256 = \"" + strings.Repeat("z", 64) + "\"\n", 3, "sha256", ErrInvalid, "expected 64 hexadecimal digits"},
		{"sha256 short", base + "sha256 = \"abcd\"\n", 3, "sha256", ErrInvalid, "expected 64 hexadecimal digits"},
		{"sha256 mismatch", base + "sha256 = \"" + strings.Repeat("0", 64) + "\"\n", 3, "sha256", ErrDigest,
			`module "m.wasm" has sha256 ` + digest(minimalWasm) + ", but the manifest pins " + strings.Repeat("0", 64)},

		// Mounts.
		{"relative guest path", base + mount("data", "data"), 5, "mount[0].guest", ErrInvalid, `"data" is not absolute`},
		{"root guest path", base + mount("data", "/"), 5, "mount[0].guest", ErrInvalid, `"/" cannot be a mount point`},
		{"guest path with dotdot", base + mount("data", "/a/../b"), 5, "mount[0].guest", ErrInvalid, `is not clean (no "..", ".", "//" or trailing '/'): write "/b"`},
		{"guest path trailing slash", base + mount("data", "/data/"), 5, "mount[0].guest", ErrInvalid, `write "/data"`},
		{"guest path empty", base + mount("data", ""), 5, "mount[0].guest", ErrInvalid, "must not be empty"},
		{"guest path missing", base + "[[mount]]\nhost = \"data\"\n", 3, "mount[0].guest", ErrMissing, "required"},
		{"duplicate guest path", base + mount("data", "/d") + mount("data2", "/d"), 8, "mount[1].guest", ErrInvalid, `"/d" is already the guest path of mount[0]`},
		{"overlapping guest paths", base + mount("data", "/data") + mount("data2", "/data/sub"), 8, "mount[1].guest", ErrInvalid, `"/data/sub" overlaps mount[0] at "/data"`},
		{"overlapping guest paths reversed", base + mount("data", "/data/sub") + mount("data2", "/data"), 8, "mount[1].guest", ErrInvalid, `"/data" overlaps mount[0] at "/data/sub"`},
		{"missing host dir", base + mount("nope", "/d"), 4, "mount[0].host", fs.ErrNotExist, `host folder "nope" (` + filepath.Join(dir, "nope") + ") does not exist"},
		{"host is a file", base + mount("file", "/d"), 4, "mount[0].host", ErrFile, `host folder "file" (` + filepath.Join(dir, "file") + ") is not a folder"},
		{"bad mode", base + mount("data", "/d") + "mode = \"wr\"\n", 6, "mount[0].mode", ErrInvalid, `"wr" is not a mode`},
		{"too many mounts", base + strings.Repeat(mount("data", "/d"), 65), 3, "mount", ErrTooLarge, "65 entries; the limit is 64"},
		{"too many scopes", base + "required_scopes = [" + strings.Repeat("\"a\", ", 257) + "]\n", 3, "required_scopes", ErrTooLarge, "257 entries; the limit is 256"},

		// Env.
		{"env from_host unset", base + "[env]\nTOKEN = { from_host = \"MOAT_TEST_UNSET_VAR\" }\n", 4, "env.TOKEN.from_host", ErrEnvUnset, "host variable MOAT_TEST_UNSET_VAR is not set"},
		{"env bad name", base + "[env]\n\"A B\" = \"x\"\n", 4, `env."A B"`, ErrInvalid, "is not a variable name"},
		{"env name starts with digit", base + "[env]\n1A = \"x\"\n", 4, "env.1A", ErrInvalid, "is not a variable name"},
		{"env from_host missing", base + "[env.A]\n", 3, "env.A.from_host", ErrMissing, "required"},

		// Limits.
		{"memory SI unit", base + "[limits]\nmemory = \"64MB\"\n", 4, "limits.memory", ErrInvalid, "unknown unit"},
		{"memory not a size", base + "[limits]\nmemory = \"lots\"\n", 4, "limits.memory", ErrInvalid, "expected a size"},
		{"memory fraction", base + "[limits]\nmemory = \"1.5MiB\"\n", 4, "limits.memory", ErrInvalid, "expected a size"},
		{"memory negative", base + "[limits]\nmemory = -1\n", 4, "limits.memory", ErrInvalid, "negative"},
		{"memory below floor", base + "[limits]\nmemory = \"32KiB\"\n", 4, "limits.memory", ErrInvalid, "32KiB is out of bounds: must be between 64KiB and 4GiB"},
		{"memory above 4GiB", base + "[limits]\nmemory = \"5GiB\"\n", 4, "limits.memory", ErrInvalid, "5GiB is out of bounds"},
		{"memory overflow", base + "[limits]\nmemory = \"99999999999999999999GiB\"\n", 4, "limits.memory", ErrInvalid, "too large"},
		{"timeout not a duration", base + "[limits]\ntimeout = \"5\"\n", 4, "limits.timeout", ErrInvalid, `"5" is not a duration`},
		{"timeout zero", base + "[limits]\ntimeout = \"0s\"\n", 4, "limits.timeout", ErrInvalid, "0s is out of bounds: must be between 1ms and 10m0s"},
		{"timeout too long", base + "[limits]\ntimeout = \"11m\"\n", 4, "limits.timeout", ErrInvalid, "11m0s is out of bounds"},
		{"max_output zero", base + "[limits]\nmax_output = 0\n", 4, "limits.max_output", ErrInvalid, "0B is out of bounds: must be between 1B and 64MiB"},
		{"max_input too big", base + "[limits]\nmax_input = \"1GiB\"\n", 4, "limits.max_input", ErrInvalid, "out of bounds"},
		{"max_concurrency zero", base + "[limits]\nmax_concurrency = 0\n", 4, "limits.max_concurrency", ErrInvalid, "0 is out of bounds: must be between 1 and 1024"},

		// Schemas and result.
		{"schema inline and file", base + "input_schema_file = \"in.json\"\n[input_schema]\ntype = \"object\"\n", 3, "input_schema_file", ErrInvalid, "give input_schema or input_schema_file, not both"},
		{"output schema inline and file", base + "output_schema_file = \"in.json\"\n[output_schema]\ntype = \"object\"\n", 3, "output_schema_file", ErrInvalid, "not both"},
		{"schema file not an object", base + "input_schema_file = \"array.json\"\n", 3, "input_schema_file", ErrInvalid, `schema file "array.json": not a JSON object`},
		{"schema file duplicate key", base + "input_schema_file = \"dupkey.json\"\n", 3, "input_schema_file", ErrInvalid, `key "a" appears twice in one object`},
		{"schema file two values", base + "input_schema_file = \"twovalues.json\"\n", 3, "input_schema_file", ErrInvalid, "not valid JSON"},
		{"schema file bad JSON", base + "input_schema_file = \"badjson.json\"\n", 3, "input_schema_file", ErrInvalid, "not valid JSON"},
		{"schema file without type", base + "input_schema_file = \"notype.json\"\n", 3, "input_schema_file", ErrInvalid, `needs type = "object"`},
		{"schema file missing", base + "output_schema_file = \"nope.json\"\n", 3, "output_schema_file", fs.ErrNotExist, "does not exist"},
		{"schema inline not a table", base + "input_schema = \"{}\"\n", 3, "input_schema", ErrType, "expected a table"},
		{"schema inline type not object", base + "[input_schema]\ntype = \"array\"\n", 4, "input_schema.type", ErrInvalid, `must be "object"`},
		{"schema inline without type", base + "[input_schema.properties.q]\ntype = \"string\"\n", 3, "input_schema.type", ErrInvalid, `needs type = "object"`},
		{"schema inline date", base + "[input_schema]\ntype = \"object\"\n[input_schema.properties.d]\ndefault = 2024-01-02\n", 6, "input_schema.properties.d.default", ErrType, "a date/time has no JSON equivalent"},
		{"schema inline nan", base + "[input_schema]\ntype = \"object\"\nminimum = nan\n", 5, "input_schema.minimum", ErrInvalid, "cannot be written in JSON"},
		{"result json without output schema", base + "result = \"json\"\n", 3, "result", ErrInvalid, `"json" needs an output schema`},
		{"result text with output schema", base + "result = \"text\"\n[output_schema]\ntype = \"object\"\n", 3, "result", ErrInvalid, `"text" cannot carry`},
		{"result unknown", base + "result = \"html\"\n", 3, "result", ErrInvalid, `"html" is not a result mode`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tool, err := Parse(file, []byte(tc.toml))
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", tool)
			}
			e := wantError(t, err, file, tc.line, tc.field, tc.is, tc.msg)
			// The text form is FILE:LINE:COL: FIELD: MSG, without the
			// parts that are unknown.
			want := file
			if tc.line > 0 {
				want += ":" + strconv.Itoa(tc.line)
				if e.Column > 0 {
					want += ":" + strconv.Itoa(e.Column)
				}
			}
			want += ": "
			if tc.field != "" {
				want += tc.field + ": "
			}
			if got := err.Error(); got != want+e.Msg {
				t.Errorf("Error() = %q, want %q", got, want+e.Msg)
			}
		})
	}
}

// TestErrorString pins the exact text of a few errors, columns included.
func TestErrorString(t *testing.T) {
	dir := fixture(t)
	file := filepath.Join(dir, "tool.toml")
	tests := []struct {
		name, toml, want string
	}{
		{"unknown key column", "name = \"t\"\nmodule = \"m.wasm\"\n[limits]\n  memroy = \"1MiB\"\n",
			file + `:4:3: limits.memroy: unknown field "memroy" (known fields in limits: memory, timeout, max_input, max_output, max_concurrency, rate, rate_all); did you mean "memory"?`},
		{"dotted key column", "name = \"t\"\nmodule = \"m.wasm\"\nlimits.timeout = \"1h\"\n",
			file + `:3:1: limits.timeout: 1h0m0s is out of bounds: must be between 1ms and 10m0s`},
		{"missing field has no line", "module = \"m.wasm\"\n",
			file + `: name: required: the tool's MCP name`},
		{"syntax error", "name = \"t\"\nname = \"u\"\n",
			file + `:2:1: name: key name is already defined`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(file, []byte(tc.toml))
			if err == nil || err.Error() != tc.want {
				t.Errorf("got  %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestParseDefaults(t *testing.T) {
	dir := fixture(t)
	file := filepath.Join(dir, "tool.toml")
	tool, err := Parse(file, []byte("name = \"t\"\nmodule = \"m.wasm\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if tool.Line == nil || tool.Line("name") != 1 || tool.Line("module") != 2 || tool.Line("limits.memory") != 0 {
		t.Errorf("Line helper is wrong")
	}
	tool.Line = nil
	if !strings.HasPrefix(tool.Digest, "sha256:") || !reflect.DeepEqual(tool.Files, []string{file, filepath.Join(dir, "m.wasm")}) {
		t.Errorf("Digest %q, Files %q", tool.Digest, tool.Files)
	}
	tool.Digest, tool.Files = "", nil
	want := &Tool{
		File:        file,
		Name:        "t",
		ModulePath:  filepath.Join(dir, "m.wasm"),
		Wasm:        []byte(minimalWasm),
		SHA256:      digest(minimalWasm),
		InputSchema: json.RawMessage(`{"type":"object"}`),
		Result:      ResultText,
		Limits: Limits{
			Memory:         64 << 20,
			Timeout:        10 * time.Second,
			MaxInput:       1 << 20,
			MaxOutput:      1 << 20,
			MaxConcurrency: 8,
		},
		Isolation: IsolationPerCall,
	}
	if !reflect.DeepEqual(tool, want) {
		t.Errorf("got  %+v\nwant %+v", tool, want)
	}
	if !reflect.DeepEqual(DefaultLimits(), want.Limits) {
		t.Errorf("DefaultLimits() = %+v", DefaultLimits())
	}
}

func TestParseFull(t *testing.T) {
	dir := fixture(t)
	file := filepath.Join(dir, "tool.toml")
	t.Setenv("MOAT_TEST_TOKEN", "s3cret")
	doc := `# every field
name        = "read_file.v2-x"
title       = "Read file"
description = "Reads a file."
module      = "m.wasm"
sha256      = "sha256:` + strings.ToUpper(digest(minimalWasm)) + `"
result      = "content"
input_schema_file = "in.json"

[output_schema]
type     = "object"
required = ["n"]
[output_schema.properties.n]
type    = "integer"
maximum = 10
ratio   = 0.5
pattern = "<a&b>"

[annotations]
read_only  = false
idempotent = true

[[mount]]
host  = "data"
guest = "/data"

[[mount]]
host  = "data2"
guest = "/data2"
mode  = "rw"

[[mount]]
host  = "` + filepath.Join(dir, "data", "sub") + `"
guest = "/srv/x"
mode  = "ro"

[env]
ZED   = "last"
LANG  = "C.UTF-8"
TOKEN = { from_host = "MOAT_TEST_TOKEN" }

[grants]
clock  = true
random = true

[limits]
memory          = 100000
timeout         = "250ms"
max_input       = "8KiB"
max_output      = "2 MiB"
max_concurrency = 3
`
	tool, err := Parse(file, []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tool.Line("mount[1].mode"), 30; got != want {
		t.Errorf(`Line("mount[1].mode") = %d, want %d`, got, want)
	}
	if got, want := tool.Line("output_schema.properties.n.maximum"), 15; got != want {
		t.Errorf(`Line("output_schema.properties.n.maximum") = %d, want %d`, got, want)
	}
	tool.Line = nil
	if !strings.HasPrefix(tool.Digest, "sha256:") || !reflect.DeepEqual(tool.Files, []string{file, filepath.Join(dir, "m.wasm"), filepath.Join(dir, "in.json")}) {
		t.Errorf("Digest %q, Files %q", tool.Digest, tool.Files)
	}
	tool.Digest, tool.Files = "", nil
	yes, no := true, false
	want := &Tool{
		File:         file,
		Name:         "read_file.v2-x",
		Title:        "Read file",
		Description:  "Reads a file.",
		ModulePath:   filepath.Join(dir, "m.wasm"),
		Wasm:         []byte(minimalWasm),
		SHA256:       digest(minimalWasm),
		Pinned:       true,
		InputSchema:  json.RawMessage(`{"type":"object","required":["q"]}`),
		OutputSchema: json.RawMessage(`{"properties":{"n":{"maximum":10,"pattern":"<a&b>","ratio":0.5,"type":"integer"}},"required":["n"],"type":"object"}`),
		Result:       ResultContent,
		Annotations:  Annotations{ReadOnly: &no, Idempotent: &yes},
		Mounts: []Mount{
			{Host: filepath.Join(dir, "data"), Guest: "/data", ReadOnly: true},
			{Host: filepath.Join(dir, "data2"), Guest: "/data2", ReadOnly: false},
			{Host: filepath.Join(dir, "data", "sub"), Guest: "/srv/x", ReadOnly: true},
		},
		Env:    []EnvVar{{"LANG", "C.UTF-8"}, {"TOKEN", "s3cret"}, {"ZED", "last"}},
		Clock:  true,
		Random: true,
		Limits: Limits{
			Memory:         2 * 64 << 10, // 100000 rounded up to whole pages
			Timeout:        250 * time.Millisecond,
			MaxInput:       8 << 10,
			MaxOutput:      2 << 20,
			MaxConcurrency: 3,
		},
		Isolation: IsolationPerCall,
	}
	if !reflect.DeepEqual(tool, want) {
		t.Errorf("got  %+v\nwant %+v", tool, want)
		t.Logf("input %s\noutput %s", tool.InputSchema, tool.OutputSchema)
	}
}

// TestParseResultDefault checks that an output schema makes "json" the
// default result mode.
func TestParseResultDefault(t *testing.T) {
	dir := fixture(t)
	tool, err := Parse(filepath.Join(dir, "t.toml"), []byte("name = \"t\"\nmodule = \"m.wasm\"\noutput_schema_file = \"in.json\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if tool.Result != ResultJSON || string(tool.OutputSchema) != `{"type":"object","required":["q"]}` {
		t.Errorf("got result %q, output schema %s", tool.Result, tool.OutputSchema)
	}
}

// TestEnvValueNotInErrors makes sure a host variable's value never appears
// in an error, even when the entry is rejected.
func TestEnvValueNotInErrors(t *testing.T) {
	dir := fixture(t)
	t.Setenv("MOAT_TEST_SECRET", strings.Repeat("hunter2", 10<<10)) // over the value cap
	_, err := Parse(filepath.Join(dir, "t.toml"), []byte("name = \"t\"\nmodule = \"m.wasm\"\n[env]\nS = { from_host = \"MOAT_TEST_SECRET\" }\n"))
	if err == nil || !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error leaks the value: %v", err)
	}
}

// TestEnvValueNotPrinted makes sure printing a Tool never shows an [env]
// value: they are often secrets from the host's environment.
func TestEnvValueNotPrinted(t *testing.T) {
	dir := fixture(t)
	t.Setenv("MOAT_TEST_SECRET", "hunter2")
	tool, err := Parse(filepath.Join(dir, "t.toml"), []byte("name = \"t\"\nmodule = \"m.wasm\"\n[env]\nS = { from_host = \"MOAT_TEST_SECRET\" }\n"))
	if err != nil {
		t.Fatal(err)
	}
	if tool.Env[0].Value != "hunter2" {
		t.Fatalf("Env = %q", tool.Env[0].Value)
	}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		if s := fmt.Sprintf(format, tool); strings.Contains(s, "hunter2") {
			t.Errorf("%s of a Tool shows the env value: %s", format, s)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := fixture(t)
	good := filepath.Join(dir, "good.toml")
	if err := os.WriteFile(good, []byte("name = \"t\"\nmodule = \"m.wasm\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.toml")
	if err := os.WriteFile(big, []byte("name = \"t\"\n#"+strings.Repeat("x", 1<<20)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	tool, err := Load(good)
	if err != nil || tool.Name != "t" || tool.File != good {
		t.Errorf("Load(good) = %+v, %v", tool, err)
	}

	tests := []struct {
		name, path, want string
		is               error
	}{
		{"missing", filepath.Join(dir, "nope.toml"), filepath.Join(dir, "nope.toml") + ": manifest does not exist", fs.ErrNotExist},
		{"folder", filepath.Join(dir, "data"), filepath.Join(dir, "data") + ": manifest is not a regular file", ErrFile},
		{"over 1 MiB", big, big + ": manifest is 1048589 bytes; the limit is 1MiB", ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.path)
			if err == nil || err.Error() != tc.want || !errors.Is(err, tc.is) {
				t.Errorf("got %v, want %s (%v)", err, tc.want, tc.is)
			}
		})
	}
}

func TestLoadDir(t *testing.T) {
	dir := fixture(t)
	mdir := filepath.Join(dir, "manifests")
	if err := os.Mkdir(mdir, 0o700); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"a.toml":       "name = \"one\"\nmodule = \"../m.wasm\"\n",
		"b.toml":       "# same name as a.toml\nname = \"one\"\nmodule = \"../m.wasm\"\n",
		"c.toml":       "name = \"two\"\nmodule = \"../m.wasm\"\nbogus = 1\n",
		"d.toml":       "name = \"three\"\nmodule = \"../m.wasm\"\n",
		".hidden.toml": "not toml at all",
		"notes.txt":    "not a manifest",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(mdir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(mdir, "sub.toml"), 0o700); err != nil {
		t.Fatal(err)
	}

	tools, errs := LoadDir(mdir)
	var names []string
	for _, tool := range tools {
		names = append(names, tool.Name)
	}
	if !reflect.DeepEqual(names, []string{"one", "three"}) {
		t.Errorf("tools = %v, want [one three]", names)
	}
	wantErrs := []string{
		filepath.Join(mdir, "b.toml") + `:2: name: tool "one" is already defined in ` + filepath.Join(mdir, "a.toml"),
		filepath.Join(mdir, "c.toml") + `:3:1: bogus: unknown field "bogus"`,
	}
	if len(errs) != len(wantErrs) {
		t.Fatalf("errors = %v, want %d", errs, len(wantErrs))
	}
	for i, want := range wantErrs {
		if !strings.HasPrefix(errs[i].Error(), want) {
			t.Errorf("errs[%d] = %v, want prefix %s", i, errs[i], want)
		}
	}
	if !errors.Is(errs[0], ErrDuplicateTool) {
		t.Errorf("errs[0] is not ErrDuplicateTool")
	}

	_, errs = LoadDir(filepath.Join(dir, "nope"))
	if len(errs) != 1 || !errors.Is(errs[0], fs.ErrNotExist) {
		t.Errorf("LoadDir(missing) errors = %v", errs)
	}
}

// TestRepoManifests decodes the manifests shipped in the repository, laid
// out in a temporary tree so the test does not need the tools built.
func TestRepoManifests(t *testing.T) {
	repo := filepath.Join("..", "..", "manifests")
	entries, err := filepath.Glob(filepath.Join(repo, "*.toml"))
	if err != nil || len(entries) == 0 {
		t.Skip("no manifests in the repository")
	}
	tmp := t.TempDir()
	for _, d := range []string{"testdata/public-files", "testdata/scratch"} {
		if err := os.MkdirAll(filepath.Join(tmp, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// Every module a manifest names, as a placeholder.
	moduleLine := regexp.MustCompile(`(?m)^module\s*=\s*"([^"]+)"`)
	for _, p := range entries {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range moduleLine.FindAllStringSubmatch(string(data), -1) {
			mod := filepath.Join(tmp, "manifests", filepath.FromSlash(m[1]))
			if err := os.MkdirAll(filepath.Dir(mod), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(mod, []byte(minimalWasm), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, p := range entries {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), "[server]") {
			continue // a server config kept beside the manifests
		}
		tool, err := Parse(filepath.Join(tmp, "manifests", filepath.Base(p)), data)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		// Only write_file and save_file may write, and only to the
		// scratch folder.
		for _, m := range tool.Mounts {
			if !m.ReadOnly && ((tool.Name != "write_file" && tool.Name != "save_file") || m.Guest != "/scratch") {
				t.Errorf("%s: read-write mount %+v; only write_file's and save_file's /scratch may be", p, m)
			}
		}
	}
}
