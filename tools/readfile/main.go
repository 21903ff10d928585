// Command readfile is the read_file tool: it reads a UTF-8 text file from
// the folder its manifest mounts at /data, optionally a range of lines.
//
// It trusts the sandbox, not itself, to keep it inside /data: the guest
// filesystem has nothing else in it. Its own checks exist to give the agent
// clear errors and to keep results small.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/moatmcp/moat/sdk"
)

// root is where the manifest mounts the readable folder.
const root = "/data"

// maxBytes caps what one call returns; the manifest's max_output caps it
// again on the host side.
const maxBytes = 256 << 10

type input struct {
	Path      string `json:"path"`
	StartLine int    `json:"start_line,omitempty"` // 1-based, inclusive
	EndLine   int    `json:"end_line,omitempty"`   // 1-based, inclusive; 0 = to the end
}

// The handler is registered at init time, so moat build makes a reactor:
// the Go runtime starts once, when the host loads the module, not per call.
func init() { sdk.Handle(readFile) }

func main() { sdk.Main() }

func readFile(_ context.Context, in input) (string, error) {
	name, err := guestPath(in.Path)
	if err != nil {
		return "", err
	}
	if in.StartLine < 0 || in.EndLine < 0 || (in.EndLine > 0 && in.StartLine > in.EndLine) {
		return "", sdk.Errorf("invalid line range %d-%d", in.StartLine, in.EndLine)
	}
	f, err := os.Open(name)
	if err != nil {
		return "", sdk.FileError(in.Path, err, "read")
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", sdk.FileError(in.Path, err, "read")
	}
	if st.IsDir() {
		return "", sdk.Errorf("%s is a directory; use list_files", in.Path)
	}
	// Read one byte past the cap to know whether the file was cut.
	data, err := io.ReadAll(io.LimitReader(f, maxBytes+1))
	if err != nil {
		return "", sdk.FileError(in.Path, err, "read")
	}
	whole := len(data) <= maxBytes
	if sdk.IsBinary(data) {
		return fmt.Sprintf("%s is a binary file (%d bytes); its contents are not shown.", in.Path, st.Size()), nil
	}
	if !whole {
		data = data[:maxBytes]
		data = sdk.TrimPartialRune(data)
	}
	text := string(data)
	if in.StartLine > 0 || in.EndLine > 0 {
		text = lines(text, in.StartLine, in.EndLine)
	}
	if !whole {
		text += fmt.Sprintf("\n[truncated: file is %d bytes, showing the first %d]", st.Size(), maxBytes)
	}
	return text, nil
}

// guestPath maps the agent's path to a file under /data.
func guestPath(p string) (string, error) {
	if p == "" {
		return "", sdk.Errorf("path is required")
	}
	return sdk.InRoot(root, p)
}

// lines returns lines start..end (1-based, inclusive; end 0 = last).
func lines(text string, start, end int) string {
	if start == 0 {
		start = 1
	}
	all := strings.SplitAfter(text, "\n")
	if len(all) > 0 && all[len(all)-1] == "" {
		all = all[:len(all)-1]
	}
	if start > len(all) {
		return ""
	}
	if end == 0 || end > len(all) {
		end = len(all)
	}
	return strings.Join(all[start-1:end], "")
}
