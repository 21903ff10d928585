// Package rootfs is the filesystem a guest sees through a manifest mount: one
// host directory, opened once with os.Root, served to wazero as an
// experimental/sys.FS so that no path, symlink or hard link leads outside it.
//
// It sits at the end of the call path, inside the sandbox stage:
//
//	transport → authenticate → rate limit → MCP server → authorise →
//	validate (internal/schema) → sandbox (internal/sandbox, internal/rootfs) → result → audit
//
// internal/sandbox opens one *FS per mount when a tool loads and mounts it in
// every call's fresh instance with
//
//	cfg := wazero.NewFSConfig().(sysfs.FSConfig).WithSysFSMount(fsys, "/data")
//
// wazero's own WithDirMount and WithReadOnlyDirMount are never used: they
// follow symlinks out of the mounted directory (see docs/filesystem.md).
//
// # Guarantees
//
//   - Every path is resolved by os.Root, relative to the mount's root. A
//     leading "/" names the root itself. ".." that would climb above the root,
//     and symlinks (absolute, or relative ones that climb out) whose target
//     leaves the root, fail with EACCES. Symlinks that stay inside keep working.
//   - The guest cannot create links: Symlink and Link fail with EPERM.
//   - A regular file with more than one hard link may also be reachable from
//     outside the root, and nothing in the path says so. Opening, stat-ing or
//     touching one fails with EACCES unless Options.AllowHardLinks is set.
//   - Only regular files and directories can be opened; FIFOs, sockets and
//     devices fail with EACCES, so a guest cannot block on them or reach a
//     device the operator left in the tree. No open can block, even if the
//     name is swapped for a FIFO between the check and the open: every
//     open(2) is non-blocking and the decision is made on the descriptor.
//   - Readlink reveals a target only when it is relative and resolves to an
//     existing file inside the root; otherwise EACCES.
//   - A read-only FS refuses every change with EROFS.
//   - New files are created 0o644 and new directories 0o755 (less the host's
//     umask), whatever mode is asked for; Chmod is refused (EPERM), so the
//     guest can never set setuid, setgid or sticky bits.
//
// # Notes
//
//   - An *FS is safe for concurrent use by any number of instances. It holds
//     no per-call state; each File it returns belongs to one instance.
//     FS.Recording is a view of it that records, for a call's receipt, each
//     file opened and the bytes read and written (record.go).
//   - Errors are experimental/sys.Errno values only: no host path and no Go
//     error string ever reaches the guest.
package rootfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"
	"syscall"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"
)

// ErrNotDir is returned by Open when hostDir exists but is not a directory.
var ErrNotDir = errors.New("rootfs: not a directory")

// Options tune Open. The zero value is the strictest setting.
type Options struct {
	// ReadOnly refuses every change with EROFS. false allows writes.
	ReadOnly bool

	// AllowHardLinks lets the guest open and stat regular files whose link
	// count is above one. false (the default) refuses them with EACCES,
	// because a hard link made by the host to a file outside the root cannot
	// be told apart from a file that belongs in it.
	AllowHardLinks bool
}

// FS is one guest mount: a host directory opened with os.Root.
//
// # Notes
//
//   - Safe for concurrent use; see the package documentation.
//   - Implements experimentalsys.FS; every method returns an Errno.
type FS struct {
	experimentalsys.UnimplementedFS

	root      *os.Root
	readOnly  bool
	hardLinks bool
	closeOnce sync.Once
}

var _ experimentalsys.FS = (*FS)(nil)

// New files and directories get these modes, whatever the caller asks for:
// the guest cannot choose modes in WASI preview 1 anyway, and the host's
// operator must be able to read what a tool wrote.
const (
	fileMode fs.FileMode = 0o644
	dirMode  fs.FileMode = 0o755
)

// Open opens hostDir as the root of one guest mount. readOnly refuses every
// write.
//
// The error, if any, names hostDir: it is meant for the operator (at load
// time), never for a guest.
func Open(hostDir string, readOnly bool) (*FS, error) {
	return OpenWith(hostDir, Options{ReadOnly: readOnly})
}

// OpenWith is Open with every option.
func OpenWith(hostDir string, opts Options) (*FS, error) {
	if hostDir == "" {
		return nil, fmt.Errorf("rootfs: open: empty host directory: %w", fs.ErrInvalid)
	}
	root, err := os.OpenRoot(hostDir)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) && pe.Err != nil && pe.Err.Error() == "not a directory" {
			return nil, fmt.Errorf("rootfs: open %q: %w", hostDir, ErrNotDir)
		}
		return nil, fmt.Errorf("rootfs: open %q: %w", hostDir, err)
	}
	learnEscapeError(root)
	return &FS{root: root, readOnly: opts.ReadOnly, hardLinks: opts.AllowHardLinks}, nil
}

// Close closes the os.Root. Files already open stay usable until closed;
// every later FS call fails with EBADF. Safe to call twice.
func (f *FS) Close() error {
	var err error
	f.closeOnce.Do(func() { err = f.root.Close() })
	return err
}

// String implements fmt.Stringer without revealing the host path.
func (f *FS) String() string {
	if f.readOnly {
		return "rootfs(ro)"
	}
	return "rootfs(rw)"
}

// rel turns a path from wazero into one for os.Root. wazero passes paths
// relative to the mount, but joins a directory descriptor opened as "." with
// "/" ("/x"), so a leading slash means the root, as it does in wazero's own
// DirFS. os.Root itself rejects "..", so nothing else is cleaned here.
func rel(p string) string {
	p = strings.TrimLeft(p, "/")
	if p == "" {
		return "."
	}
	return p
}

// OpenFile implements experimentalsys.FS.
func (f *FS) OpenFile(p string, flag experimentalsys.Oflag, _ fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	name := rel(p)
	access := flag & (experimentalsys.O_RDONLY | experimentalsys.O_RDWR | experimentalsys.O_WRONLY)
	writes := access != experimentalsys.O_RDONLY ||
		flag&(experimentalsys.O_CREAT|experimentalsys.O_TRUNC|experimentalsys.O_APPEND) != 0
	if writes && f.readOnly {
		return nil, experimentalsys.EROFS
	}
	if flag&experimentalsys.O_DIRECTORY != 0 && access != experimentalsys.O_RDONLY {
		return nil, experimentalsys.EISDIR
	}
	// POSIX leaves O_TRUNC on a read-only descriptor undefined; refuse it
	// rather than guess, as truncation is done below through the descriptor.
	if flag&experimentalsys.O_TRUNC != 0 && access == experimentalsys.O_RDONLY {
		return nil, experimentalsys.EINVAL
	}
	createExcl := flag&(experimentalsys.O_CREAT|experimentalsys.O_EXCL) == experimentalsys.O_CREAT|experimentalsys.O_EXCL

	// os.Root always follows a final symlink (inside the root). WASI asks
	// not to when LOOKUP_SYMLINK_FOLLOW is absent: a symlink then fails with
	// ELOOP, as open(2) does with O_NOFOLLOW.
	if flag&experimentalsys.O_NOFOLLOW != 0 && !createExcl {
		if st, err := f.root.Lstat(name); err == nil && st.Mode()&fs.ModeSymlink != 0 {
			return nil, experimentalsys.ELOOP
		}
	}

	// Look before opening, so that a FIFO or a device is usually refused
	// without being opened. This is no guarantee: the name can be replaced
	// between this stat and the open below (someone with access to the
	// host folder can rename a FIFO onto it), which is why the open itself
	// cannot block (toOSFlag) and the descriptor is checked again.
	if st, err := f.root.Stat(name); err == nil {
		if !st.Mode().IsRegular() && !st.IsDir() {
			return nil, experimentalsys.EACCES
		}
		if createExcl {
			return nil, experimentalsys.EEXIST
		}
	} else if errno := toErrno(err); errno != experimentalsys.ENOENT || flag&experimentalsys.O_CREAT == 0 {
		return nil, errno
	}

	osFlag := toOSFlag(flag &^ experimentalsys.O_TRUNC)
	osf, err := f.root.OpenFile(name, osFlag, fileMode)
	if err != nil {
		if errors.Is(err, syscall.ENXIO) {
			// A FIFO opened for writing with no reader (or a device
			// with nothing behind it): swapped in after the stat.
			return nil, experimentalsys.EACCES
		}
		return nil, toErrno(err)
	}

	// What was opened decides, not what was looked at: check again on the
	// descriptor itself.
	st, errno := statOS(osf)
	if errno == 0 {
		errno = f.allowed(st)
	}
	if errno == 0 && flag&experimentalsys.O_TRUNC != 0 && st.Mode.IsRegular() {
		if err := osf.Truncate(0); err != nil {
			errno = toErrno(err)
		} else {
			st.Size = 0
		}
	}
	if errno != 0 {
		_ = osf.Close()
		return nil, errno
	}
	return newFile(f, name, flag, osf, st), 0
}

// allowed reports EACCES for what the guest may not open or stat: anything
// but a regular file or a directory, and regular files with more than one
// hard link (unless allowed).
func (f *FS) allowed(st sys.Stat_t) experimentalsys.Errno {
	switch {
	case st.Mode.IsDir():
		return 0
	case !st.Mode.IsRegular():
		return experimentalsys.EACCES
	case st.Nlink > 1 && !f.hardLinks:
		return experimentalsys.EACCES
	}
	return 0
}

// Lstat implements experimentalsys.FS. The size of a symlink is the length
// of its target; for a link whose target Readlink would not reveal it is
// reported as 0, so that the length of a host path does not leak either.
func (f *FS) Lstat(p string) (sys.Stat_t, experimentalsys.Errno) {
	name := rel(p)
	fi, err := f.root.Lstat(name)
	if err != nil {
		return sys.Stat_t{}, toErrno(err)
	}
	st := sys.NewStat_t(fi)
	switch {
	case st.Mode.IsRegular() && st.Nlink > 1 && !f.hardLinks:
		return sys.Stat_t{}, experimentalsys.EACCES
	case st.Mode&fs.ModeSymlink != 0:
		if _, errno := f.Readlink(name); errno != 0 {
			st.Size = 0
		}
	}
	return st, 0
}

// Stat implements experimentalsys.FS.
func (f *FS) Stat(p string) (sys.Stat_t, experimentalsys.Errno) {
	fi, err := f.root.Stat(rel(p))
	if err != nil {
		return sys.Stat_t{}, toErrno(err)
	}
	st := sys.NewStat_t(fi)
	if st.Mode.IsRegular() && st.Nlink > 1 && !f.hardLinks {
		return sys.Stat_t{}, experimentalsys.EACCES
	}
	return st, 0
}

// Readlink implements experimentalsys.FS.
//
// The target is revealed only when it is relative, stays inside the root
// when joined to the link's directory, and os.Root can resolve the link to an
// existing file. Anything else (absolute targets, targets that climb out,
// dangling links) is EACCES: the text of such a link says something about
// the host's tree, and no guest needs it.
func (f *FS) Readlink(p string) (string, experimentalsys.Errno) {
	name := rel(p)
	target, err := f.root.Readlink(name)
	if err != nil {
		return "", toErrno(err)
	}
	if target == "" || strings.HasPrefix(target, "/") {
		return "", experimentalsys.EACCES
	}
	joined := path.Join(path.Dir(name), target)
	if joined == ".." || strings.HasPrefix(joined, "../") || strings.HasPrefix(joined, "/") {
		return "", experimentalsys.EACCES
	}
	if _, err := f.root.Stat(name); err != nil {
		return "", experimentalsys.EACCES
	}
	return target, 0
}

// Mkdir implements experimentalsys.FS.
func (f *FS) Mkdir(p string, _ fs.FileMode) experimentalsys.Errno {
	if f.readOnly {
		return experimentalsys.EROFS
	}
	errno := toErrno(f.root.Mkdir(rel(p), dirMode))
	if errno == experimentalsys.ENOTDIR {
		// Same as wazero's DirFS: a parent that is a file is "not found".
		errno = experimentalsys.ENOENT
	}
	return errno
}

// Chmod implements experimentalsys.FS. It is refused: WASI preview 1 has no
// chmod, and allowing it would let a guest change a hard-linked file's mode
// or set special bits.
func (f *FS) Chmod(string, fs.FileMode) experimentalsys.Errno {
	if f.readOnly {
		return experimentalsys.EROFS
	}
	return experimentalsys.EPERM
}

// Rename implements experimentalsys.FS. Both paths are inside this root;
// wazero refuses a rename between two mounts before it gets here.
func (f *FS) Rename(from, to string) experimentalsys.Errno {
	if f.readOnly {
		return experimentalsys.EROFS
	}
	from, to = rel(from), rel(to)
	if from == to {
		return 0
	}
	errno := toErrno(f.root.Rename(from, to))
	if errno == experimentalsys.EEXIST {
		// os.Root refuses to replace a directory. POSIX says EISDIR when a
		// file would replace a directory.
		if fi, err := f.root.Lstat(from); err == nil && !fi.IsDir() {
			errno = experimentalsys.EISDIR
		}
	}
	return errno
}

// Rmdir implements experimentalsys.FS.
func (f *FS) Rmdir(p string) experimentalsys.Errno {
	if f.readOnly {
		return experimentalsys.EROFS
	}
	name := rel(p)
	fi, err := f.root.Lstat(name)
	if err != nil {
		return toErrno(err)
	}
	if !fi.IsDir() {
		return experimentalsys.ENOTDIR
	}
	if name == "." || strings.HasSuffix(name, "/.") {
		return experimentalsys.EINVAL
	}
	return toErrno(f.root.Remove(name))
}

// Unlink implements experimentalsys.FS. Removing a hard-linked file's name
// is allowed: it only removes the name inside the root.
func (f *FS) Unlink(p string) experimentalsys.Errno {
	if f.readOnly {
		return experimentalsys.EROFS
	}
	name := rel(p)
	fi, err := f.root.Lstat(name)
	if err != nil {
		return toErrno(err)
	}
	if fi.IsDir() {
		return experimentalsys.EISDIR
	}
	return toErrno(f.root.Remove(name))
}

// Link implements experimentalsys.FS. Guests may not make hard links.
func (f *FS) Link(string, string) experimentalsys.Errno {
	return experimentalsys.EPERM
}

// Symlink implements experimentalsys.FS. Guests may not make symlinks: a
// link the guest writes now is a way out the moment anything resolves it
// without os.Root (a backup, the operator's shell, another tool).
func (f *FS) Symlink(string, string) experimentalsys.Errno {
	return experimentalsys.EPERM
}

// Utimens implements experimentalsys.FS.
func (f *FS) Utimens(p string, atim, mtim int64) experimentalsys.Errno {
	if f.readOnly {
		return experimentalsys.EROFS
	}
	name := rel(p)
	// Check what the path leads to, as for OpenFile: times of a file that
	// is also linked from outside the root are not the guest's to change.
	if _, errno := f.Stat(name); errno != 0 {
		return errno
	}
	if atim == experimentalsys.UTIME_OMIT && mtim == experimentalsys.UTIME_OMIT {
		return 0
	}
	// os.Root.Chtimes leaves a time unchanged when it is the zero time.Time.
	var at, mt time.Time
	if atim != experimentalsys.UTIME_OMIT {
		at = time.Unix(0, atim)
	}
	if mtim != experimentalsys.UTIME_OMIT {
		mt = time.Unix(0, mtim)
	}
	return toErrno(f.root.Chtimes(name, at, mt))
}

// toOSFlag converts wazero's open flags to os.OpenFile's, plus the flags
// every open gets whatever the guest asked (platformFlag): on Linux
// O_NONBLOCK, so that opening a FIFO or a device returns at once instead of
// waiting for its other end (a FIFO swapped onto a name after OpenFile's
// stat used to block the host call for good: no timeout interrupts a
// system call), and O_NOCTTY, so that a terminal never becomes the
// server's. What was opened is then checked on the descriptor, and only
// regular files and directories are kept; on them O_NONBLOCK changes
// nothing. The guest's own O_NONBLOCK is kept on the File for
// fd_fdstat_get.
func toOSFlag(flag experimentalsys.Oflag) int {
	var osFlag int
	switch flag & (experimentalsys.O_RDONLY | experimentalsys.O_RDWR | experimentalsys.O_WRONLY) {
	case experimentalsys.O_RDWR:
		osFlag = os.O_RDWR
	case experimentalsys.O_WRONLY:
		osFlag = os.O_WRONLY
	default:
		osFlag = os.O_RDONLY
	}
	if flag&experimentalsys.O_APPEND != 0 {
		osFlag |= os.O_APPEND
	}
	if flag&experimentalsys.O_CREAT != 0 {
		osFlag |= os.O_CREATE
	}
	if flag&experimentalsys.O_EXCL != 0 {
		osFlag |= os.O_EXCL
	}
	if flag&experimentalsys.O_SYNC != 0 {
		osFlag |= os.O_SYNC
	}
	if flag&experimentalsys.O_TRUNC != 0 {
		osFlag |= os.O_TRUNC
	}
	return osFlag | platformFlag(flag)
}
