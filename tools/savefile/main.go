// Command savefile is the save_file tool: it writes a UTF-8 text file
// inside the folder its manifest mounts read-write at /scratch, and asks
// the user before it replaces a file that exists (MCP elicitation, through
// moat.input_request and sdk.Confirm).
//
// The question names the file, its size and the start of its SHA-256, and
// is asked before anything is written. With an MCP 2026-07-28 client the
// host ends the tool where it asks and runs it again, from the start, with
// the answer; if the file changed in between, the question is not the
// same, the host refuses the answer, and nothing is written: a
// confirmation only ever applies to the file the user was shown.
//
// A client that cannot answer (it did not declare elicitation) never gets
// a file overwritten: the tool says so and writes nothing.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/moatmcp/moat/sdk"
)

// root is where the manifest mounts the writable folder; a variable so
// native tests can point it at a temp dir.
var root = "/scratch"

const (
	maxContent = 1 << 20      // bytes one call writes
	tmpPrefix  = ".moat-tmp-" // every temporary file's name starts so
)

type input struct {
	Path    string `json:"path"`
	Content string `json:"content"`
}

type output struct {
	Path         string `json:"path"` // relative to /scratch
	BytesWritten int    `json:"bytes_written"`
	Replaced     bool   `json:"replaced"` // true: an existing file was replaced, as the user confirmed
}

func init() { sdk.Handle(saveFile) }

func main() { sdk.Main() }

func saveFile(_ context.Context, in input) (output, error) {
	name, err := guestPath(in.Path)
	if err != nil {
		return output{}, err
	}
	if len(in.Content) > maxContent {
		return output{}, sdk.Errorf("content is %d bytes; the limit is %d", len(in.Content), maxContent)
	}
	if !utf8.ValidString(in.Content) {
		return output{}, sdk.Errorf("content is not valid UTF-8")
	}
	if strings.HasPrefix(path.Base(name), tmpPrefix) {
		return output{}, sdk.Errorf("%s: names starting with %s are reserved", in.Path, tmpPrefix)
	}
	replaced := false
	switch st, err := os.Lstat(name); {
	case err == nil && !st.Mode().IsRegular():
		return output{}, sdk.Errorf("%s is not a regular file", in.Path)
	case err == nil:
		sum, err := digest(name)
		if err != nil {
			return output{}, sdk.Errorf("%s: cannot be read", in.Path)
		}
		q := "Replace " + rel(name) + " (" + sizeText(st.Size()) + ", sha256 " + sum + "…) with " + sizeText(int64(len(in.Content))) + " of new text?"
		ok, err := sdk.Confirm("overwrite", q)
		var ie *sdk.InputError
		switch {
		case errors.As(err, &ie) && ie.Code == sdk.InputErrUnsupported:
			return output{}, sdk.Errorf("%s exists, and this client cannot ask the user to confirm replacing it: nothing was written", in.Path)
		case err != nil:
			return output{}, sdk.Errorf("%s exists, and the user's confirmation could not be obtained: nothing was written", in.Path)
		case !ok:
			return output{}, sdk.Errorf("%s was not replaced: the user did not confirm", in.Path)
		}
		replaced = true
	case !errors.Is(err, fs.ErrNotExist):
		return output{}, sdk.Errorf("%s: cannot be read", in.Path)
	}
	dir := path.Dir(name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return output{}, sdk.Errorf("%s: the folder cannot be made", rel(dir))
	}
	if err := replace(dir, name, in.Content); err != nil {
		return output{}, sdk.Errorf("%s: cannot be written", in.Path)
	}
	return output{Path: rel(name), BytesWritten: len(in.Content), Replaced: replaced}, nil
}

// digest is the first 12 hex digits of the file's SHA-256.
func digest(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

func sizeText(n int64) string {
	if n == 1 {
		return "1 byte"
	}
	return itoa(n) + " bytes"
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for ; n > 0; n /= 10 {
		i--
		b[i] = byte('0' + n%10)
	}
	return string(b[i:])
}

// replace writes content to a temporary file in dir and renames it over
// name (atomic: readers see the old file or the new one).
func replace(dir, name, content string) error {
	f, err := os.CreateTemp(dir, tmpPrefix+"*")
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

// guestPath maps the agent's path to a file path under /scratch.
func guestPath(p string) (string, error) {
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

func rel(name string) string { return strings.TrimPrefix(name, root+"/") }
