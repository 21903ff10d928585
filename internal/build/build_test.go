package build

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/moatmcp/moat/internal/sandbox/sandboxtest"

	"github.com/moatmcp/moat/internal/sandbox"
)

func TestSameJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want bool
	}{
		{`{"a":1,"b":[1,2]}`, `{ "b": [1,2], "a": 1 }`, true},
		{`{"a":1}`, `{"a":1.0}`, false}, // as text; the generator writes integers as integers
		{`{"a":1}`, `{"a":2}`, false},
	}
	for _, tc := range tests {
		if got, err := sameJSON(json.RawMessage(tc.a), json.RawMessage(tc.b)); err != nil || got != tc.want {
			t.Errorf("sameJSON(%s, %s) = %v, %v", tc.a, tc.b, got, err)
		}
	}
	if same, _ := sameJSON(nil, nil); !same {
		t.Error("two absent schemas differ")
	}
	if same, _ := sameJSON(nil, json.RawMessage(`{}`)); same {
		t.Error("absent equals present")
	}
}

func TestWasmExports(t *testing.T) {
	t.Parallel()
	header := "\x00asm\x01\x00\x00\x00"
	tests := []struct {
		name    string
		wasm    string
		want    map[string]byte
		wantErr error
	}{
		{"no sections", header, map[string]byte{}, nil},
		// A type section (skipped), then exports: moat_call (func 0) and memory (memory 0).
		{"exports", header + "\x01\x04\x01\x60\x00\x00" + "\x07\x16\x02\x09moat_call\x00\x00\x06memory\x02\x00",
			map[string]byte{"moat_call": 0, "memory": 2}, nil},
		{"index over one byte", header + "\x07\x0b\x01\x06_start\x00\x80\x01", map[string]byte{"_start": 0}, nil},
		{"not wasm", "\x7fELF\x02\x01\x01\x00", nil, errWasmShape},
		{"wrong version", "\x00asm\x02\x00\x00\x00", nil, errWasmShape},
		{"section past the end", header + "\x07\x10\x01", nil, errWasmShape},
		{"name past the section", header + "\x07\x04\x01\x09moa", nil, errWasmShape},
		{"no kind after the name", header + "\x07\x03\x01\x01a", nil, errWasmShape},
		{"size cut short", header + "\x07\x80", nil, errWasmShape},
		{"size over 32 bits", header + "\x07\xff\xff\xff\xff\x7f", nil, errWasmShape},
		{"bytes after the exports", header + "\x07\x05\x01\x01a\x00\x00\x00", nil, errWasmShape},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := wasmExports([]byte(tc.wasm))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr == nil && !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestToolForm: the form is read from the source, never by running it.
func TestToolForm(t *testing.T) {
	t.Parallel()
	const imp = "import \"github.com/moatmcp/moat/sdk\"\n"
	tests := []struct {
		name, src string
		reactor   bool
	}{
		{"Handle in init", imp + "func init() { sdk.Handle(h) }\nfunc main() { sdk.Main() }", true},
		{"Handle with type arguments", imp + "func init() { sdk.Handle[In, Out](h) }", true},
		{"Handle in a var initialiser", imp + "var _ = func() int { sdk.Handle(h); return 0 }()", true},
		{"renamed import", "import moat \"github.com/moatmcp/moat/sdk\"\nfunc init() { moat.Handle(h) }", true},
		{"Handle in main", imp + "func main() { sdk.Handle(h); sdk.Main() }", false},
		{"Run in main", imp + "func main() { sdk.Run(h) }", false},
		{"a method named init", imp + "func (T) init() { sdk.Handle(h) }", false},
		{"another package's Handle", "import sdk \"example.com/other\"\nfunc init() { sdk.Handle(h) }", false},
		{"no sdk", "func init() {}", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n"+tt.src+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if got := isReactor(dir); got != tt.reactor {
				t.Fatalf("isReactor = %v, want %v", got, tt.reactor)
			}
		})
	}
}

// TestReactorToolEndToEnd builds tools/jsonquery as moat build does (a
// reactor) and calls it three times in a row through the sandbox, with
// every instance fresh from the snapshot and with one instance shared.
func TestReactorToolEndToEnd(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds a Go tool")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	dir := filepath.Join(repoRoot(t), "tools", "jsonquery")
	var errOut bytes.Buffer
	if !isReactor(dir) {
		t.Fatalf("tools/jsonquery is not built as a reactor\n%s", errOut.String())
	}
	out := filepath.Join(t.TempDir(), "jsonquery.wasm")
	if err := Go(context.Background(), dir, out, true, &errOut); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	calls := []struct{ args, want string }{
		{`{"document":{"a":[1,2,{"b":"x"}]},"query":".a[2].b"}`, `{"result":"x"}`},
		{`{"document":{"items":[{"name":"p"},{"name":"q"}]},"query":".items[].name"}`, `{"result":["p","q"]}`},
		{`{"document":[3,1,2],"query":". | length"}`, `{"result":3}`},
	}
	for _, iso := range []sandbox.Isolation{sandbox.IsolationPerCall, sandbox.IsolationShared} {
		t.Run(iso.String(), func(t *testing.T) {
			mod := sandboxtest.Load(t, wasm, iso)
			for _, c := range calls {
				res := sandboxtest.Call(t, mod, c.args)
				if res.Outcome != sandbox.OutcomeOK || string(res.Stdout) != c.want || len(res.Stderr) != 0 {
					t.Fatalf("%s: got %v exit %d %q %q; want %q", c.args, res.Outcome, res.ExitCode, res.Stdout, res.Stderr, c.want)
				}
			}
		})
	}
}

// repoRoot is the module's root, two folders up from this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}
