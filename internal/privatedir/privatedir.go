// Package privatedir checks that a folder is private to the user moat runs
// as: the compile cache (internal/sandbox) and the OCI cache
// (internal/registry) hold what decides which code runs, so a folder that
// someone else can write to, or swap for a symlink, would let them choose
// it. It is the one owner of that rule.
package privatedir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Error is why a folder is not private.
type Error struct {
	// Insecure is true when the folder exists but others could change it
	// (a symlink, group- or world-writable, owned by another user), and
	// false when it is unusable for another reason (missing, not a folder).
	Insecure bool
	// Reason says what is wrong, naming the folder.
	Reason string
	// Err is the underlying error, if any.
	Err error
}

func (e *Error) Error() string { return e.Reason }
func (e *Error) Unwrap() error { return e.Err }

// Check refuses dir unless it is a real folder (not a symlink), owned by
// the current user and not writable by group or others. Every error is an
// *Error.
func Check(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return &Error{Reason: err.Error(), Err: err}
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return &Error{Insecure: true, Reason: fmt.Sprintf("%s is a symlink", dir)}
	case !fi.IsDir():
		return &Error{Reason: fmt.Sprintf("%s is not a directory", dir)}
	}
	if reason := checkOwner(dir, fi); reason != "" {
		return &Error{Insecure: true, Reason: reason}
	}
	return nil
}

// CheckAs is Check in a caller's own error vocabulary: a folder others
// could change is refused as insecure (wrapped, with the reason), and any
// other failure as other (wrapped, with Check's error).
func CheckAs(dir string, insecure, other error) error {
	var e *Error
	switch err := Check(dir); {
	case err == nil:
		return nil
	case errors.As(err, &e) && e.Insecure:
		return fmt.Errorf("%w: %s", insecure, e.Reason)
	default:
		return fmt.Errorf("%w: %w", other, err)
	}
}
