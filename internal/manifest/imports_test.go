package manifest

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const modulePath = "github.com/moatmcp/moat"

// imports returns the import paths of the .go files in dir (tests
// included or not), by file.
func imports(t *testing.T, dir string, tests bool) map[string][]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || (!tests && strings.HasSuffix(name, "_test.go")) {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, name), nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			out[filepath.Join(dir, name)] = append(out[filepath.Join(dir, name)], p)
		}
	}
	return out
}

// leafImports are the moat packages this one may import: leaves that
// import nothing of moat themselves and own one small fact each (the
// loopback rule, the byte-size format).
var leafImports = map[string]bool{
	modulePath + "/internal/loopback": true,
	modulePath + "/internal/bytesize": true,
}

// TestNoMoatImports keeps this package a leaf: it is the vocabulary of
// manifests and moat.toml, which every runtime package may use, so it must
// import none of them (an import cycle waiting to happen, and decoding a
// config would start to depend on how it is enforced), except leafImports,
// which must stay leaves themselves.
func TestNoMoatImports(t *testing.T) {
	for leaf := range leafImports {
		dir := filepath.Join("..", "..", strings.TrimPrefix(leaf, modulePath+"/"))
		for file, paths := range imports(t, dir, false) {
			for _, p := range paths {
				if p == modulePath || strings.HasPrefix(p, modulePath+"/") {
					t.Errorf("%s imports %s: a leaf internal/manifest may import must import no moat package", file, p)
				}
			}
		}
	}
	for file, paths := range imports(t, ".", false) {
		for _, p := range paths {
			if leafImports[p] {
				continue
			}
			if p == modulePath || strings.HasPrefix(p, modulePath+"/") {
				t.Errorf("%s imports %s: internal/manifest must not import other moat packages", file, p)
			}
		}
	}
}

// TestTOMLOnlyHere checks that go-toml is imported by this package alone
// (non-test files of the whole module): one package owns the config
// syntax.
func TestTOMLOnlyHere(t *testing.T) {
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
		if !d.IsDir() {
			return nil
		}
		if name := d.Name(); p != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
			return filepath.SkipDir
		}
		if p == self {
			return nil
		}
		for file, paths := range imports(t, p, false) {
			for _, imp := range paths {
				if strings.HasPrefix(imp, "github.com/pelletier/go-toml") {
					t.Errorf("%s imports %s: decode TOML through internal/manifest", file, imp)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
