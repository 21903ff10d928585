package registry

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/moatmcp/moat/internal/manifest"
)

// ArtifactOf gathers the files of a loaded tool (moat push): its manifest, module and
// schema files, named relative to the folder that holds them all, so that
// the manifest's own relative paths still point at them after moat pull.
func ArtifactOf(t *manifest.Tool) (*Artifact, error) {
	manifestData, err := os.ReadFile(t.File)
	if err != nil {
		return nil, err
	}
	if t.ModuleRef != "" {
		return nil, fmt.Errorf("%s: module is already %s: push the manifest whose module is a file", t.File, t.ModuleRef)
	}
	skim, err := manifest.ParseSkim(manifestData)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.File, err)
	}
	paths := []string{t.File, t.ModulePath}
	for _, p := range []string{skim.InputSchemaFile, skim.OutputSchemaFile} {
		if p != "" {
			if !filepath.IsAbs(p) {
				p = filepath.Join(filepath.Dir(t.File), p)
			}
			paths = append(paths, filepath.Clean(p))
		}
	}
	root := filepath.Dir(paths[0])
	for _, p := range paths[1:] {
		for !strings.HasPrefix(p, root+string(filepath.Separator)) && root != filepath.Dir(root) {
			root = filepath.Dir(root)
		}
	}
	rel := func(p string) (string, error) {
		r, err := filepath.Rel(root, p)
		if err != nil {
			return "", err
		}
		return filepath.ToSlash(r), nil
	}
	read := func(p string) (File, error) {
		name, err := rel(p)
		if err != nil {
			return File{}, err
		}
		data, err := os.ReadFile(p)
		return File{Name: name, Data: data}, err
	}
	a := &Artifact{}
	if a.Manifest.Name, err = rel(t.File); err != nil {
		return nil, err
	}
	a.Manifest.Data = manifestData
	// The module as loaded (and checked) by manifest.Load, not re-read.
	if a.Module.Name, err = rel(t.ModulePath); err != nil {
		return nil, err
	}
	a.Module.Data = t.Wasm
	for _, p := range paths[2:] {
		f, err := read(p)
		if err != nil {
			return nil, err
		}
		a.Schemas = append(a.Schemas, f)
	}
	return a, nil
}
