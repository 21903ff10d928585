package sdk

import (
	"bytes"
	"errors"
	"io/fs"
	"path"
	"strings"
	"unicode/utf8"
)

// InRoot maps a path an agent gave to a clean path under root, the guest
// folder a manifest mounts (e.g. "/data"): a relative path is taken
// relative to root, an absolute one must already be under it, and "" or
// "." is root itself. The sandbox is what keeps a tool inside its mounts;
// InRoot exists to give the agent a clear error instead of a baffling
// "no such file" for "../../etc/passwd".
func InRoot(root, p string) (string, error) {
	if strings.ContainsRune(p, 0) {
		return "", Errorf("path contains a NUL byte")
	}
	if p == "" || p == "." {
		return root, nil
	}
	if !path.IsAbs(p) {
		p = path.Join(root, p)
	}
	p = path.Clean(p)
	if p != root && !strings.HasPrefix(p, root+"/") {
		return "", Errorf("path must be inside the shared folder")
	}
	return p, nil
}

// FileError turns a file system error into a tool error for the agent,
// naming the path as the agent gave it ("." when empty) and what could not
// be done with it ("read", "listed", "searched"). It never includes the Go
// error's text.
func FileError(p string, err error, what string) error {
	if p == "" {
		p = "."
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Errorf("%s: no such file or folder", p)
	case errors.Is(err, fs.ErrPermission):
		return Errorf("%s: permission denied", p)
	}
	return Errorf("%s: cannot be %s", p, what)
}

// IsBinary reports whether data looks like something other than text: a
// NUL byte or invalid UTF-8 in its first 8 KiB (a character cut in half at
// that edge does not count).
func IsBinary(data []byte) bool {
	head := data
	if len(head) > 8<<10 {
		head = TrimPartialRune(head[:8<<10])
	}
	return bytes.IndexByte(head, 0) >= 0 || !utf8.Valid(head)
}

// TrimPartialRune drops a UTF-8 sequence cut in half at the end of b.
func TrimPartialRune(b []byte) []byte {
	for i := 0; i < utf8.UTFMax-1 && len(b) > 0; i++ {
		if r, size := utf8.DecodeLastRune(b); r != utf8.RuneError || size != 1 {
			break
		}
		b = b[:len(b)-1]
	}
	return b
}
