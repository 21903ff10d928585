package build

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestDetectLang(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		files   []string
		want    Lang
		wantErr error
		wantMsg string
	}{
		{"go", []string{"main.go", "main_test.go"}, LangGo, nil, ""},
		{"go tests only", []string{"main_test.go"}, "", errNoSources, ""},
		{"c", []string{"main.c", "util.h"}, LangC, nil, ""},
		{"assemblyscript", []string{"assembly/index.ts", "package.json"}, LangAssemblyScript, nil, ""},
		{"nothing", []string{"README.md"}, "", errNoSources, ": no tool source: no Go main package (*.go), no C (*.c), no AssemblyScript (assembly/index.ts); moat new NAME makes one"},
		{"two languages", []string{"main.go", "main.c"}, "", errTwoLangs, ": sources of more than one language: c (main.c), go (main.go); say which with --lang, or with language = \"…\" in the manifest"},
		{"three languages", []string{"main.go", "x.c", "assembly/index.ts"}, "", errTwoLangs, ": sources of more than one language: assemblyscript (assembly/index.ts), c (x.c), go (main.go); say which with --lang, or with language = \"…\" in the manifest"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range tc.files {
				p := filepath.Join(dir, f)
				os.MkdirAll(filepath.Dir(p), 0o755)
				os.WriteFile(p, []byte("x"), 0o644)
			}
			got, err := detectLang(dir)
			if got != tc.want || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("detectLang = %q, %v; want %q, %v", got, err, tc.want, tc.wantErr)
			}
			if tc.wantMsg != "" && err.Error() != dir+tc.wantMsg {
				t.Fatalf("error %q, want %q", err, dir+tc.wantMsg)
			}
		})
	}
}

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

// TestCheckC: each part of the C toolchain that can be missing is named,
// with the command that installs it. The compilers are fakes that fail as
// clang does.
func TestCheckC(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	install := cInstallCommand()
	tests := []struct {
		name   string
		script string
		want   string
	}{
		{"works", "exit 0\n", ""},
		{"no wasi-libc", "echo \"probe.c:1:10: fatal error: 'stdio.h' file not found\" >&2; exit 1\n",
			"toolchain missing: wasi-libc is missing (clang cannot find the C library for wasm32-wasi); install it with:\n    " + install},
		{"no compiler runtime", "echo 'wasm-ld: error: cannot open /usr/lib/llvm-14/lib/clang/14.0.6/lib/wasi/libclang_rt.builtins-wasm32.a: No such file or directory' >&2; exit 1\n",
			"toolchain missing: the wasm32 compiler runtime (libclang_rt.builtins-wasm32.a) is missing; install it with:\n    " + install},
		{"no linker", "echo 'clang: error: unable to execute command: Executable \"wasm-ld\" doesn'\"'\"'t exist!' >&2; exit 1\n",
			"toolchain missing: the WebAssembly linker (wasm-ld, from lld) is missing; install it with:\n    " + install},
		{"no wasm32 target (too old)", "echo \"error: unable to create target: 'No available targets are compatible with triple \\\"wasm32-unknown-wasi\\\"'\" >&2; exit 1\n",
			"has no wasm32 target (it is too old, or built without WebAssembly); install it with:\n    " + install},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cc := filepath.Join(fakeTool(t, "cc", tc.script), "cc")
			t.Setenv("CC", cc)
			err := checkC(context.Background())
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.HasSuffix(err.Error(), tc.want) {
				t.Fatalf("err = %v\nwant it to end %q", err, tc.want)
			}
		})
	}
	t.Run("no compiler", func(t *testing.T) {
		t.Setenv("CC", filepath.Join(t.TempDir(), "clang"))
		err := checkC(context.Background())
		if err == nil || !errors.Is(err, errToolchain) || !strings.HasSuffix(err.Error(), "is not on PATH); install it with:\n    "+install) {
			t.Fatalf("err = %v", err)
		}
	})
	if _, err := exec.LookPath("apt-get"); err == nil && os.Geteuid() == 0 {
		if install != "apt-get install -y clang lld wasi-libc libclang-rt-dev-wasm32" {
			t.Errorf("install command on this apt system: %q", install)
		}
	}
}

// TestCheckAS: Node.js missing or too old, the compiler not installed, or
// installed at another version than package.json asks for.
func TestCheckAS(t *testing.T) {
	node20 := fakeTool(t, "node", "echo v20.11.1\n")
	node18 := fakeTool(t, "node", "echo v18.19.0\n")
	tool := func(t *testing.T, installed string) string {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"devDependencies":{"assemblyscript":"0.28.20","@assemblyscript/wasi-shim":"0.1.0"}}`), 0o644)
		if installed != "" {
			for p, body := range map[string]string{
				"node_modules/.bin/asc":                                "",
				"node_modules/@assemblyscript/wasi-shim/asconfig.json": "{}",
				"node_modules/assemblyscript/package.json":             `{"version":"` + installed + `"}`,
			} {
				os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755)
				os.WriteFile(filepath.Join(dir, p), []byte(body), 0o755)
			}
		}
		return dir
	}
	tests := []struct {
		name      string
		path      string
		installed string
		wantErr   error
		want      string
	}{
		{"ready", node20, "0.28.20", nil, ""},
		{"no node", t.TempDir(), "0.28.20", errToolchain, "AssemblyScript needs Node.js 20 or newer and npm (node is not on PATH)"},
		{"node too old", node18, "0.28.20", errOldTool, "toolchain too old: Node.js v18.19.0 is installed; AssemblyScript 0.28.20 needs 20 or newer"},
		{"no compiler", node20, "", errToolchain, "install it with:\n    (cd DIR && npm install --save-dev assemblyscript@0.28.20 @assemblyscript/wasi-shim@0.1.0)"},
		{"wrong compiler version", node20, "0.27.0", errOldTool, "toolchain too old: assemblyscript 0.27.0 is installed but package.json asks for 0.28.20; run:\n    (cd DIR && npm install)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PATH", tc.path)
			dir := tool(t, tc.installed)
			err := checkAS(context.Background(), dir)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if want := strings.ReplaceAll(tc.want, "DIR", dir); err != nil && !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %v\nwant it to hold %q", err, want)
			}
		})
	}
}

func TestGoAtLeast(t *testing.T) {
	t.Parallel()
	tests := []struct {
		v, min string
		want   bool
	}{
		{"go1.26.8", "1.24", true},
		{"go1.24", "1.24", true},
		{"go1.24rc1", "1.24", true},
		{"go1.23.4", "1.24", false},
		{"go1.9", "1.24", false},
		{"go2.0", "1.24", true},
		{"devel go1.27-abcdef", "1.24", true},
		{"go1.24.0", "1.26.8", false},
	}
	for _, tc := range tests {
		if got := GoAtLeast(tc.v, tc.min); got != tc.want {
			t.Errorf("GoAtLeast(%q, %q) = %v, want %v", tc.v, tc.min, got, tc.want)
		}
	}
}

// TestCheckGoTooOld: a Go older than the SDK needs is named, not left to
// fail as a download of a newer toolchain.
func TestCheckGoTooOld(t *testing.T) {
	bin := fakeTool(t, "go", "echo go1.22.5\n")
	t.Setenv("PATH", bin)
	err := checkGo(context.Background())
	if !errors.Is(err, errOldTool) || err.Error() != "toolchain too old: go1.22.5 is installed; moat's Go SDK needs Go 1.24 or newer (go:wasmexport, for reactors)" {
		t.Fatalf("err = %v", err)
	}
}
