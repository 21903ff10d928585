//go:build unix

package privatedir

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// checkOwner says why a folder that group or others may write to, or that
// another user owns, is refused; "" when neither.
func checkOwner(dir string, fi fs.FileInfo) string {
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Sprintf("%s has mode %v, writable by group or others (use chmod 700)", dir, perm)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Sprintf("%s: cannot read its owner", dir)
	}
	if uid := int(st.Uid); uid != os.Geteuid() {
		return fmt.Sprintf("%s is owned by uid %d, not by us (uid %d)", dir, uid, os.Geteuid())
	}
	return ""
}
