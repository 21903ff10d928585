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
	tests := []struct {
		lang      string
		wantFiles []string
	}{
		{"go", []string{"README.md", "go.mod", "main.go", "main_test.go", "hello.toml"}},
		{"c", []string{"build.sh", "main.c", "smoke.sh", "hello.toml"}},
		{"assemblyscript", []string{".gitignore", "assembly/index.ts", "build.sh", "package.json", "smoke.sh", "hello.toml"}},
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
	base := t.TempDir()
	existing := filepath.Join(base, "taken")
	os.MkdirAll(existing, 0o755)
	os.WriteFile(filepath.Join(existing, "main.c"), []byte("mine"), 0o644)
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"no name", []string{"new"}, 2, "usage: moat new NAME"},
		{"two names", []string{"new", "a", "b"}, 2, "usage: moat new NAME"},
		{"bad language", []string{"new", "x", "--lang", "rust", "--dir", filepath.Join(base, "x")}, 2, `moat new: unknown language "rust" (go, c or assemblyscript)`},
		{"slash in name", []string{"new", "a/b"}, 2, `moat new: invalid tool name: "a/b" may hold only A-Z a-z 0-9 _ . -`},
		{"dot dot", []string{"new", ".."}, 2, `moat new: invalid tool name: ".." may not start with . or -`},
		{"too long", []string{"new", strings.Repeat("a", 129)}, 2, "must be 1 to 128 characters"},
		{"existing file", []string{"new", "taken", "--lang", "c", "--dir", existing}, 2, "moat new: refusing to overwrite " + filepath.Join(existing, "main.c")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runMoat(t, "", tc.args...)
			if code != tc.wantCode || !strings.Contains(errOut, tc.wantStderr) {
				t.Fatalf("exit %d, stderr %q; want %d ∋ %q", code, errOut, tc.wantCode, tc.wantStderr)
			}
		})
	}
	// Nothing was written next to the file that was in the way.
	entries, _ := os.ReadDir(existing)
	if b, _ := os.ReadFile(filepath.Join(existing, "main.c")); len(entries) != 1 || string(b) != "mine" {
		t.Fatalf("the existing folder changed: %d entries, main.c %q", len(entries), b)
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

// TestNewGoEndToEnd: moat new → go test → moat build --update-manifest →
// moat call → moat build --check, in a folder outside the repository.
func TestNewGoEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a tool twice (wasm and native)")
	}
	dir := filepath.Join(t.TempDir(), "greet")
	if code, _, errOut := runMoat(t, "", "new", "greet", "--dir", dir, "--sdk", repoRoot(t)); code != 0 {
		t.Fatalf("moat new: exit %d: %s", code, errOut)
	}
	gotest := exec.Command("go", "test", "./...")
	gotest.Dir = dir
	if b, err := gotest.CombinedOutput(); err != nil {
		t.Fatalf("go test in the new tool: %v\n%s", err, b)
	}
	manifest := filepath.Join(dir, "greet.toml")
	code, out, errOut := runMoat(t, "", "build", dir, "--update-manifest", manifest)
	if code != 0 || !strings.Contains(out, "built ") || !strings.Contains(out, "updated ") {
		t.Fatalf("moat build: exit %d\n%s\n%s", code, out, errOut)
	}
	// The template registers its handler in init: a reactor.
	if !strings.Contains(out, "  reactor\n") {
		t.Errorf("moat build did not make a reactor of the Go template:\n%s", out)
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
	if b, _ := os.ReadFile(filepath.Join(dir, "greet.input.json")); string(b) != wantIn {
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
			code, out, errOut := runMoat(t, "", "call", manifest, "--cache-dir", cache, "--args", tc.args)
			if code != tc.wantCode || out != tc.wantStdout {
				t.Fatalf("exit %d\n%s\nstderr %s\nwant exit %d\n%s", code, out, errOut, tc.wantCode, tc.wantStdout)
			}
		})
	}

	code, out, errOut = runMoat(t, "", "build", dir, "--check", manifest)
	if code != 0 || !strings.Contains(out, "up to date") {
		t.Fatalf("moat build --check right after --update-manifest: exit %d\n%s\n%s", code, out, errOut)
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

func runScript(t *testing.T, dir, script string) {
	t.Helper()
	cmd := exec.Command("bash", filepath.Join(dir, script))
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, b)
	}
}

// TestNewCEndToEnd: moat new --lang c → build.sh → moat call.
func TestNewCEndToEnd(t *testing.T) {
	clangWASI(t)
	dir := filepath.Join(t.TempDir(), "greet_c")
	if code, _, errOut := runMoat(t, "", "new", "greet_c", "--lang", "c", "--dir", dir); code != 0 {
		t.Fatalf("moat new: exit %d: %s", code, errOut)
	}
	runScript(t, dir, "build.sh")
	assertHello(t, filepath.Join(dir, "greet_c.toml"))
}

// TestNewAssemblyScriptEndToEnd: moat new --lang assemblyscript → build.sh
// → moat call.
func TestNewAssemblyScriptEndToEnd(t *testing.T) {
	nm := ascModules(t)
	dir := filepath.Join(t.TempDir(), "greet_as")
	if code, _, errOut := runMoat(t, "", "new", "greet_as", "--lang", "assemblyscript", "--dir", dir); code != 0 {
		t.Fatalf("moat new: exit %d: %s", code, errOut)
	}
	if err := os.Symlink(nm, filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	runScript(t, dir, "build.sh")
	assertHello(t, filepath.Join(dir, "greet_as.toml"))
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
