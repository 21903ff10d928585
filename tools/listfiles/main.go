// Command listfiles is the list_files tool: it lists a folder under the
// mount at /data, optionally recursively, with a cap on entries.
package main

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/moatmcp/moat/sdk"
)

const (
	root = "/data"
	// defaultMax and hardMax cap the entries of one answer: an agent that
	// wants more asks for a sub-folder.
	defaultMax = 200
	hardMax    = 2000
	// maxDepth bounds a recursive walk.
	maxDepth = 16
)

type input struct {
	Path       string `json:"path,omitempty"`
	Recursive  bool   `json:"recursive,omitempty"`
	MaxEntries int    `json:"max_entries,omitempty"`
}

type entry struct {
	Path string `json:"path"`           // relative to /data, "/" separated
	Type string `json:"type"`           // "file", "dir" or "other"
	Size int64  `json:"size,omitempty"` // bytes, files only
}

type output struct {
	Entries   []entry `json:"entries"`
	Truncated bool    `json:"truncated"`
}

// The handler is registered at init time, so moat build makes a reactor:
// the Go runtime starts once, when the host loads the module, not per call.
func init() { sdk.Handle(listFiles) }

func main() { sdk.Main() }

func listFiles(_ context.Context, in input) (output, error) {
	dir, err := sdk.InRoot(root, in.Path)
	if err != nil {
		return output{}, err
	}
	limit := in.MaxEntries
	if limit <= 0 {
		limit = defaultMax
	}
	if limit > hardMax {
		limit = hardMax
	}
	out := output{Entries: []entry{}}
	if err := walk(dir, 0, in.Recursive, limit, &out); err != nil {
		return output{}, sdk.FileError(in.Path, err, "listed")
	}
	return out, nil
}

func walk(dir string, depth int, recursive bool, limit int, out *output) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
	for _, e := range ents {
		if len(out.Entries) >= limit {
			out.Truncated = true
			return nil
		}
		full := path.Join(dir, e.Name())
		rel := strings.TrimPrefix(strings.TrimPrefix(full, root), "/")
		ent := entry{Path: rel, Type: "other"}
		switch {
		case e.IsDir():
			ent.Type = "dir"
		case e.Type().IsRegular():
			ent.Type = "file"
			if info, err := e.Info(); err == nil {
				ent.Size = info.Size()
			}
		}
		out.Entries = append(out.Entries, ent)
		if e.IsDir() && recursive {
			if depth+1 >= maxDepth {
				out.Truncated = true
				continue
			}
			// A folder the sandbox refuses is listed but not entered.
			if err := walk(full, depth+1, recursive, limit, out); err != nil && !errors.Is(err, fs.ErrPermission) {
				return err
			}
			if out.Truncated && len(out.Entries) >= limit {
				return nil
			}
		}
	}
	return nil
}
