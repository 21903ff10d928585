package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// commandWasm is the smallest module checkEntry takes for a command: an
// export section naming _start.
const commandWasm = "\x00asm\x01\x00\x00\x00\x07\x0a\x01\x06_start\x00\x00"

// fakeCC sets CC to a script that writes commandWasm to its -o argument,
// as clang would write a C tool's module.
func fakeCC(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	dir := fakeTool(t, "cc", `while [ $# -gt 0 ]; do if [ "$1" = -o ]; then out=$2; fi; shift; done
printf '\000asm\001\000\000\000\007\012\001\006_start\000\000' > "$out"
`)
	t.Setenv("CC", filepath.Join(dir, "cc"))
}

// TestDirPinsManifest: Dir builds a C tool to the module its manifest
// names, writes the sha256 pin through internal/manifest (every other line
// kept), finds nothing to do a second time, and under Check reports a
// stale pin without writing anything.
func TestDirPinsManifest(t *testing.T) {
	fakeCC(t)
	sum := sha256.Sum256([]byte(commandWasm))
	want := hex.EncodeToString(sum[:])
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.c"), []byte("int main(void) { return 0; }\n"), 0o644)
	mpath := filepath.Join(dir, "t.toml")
	orig := "# keep me\nname = \"t\" # and me\nmodule = \"t.wasm\"\n"
	os.WriteFile(mpath, []byte(orig), 0o600)
	ctx := context.Background()

	res, err := Dir(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Lang != LangC || res.Manifest != mpath || res.Module == nil || res.Module.SHA256 != want ||
		res.Module.Reactor || res.Module.Size != len(commandWasm) || len(res.Changed) != 1 || res.Drift != nil {
		t.Fatalf("first build: %+v (module %+v)", res, res.Module)
	}
	if b, _ := os.ReadFile(mpath); string(b) != orig+"sha256 = \""+want+"\"\n" {
		t.Fatalf("manifest:\n%s", b)
	}
	if st, _ := os.Stat(mpath); st.Mode().Perm() != 0o600 {
		t.Errorf("manifest mode %v, want 0600 kept", st.Mode().Perm())
	}

	if res, err = Dir(ctx, dir, nil); err != nil || len(res.Changed) != 0 {
		t.Fatalf("second build: changed %v, %v; want nothing to do", res.Changed, err)
	}
	if res, err = Dir(ctx, dir, &Options{Check: true}); err != nil || res.Drift != nil {
		t.Fatalf("check right after the build: drift %v, %v", res.Drift, err)
	}

	stale := orig + "sha256 = \"" + strings.Repeat("0", 64) + "\"\n"
	os.WriteFile(mpath, []byte(stale), 0o600)
	os.Remove(filepath.Join(dir, "t.wasm"))
	res, err = Dir(ctx, dir, &Options{Check: true})
	if err != nil {
		t.Fatal(err)
	}
	if wantDrift := []string{"sha256 pins " + strings.Repeat("0", 64) + " but the build has " + want}; !reflect.DeepEqual(res.Drift, wantDrift) {
		t.Fatalf("drift %q, want %q", res.Drift, wantDrift)
	}
	if b, _ := os.ReadFile(mpath); string(b) != stale {
		t.Fatalf("Check changed the manifest:\n%s", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "t.wasm")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Check wrote the module: %v", err)
	}
}

// TestDirRefusals: what Dir will not build, each with its own error.
func TestDirRefusals(t *testing.T) {
	fakeCC(t)
	mk := func(t *testing.T, files map[string]string) string {
		dir := t.TempDir()
		for f, body := range files {
			os.WriteFile(filepath.Join(dir, f), []byte(body), 0o644)
		}
		return dir
	}
	tests := []struct {
		name    string
		files   map[string]string
		sub     string // Dir is given this file of the folder, when set
		opts    *Options
		wantErr error
	}{
		{"a file", map[string]string{"main.c": ""}, "main.c", nil, ErrNotFolder},
		{"no sources", map[string]string{"README": ""}, "", nil, errNoSources},
		{"two languages", map[string]string{"main.c": "", "main.go": "package main\n"}, "", nil, errTwoLangs},
		{"two manifests", map[string]string{"main.c": "", "a.toml": "module = \"a.wasm\"\n", "b.toml": "module = \"b.wasm\"\n"}, "", nil, errManyManifests},
		{"inline schema", map[string]string{"main.go": "package main\nimport \"github.com/moatmcp/moat/sdk\"\nfunc main() { sdk.Main() }\n",
			"t.toml": "module = \"t.wasm\"\n[input_schema]\ntype = \"object\"\n"}, "", &Options{Lang: LangGo}, errInlineSchema},
		{"not an sdk tool", map[string]string{"main.go": "package main\nfunc main() {}\n", "t.toml": "module = \"t.wasm\"\n"}, "",
			&Options{Lang: LangGo, Manifest: "t.toml"}, errNotSDKTool},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := exec.LookPath("go"); err != nil && tc.opts != nil && tc.opts.Lang == LangGo {
				t.Skip("no go command")
			}
			dir := mk(t, tc.files)
			if tc.opts != nil && tc.opts.Manifest != "" {
				tc.opts.Manifest = filepath.Join(dir, tc.opts.Manifest)
			}
			res, err := Dir(context.Background(), filepath.Join(dir, tc.sub), tc.opts)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if res.Module != nil || len(res.Changed) != 0 {
				t.Fatalf("a refused build did something: %+v", res)
			}
		})
	}
}

// TestParseLang: the names --lang takes, in any case, and nothing else.
func TestParseLang(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Lang
		wantErr error
	}{
		{"go", LangGo, nil},
		{"C", LangC, nil},
		{"as", LangAssemblyScript, nil},
		{"AssemblyScript", LangAssemblyScript, nil},
		{"rust", "", ErrUnknownLang},
		{"", "", ErrUnknownLang},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseLang(tc.in)
			if got != tc.want || !errors.Is(err, tc.wantErr) {
				t.Fatalf("ParseLang(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
}
