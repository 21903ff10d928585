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

	"github.com/moatmcp/moat/sdk"
	"github.com/moatmcp/moat/tools/internal/scratch"
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

// tool writes into its folder, which native tests point at a temp dir.
type tool struct{ dir scratch.Dir }

func init() { sdk.Handle(tool{dir: "/scratch"}.saveFile) }

func main() { sdk.Main() }

func (t tool) saveFile(_ context.Context, in input) (output, error) {
	name, err := t.dir.Target(in.Path, in.Content)
	if err != nil {
		return output{}, err
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
		q := "Replace " + t.dir.Rel(name) + " (" + sizeText(st.Size()) + ", sha256 " + sum + "…) with " + sizeText(int64(len(in.Content))) + " of new text?"
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
		return output{}, sdk.Errorf("%s: the folder cannot be made", t.dir.Rel(dir))
	}
	if err := scratch.Replace(dir, name, in.Content); err != nil {
		return output{}, sdk.Errorf("%s: cannot be written", in.Path)
	}
	return output{Path: t.dir.Rel(name), BytesWritten: len(in.Content), Replaced: replaced}, nil
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
