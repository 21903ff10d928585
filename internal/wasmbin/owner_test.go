package wasmbin

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// lebPattern matches the two lines every hand-written LEB128 loop has.
var lebPattern = regexp.MustCompile(`&\s*0x7[fF]\b|&\s*0x80\s*==\s*0`)

// TestOneReader keeps this package the module's only LEB128 decoder: a
// new reader of WebAssembly binaries elsewhere (non-test Go files) fails
// here, and should call this package instead.
func TestOneReader(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Skip("not run from the module tree")
	}
	self, _ := filepath.Abs(".")
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); p == self || (p != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			if lebPattern.MatchString(line) {
				rel, _ := filepath.Rel(root, p)
				t.Errorf("%s:%d decodes LEB128 by hand (%s): use internal/wasmbin", rel, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
