package rootfs

import (
	"errors"
	"os"
	"sync"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// escapeMessage is the text of os.Root's unexported errPathEscapes. It is
// only a fallback for errEscapes, which is the error value itself.
const escapeMessage = "path escapes from parent"

var (
	escapeOnce sync.Once
	// errEscapes is os.Root's "path escapes from parent" error, learnt from
	// the first Root opened (os does not export it).
	errEscapes error
)

// learnEscapeError records the error os.Root returns for a path that leaves
// it. An absolute name is rejected before any system call, with exactly that
// error, so asking for "/" is a cheap and reliable way to get it.
func learnEscapeError(root *os.Root) {
	escapeOnce.Do(func() {
		_, err := root.Lstat("/")
		var pe *os.PathError
		if errors.As(err, &pe) && pe.Err != nil && pe.Err.Error() == escapeMessage {
			errEscapes = pe.Err
		}
	})
}

// isEscape reports whether err says a path (or a symlink on it) leads
// outside the root.
func isEscape(err error) bool {
	if errEscapes != nil && errors.Is(err, errEscapes) {
		return true
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if e.Error() == escapeMessage {
			return true
		}
	}
	return false
}

// toErrno maps an error from os.Root or *os.File to the Errno a guest sees.
// A path that escapes the root is EACCES: the guest learns that it may not
// go there, and nothing about what is there. Everything else follows
// wazero's own mapping (unknown errors become EIO), so no Go error string
// and no host path ever reaches the guest.
func toErrno(err error) experimentalsys.Errno {
	if err == nil {
		return 0
	}
	if isEscape(err) {
		return experimentalsys.EACCES
	}
	return experimentalsys.UnwrapOSError(err)
}
