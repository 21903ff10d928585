package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moatmcp/moat/internal/sandbox/sandboxtest"

	"github.com/moatmcp/moat/internal/build"
	"github.com/moatmcp/moat/internal/sandbox"
	"github.com/moatmcp/moat/internal/wasmbin"
)

// schemaTool writes a minimal sdk tool into a new module under a temp dir.
func schemaTool(t *testing.T, handler string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tool")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/tool\n\ngo "+goModGoLine(filepath.Join(repoRoot(t), "go.mod"))+"\n\nrequire github.com/moatmcp/moat v0.0.0\n\nreplace github.com/moatmcp/moat => "+filepath.ToSlash(repoRoot(t))+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nimport (\n\t\"context\"\n\n\t\"github.com/moatmcp/moat/sdk\"\n)\n\n"+handler), 0o644)
	return dir
}

func TestBuildManifest(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds Go tools")
	}
	dir := schemaTool(t, "type in struct {\n\tQ string `json:\"q\"`\n}\n\nfunc main() {\n\tsdk.Run(func(_ context.Context, in in) (string, error) { return in.Q, nil })\n}\n")
	mdir := t.TempDir()
	manifestPath := filepath.Join(mdir, "t.toml")
	original := "# keep me\nname   = \"t\"  # and me\nmodule = \"" + filepath.ToSlash(filepath.Join(dir, "t.wasm")) + "\"\noutput_schema_file = \"stale.json\"\n\n[limits]\ntimeout = \"1s\" # and me\n"
	os.WriteFile(manifestPath, []byte(original), 0o600)
	os.WriteFile(filepath.Join(mdir, "stale.json"), []byte(`{"type":"object"}`), 0o644)

	// --check before the update reports every drift and exits 1.
	code, out, errOut := runMoat(t, "", "build", dir, "--check", manifestPath)
	if code != 1 || !strings.Contains(out, "no sha256 pin") || !strings.Contains(out, "input_schema missing (the handler's types have one)") ||
		!strings.Contains(out, "output_schema declared, but the handler returns text") {
		t.Fatalf("check: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "t.wasm")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("--check wrote the module: %v", err)
	}

	code, out, errOut = runMoat(t, "", "build", dir, "--update-manifest", manifestPath)
	if code != 0 {
		t.Fatalf("update: exit %d\n%s\n%s", code, out, errOut)
	}
	sum, _ := moduleDigest(filepath.Join(dir, "t.wasm"))
	want := "# keep me\nname   = \"t\"  # and me\nmodule = \"" + filepath.ToSlash(filepath.Join(dir, "t.wasm")) + "\"\nsha256 = \"" + sum + "\"\ninput_schema_file = \"t.input.json\"\n\n[limits]\ntimeout = \"1s\" # and me\n"
	if b, _ := os.ReadFile(manifestPath); string(b) != want {
		t.Fatalf("manifest:\n%s\nwant\n%s", b, want)
	}
	if st, _ := os.Stat(manifestPath); st.Mode().Perm() != 0o600 {
		t.Errorf("manifest mode %v, want 0600 kept", st.Mode().Perm())
	}
	if b, _ := os.ReadFile(filepath.Join(mdir, "t.input.json")); string(b) != "{\n  \"type\": \"object\",\n  \"properties\": {\n    \"q\": {\n      \"type\": \"string\"\n    }\n  },\n  \"required\": [\n    \"q\"\n  ],\n  \"additionalProperties\": false\n}\n" {
		t.Fatalf("t.input.json:\n%s", b)
	}
	if code, out, _ := runMoat(t, "", "build", dir, "--check", manifestPath); code != 0 || out != "t.toml: up to date (sha256:"+sum+")\n" && !strings.HasSuffix(out, "t.toml: up to date (sha256:"+sum+")\n") {
		t.Fatalf("check after update: exit %d\n%s", code, out)
	}
	// A second update changes nothing.
	if code, out, _ := runMoat(t, "", "build", dir, "--update-manifest", manifestPath); code != 0 || !strings.Contains(out, "up to date") || strings.Contains(out, "updated") {
		t.Fatalf("second update: exit %d\n%s", code, out)
	}
	// A hand-edited schema file is drift.
	os.WriteFile(filepath.Join(mdir, "t.input.json"), []byte(`{"type":"object"}`), 0o644)
	if code, out, _ := runMoat(t, "", "build", dir, "--check", manifestPath); code != 1 || !strings.Contains(out, "input_schema differs from the handler's types") {
		t.Fatalf("check after edit: exit %d\n%s", code, out)
	}
}

func TestBuildManifestRefusals(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds Go tools")
	}
	sdkTool := schemaTool(t, "func main() {\n\tsdk.Run(func(_ context.Context, in struct{}) (string, error) { return \"\", nil })\n}\n")
	plain := schemaTool(t, "var _ = sdk.Errorf\nvar _ context.Context\n\nfunc main() {}\n")
	os.WriteFile(filepath.Join(plain, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644)
	mdir := t.TempDir()
	inline := filepath.Join(mdir, "inline.toml")
	os.WriteFile(inline, []byte("name = \"t\"\nmodule = \"t.wasm\"\n\n[input_schema]\ntype = \"object\"\n"), 0o644)
	plainManifest := filepath.Join(mdir, "plain.toml")
	os.WriteFile(plainManifest, []byte("name = \"t\"\nmodule = \"p.wasm\"\n"), 0o644)
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"inline schema", []string{"build", sdkTool, "--update-manifest", inline}, 2, "input_schema: the manifest declares this schema inline; delete the [input_schema] table and moat build will write input_schema_file"},
		{"not an sdk tool", []string{"build", plain, "--update-manifest", plainManifest}, 2, "the tool does not import github.com/moatmcp/moat/sdk; write its schemas into the manifest by hand"},
		{"both flags", []string{"build", sdkTool, "--update-manifest", inline, "--check", inline}, 2, "give --update-manifest or --check, not both"},
		{"two dirs", []string{"build", sdkTool, plain, "--check", inline}, 2, "--update-manifest and --check take exactly one TOOL_DIR"},
		{"missing manifest", []string{"build", sdkTool, "--check", filepath.Join(mdir, "nope.toml")}, 2, "nope.toml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runMoat(t, "", tc.args...)
			if code != tc.wantCode || !strings.Contains(errOut, tc.wantStderr) {
				t.Fatalf("exit %d, stderr %q; want %d ∋ %q", code, errOut, tc.wantCode, tc.wantStderr)
			}
		})
	}
	if b, _ := os.ReadFile(inline); !bytes.Equal(b, []byte("name = \"t\"\nmodule = \"t.wasm\"\n\n[input_schema]\ntype = \"object\"\n")) {
		t.Fatalf("a refused update changed the manifest:\n%s", b)
	}
}

// TestExampleHelloC calls the committed tools/hello_c module and, when
// clang with wasi-libc is present, checks that it is what build.sh makes
// of main.c today.
func TestExampleHelloC(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	assertHello(t, filepath.Join(root, "manifests", "hello_c.toml"))
	clangWASI(t)
	assertRebuildMatches(t, filepath.Join(root, "tools", "hello_c"), []string{"main.c", "build.sh"}, "", "hello_c.wasm")
}

// TestExampleHelloAssemblyScript does the same for tools/hello_as.
func TestExampleHelloAssemblyScript(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	assertHello(t, filepath.Join(root, "manifests", "hello_as.toml"))
	nm := ascModules(t)
	assertRebuildMatches(t, filepath.Join(root, "tools", "hello_as"), []string{"package.json", "package-lock.json", "build.sh", "assembly/index.ts"}, nm, "hello_as.wasm")
}

// assertRebuildMatches copies a tool's sources to a temp dir, runs its
// build.sh there and compares the module with the committed one.
func assertRebuildMatches(t *testing.T, src string, files []string, nodeModules, module string) {
	t.Helper()
	dst := t.TempDir()
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(filepath.Join(dst, f)), 0o755)
		os.WriteFile(filepath.Join(dst, f), b, 0o755)
	}
	if nodeModules != "" {
		os.Symlink(nodeModules, filepath.Join(dst, "node_modules"))
	}
	cmd := exec.Command("bash", "build.sh")
	cmd.Dir = dst
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build.sh: %v\n%s", err, b)
	}
	got, _ := os.ReadFile(filepath.Join(dst, module))
	want, _ := os.ReadFile(filepath.Join(src, module))
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from a fresh build of its source (%d vs %d bytes): run %s/build.sh and commit the module", module, len(want), len(got), filepath.Base(src))
	}
}

// formTools are tool sources whose build form moat build must get right.
const (
	formHandler = "type in struct {\n\tQ string `json:\"q\"`\n}\n\nfunc echo(_ context.Context, in in) (string, error) {\n\tif in.Q == \"panic\" {\n\t\tpanic(\"boom\")\n\t}\n\tif in.Q == \"fail\" {\n\t\treturn \"\", sdk.Errorf(\"asked to fail\")\n\t}\n\treturn \"got \" + in.Q, nil\n}\n\n"
	formInit    = formHandler + "func init() { sdk.Handle(echo) }\n\nfunc main() { sdk.Main() }\n"
	formRun     = formHandler + "func main() { sdk.Run(echo) }\n"
	// Registered in main: the source mentions Handle, but a reactor would
	// have no handler, so the probe must say command.
	formLate = formHandler + "func main() {\n\tsdk.Handle(echo)\n\tsdk.Main()\n}\n"
)

// TestBuildForm: moat build makes a reactor (moat_call, no _start) of a
// tool that registers its handler in init, and a command (_start) of one
// that calls sdk.Run, or sdk.Handle only once main runs. The reactor is
// then called through the sandbox: several calls, an error and a panic.
func TestBuildForm(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds Go tools")
	}
	tests := []struct {
		name        string
		src         string
		wantReactor bool
	}{
		{"init registration", formInit, true},
		{"sdk.Run in main", formRun, false},
		{"sdk.Handle in main", formLate, false},
	}
	var reactorDir string // the built init-registration tool, for the calls below
	parent := t           // whose temp dirs outlive the subtests
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := schemaTool(parent, tc.src)
			if tc.src == formInit {
				reactorDir = dir
			}
			code, out, errOut := runMoat(t, "", "build", dir)
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
			}
			if got := strings.HasSuffix(out, "  reactor\n"); got != tc.wantReactor {
				t.Errorf("stdout %q: reactor %v, want %v", out, got, tc.wantReactor)
			}
			exports := moduleExports(t, filepath.Join(dir, "tool.wasm"))
			_, call := exports["moat_call"]
			_, start := exports["_start"]
			// Every sdk module exports moat_call; a command also has _start,
			// which makes the host treat it as a command.
			if !call || start == tc.wantReactor {
				t.Fatalf("exports moat_call %v, _start %v; want a reactor: %v", call, start, tc.wantReactor)
			}
		})
	}

	t.Run("reactor calls", func(t *testing.T) {
		wasm, err := os.ReadFile(filepath.Join(reactorDir, "tool.wasm"))
		if err != nil {
			t.Fatal(err)
		}
		mod := sandboxtest.Load(t, wasm, sandbox.IsolationPerCall)
		steps := []struct {
			args       string
			wantCode   uint32
			wantStdout string
			wantStderr string // a prefix
		}{
			{`{"q":"one"}`, 0, "got one", ""},
			{`{"q":"fail"}`, 1, "", "asked to fail\n"},
			{`{"q":"two"}`, 0, "got two", ""},
			{`{"q":"panic"}`, 2, "", "panic: boom\n\ngoroutine "},
			{`{"q":"three"}`, 0, "got three", ""},
		}
		for _, s := range steps {
			res := sandboxtest.Call(t, mod, s.args)
			if res.ExitCode != s.wantCode || string(res.Stdout) != s.wantStdout || !strings.HasPrefix(string(res.Stderr), s.wantStderr) {
				t.Fatalf("%s: got %v exit %d %q %q; want exit %d %q %q…", s.args, res.Outcome, res.ExitCode, res.Stdout, res.Stderr, s.wantCode, s.wantStdout, s.wantStderr)
			}
		}
	})

	// sdk.Run in main, built as a reactor by hand: main never runs, so
	// moat_call has nothing to serve and says why.
	t.Run("reactor without a handler", func(t *testing.T) {
		dir := schemaTool(t, formRun)
		out := filepath.Join(t.TempDir(), "run.wasm")
		var errOut bytes.Buffer
		if err := build.Go(context.Background(), dir, out, true, &errOut); err != nil {
			t.Fatalf("%v\n%s", err, errOut.String())
		}
		wasm, _ := os.ReadFile(out)
		res := sandboxtest.Call(t, sandboxtest.Load(t, wasm, sandbox.IsolationPerCall), `{"q":"x"}`)
		want := "moat_call: no handler registered: call sdk.Handle(handler) from an init function (a reactor build runs only package inits, never main)\n"
		if res.Outcome != sandbox.OutcomeExit || res.ExitCode != 1 || len(res.Stdout) != 0 || string(res.Stderr) != want {
			t.Fatalf("got %v exit %d %q %q; want exit 1 %q", res.Outcome, res.ExitCode, res.Stdout, res.Stderr, want)
		}
	})
}

func moduleExports(t *testing.T, path string) map[string]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	secs, err := wasmbin.Sections(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secs {
		if s.ID == wasmbin.SectionExport {
			exports, err := wasmbin.Exports(s.Body)
			if err != nil {
				t.Fatal(err)
			}
			return exports
		}
	}
	return map[string]byte{}
}

// moduleDigest is the hex sha256 of the file at path, as moat build pins it.
func moduleDigest(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// goModGoLine returns the version on a go.mod's go line, or "".
func goModGoLine(path string) string {
	b, _ := os.ReadFile(path)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "go "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
