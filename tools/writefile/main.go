// Command writefile is the write_file tool: it writes a UTF-8 text file
// inside the folder its manifest mounts read-write at /scratch.
//
// A write is atomic: the content goes to a new temporary file in the
// target's own folder (so inside the mount, on the same filesystem), is
// synced, and is then renamed over the target. A reader sees the old
// file or the new one, never a mix, and a call stopped half-way (timeout,
// memory) leaves at most a stray temporary file whose name starts with
// ".moat-tmp-", never a half-written target.
//
// The sandbox is what keeps the tool inside /scratch; the checks here give
// the agent clear errors.
package main

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"syscall"

	"github.com/moatmcp/moat/sdk"
	"github.com/moatmcp/moat/tools/internal/scratch"
)

type input struct {
	Path       string `json:"path"`
	Content    string `json:"content"`
	CreateOnly bool   `json:"create_only,omitempty"`
}

type output struct {
	Path         string `json:"path"` // relative to /scratch
	BytesWritten int    `json:"bytes_written"`
	Created      bool   `json:"created"` // false: an existing file was replaced
}

// tool writes into its folder, which native tests point at a temp dir.
type tool struct{ dir scratch.Dir }

// The handler is registered at init time, so moat build makes a reactor:
// the Go runtime starts once, when the host loads the module, not per call.
func init() { sdk.Handle(tool{dir: "/scratch"}.writeFile) }

func main() { sdk.Main() }

func (t tool) writeFile(_ context.Context, in input) (output, error) {
	name, err := t.dir.Target(in.Path, in.Content)
	if err != nil {
		return output{}, err
	}
	dir := path.Dir(name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return output{}, describe(t.dir.Rel(dir), err)
	}
	created := true
	switch st, err := os.Lstat(name); {
	case err == nil && st.IsDir():
		return output{}, sdk.Errorf("%s is a folder", in.Path)
	case err == nil && !st.Mode().IsRegular():
		return output{}, sdk.Errorf("%s is not a regular file", in.Path)
	case err == nil && in.CreateOnly:
		return output{}, sdk.Errorf("%s already exists (create_only is set)", in.Path)
	case err == nil:
		created = false
	case !errors.Is(err, fs.ErrNotExist):
		return output{}, describe(in.Path, err)
	}
	if in.CreateOnly {
		// Claim the name first, so a file another call creates meanwhile
		// is never replaced; the rename below then replaces only our own
		// empty placeholder.
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			return output{}, sdk.Errorf("%s already exists (create_only is set)", in.Path)
		}
		if err != nil {
			return output{}, describe(in.Path, err)
		}
		f.Close()
	}
	if err := scratch.Replace(dir, name, in.Content); err != nil {
		if in.CreateOnly {
			os.Remove(name)
		}
		return output{}, describe(in.Path, err)
	}
	return output{Path: t.dir.Rel(name), BytesWritten: len(in.Content), Created: created}, nil
}

func describe(p string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return sdk.Errorf("%s: no such folder", p)
	case errors.Is(err, fs.ErrPermission):
		return sdk.Errorf("%s: permission denied", p)
	case errors.Is(err, syscall.ENOTDIR):
		return sdk.Errorf("%s: part of the path is a file, not a folder", p)
	case errors.Is(err, syscall.EROFS):
		return sdk.Errorf("%s: the folder is read-only", p)
	}
	return sdk.Errorf("%s: cannot be written", p)
}
