// Package devloop is what moat dev watches: a tool folder's files, to
// rebuild when one changes, and the server's audit log, to show each call
// of the tool as it happens.
//
// It sits behind moat dev, which owns the clock, the build and the signal
// to the server, and prints what these report. Both poll (file times and
// sizes, the log's length): no dependency, any file system.
package devloop

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/moatmcp/moat/internal/audit"
)

// maxFiles bounds the files Fingerprint looks at in one poll.
const maxFiles = 10000

// Fingerprint sums up the names, sizes and times of the files in a
// tool folder, leaving out what is installed or generated there
// (node_modules, .git, .moat), and looking at no more than maxFiles: a
// change of the result is a change of the folder.
func Fingerprint(dir string) string {
	var b strings.Builder
	n := 0
	filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if e.IsDir() {
			switch e.Name() {
			case "node_modules", ".git", ".moat":
				return filepath.SkipDir
			}
			return nil
		}
		if n++; n > maxFiles {
			return filepath.SkipAll
		}
		if info, err := e.Info(); err == nil {
			fmt.Fprintf(&b, "%s %d %d\n", p, info.Size(), info.ModTime().UnixNano())
		}
		return nil
	})
	return b.String()
}

// CallTail reads the tool calls appended to an audit log since the last
// look. The zero value is not ready: use NewCallTail.
type CallTail struct {
	path string
	at   int64 // how far the log has been read
}

// NewCallTail starts at the end of the audit log at path (if there is
// one): moat dev shows calls made while it runs. An empty path gives a
// tail that never reports anything.
func NewCallTail(path string) *CallTail {
	c := &CallTail{path: path}
	if path == "" {
		return c
	}
	if st, err := os.Stat(path); err == nil {
		c.at = st.Size()
	}
	return c
}

// Calls returns the calls of tool (any tool when tool is "") appended since
// the last look, one readable line each. A log that shrank was rotated: it
// is read from its start. A partial last line waits for its end.
func (c *CallTail) Calls(tool string) []string {
	if c.path == "" {
		return nil
	}
	f, err := os.Open(c.path)
	if err != nil {
		return nil
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() < c.at {
		c.at = 0
	}
	if _, err := f.Seek(c.at, io.SeekStart); err != nil {
		return nil
	}
	var out []string
	r := bufio.NewReaderSize(f, 64<<10)
	for {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return out // a partial line waits for its end
		}
		if err != nil {
			return out
		}
		c.at += int64(len(line))
		if s := FormatCall(line, tool); s != "" {
			out = append(out, s)
		}
	}
}

// FormatCall turns an audit line into one readable line when it is a call
// of tool (any tool when tool is ""); anything else gives "".
func FormatCall(line []byte, tool string) string {
	if len(line) > audit.MaxLineBytes {
		return ""
	}
	var r audit.Record
	if json.Unmarshal(bytes.TrimSpace(line), &r) != nil || r.Event != audit.EventToolCall {
		return ""
	}
	if tool != "" && r.Tool != tool {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s call %s %s", r.Time.Local().Format("15:04:05"), r.Tool, r.Outcome)
	if r.DurationMS > 0 {
		fmt.Fprintf(&b, " %.1fms", r.DurationMS)
	}
	if r.Principal != "" {
		fmt.Fprintf(&b, " by %s", r.Principal)
	}
	if r.Reason != "" {
		fmt.Fprintf(&b, ": %s", r.Reason)
	}
	if r.ErrorID != "" {
		fmt.Fprintf(&b, " (error id %s)", r.ErrorID)
	}
	if len(r.Args) > 0 {
		fmt.Fprintf(&b, " args %s", r.Args)
	}
	// The fields come from callers and tools: no line breaks or terminal
	// escapes reach the developer's terminal.
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return '?'
		}
		return r
	}, b.String())
}
