package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// fakeTool writes an executable shell script named name into a new folder
// and returns the folder.
func fakeTool(t *testing.T, name, script string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestBuildBadInput: moat build on folders it cannot build says why, and
// a compiler's own message reaches the user whole.
func TestBuildBadInput(t *testing.T) {
	mk := func(t *testing.T, files map[string]string) string {
		dir := t.TempDir()
		for f, body := range files {
			p := filepath.Join(dir, f)
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, []byte(body), 0o644)
		}
		return dir
	}
	tests := []struct {
		name       string
		needs      func(t *testing.T)
		files      map[string]string
		args       []string
		wantStderr []string
	}{
		{"empty folder", nil, map[string]string{}, nil, []string{": no tool source: "}},
		{"two languages", nil, map[string]string{"main.go": "package main\n", "main.c": "int main(void){return 0;}\n"}, nil,
			[]string{": sources of more than one language: c (main.c), go (main.go); say which with --lang, or with language = \"…\" in the manifest\n"}},
		{"a file, not a folder", nil, map[string]string{"main.c": ""}, []string{"main.c"}, []string{"main.c is not a folder: moat build takes a tool's folder (moat check reads manifests)\n"}},
		{"unknown --lang", nil, map[string]string{"main.c": ""}, []string{"--lang", "rust"}, []string{`moat build: unknown language "rust" (go, c or assemblyscript)` + "\n"}},
		{"Go syntax error", nil, map[string]string{"go.mod": "module broken\n\ngo 1.24\n", "main.go": "package main\n\nfunc main() {\n\tx :=\n}\n"}, nil,
			[]string{"main.go:5:1: syntax error", "moat build: go build in "}},
		{"C syntax error", clangWASI, map[string]string{"main.c": "int main(void) { return }\n"}, nil,
			[]string{"main.c:1:25: error: expected expression", "moat build: clang --target=wasm32-wasi"}},
		{"AssemblyScript syntax error", func(t *testing.T) { ascModules(t) }, map[string]string{"assembly/index.ts": "export function f(: i32 {}\n", "package.json": `{"devDependencies":{"assemblyscript":"0.28.20"}}`}, nil,
			[]string{"ERROR TS", "assembly/index.ts", "moat build: asc assembly/index.ts"}},
		{"manifest that does not parse", nil, map[string]string{"main.c": "", "t.toml": "name = \n"}, nil, []string{"t.toml: toml: "}},
		{"two manifests of modules here", nil, map[string]string{"main.c": "", "a.toml": "module = \"a.wasm\"\n", "b.toml": "module = \"b.wasm\"\n"}, []string{"--lang", "c"},
			[]string{"more than one manifest names a module in this folder"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.needs != nil {
				tc.needs(t)
			}
			dir := mk(t, tc.files)
			if tc.name == "AssemblyScript syntax error" {
				os.Symlink(ascModules(t), filepath.Join(dir, "node_modules"))
			}
			args := append([]string{"build"}, tc.args...)
			if len(tc.args) == 1 {
				args = []string{"build", filepath.Join(dir, tc.args[0])}
			} else {
				args = append(args, dir)
			}
			if strings.Contains(tc.name, "manifest") {
				// checkC runs before the manifest is looked for: use a
				// compiler that always works.
				t.Setenv("CC", filepath.Join(fakeTool(t, "cc", "exit 0\n"), "cc"))
			}
			code, out, errOut := runMoat(t, "", args...)
			if code != exitUsage || out != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 2", code, out, errOut)
			}
			// Compilers colour their messages when they think a person
			// reads them (asc does under CI=true); the words are what count.
			errOut = ansiEscape.ReplaceAllString(errOut, "")
			for _, w := range tc.wantStderr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr %q\nlacks %q", errOut, w)
				}
			}
		})
	}
}

// ansiEscape matches a terminal colour sequence.
var ansiEscape = regexp.MustCompile(`\x1b\[[0-9;]*m`)

// TestBuildLanguageFromManifest: a folder with the sources of two languages
// builds the one its manifest names (language = "c"), with no --lang.
func TestBuildLanguageFromManifest(t *testing.T) {
	t.Parallel()
	clangWASI(t)
	dir := t.TempDir()
	for name, text := range map[string]string{
		"main.go": "package main\n\nfunc main() {}\n",
		"main.c":  "#include <stdio.h>\nint main(void) { puts(\"from c\"); return 0; }\n",
		"t.toml":  "name = \"t\"\nlanguage = \"c\"\nmodule = \"t.wasm\"\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if code, out, errOut := runMoat(t, "", "build", dir); code != exitOK {
		t.Fatalf("build: %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut := runMoat(t, "", "call", filepath.Join(dir, "t.toml"), "--cache-dir", filepath.Join(tree, "cache"))
	if code != exitOK || !strings.Contains(out, "from c") {
		t.Fatalf("call: %d\n%s\n%s", code, out, errOut)
	}
}
