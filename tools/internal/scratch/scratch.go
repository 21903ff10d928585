// Package scratch is the writable folder of the example tools that write
// files (write_file, save_file): the agent's path mapped into the folder
// the manifest mounts read-write, and the atomic replace both use. It is
// compiled into those guests; the sandbox, not this code, keeps them
// inside the mount, and these checks give the agent clear errors.
package scratch

import (
	"os"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/moatmcp/moat/sdk"
)

// TmpPrefix starts the name of every temporary file Replace makes; tools
// refuse it in the agent's names.
const TmpPrefix = ".moat-tmp-"

// MaxContent caps the bytes one call writes. The manifest's max_input
// bounds the arguments before the tool starts; this bounds the decoded
// content, whatever its JSON escaping cost.
const MaxContent = 1 << 20

// Dir is the folder the manifest mounts read-write: "/scratch" in the
// guest, a temporary folder in native tests.
type Dir string

// Path maps the agent's path to a file path in d. A relative path is
// taken relative to d; an absolute one must already be under it. The
// folder itself is not a file.
func (d Dir) Path(p string) (string, error) {
	root := string(d)
	if p == "" {
		return "", sdk.Errorf("path is required")
	}
	if strings.ContainsRune(p, 0) {
		return "", sdk.Errorf("path contains a NUL byte")
	}
	if strings.HasSuffix(p, "/") {
		return "", sdk.Errorf("%s: path names a folder, not a file", p)
	}
	if !path.IsAbs(p) {
		p = path.Join(root, p)
	}
	p = path.Clean(p)
	if !strings.HasPrefix(p, root+"/") {
		return "", sdk.Errorf("path must be a file inside the writable folder %s", root)
	}
	return p, nil
}

// Target is the file the agent's path names in d, for content that a tool
// may write there: at most MaxContent bytes of UTF-8 (JSON arguments are
// UTF-8 already; this keeps a native caller honest), and a name that is
// not one of Replace's temporary files.
func (d Dir) Target(p, content string) (string, error) {
	name, err := d.Path(p)
	if err != nil {
		return "", err
	}
	if len(content) > MaxContent {
		return "", sdk.Errorf("content is %d bytes; the limit is %d", len(content), MaxContent)
	}
	if !utf8.ValidString(content) {
		return "", sdk.Errorf("content is not valid UTF-8")
	}
	if strings.HasPrefix(path.Base(name), TmpPrefix) {
		return "", sdk.Errorf("%s: names starting with %s are reserved", p, TmpPrefix)
	}
	return name, nil
}

// Rel is name relative to d, for messages and results.
func (d Dir) Rel(name string) string {
	if name == string(d) {
		return "."
	}
	return strings.TrimPrefix(name, string(d)+"/")
}

// Replace writes content to a temporary file in dir and renames it over
// name: a reader sees the old file or the new one, never a mix, and a
// call stopped half-way leaves at most a stray temporary file, never a
// half-written name. On failure it removes the temporary file.
func Replace(dir, name, content string) error {
	f, err := os.CreateTemp(dir, TmpPrefix+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.WriteString(content)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
