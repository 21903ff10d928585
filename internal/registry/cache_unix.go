//go:build unix

package registry

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// checkOwner refuses a directory that group or others may write to, or
// that another user owns.
func checkOwner(dir string, fi fs.FileInfo) error {
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("%w: %s has mode %v, writable by group or others (use chmod 700)", ErrInsecureCacheDir, dir, perm)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%w: %s: cannot read its owner", ErrInsecureCacheDir, dir)
	}
	if uid := int(st.Uid); uid != os.Geteuid() {
		return fmt.Errorf("%w: %s is owned by uid %d, not by us (uid %d)", ErrInsecureCacheDir, dir, uid, os.Geteuid())
	}
	return nil
}
