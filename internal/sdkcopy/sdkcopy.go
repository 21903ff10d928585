// Package sdkcopy keeps the copy of moat's Go SDK that a Go tool folder
// written by moat new carries in .moat/sdk.
//
// moat new writes the copy (scaffold), and moat build refreshes it before
// every build of a folder whose go.mod replaces github.com/moatmcp/moat
// with it (build), so a tool always builds against the SDK of the moat
// binary that builds and serves it. The files come from the binary itself
// (sdk.Source): nothing is fetched.
package sdkcopy

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/moatmcp/moat/internal/atomicfile"
	"github.com/moatmcp/moat/sdk"
)

// A Go tool written by moat new outside any Go module gets the SDK of the
// moat binary that made it, in its own folder, and a go.mod that replaces
// github.com/moatmcp/moat with that copy. Nothing is fetched: the tool
// builds offline with no checkout of moat and no go.sum (a module replaced
// by a directory has no checksum to record, and the SDK needs nothing but
// the standard library). Every moat build rewrites the copy from the
// binary, so it is always the SDK of the moat that builds and serves the
// tool.
//
// Why a copy in the folder rather than a cache directory: the go.mod then
// holds a relative path, so the folder builds on any machine, go test
// works without moat, and the copy can be committed like vendor/.
const (
	Dir = ".moat/sdk" // relative to the tool's folder, slash-separated
	// GoVersion is the oldest Go that builds the SDK as moat needs it:
	// go:wasmexport for reactors arrived in Go 1.24.
	GoVersion = "1.24"
)

// sdkReplace matches the replace directive that moat new writes, so that
// moat build refreshes only a copy it manages (never a replace that points
// at a checkout).
var sdkReplace = regexp.MustCompile(`(?m)^\s*replace\s+github\.com/moatmcp/moat\s+=>\s+\./\.moat/sdk/?\s*$`)

// sourceFiles lists the SDK's source files as they go into the copy: its Go
// files (tests left out) under sdk/, and c/moat.h.
func sourceFiles() (map[string][]byte, error) {
	files := map[string][]byte{
		"go.mod": []byte("// The moat SDK, written by moat from its own binary; moat build rewrites it.\nmodule github.com/moatmcp/moat\n\ngo " + GoVersion + "\n"),
	}
	err := fs.WalkDir(sdk.Source, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, "_test.go") {
			return err
		}
		b, err := sdk.Source.ReadFile(p)
		if err != nil {
			return err
		}
		files[path.Join("sdk", p)] = b
		return nil
	})
	return files, err
}

// Managed reports whether the Go tool in dir uses the SDK copy moat
// writes (its go.mod has moat new's replace directive).
func Managed(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	return err == nil && sdkReplace.Match(b)
}

// Write makes dir/.moat/sdk hold exactly the SDK this binary
// carries: files that differ are rewritten, files it does not carry are
// removed. It returns whether anything changed.
func Write(dir string) (bool, error) {
	files, err := sourceFiles()
	if err != nil {
		return false, err
	}
	root := filepath.Join(dir, filepath.FromSlash(Dir))
	changed := false
	// Remove what this SDK does not have (a file deleted in a newer SDK
	// would otherwise still compile into the tool).
	if err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == root {
			return fs.SkipAll
		}
		if err != nil || d.IsDir() {
			return err
		}
		r, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		if _, ok := files[filepath.ToSlash(r)]; !ok {
			changed = true
			return os.Remove(p)
		}
		return nil
	}); err != nil {
		return false, fmt.Errorf("refreshing the SDK in %s: %w", root, err)
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(root, filepath.FromSlash(n))
		if old, err := os.ReadFile(p); err == nil && bytes.Equal(old, files[n]) {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return false, fmt.Errorf("writing the SDK: %w", err)
		}
		if err := atomicfile.WriteFile(p, files[n], 0o644); err != nil {
			return false, fmt.Errorf("writing the SDK: %w", err)
		}
		changed = true
	}
	return changed, nil
}
