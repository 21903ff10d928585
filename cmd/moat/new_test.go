package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// helloResult is what every scaffolded C and AssemblyScript tool, and the
// two examples, answer to {"name":"ada"}: exactly what smoke.sh expects.
const helloResult = `{
  "content": [
    {
      "type": "text",
      "text": "hello, ada!\n"
    }
  ]
}
`

func TestNewFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		lang      string
		wantFiles []string
		wantNext  string
	}{
		{"go", []string{"README.md", "go.mod", "main.go", "main_test.go", "hello.toml"}, "  go test ./...\n  moat build\n"},
		{"c", []string{"main.c", "smoke.sh", "hello.toml"}, "  moat build\n"},
		{"assemblyscript", []string{".gitignore", "assembly/index.ts", "package.json", "smoke.sh", "hello.toml"}, "  npm install\n  moat build\n"},
	}
	for _, tc := range tests {
		t.Run(tc.lang, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "hello")
			code, out, errOut := runMoat(t, "", "new", "hello", "--lang", tc.lang, "--dir", dir)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var got []string
			filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if err == nil && d.IsDir() && d.Name() == ".moat" {
					return filepath.SkipDir // the SDK copy, checked below
				}
				if err == nil && !d.IsDir() {
					r, _ := filepath.Rel(dir, p)
					got = append(got, filepath.ToSlash(r))
					if !strings.Contains(out, "created "+p+"\n") {
						t.Errorf("stdout does not list %s:\n%s", p, out)
					}
				}
				return nil
			})
			if strings.Join(sorted(got), " ") != strings.Join(sorted(tc.wantFiles), " ") {
				t.Errorf("files %v, want %v", got, tc.wantFiles)
			}
			for _, f := range got {
				b, _ := os.ReadFile(filepath.Join(dir, f))
				if strings.Contains(string(b), "{{") || strings.Contains(string(b), "<no value>") {
					t.Errorf("%s has an unexpanded template:\n%s", f, b)
				}
				if strings.HasSuffix(f, ".sh") {
					if st, _ := os.Stat(filepath.Join(dir, f)); st.Mode().Perm()&0o100 == 0 {
						t.Errorf("%s is not executable", f)
					}
				}
			}
			// The manifest parses and names the tool; the module is not built yet.
			m, _ := os.ReadFile(filepath.Join(dir, "hello.toml"))
			if !strings.Contains(string(m), "name        = \"hello\"\n") || !strings.Contains(string(m), "module      = \"hello.wasm\"\n") {
				t.Errorf("manifest:\n%s", m)
			}
			// The next steps are exactly what to type.
			wantNext := "\nnext:\n  cd " + dir + "\n" + tc.wantNext + "  moat call hello.toml --args '{\"name\":\"ada\"}'\n"
			if !strings.HasSuffix(out, wantNext) {
				t.Errorf("stdout ends\n%s\nwant it to end\n%s", out, wantNext)
			}
			_, err := os.Stat(filepath.Join(dir, ".moat", "sdk", "sdk", "sdk.go"))
			if hasSDK := err == nil; hasSDK != (tc.lang == "go") {
				t.Errorf("SDK copy present: %v, want %v", hasSDK, tc.lang == "go")
			}
		})
	}
}

func sorted(s []string) []string {
	c := append([]string(nil), s...)
	for i := range c {
		for j := i + 1; j < len(c); j++ {
			if c[j] < c[i] {
				c[i], c[j] = c[j], c[i]
			}
		}
	}
	return c
}

func TestNewRefusals(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	existing := filepath.Join(base, "taken")
	os.MkdirAll(existing, 0o755)
	os.WriteFile(filepath.Join(existing, "main.c"), []byte("mine"), 0o644)
	aFile := filepath.Join(base, "afile")
	os.WriteFile(aFile, []byte("x"), 0o644)
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"no name", []string{"new"}, 2, "usage: moat new NAME"},
		{"two names", []string{"new", "a", "b"}, 2, "usage: moat new NAME"},
		{"bad language", []string{"new", "x", "--lang", "rust", "--dir", filepath.Join(base, "x")}, 2, `moat new: unknown language "rust" (go, c or assemblyscript)` + "\n"},
		{"slash in name", []string{"new", "a/b"}, 2, `moat new: invalid tool name: "a/b" '/' is not allowed: use only A-Z, a-z, 0-9, '_', '.' and '-'` + "\n"},
		// The manifest's rule (manifest.CheckToolName) comes first: its words for what it refuses.
		{"manifest rule first", []string{"new", "tool!"}, 2, `moat new: invalid tool name: "tool!" '!' is not allowed: use only A-Z, a-z, 0-9, '_', '.' and '-'` + "\n"},
		{"dot dot", []string{"new", ".."}, 2, `moat new: invalid tool name: ".." has a dot; use _ or - instead` + "\n"},
		{"dots", []string{"new", "my.tool"}, 2, `moat new: invalid tool name: "my.tool" has a dot; use _ or - instead` + "\n"},
		{"upper case", []string{"new", "Hello"}, 2, `moat new: invalid tool name: "Hello" has upper case; use lower case (hello)` + "\n"},
		{"go keyword", []string{"new", "func"}, 2, `moat new: invalid tool name: "func" is a Go keyword; pick another name (func_tool)` + "\n"},
		{"go keyword in C too", []string{"new", "type", "--lang", "c"}, 2, `moat new: invalid tool name: "type" is a Go keyword; pick another name (type_tool)` + "\n"},
		{"leading digit", []string{"new", "1tool"}, 2, `moat new: invalid tool name: "1tool" must start with a letter` + "\n"},
		{"leading dash", []string{"new", "-x"}, 2, "flag provided but not defined: -x"},
		{"too long", []string{"new", strings.Repeat("a", 65)}, 2, "must be 1 to 64 characters\n"},
		{"folder exists", []string{"new", "taken", "--lang", "c", "--dir", existing}, 2, "moat new: refusing to overwrite " + existing + ": it already exists and is not empty\n"},
		{"a file is in the way", []string{"new", "afile", "--dir", aFile}, 2, "moat new: refusing to overwrite " + aFile + ": it already exists and is not a folder\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runMoat(t, "", tc.args...)
			if code != tc.wantCode || !strings.Contains(errOut, tc.wantStderr) || out != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %d ∋ %q", code, out, errOut, tc.wantCode, tc.wantStderr)
			}
		})
	}
	// Nothing was written next to the file that was in the way.
	entries, _ := os.ReadDir(existing)
	if b, _ := os.ReadFile(filepath.Join(existing, "main.c")); len(entries) != 1 || string(b) != "mine" {
		t.Fatalf("the existing folder changed: %d entries, main.c %q", len(entries), b)
	}
}

// TestNewEmptyFolderIsFine: an existing empty folder is not "taken".
func TestNewEmptyFolderIsFine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if code, _, errOut := runMoat(t, "", "new", "empty", "--lang", "c", "--dir", dir); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

// TestNewSDKCheckout: --sdk writes a replace to the checkout, and a go line
// no older than the checkout's (else go asks for go mod tidy).
func TestNewSDKCheckout(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "withsdk")
	if code, _, errOut := runMoat(t, "", "new", "withsdk", "--dir", dir, "--sdk", repoRoot(t)); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "go.mod"))
	want := "module withsdk\n\ngo " + goModGoLine(filepath.Join(repoRoot(t), "go.mod")) + "\n\nrequire github.com/moatmcp/moat v0.0.0\n\n// A checkout of moat (moat new --sdk).\nreplace github.com/moatmcp/moat => " + filepath.ToSlash(repoRoot(t)) + "\n"
	if string(b) != want {
		t.Fatalf("go.mod:\n%s\nwant\n%s", b, want)
	}
	if _, err := os.Stat(filepath.Join(dir, ".moat")); err == nil {
		t.Fatal("an SDK copy was written next to a replace to a checkout")
	}
}

// repoRoot is the moat checkout these tests run in.
func repoRoot(t *testing.T) string {
	t.Helper()
	abs, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// offlineGo makes the go command run as it would for a user with no
// network and no settings: GOPROXY=off (any download fails), GOFLAGS
// unset, and no go.work.
func offlineGo(t *testing.T) {
	t.Setenv("GOPROXY", "off")
	t.Setenv("GOWORK", "off")
	t.Setenv("GOTOOLCHAIN", "local")
	t.Setenv("GOFLAGS", "")
	os.Unsetenv("GOFLAGS")
}

// TestNewGoOffline: moat new → moat build → moat call → go test → moat
// build --check, in a folder outside the repository, offline, with no
// checkout of moat and no edits: the SDK comes from the binary.
func TestNewGoOffline(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a tool twice (wasm and native)")
	}
	offlineGo(t)
	work := t.TempDir()
	t.Chdir(work)
	if code, _, errOut := runMoat(t, "", "new", "greet"); code != 0 {
		t.Fatalf("moat new: exit %d: %s", code, errOut)
	}
	dir := filepath.Join(work, "greet")
	if b, _ := os.ReadFile(filepath.Join(dir, "go.mod")); !strings.Contains(string(b), "\nreplace github.com/moatmcp/moat => ./.moat/sdk\n") {
		t.Fatalf("go.mod does not replace the SDK with its copy:\n%s", b)
	}
	t.Chdir(dir)
	code, out, errOut := runMoat(t, "", "build")
	if code != 0 {
		t.Fatalf("moat build: exit %d\n%s\n%s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "built greet.wasm  ") || !strings.HasSuffix(lines[0], "  reactor") ||
		lines[1] != "updated greet.input.json" || lines[2] != "updated greet.output.json" || lines[3] != "updated greet.toml" {
		t.Fatalf("moat build printed\n%s", out)
	}
	if _, err := os.Stat("go.sum"); err == nil {
		t.Error("moat build wrote a go.sum: the SDK copy should need none")
	}
	wantIn := `{
  "type": "object",
  "properties": {
    "name": {
      "type": "string",
      "description": "Who to greet",
      "minLength": 1,
      "maxLength": 64
    }
  },
  "required": [
    "name"
  ],
  "additionalProperties": false
}
`
	if b, _ := os.ReadFile("greet.input.json"); string(b) != wantIn {
		t.Errorf("greet.input.json:\n%s\nwant\n%s", b, wantIn)
	}

	cache := filepath.Join(tree, "cache")
	tests := []struct {
		name       string
		args       string
		wantCode   int
		wantStdout string
	}{
		{"greets", `{"name":"ada"}`, 0, `{
  "content": [
    {
      "type": "text",
      "text": "{\"greeting\":\"hello, ada!\"}"
    }
  ],
  "structuredContent": {
    "greeting": "hello, ada!"
  }
}
`},
		{"no HTML escaping", `{"name":"<a&b>"}`, 0, `{
  "content": [
    {
      "type": "text",
      "text": "{\"greeting\":\"hello, <a&b>!\"}"
    }
  ],
  "structuredContent": {
    "greeting": "hello, <a&b>!"
  }
}
`},
		{"tool error", `{"name":" "}`, 1, `{
  "content": [
    {
      "type": "text",
      "text": "name is blank"
    }
  ],
  "isError": true
}
`},
		{"generated schema enforced by the host", `{"name":"ada","age":3}`, 1, `{
  "content": [
    {
      "type": "text",
      "text": "invalid argument \"/age\": unexpected property (allowed: \"name\")"
    }
  ],
  "isError": true
}
`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runMoat(t, "", "call", "greet.toml", "--cache-dir", cache, "--args", tc.args)
			if code != tc.wantCode || out != tc.wantStdout {
				t.Fatalf("exit %d\n%s\nstderr %s\nwant exit %d\n%s", code, out, errOut, tc.wantCode, tc.wantStdout)
			}
		})
	}

	// The folder's own test runs with plain go, offline, with no go.sum.
	gotest := exec.Command("go", "test", "./...")
	if b, err := gotest.CombinedOutput(); err != nil {
		t.Fatalf("go test in the new tool: %v\n%s", err, b)
	}
	// With -mod=mod, too (a common GOFLAGS): still nothing to download.
	t.Setenv("GOFLAGS", "-mod=mod")
	code, out, errOut = runMoat(t, "", "build", "--check", "greet.toml")
	if code != 0 || !strings.Contains(out, "up to date") {
		t.Fatalf("moat build --check right after moat build: exit %d\n%s\n%s", code, out, errOut)
	}
}

// clangWASI skips the test unless clang can build for wasm32-wasi.
func clangWASI(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("clang"); err != nil {
		t.Skip("C toolchain missing: no clang on PATH (Debian: apt-get install clang lld wasi-libc libclang-rt-dev-wasm32)")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "probe.c")
	os.WriteFile(src, []byte("#include <stdio.h>\nint main(void){puts(\"x\");return 0;}\n"), 0o644)
	cmd := exec.Command("clang", "--target=wasm32-wasi", "-O2", "-o", filepath.Join(dir, "probe.wasm"), src)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("C toolchain missing: clang cannot build for wasm32-wasi (Debian: apt-get install lld wasi-libc libclang-rt-dev-wasm32): %s", firstLine(b))
	}
}

// ascModules returns a node_modules folder holding the AssemblyScript
// compiler and the WASI shim (installed by tools/hello_as/build.sh), or
// skips the test. The tests never reach the network for it.
func ascModules(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("AssemblyScript toolchain missing: no node on PATH")
	}
	if _, err := exec.LookPath("npm"); err != nil {
		t.Skip("AssemblyScript toolchain missing: no npm on PATH")
	}
	nm := filepath.Join(repoRoot(t), "tools", "hello_as", "node_modules")
	for _, p := range []string{".bin/asc", "@assemblyscript/wasi-shim/asconfig.json"} {
		if _, err := os.Stat(filepath.Join(nm, p)); err != nil {
			t.Skip("AssemblyScript toolchain missing: run tools/hello_as/build.sh (npm ci) once to install asc and @assemblyscript/wasi-shim")
		}
	}
	return nm
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return s
}

// TestNewCEndToEnd: moat new --lang c → moat build → moat call, with no
// build script: moat build runs clang.
func TestNewCEndToEnd(t *testing.T) {
	clangWASI(t)
	work := t.TempDir()
	t.Chdir(work)
	if code, _, errOut := runMoat(t, "", "new", "greet_c", "--lang", "c"); code != 0 {
		t.Fatalf("moat new: exit %d: %s", code, errOut)
	}
	t.Chdir(filepath.Join(work, "greet_c"))
	buildAndPin(t, "greet_c")
	assertHello(t, "greet_c.toml")
}

// TestNewAssemblyScriptEndToEnd: moat new --lang assemblyscript → (npm
// install, here a link to tools/hello_as's node_modules) → moat build →
// moat call.
func TestNewAssemblyScriptEndToEnd(t *testing.T) {
	nm := ascModules(t)
	work := t.TempDir()
	t.Chdir(work)
	if code, _, errOut := runMoat(t, "", "new", "greet_as", "--lang", "assemblyscript"); code != 0 {
		t.Fatalf("moat new: exit %d: %s", code, errOut)
	}
	t.Chdir(filepath.Join(work, "greet_as"))
	if err := os.Symlink(nm, "node_modules"); err != nil {
		t.Fatal(err)
	}
	buildAndPin(t, "greet_as")
	assertHello(t, "greet_as.toml")
}

// buildAndPin runs moat build in the current folder and checks that it
// built NAME.wasm and pinned it in NAME.toml, and that --check agrees.
func buildAndPin(t *testing.T, name string) {
	t.Helper()
	code, out, errOut := runMoat(t, "", "build")
	if code != 0 {
		t.Fatalf("moat build: exit %d\n%s\n%s", code, out, errOut)
	}
	sum, err := moduleDigest(name + ".wasm")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "built "+name+".wasm  ") || !strings.HasSuffix(lines[0], "sha256:"+sum) || lines[1] != "updated "+name+".toml" {
		t.Fatalf("moat build printed\n%s", out)
	}
	if m, _ := os.ReadFile(name + ".toml"); !strings.Contains(string(m), "\nsha256      = \""+sum+"\"\n") {
		t.Fatalf("the manifest is not pinned:\n%s", m)
	}
	code, out, errOut = runMoat(t, "", "build", "--check", name+".toml")
	if code != 0 || out != name+".toml: up to date (sha256:"+sum+")\n" {
		t.Fatalf("moat build --check: exit %d\n%s\n%s", code, out, errOut)
	}
}

// assertHello calls a hello tool and checks the exact results of a good
// call and of one the input schema refuses.
func assertHello(t *testing.T, manifest string) {
	t.Helper()
	cache := filepath.Join(tree, "cache")
	code, out, errOut := runMoat(t, "", "call", manifest, "--cache-dir", cache, "--args", `{"name":"ada"}`)
	if code != 0 || out != helloResult {
		t.Fatalf("exit %d\n%s\nstderr %s\nwant\n%s", code, out, errOut, helloResult)
	}
	if !strings.Contains(errOut, `msg="tool log"`) || !strings.Contains(errOut, `msg="greeting someone"`) {
		t.Errorf("the tool's moat.log did not reach moat call's log:\n%s", errOut)
	}
	wantBad := `{
  "content": [
    {
      "type": "text",
      "text": "invalid argument \"/name\": must match the pattern \"^[A-Za-z0-9 _.-]+$\""
    }
  ],
  "isError": true
}
`
	code, out, _ = runMoat(t, "", "call", manifest, "--cache-dir", cache, "--args", `{"name":"a\"b"}`)
	if code != 1 || out != wantBad {
		t.Fatalf("exit %d\n%s\nwant exit 1\n%s", code, out, wantBad)
	}
}

// TestNewInsideAnotherModule: a Go tool made inside someone else's Go
// module gets its own go.mod and SDK copy (a nested module), since the
// enclosing module does not provide the SDK; inside moat's own module it
// joins it.
func TestNewInsideAnotherModule(t *testing.T) {
	t.Parallel()
	project := t.TempDir()
	os.WriteFile(filepath.Join(project, "go.mod"), []byte("module example.com/project\n\ngo 1.24\n"), 0o644)
	dir := filepath.Join(project, "tools", "greet")
	if code, _, errOut := runMoat(t, "", "new", "greet", "--dir", dir); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, f := range []string{"go.mod", ".moat/sdk/go.mod"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	inRepo := filepath.Join(repoRoot(t), "cmd", "moat", "testdata", "newtool-"+strings.ReplaceAll(t.Name(), "/", "-"))
	t.Cleanup(func() { os.RemoveAll(inRepo) })
	if code, _, errOut := runMoat(t, "", "new", "joins", "--dir", inRepo); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(inRepo, "go.mod")); err == nil {
		t.Error("a tool inside moat's own module got a go.mod")
	}
}
