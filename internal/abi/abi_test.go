package abi

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestNames: every moat import the guest SDKs declare and every moat.NAME
// signature docs/abi.md writes is one of Functions; every host function is
// declared by the Go and C SDKs and documented. A function added to the
// host without its SDKs and docs, or an SDK that misspells one, fails here.
func TestNames(t *testing.T) {
	root := filepath.Join("..", "..")
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Skip("not run from the module tree")
	}
	read := func(glob string) string {
		files, err := filepath.Glob(filepath.Join(root, glob))
		if err != nil || len(files) == 0 {
			t.Fatalf("no files for %s", glob)
		}
		var b strings.Builder
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			b.Write(data)
		}
		return b.String()
	}
	for _, c := range []struct {
		where    string
		text     string
		pattern  string
		complete bool // must declare every host function
	}{
		{"sdk/*.go (go:wasmimport)", read("sdk/*.go"), `//go:wasmimport (\S+) (\S+)`, true},
		{"sdk/c/moat.h (MOAT_IMPORT)", read("sdk/c/moat.h"), `MOAT_IMPORT\("()([a-z_]+)"\)`, true},
		{"tools/hello_as/assembly (@external)", read("tools/hello_as/assembly/*.ts"), `@external\("([a-z]+)", "([a-z_]+)"\)`, false},
		{"docs/abi.md (signatures)", read("docs/abi.md"), `(?m)^(moat)\.([a-z_]+)\(`, true},
	} {
		seen := map[string]bool{}
		for _, m := range regexp.MustCompile(c.pattern).FindAllStringSubmatch(c.text, -1) {
			if m[1] != "" && m[1] != Module {
				continue // another module (WASI)
			}
			if !slices.Contains(Functions, m[2]) {
				t.Errorf("%s uses %s.%s, which is not a host function of ABI v1", c.where, Module, m[2])
			}
			seen[m[2]] = true
		}
		if len(seen) == 0 {
			t.Errorf("%s: found no moat imports: the pattern is stale", c.where)
		}
		for _, f := range Functions {
			if c.complete && !seen[f] {
				t.Errorf("%s does not declare %s.%s", c.where, Module, f)
			}
		}
	}
}
