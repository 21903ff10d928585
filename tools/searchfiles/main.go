// Command searchfiles is the search_files tool: it searches the tree its
// manifest mounts at /data for lines matching a regular expression, for
// files whose path matches a glob, or both.
//
// Regular expressions are Go's (RE2 syntax): matching takes time linear in
// the text searched, whatever the pattern, so an agent cannot write a
// pattern that runs for ever. Every other dimension is bounded too, and
// the result says which bound stopped the search (see budget below and
// docs/tools.md). The sandbox keeps the tool inside /data; the checks here
// exist to give the agent clear errors and small answers.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/moatmcp/moat/sdk"
)

// tool searches the folder the manifest mounts ("/data"), reading the
// clock now; native tests give it a temp dir and a fake clock.
type tool struct {
	root string
	now  func() time.Time
}

// The search's bounds. Each one, when reached, ends the search with
// truncated set and stopped_by naming it.
const (
	defaultResults = 100
	maxResults     = 1000     // max_results above this is lowered to it
	maxEntries     = 20000    // files and folders visited ("entries")
	maxScanBytes   = 32 << 20 // bytes of file contents read in all ("bytes")
	maxOutputBytes = 1 << 20  // JSON size of the matches ("output")
	// maxFileBytes: a larger file is skipped (reason too_large), not cut,
	// so a match is never missed silently.
	maxFileBytes = 1 << 20
	// maxDepth: folders deeper than this are skipped (reason too_deep).
	maxDepth = 16
	// maxLineChars: the characters of a matching line returned.
	maxLineChars = 200
	// maxSkipped: skipped files listed; skipped_count counts them all.
	maxSkipped = 50
	// progressEvery: entries between progress notifications.
	progressEvery = 1000
	// checkEvery: bytes of a file searched between two looks at the clock.
	checkEvery = 64 << 10
)

// deadlineEnv names the environment variable that sets a soft deadline in
// milliseconds, measured from the tool's start. It is meaningful only with
// [grants] clock = true: without it the guest's clock is wazero's fake one.
const deadlineEnv = "SEARCH_SOFT_DEADLINE_MS"

type input struct {
	Pattern         string `json:"pattern,omitempty"`
	Glob            string `json:"glob,omitempty"`
	Path            string `json:"path,omitempty"`
	MaxResults      int    `json:"max_results,omitempty"`
	CaseInsensitive bool   `json:"case_insensitive,omitempty"`
}

// match is one matching line, or with no pattern one matching file.
type match struct {
	Path string  `json:"path"`           // relative to /data, "/" separated
	Line int     `json:"line,omitempty"` // 1-based; absent for a glob-only search
	Text *string `json:"text,omitempty"` // the line, at most maxLineChars characters
}

type skipped struct {
	Path   string `json:"path"`
	Reason string `json:"reason"` // too_large, binary, unreadable, too_deep
}

type output struct {
	Matches      []match   `json:"matches"`
	Truncated    bool      `json:"truncated"`
	StoppedBy    string    `json:"stopped_by,omitempty"` // max_results, entries, bytes, output, deadline
	FilesScanned int       `json:"files_scanned"`        // files whose contents were searched
	Skipped      []skipped `json:"skipped,omitempty"`
	SkippedCount int       `json:"skipped_count,omitempty"`
}

// The handler is registered at init time, so moat build makes a reactor:
// the Go runtime starts once, when the host loads the module, not per call.
func init() { sdk.Handle(tool{root: "/data", now: time.Now}.searchFiles) }

func main() { sdk.Main() }

// errStop ends the walk once a bound is reached.
var errStop = errors.New("stop")

// search is one call's state.
type search struct {
	re       *regexp.Regexp // nil: glob only
	glob     string
	root     string           // the mounted folder
	now      func() time.Time // the clock
	base     string           // the folder searched, under root
	limit    int
	deadline time.Time // zero: none
	entries  int
	scanned  int64
	outBytes int
	out      output
}

func (t tool) searchFiles(_ context.Context, in input) (output, error) {
	if in.Pattern == "" && in.Glob == "" {
		return output{}, sdk.Errorf("give a pattern, a glob, or both")
	}
	s := &search{root: t.root, now: t.now, glob: in.Glob, limit: in.MaxResults, out: output{Matches: []match{}}}
	if s.limit <= 0 {
		s.limit = defaultResults
	}
	s.limit = min(s.limit, maxResults)
	if in.Pattern != "" {
		expr := in.Pattern
		if in.CaseInsensitive {
			expr = "(?i)" + expr
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			var se *syntax.Error
			if errors.As(err, &se) {
				return output{}, sdk.Errorf("invalid pattern: %s: `%s`", se.Code, se.Expr)
			}
			return output{}, sdk.Errorf("invalid pattern")
		}
		s.re = re
	}
	if checkGlob(in.Glob) != nil {
		return output{}, sdk.Errorf("invalid glob %q (syntax: *, ?, [a-z], and ** as a whole segment, at most %d times)", in.Glob, maxDoubleStar)
	}
	if v, ok := os.LookupEnv(deadlineEnv); ok && v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms <= 0 {
			return output{}, sdk.Errorf("the tool is misconfigured: %s must be a positive number of milliseconds", deadlineEnv)
		}
		s.deadline = s.now().Add(time.Duration(ms) * time.Millisecond)
	}
	base, err := sdk.InRoot(s.root, in.Path)
	if err != nil {
		return output{}, err
	}
	s.base = base
	st, err := os.Stat(base)
	if err != nil {
		return output{}, sdk.FileError(in.Path, err, "searched")
	}
	switch {
	case st.IsDir():
		err = s.walk(base, 0)
	case st.Mode().IsRegular():
		err = s.file(base, st.Size())
	default:
		return output{}, sdk.Errorf("%s is not a file or folder", in.Path)
	}
	if err != nil && !errors.Is(err, errStop) {
		return output{}, sdk.FileError(in.Path, err, "searched")
	}
	return s.out, nil
}

// late reports whether the soft deadline has passed.
func (s *search) late() bool {
	return !s.deadline.IsZero() && !s.now().Before(s.deadline)
}

// stop ends the search because of the named bound.
func (s *search) stop(by string) error {
	s.out.Truncated = true
	s.out.StoppedBy = by
	return errStop
}

func (s *search) skip(full, reason string) {
	s.out.SkippedCount++
	if len(s.out.Skipped) < maxSkipped {
		s.out.Skipped = append(s.out.Skipped, skipped{Path: rel(s.root, full), Reason: reason})
	}
}

// walk searches dir, which is depth folders below the search's base.
// Symbolic links are not followed: a link to a folder could loop, and a
// link to a file would report it twice.
func (s *search) walk(dir string, depth int) error {
	ents, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		if depth == 0 {
			return err
		}
		s.skip(dir, "unreadable")
		return nil
	}
	for _, e := range ents {
		if s.entries >= maxEntries {
			return s.stop("entries")
		}
		s.entries++
		if s.entries%progressEvery == 0 {
			sdk.Progress(float64(s.entries), 0, fmt.Sprintf("%d entries visited", s.entries))
		}
		if s.late() {
			return s.stop("deadline")
		}
		full := path.Join(dir, e.Name())
		switch {
		case e.IsDir():
			if depth+1 >= maxDepth {
				s.skip(full, "too_deep")
				continue
			}
			if err := s.walk(full, depth+1); err != nil {
				return err
			}
		case e.Type().IsRegular():
			if s.glob != "" && !matchGlob(s.glob, rel(s.base, full)) {
				continue
			}
			info, err := e.Info()
			if err != nil {
				s.skip(full, "unreadable")
				continue
			}
			if err := s.file(full, info.Size()); err != nil {
				return err
			}
		}
	}
	return nil
}

// file searches one regular file of the given size.
func (s *search) file(full string, size int64) error {
	if s.re == nil {
		return s.add(match{Path: rel(s.root, full)})
	}
	if size > maxFileBytes {
		s.skip(full, "too_large")
		return nil
	}
	if s.scanned+size > maxScanBytes {
		return s.stop("bytes")
	}
	f, err := os.Open(full)
	if err != nil {
		s.skip(full, "unreadable")
		return nil
	}
	// The file may have grown since it was listed: read one byte more
	// than the cap to know.
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	f.Close()
	s.scanned += int64(len(data))
	switch {
	case err != nil:
		s.skip(full, "unreadable")
		return nil
	case len(data) > maxFileBytes:
		s.skip(full, "too_large")
		return nil
	case sdk.IsBinary(data):
		s.skip(full, "binary")
		return nil
	}
	// Matching is line by line, never the whole file at once, so ^ and $
	// mean the line's start and end as the agent expects.
	s.out.FilesScanned++
	name := rel(s.root, full)
	sinceCheck := 0
	for n := 1; len(data) > 0; n++ {
		// One file can take a second to search in the sandbox (a complex
		// pattern runs at about 1 MB/s there), so the deadline is checked
		// within files too. A single long line is one uninterruptible
		// match: the soft deadline must leave room for it before the
		// manifest's timeout.
		if sinceCheck >= checkEvery {
			sinceCheck = 0
			if s.late() {
				return s.stop("deadline")
			}
		}
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		sinceCheck += len(line) + 1
		line = bytes.TrimSuffix(line, []byte("\r")) // so $ matches at a CRLF line's end
		if !s.re.Match(line) {
			continue
		}
		text := lineText(line)
		if err := s.add(match{Path: name, Line: n, Text: &text}); err != nil {
			return err
		}
	}
	return nil
}

// add records a match, or stops the search when a bound says no.
func (s *search) add(m match) error {
	if len(s.out.Matches) >= s.limit {
		return s.stop("max_results")
	}
	b, _ := json.Marshal(m)
	if s.outBytes+len(b)+1 > maxOutputBytes {
		return s.stop("output")
	}
	s.outBytes += len(b) + 1
	s.out.Matches = append(s.out.Matches, m)
	return nil
}

// lineText is the text of a matching line as returned: at most
// maxLineChars characters, valid UTF-8.
func lineText(line []byte) string {
	t := strings.ToValidUTF8(string(line), "\uFFFD")
	if utf8.RuneCountInString(t) > maxLineChars {
		n := 0
		for i := range t {
			if n == maxLineChars {
				t = t[:i]
				break
			}
			n++
		}
	}
	return t
}

// rel is full relative to base, "/" separated; "." for base itself.
func rel(base, full string) string {
	if full == base {
		return path.Base(full)
	}
	return strings.TrimPrefix(full, base+"/")
}
