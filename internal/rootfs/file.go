package rootfs

import (
	"io"
	"os"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"
)

// file is an open regular file or directory of an FS. It belongs to one
// guest instance, which calls it from one goroutine at a time, so it holds
// per-descriptor state (append, non-blocking, closed) without locks.
//
// It behaves like wazero's own osFile for what the Go and wasi-libc runtimes
// use: Dev, Ino and IsDir come from the descriptor's stat at open; Readdir
// returns inodes; Seek(0, io.SeekStart) rewinds a directory.
type file struct {
	experimentalsys.UnimplementedFile

	fsys *FS
	name string // path inside the root, for nothing but debugging
	flag experimentalsys.Oflag
	f    *os.File

	dev   uint64
	ino   sys.Inode
	isDir bool

	nonblock bool
	closed   bool

	use *FileUse // where reads and writes are counted (Recorder); nil: nowhere
}

var _ experimentalsys.PollableFile = (*file)(nil)

func newFile(fsys *FS, name string, flag experimentalsys.Oflag, f *os.File, st sys.Stat_t) *file {
	return &file{
		fsys:     fsys,
		name:     name,
		flag:     flag,
		f:        f,
		dev:      st.Dev,
		ino:      st.Ino,
		isDir:    st.Mode.IsDir(),
		nonblock: flag&experimentalsys.O_NONBLOCK != 0,
	}
}

// statOS is fstat on the descriptor, as wazero's sys.Stat_t.
func statOS(f *os.File) (sys.Stat_t, experimentalsys.Errno) {
	fi, err := f.Stat()
	if err != nil {
		return sys.Stat_t{}, toErrno(err)
	}
	return sys.NewStat_t(fi), 0
}

func (f *file) writable() bool {
	return f.flag&(experimentalsys.O_RDWR|experimentalsys.O_WRONLY) != 0
}

// check returns the Errno for an operation on a closed descriptor, or on a
// directory when a file is wanted.
func (f *file) check(wantFile bool) experimentalsys.Errno {
	if f.closed {
		return experimentalsys.EBADF
	}
	if wantFile && f.isDir {
		return experimentalsys.EISDIR
	}
	return 0
}

// Dev implements experimentalsys.File.
func (f *file) Dev() (uint64, experimentalsys.Errno) {
	if f.closed {
		return 0, experimentalsys.EBADF
	}
	return f.dev, 0
}

// Ino implements experimentalsys.File.
func (f *file) Ino() (sys.Inode, experimentalsys.Errno) {
	if f.closed {
		return 0, experimentalsys.EBADF
	}
	return f.ino, 0
}

// IsDir implements experimentalsys.File.
func (f *file) IsDir() (bool, experimentalsys.Errno) {
	if f.closed {
		return false, experimentalsys.EBADF
	}
	return f.isDir, 0
}

// IsAppend implements experimentalsys.File.
func (f *file) IsAppend() bool {
	return f.flag&experimentalsys.O_APPEND != 0
}

// SetAppend implements experimentalsys.File. It changes the flag on the
// open descriptor (fcntl), rather than reopening the path as wazero's osFile
// does: the path may have been renamed or replaced since.
func (f *file) SetAppend(enable bool) experimentalsys.Errno {
	if errno := f.check(true); errno != 0 {
		return errno
	}
	if enable == f.IsAppend() {
		return 0
	}
	if enable && f.fsys.readOnly {
		return experimentalsys.EROFS
	}
	if errno := setAppend(f.f, enable); errno != 0 {
		return errno
	}
	if enable {
		f.flag |= experimentalsys.O_APPEND
	} else {
		f.flag &^= experimentalsys.O_APPEND
	}
	return 0
}

// IsNonblock implements experimentalsys.PollableFile.
func (f *file) IsNonblock() bool { return f.nonblock }

// SetNonblock implements experimentalsys.PollableFile. Regular files and
// directories never block, so this only records the flag for fd_fdstat_get.
func (f *file) SetNonblock(enable bool) experimentalsys.Errno {
	if f.closed {
		return experimentalsys.EBADF
	}
	f.nonblock = enable
	return 0
}

// Poll implements experimentalsys.Pollable: regular files and directories
// are always ready.
func (f *file) Poll(experimentalsys.Pflag, int32) (bool, experimentalsys.Errno) {
	if f.closed {
		return false, experimentalsys.EBADF
	}
	return true, 0
}

// Stat implements experimentalsys.File.
func (f *file) Stat() (sys.Stat_t, experimentalsys.Errno) {
	if f.closed {
		return sys.Stat_t{}, experimentalsys.EBADF
	}
	st, errno := statOS(f.f)
	if errno == experimentalsys.EIO {
		errno = experimentalsys.EBADF
	}
	return st, errno
}

// Read implements experimentalsys.File.
func (f *file) Read(buf []byte) (int, experimentalsys.Errno) {
	if errno := f.check(true); errno != 0 {
		return 0, errno
	}
	if len(buf) == 0 {
		return 0, 0
	}
	n, err := f.f.Read(buf)
	if f.use != nil && n > 0 {
		f.use.read.Add(int64(n))
	}
	return n, toErrno(err) // io.EOF is 0
}

// Pread implements experimentalsys.File.
func (f *file) Pread(buf []byte, off int64) (int, experimentalsys.Errno) {
	if errno := f.check(true); errno != 0 {
		return 0, errno
	}
	if off < 0 {
		return 0, experimentalsys.EINVAL
	}
	if len(buf) == 0 {
		return 0, 0
	}
	n, err := f.f.ReadAt(buf, off)
	if f.use != nil && n > 0 {
		f.use.read.Add(int64(n))
	}
	return n, toErrno(err)
}

// seekOffset is int64. wazero's File.Seek returns an Errno, not an error;
// naming the parameter's type through an alias keeps go vet's stdmethods
// check, which is about io.Seeker, from reporting the signature wazero needs.
type seekOffset = int64

// Seek implements experimentalsys.File. A directory can only be rewound
// (offset 0 from the start), which is what fd_readdir with cookie 0 needs.
func (f *file) Seek(offset seekOffset, whence int) (int64, experimentalsys.Errno) {
	if f.closed {
		return 0, experimentalsys.EBADF
	}
	if uint(whence) > io.SeekEnd {
		return 0, experimentalsys.EINVAL
	}
	if f.isDir && (offset != 0 || whence != io.SeekStart) {
		return 0, experimentalsys.EISDIR
	}
	n, err := f.f.Seek(offset, whence) // also drops os.File's directory buffer
	return n, toErrno(err)
}

// Readdir implements experimentalsys.File. Entries carry the host inode
// number, as wazero's own directories do (wasi-libc and Go use it).
func (f *file) Readdir(n int) ([]experimentalsys.Dirent, experimentalsys.Errno) {
	if f.closed {
		return nil, experimentalsys.EBADF
	}
	if !f.isDir {
		return nil, experimentalsys.ENOTDIR
	}
	fis, err := f.f.Readdir(n)
	if errno := toErrno(err); errno != 0 {
		return nil, errno
	}
	dirents := make([]experimentalsys.Dirent, 0, len(fis))
	for _, fi := range fis {
		dirents = append(dirents, experimentalsys.Dirent{
			Name: fi.Name(),
			Ino:  sys.NewStat_t(fi).Ino,
			Type: fi.Mode().Type(),
		})
	}
	return dirents, 0
}

// Write implements experimentalsys.File.
func (f *file) Write(buf []byte) (int, experimentalsys.Errno) {
	if errno := f.check(true); errno != 0 {
		return 0, errno
	}
	if !f.writable() {
		return 0, experimentalsys.EBADF
	}
	if len(buf) == 0 {
		return 0, 0
	}
	n, err := f.f.Write(buf)
	if f.use != nil && n > 0 {
		f.use.wrote.Add(int64(n))
	}
	return n, toErrno(err)
}

// Pwrite implements experimentalsys.File.
func (f *file) Pwrite(buf []byte, off int64) (int, experimentalsys.Errno) {
	if errno := f.check(true); errno != 0 {
		return 0, errno
	}
	if !f.writable() {
		return 0, experimentalsys.EBADF
	}
	if off < 0 {
		return 0, experimentalsys.EINVAL
	}
	if len(buf) == 0 {
		return 0, 0
	}
	n, errno := pwrite(f.f, buf, off)
	if f.use != nil && n > 0 {
		f.use.wrote.Add(int64(n))
	}
	return n, errno
}

// Truncate implements experimentalsys.File.
func (f *file) Truncate(size int64) experimentalsys.Errno {
	if errno := f.check(true); errno != 0 {
		return errno
	}
	if size < 0 {
		return experimentalsys.EINVAL
	}
	if !f.writable() {
		return experimentalsys.EBADF
	}
	return toErrno(f.f.Truncate(size))
}

// Sync implements experimentalsys.File.
func (f *file) Sync() experimentalsys.Errno {
	if f.closed {
		return experimentalsys.EBADF
	}
	return toErrno(f.f.Sync())
}

// Datasync implements experimentalsys.File.
func (f *file) Datasync() experimentalsys.Errno {
	if f.closed {
		return experimentalsys.EBADF
	}
	return datasync(f.f)
}

// Utimens implements experimentalsys.File. It acts on the descriptor, so it
// changes exactly the file that was opened (and checked) earlier.
func (f *file) Utimens(atim, mtim int64) experimentalsys.Errno {
	if f.closed {
		return experimentalsys.EBADF
	}
	if f.fsys.readOnly {
		return experimentalsys.EROFS
	}
	if atim == experimentalsys.UTIME_OMIT && mtim == experimentalsys.UTIME_OMIT {
		return 0
	}
	return futimens(f.f, atim, mtim)
}

// Close implements experimentalsys.File. Safe to call twice.
func (f *file) Close() experimentalsys.Errno {
	if f.closed {
		return 0
	}
	f.closed = true
	return toErrno(f.f.Close())
}
