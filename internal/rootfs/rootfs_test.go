package rootfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

const (
	rdonly = experimentalsys.O_RDONLY
	rdwr   = experimentalsys.O_RDWR
	wronly = experimentalsys.O_WRONLY
	creat  = experimentalsys.O_CREAT
	excl   = experimentalsys.O_EXCL
	trunc  = experimentalsys.O_TRUNC
	appnd  = experimentalsys.O_APPEND
	nofoll = experimentalsys.O_NOFOLLOW
	dir    = experimentalsys.O_DIRECTORY
)

func openFS(t testing.TB, hostDir string, opts Options) *FS {
	t.Helper()
	fsys, err := OpenWith(hostDir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fsys.Close() })
	return fsys
}

// readAll opens p and returns its bytes, or the Errno of the first failure.
func readAll(fsys *FS, p string, flag experimentalsys.Oflag) ([]byte, experimentalsys.Errno) {
	f, errno := fsys.OpenFile(p, flag, 0)
	if errno != 0 {
		return nil, errno
	}
	defer f.Close()
	var out []byte
	buf := make([]byte, 64)
	for {
		n, errno := f.Read(buf)
		out = append(out, buf[:n]...)
		if errno != 0 {
			return out, errno
		}
		if n == 0 {
			return out, 0
		}
	}
}

func TestOpen(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	fsys := openFS(t, fx.root, Options{})

	tests := []struct {
		name      string
		path      string
		flag      experimentalsys.Oflag
		wantErrno experimentalsys.Errno
		want      string
	}{
		{name: "plain file", path: "hello.txt", want: "hello\n"},
		{name: "leading slash is the root", path: "/hello.txt", want: "hello\n"},
		{name: "many leading slashes", path: "///sub/inner.txt", want: "inner\n"},
		{name: "dot segments inside", path: "sub/../sub/./inner.txt", want: "inner\n"},
		{name: "relative link inside", path: "link_in", want: "hello\n"},
		{name: "relative link climbing to the root", path: "sub/up", want: "hello\n"},
		{name: "symlinked dir inside", path: "linkdir_in/inner.txt", want: "inner\n"},
		{name: "parent of root", path: "../outside/canary.txt", wantErrno: experimentalsys.EACCES},
		{name: "deep parents", path: "../../../../etc/passwd", wantErrno: experimentalsys.EACCES},
		{name: "parents after a dir", path: "sub/../../outside/canary.txt", wantErrno: experimentalsys.EACCES},
		{name: "look-alike neighbour", path: "../root2/secret2.txt", wantErrno: experimentalsys.EACCES},
		{name: "absolute link out", path: "abs_out", wantErrno: experimentalsys.EACCES},
		{name: "absolute link pointing inside", path: "abs_in", wantErrno: experimentalsys.EACCES},
		{name: "relative link out", path: "rel_out", wantErrno: experimentalsys.EACCES},
		{name: "link to /etc/passwd by parents", path: "dotdots", wantErrno: experimentalsys.EACCES},
		{name: "symlinked dir out", path: "dir_out/canary.txt", wantErrno: experimentalsys.EACCES},
		{name: "symlinked dir out, deeper", path: "dir_out/sub/x.txt", wantErrno: experimentalsys.EACCES},
		{name: "chain of links out", path: "chain_a", wantErrno: experimentalsys.EACCES},
		{name: "dangling link", path: "dangling", wantErrno: experimentalsys.ENOENT},
		{name: "hard link to outside", path: "hard", wantErrno: experimentalsys.EACCES},
		{name: "fifo", path: "fifo", wantErrno: experimentalsys.EACCES},
		{name: "missing", path: "nope.txt", wantErrno: experimentalsys.ENOENT},
		{name: "file as dir", path: "hello.txt/x", wantErrno: experimentalsys.ENOTDIR},
		{name: "nofollow on a file", path: "hello.txt", flag: nofoll, want: "hello\n"},
		{name: "nofollow on a link", path: "link_in", flag: nofoll, wantErrno: experimentalsys.ELOOP},
		{name: "nofollow on a link out", path: "abs_out", flag: nofoll, wantErrno: experimentalsys.ELOOP},
		{name: "O_DIRECTORY on a file", path: "hello.txt", flag: dir, wantErrno: experimentalsys.ENOTDIR},
		{name: "O_DIRECTORY write", path: "sub", flag: dir | rdwr, wantErrno: experimentalsys.EISDIR},
		{name: "O_TRUNC read-only", path: "hello.txt", flag: trunc, wantErrno: experimentalsys.EINVAL},
		{name: "create through a link out", path: "rel_out", flag: creat | rdwr, wantErrno: experimentalsys.EACCES},
		{name: "create in a symlinked dir out", path: "dir_out/new.txt", flag: creat | rdwr, wantErrno: experimentalsys.EACCES},
		{name: "truncate through hard link", path: "hard", flag: trunc | rdwr, wantErrno: experimentalsys.EACCES},
		{name: "append through hard link", path: "hard", flag: appnd | wronly, wantErrno: experimentalsys.EACCES},
		{name: "exclusive create on existing", path: "hello.txt", flag: creat | excl | rdwr, wantErrno: experimentalsys.EEXIST},
		{name: "exclusive create on a link out", path: "abs_out", flag: creat | excl | rdwr, wantErrno: experimentalsys.EACCES},
		{name: "exclusive create on dangling link", path: "dangling", flag: creat | excl | rdwr, wantErrno: experimentalsys.EEXIST},
		{name: "NUL in path", path: "hello.txt\x00x", wantErrno: experimentalsys.EINVAL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, errno := readAll(fsys, tc.path, tc.flag)
			noCanary(t, tc.path, got)
			if errno != tc.wantErrno {
				t.Fatalf("errno = %v, want %v", errno, tc.wantErrno)
			}
			if tc.wantErrno == 0 && string(got) != tc.want {
				t.Fatalf("read %q, want %q", got, tc.want)
			}
		})
	}
	// Nothing was created anywhere by the refused creates.
	for _, p := range []string{filepath.Join(fx.outside, "new.txt"), filepath.Join(fx.root, "nothing-here")} {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s exists after refused creates: %v", p, err)
		}
	}
}

func TestOpenDirectory(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	fsys := openFS(t, fx.root, Options{})

	for _, p := range []string{".", "", "/", "sub", "linkdir_in", "sub/"} {
		f, errno := fsys.OpenFile(p, rdonly, 0)
		if errno != 0 {
			t.Fatalf("open %q: %v", p, errno)
		}
		if isDir, errno := f.IsDir(); !isDir || errno != 0 {
			t.Fatalf("%q: IsDir = %v, %v", p, isDir, errno)
		}
		if _, errno := f.Read(make([]byte, 4)); errno != experimentalsys.EISDIR {
			t.Fatalf("%q: read errno = %v, want EISDIR", p, errno)
		}
		f.Close()
	}
	if _, errno := fsys.OpenFile("dir_out", rdonly|dir, 0); errno != experimentalsys.EACCES {
		t.Fatalf("dir_out: errno = %v, want EACCES", errno)
	}
}

func TestReaddir(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	fsys := openFS(t, fx.root, Options{})

	f, errno := fsys.OpenFile(".", rdonly|dir, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	defer f.Close()
	read := func() []string {
		var names []string
		for {
			ds, errno := f.Readdir(3) // small batches, like fd_readdir
			if errno != 0 {
				t.Fatal(errno)
			}
			for _, d := range ds {
				if d.Ino == 0 {
					t.Errorf("%s: zero inode", d.Name)
				}
				names = append(names, d.Name)
			}
			if len(ds) < 3 {
				break
			}
		}
		slices.Sort(names)
		return names
	}
	want := []string{"abs_in", "abs_out", "chain_a", "chain_b", "dangling", "dir_out", "dotdots", "fifo", "hard", "hello.txt", "link_in", "linkdir_in", "rel_out", "sub"}
	if got := read(); !slices.Equal(got, want) {
		t.Fatalf("names = %v\nwant    %v", got, want)
	}
	// Rewind (fd_readdir with cookie 0) sees entries added since.
	if err := os.WriteFile(filepath.Join(fx.root, "zz-new"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errno := f.Seek(0, io.SeekStart); errno != 0 {
		t.Fatal(errno)
	}
	if got := read(); !slices.Equal(got, append(want, "zz-new")) {
		t.Fatalf("after rewind names = %v", got)
	}
	if _, errno := f.Seek(1, io.SeekStart); errno != experimentalsys.EISDIR {
		t.Fatalf("seek dir to 1: errno = %v, want EISDIR", errno)
	}

	// Types are the link's, not the target's (like getdents).
	f2, _ := fsys.OpenFile("sub", rdonly, 0)
	defer f2.Close()
	ds, _ := f2.Readdir(10)
	types := map[string]fs.FileMode{}
	for _, d := range ds {
		types[d.Name] = d.Type
	}
	if types["inner.txt"] != 0 || types["up"] != fs.ModeSymlink || len(types) != 2 {
		t.Fatalf("sub entries = %v", types)
	}

	file, _ := fsys.OpenFile("hello.txt", rdonly, 0)
	defer file.Close()
	if _, errno := file.Readdir(1); errno != experimentalsys.ENOTDIR {
		t.Fatalf("readdir of a file: %v, want ENOTDIR", errno)
	}
}

func TestStat(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	fsys := openFS(t, fx.root, Options{})

	tests := []struct {
		name      string
		path      string
		lstat     bool
		wantErrno experimentalsys.Errno
		wantMode  fs.FileMode // type bits only
		wantSize  int64       // -1: don't check
	}{
		{name: "file", path: "hello.txt", wantSize: 6},
		{name: "dir", path: "sub", wantMode: fs.ModeDir, wantSize: -1},
		{name: "root", path: ".", wantMode: fs.ModeDir, wantSize: -1},
		{name: "link inside followed", path: "link_in", wantSize: 6},
		{name: "link inside not followed", path: "link_in", lstat: true, wantMode: fs.ModeSymlink, wantSize: int64(len("hello.txt"))},
		{name: "link out followed", path: "abs_out", wantErrno: experimentalsys.EACCES},
		{name: "link out not followed", path: "abs_out", lstat: true, wantMode: fs.ModeSymlink, wantSize: 0},
		{name: "relative link out not followed", path: "rel_out", lstat: true, wantMode: fs.ModeSymlink, wantSize: 0},
		{name: "relative link out followed", path: "rel_out", wantErrno: experimentalsys.EACCES},
		{name: "through dir out", path: "dir_out/canary.txt", wantErrno: experimentalsys.EACCES},
		{name: "through dir out, lstat", path: "dir_out/canary.txt", lstat: true, wantErrno: experimentalsys.EACCES},
		{name: "parent", path: "..", wantErrno: experimentalsys.EACCES},
		{name: "parent, lstat", path: "../outside", lstat: true, wantErrno: experimentalsys.EACCES},
		{name: "hard link", path: "hard", wantErrno: experimentalsys.EACCES},
		{name: "hard link, lstat", path: "hard", lstat: true, wantErrno: experimentalsys.EACCES},
		{name: "fifo", path: "fifo", lstat: true, wantMode: fs.ModeNamedPipe, wantSize: 0},
		{name: "missing", path: "nope", wantErrno: experimentalsys.ENOENT},
		{name: "dangling followed", path: "dangling", wantErrno: experimentalsys.ENOENT},
		{name: "not a dir", path: "hello.txt/", wantErrno: experimentalsys.ENOTDIR},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stat := fsys.Stat
			if tc.lstat {
				stat = fsys.Lstat
			}
			st, errno := stat(tc.path)
			if errno != tc.wantErrno {
				t.Fatalf("errno = %v, want %v", errno, tc.wantErrno)
			}
			if errno != 0 {
				return
			}
			if st.Mode.Type() != tc.wantMode {
				t.Fatalf("type = %v, want %v", st.Mode.Type(), tc.wantMode)
			}
			if tc.wantSize >= 0 && st.Size != tc.wantSize {
				t.Fatalf("size = %d, want %d", st.Size, tc.wantSize)
			}
			if st.Ino == 0 {
				t.Fatal("zero inode")
			}
		})
	}
}

func TestReadlink(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	fsys := openFS(t, fx.root, Options{})

	tests := []struct {
		path      string
		want      string
		wantErrno experimentalsys.Errno
	}{
		{path: "link_in", want: "hello.txt"},
		{path: "sub/up", want: "../hello.txt"},
		{path: "linkdir_in", want: "sub"},
		{path: "abs_out", wantErrno: experimentalsys.EACCES},
		{path: "abs_in", wantErrno: experimentalsys.EACCES},
		{path: "rel_out", wantErrno: experimentalsys.EACCES},
		{path: "dotdots", wantErrno: experimentalsys.EACCES},
		{path: "dir_out", wantErrno: experimentalsys.EACCES},
		{path: "chain_a", wantErrno: experimentalsys.EACCES}, // "chain_b" is inside, but leads out
		{path: "dangling", wantErrno: experimentalsys.EACCES},
		{path: "hello.txt", wantErrno: experimentalsys.EINVAL},
		{path: "nope", wantErrno: experimentalsys.ENOENT},
		{path: "../outside", wantErrno: experimentalsys.EACCES},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			got, errno := fsys.Readlink(tc.path)
			if errno != tc.wantErrno || got != tc.want {
				t.Fatalf("Readlink = %q, %v; want %q, %v", got, errno, tc.want, tc.wantErrno)
			}
		})
	}
}

// TestReadOnly checks that every change to a read-only mount is EROFS, and
// that nothing changed.
func TestReadOnly(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	fsys := openFS(t, fx.root, Options{ReadOnly: true})

	tests := []struct {
		name string
		op   func() experimentalsys.Errno
		want experimentalsys.Errno
	}{
		{"open rdwr", func() experimentalsys.Errno { _, e := fsys.OpenFile("hello.txt", rdwr, 0); return e }, experimentalsys.EROFS},
		{"open wronly", func() experimentalsys.Errno { _, e := fsys.OpenFile("hello.txt", wronly, 0); return e }, experimentalsys.EROFS},
		{"open create", func() experimentalsys.Errno { _, e := fsys.OpenFile("new", creat, 0); return e }, experimentalsys.EROFS},
		{"open trunc", func() experimentalsys.Errno { _, e := fsys.OpenFile("hello.txt", trunc|rdwr, 0); return e }, experimentalsys.EROFS},
		{"open append", func() experimentalsys.Errno { _, e := fsys.OpenFile("hello.txt", appnd, 0); return e }, experimentalsys.EROFS},
		{"mkdir", func() experimentalsys.Errno { return fsys.Mkdir("d", 0o777) }, experimentalsys.EROFS},
		{"mkdir existing", func() experimentalsys.Errno { return fsys.Mkdir("sub", 0o777) }, experimentalsys.EROFS},
		{"rename", func() experimentalsys.Errno { return fsys.Rename("hello.txt", "h2") }, experimentalsys.EROFS},
		{"unlink", func() experimentalsys.Errno { return fsys.Unlink("hello.txt") }, experimentalsys.EROFS},
		{"rmdir", func() experimentalsys.Errno { return fsys.Rmdir("sub") }, experimentalsys.EROFS},
		{"utimens", func() experimentalsys.Errno { return fsys.Utimens("hello.txt", 0, 0) }, experimentalsys.EROFS},
		{"chmod", func() experimentalsys.Errno { return fsys.Chmod("hello.txt", 0o777) }, experimentalsys.EROFS},
		{"symlink", func() experimentalsys.Errno { return fsys.Symlink("hello.txt", "l") }, experimentalsys.EPERM},
		{"link", func() experimentalsys.Errno { return fsys.Link("hello.txt", "l") }, experimentalsys.EPERM},
		{"file write", func() experimentalsys.Errno {
			f, _ := fsys.OpenFile("hello.txt", rdonly, 0)
			defer f.Close()
			_, e := f.Write([]byte("x"))
			return e
		}, experimentalsys.EBADF},
		{"file pwrite", func() experimentalsys.Errno {
			f, _ := fsys.OpenFile("hello.txt", rdonly, 0)
			defer f.Close()
			_, e := f.Pwrite([]byte("x"), 0)
			return e
		}, experimentalsys.EBADF},
		{"file truncate", func() experimentalsys.Errno {
			f, _ := fsys.OpenFile("hello.txt", rdonly, 0)
			defer f.Close()
			return f.Truncate(0)
		}, experimentalsys.EBADF},
		{"file utimens", func() experimentalsys.Errno {
			f, _ := fsys.OpenFile("hello.txt", rdonly, 0)
			defer f.Close()
			return f.Utimens(0, 0)
		}, experimentalsys.EROFS},
		{"file set append", func() experimentalsys.Errno {
			f, _ := fsys.OpenFile("hello.txt", rdonly, 0)
			defer f.Close()
			return f.SetAppend(true)
		}, experimentalsys.EROFS},
	}
	before, _ := os.Stat(filepath.Join(fx.root, "hello.txt"))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.op(); got != tc.want {
				t.Fatalf("errno = %v, want %v", got, tc.want)
			}
		})
	}
	after, _ := os.Stat(filepath.Join(fx.root, "hello.txt"))
	if !after.ModTime().Equal(before.ModTime()) || after.Size() != before.Size() {
		t.Fatal("hello.txt changed on a read-only mount")
	}
	for _, p := range []string{"new", "d", "h2", "l"} {
		if _, err := os.Lstat(filepath.Join(fx.root, p)); err == nil {
			t.Errorf("%s was created on a read-only mount", p)
		}
	}
	if got, errno := readAll(fsys, "hello.txt", rdonly); errno != 0 || string(got) != "hello\n" {
		t.Fatalf("read on ro mount = %q, %v", got, errno)
	}
}

// TestReadWrite does the legitimate work of a tool in a read-write mount
// and checks each errno a POSIX program relies on.
func TestReadWrite(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	fsys := openFS(t, fx.root, Options{})
	expect := func(what string, got, want experimentalsys.Errno) {
		t.Helper()
		if got != want {
			t.Fatalf("%s: errno = %v, want %v", what, got, want)
		}
	}

	expect("mkdir", fsys.Mkdir("work", 0o777), 0)
	expect("mkdir again", fsys.Mkdir("work", 0o777), experimentalsys.EEXIST)
	expect("mkdir under a file", fsys.Mkdir("hello.txt/x", 0o777), experimentalsys.ENOENT)
	expect("mkdir missing parent", fsys.Mkdir("no/x", 0o777), experimentalsys.ENOENT)
	expect("mkdir through dir out", fsys.Mkdir("dir_out/x", 0o777), experimentalsys.EACCES)
	expect("mkdir above root", fsys.Mkdir("../x", 0o777), experimentalsys.EACCES)

	f, errno := fsys.OpenFile("work/a.txt", creat|rdwr|excl, 0o7777)
	expect("create", errno, 0)
	n, errno := f.Write([]byte("0123456789"))
	expect("write", errno, 0)
	if n != 10 {
		t.Fatalf("wrote %d", n)
	}
	_, errno = f.Pwrite([]byte("AB"), 2)
	expect("pwrite", errno, 0)
	buf := make([]byte, 4)
	n, errno = f.Pread(buf, 1)
	expect("pread", errno, 0)
	if string(buf[:n]) != "1AB4" {
		t.Fatalf("pread = %q", buf[:n])
	}
	if off, errno := f.Seek(-3, io.SeekEnd); errno != 0 || off != 7 {
		t.Fatalf("seek = %d, %v", off, errno)
	}
	_, errno = f.Seek(0, 7)
	expect("seek bad whence", errno, experimentalsys.EINVAL)
	expect("truncate", f.Truncate(5), 0)
	expect("truncate negative", f.Truncate(-1), experimentalsys.EINVAL)
	st, errno := f.Stat()
	expect("fstat", errno, 0)
	if st.Size != 5 || st.Mode.Perm() != fileMode&^umask() || st.Mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0 {
		t.Fatalf("stat: size %d mode %v", st.Size, st.Mode)
	}
	expect("futimens", f.Utimens(1_000_000_000_000_000_000, experimentalsys.UTIME_OMIT), 0)
	if st2, _ := f.Stat(); st2.Atim != 1_000_000_000_000_000_000 || st2.Mtim != st.Mtim {
		t.Fatalf("futimens: atim %d mtim %d (was %d)", st2.Atim, st2.Mtim, st.Mtim)
	}
	expect("sync", f.Sync(), 0)
	expect("datasync", f.Datasync(), 0)

	// Append mode, switched on the open descriptor.
	expect("set append", f.SetAppend(true), 0)
	_, errno = f.Seek(0, io.SeekStart)
	expect("seek start", errno, 0)
	_, errno = f.Write([]byte("Z"))
	expect("append write", errno, 0)
	expect("unset append", f.SetAppend(false), 0)
	expect("close", f.Close(), 0)
	expect("close twice", f.Close(), 0)
	_, errno = f.Read(buf)
	expect("read after close", errno, experimentalsys.EBADF)

	if got, _ := os.ReadFile(filepath.Join(fx.root, "work", "a.txt")); string(got) != "01AB4Z" {
		t.Fatalf("file = %q", got)
	}
	dst, _ := os.Stat(filepath.Join(fx.root, "work"))
	if dst.Mode().Perm() != dirMode&^umask() {
		t.Fatalf("dir mode = %v", dst.Mode())
	}

	// O_TRUNC on an existing file.
	f, errno = fsys.OpenFile("work/a.txt", creat|trunc|wronly, 0)
	expect("open trunc", errno, 0)
	if st, _ := f.Stat(); st.Size != 0 {
		t.Fatalf("size after O_TRUNC = %d", st.Size)
	}
	f.Write([]byte("fresh"))
	f.Close()

	// Path utimens.
	expect("utimens", fsys.Utimens("work/a.txt", experimentalsys.UTIME_OMIT, 2_000_000_000_000_000_000), 0)
	if hst, _ := os.Stat(filepath.Join(fx.root, "work", "a.txt")); hst.ModTime().UnixNano() != 2_000_000_000_000_000_000 {
		t.Fatalf("mtime = %v", hst.ModTime())
	}
	expect("utimens both omitted", fsys.Utimens("work/a.txt", experimentalsys.UTIME_OMIT, experimentalsys.UTIME_OMIT), 0)
	expect("utimens hard link", fsys.Utimens("hard", 0, 0), experimentalsys.EACCES)
	expect("utimens link out", fsys.Utimens("abs_out", 0, 0), experimentalsys.EACCES)
	expect("chmod", fsys.Chmod("work/a.txt", 0o4777), experimentalsys.EPERM)

	// O_CREAT through a dangling link creates its target, inside the root.
	f, errno = fsys.OpenFile("dangling", creat|wronly, 0)
	expect("create through dangling link", errno, 0)
	f.Close()
	if _, err := os.Lstat(filepath.Join(fx.root, "nothing-here")); err != nil {
		t.Fatalf("dangling link's target was not created: %v", err)
	}

	// Rename within the mount.
	expect("mkdir work2", fsys.Mkdir("work2", 0), 0)
	expect("rename dir over dir", fsys.Rename("work2", "work"), experimentalsys.EEXIST)
	expect("rmdir work2", fsys.Rmdir("work2"), 0)
	expect("rename", fsys.Rename("work/a.txt", "work/b.txt"), 0)
	expect("rename to itself", fsys.Rename("work/b.txt", "work/b.txt"), 0)
	expect("rename missing", fsys.Rename("work/a.txt", "work/c.txt"), experimentalsys.ENOENT)
	expect("rename file over dir", fsys.Rename("work/b.txt", "sub"), experimentalsys.EISDIR)
	expect("rename out by parents", fsys.Rename("work/b.txt", "../outside/b.txt"), experimentalsys.EACCES)
	expect("rename into dir out", fsys.Rename("work/b.txt", "dir_out/b.txt"), experimentalsys.EACCES)
	expect("rename from outside", fsys.Rename("../outside/canary.txt", "stolen"), experimentalsys.EACCES)
	expect("rename from dir out", fsys.Rename("dir_out/canary.txt", "stolen"), experimentalsys.EACCES)
	if got, errno := readAll(fsys, "work/b.txt", rdonly); errno != 0 || string(got) != "fresh" {
		t.Fatalf("after rename: %q, %v", got, errno)
	}
	// Renaming a link moves the link, never its target.
	expect("rename a link out", fsys.Rename("abs_out", "work/moved_link"), 0)
	if _, errno := readAll(fsys, "work/moved_link", rdonly); errno != experimentalsys.EACCES {
		t.Fatalf("moved link out: %v", errno)
	}

	// Unlink and rmdir.
	expect("unlink dir", fsys.Unlink("work"), experimentalsys.EISDIR)
	expect("rmdir file", fsys.Rmdir("work/b.txt"), experimentalsys.ENOTDIR)
	expect("rmdir not empty", fsys.Rmdir("work"), experimentalsys.ENOTEMPTY)
	expect("rmdir root", fsys.Rmdir("."), experimentalsys.EINVAL)
	expect("unlink missing", fsys.Unlink("work/zzz"), experimentalsys.ENOENT)
	expect("unlink outside", fsys.Unlink("../outside/canary.txt"), experimentalsys.EACCES)
	expect("unlink via dir out", fsys.Unlink("dir_out/canary.txt"), experimentalsys.EACCES)
	expect("unlink", fsys.Unlink("work/b.txt"), 0)
	expect("unlink a link", fsys.Unlink("work/moved_link"), 0)
	expect("rmdir", fsys.Rmdir("work"), 0)
	// Unlinking the hard link removes only its name inside the root.
	expect("unlink hard link", fsys.Unlink("hard"), 0)
	// Unlinking a symlinked dir removes the link only.
	expect("unlink dir link", fsys.Unlink("dir_out"), 0)
	if _, err := os.Stat(filepath.Join(fx.outside, "sub", "x.txt")); err != nil {
		t.Fatalf("outside tree damaged: %v", err)
	}
	expect("rmdir missing", fsys.Rmdir("work"), experimentalsys.ENOENT)
}

func umask() fs.FileMode {
	m := syscall.Umask(0)
	syscall.Umask(m)
	return fs.FileMode(m)
}

// TestGuestLinks: the guest can never make a link, in either kind of mount.
func TestGuestLinks(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	for _, ro := range []bool{false, true} {
		fsys := openFS(t, fx.root, Options{ReadOnly: ro})
		for _, tc := range []struct{ old, new string }{
			{"../../../../etc/passwd", "evil"},
			{"/etc/passwd", "evil"},
			{"hello.txt", "evil"},
			{fx.canary, "evil"},
		} {
			if errno := fsys.Symlink(tc.old, tc.new); errno != experimentalsys.EPERM {
				t.Errorf("ro=%v Symlink(%q): %v, want EPERM", ro, tc.old, errno)
			}
			if errno := fsys.Link(tc.old, tc.new); errno != experimentalsys.EPERM {
				t.Errorf("ro=%v Link(%q): %v, want EPERM", ro, tc.old, errno)
			}
		}
	}
	if _, err := os.Lstat(filepath.Join(fx.root, "evil")); err == nil {
		t.Fatal("a link was created")
	}
}

// TestLinksMadeAfterOpen: the host (or anything else) adds escaping links
// after the FS is open; they are checked at use, not at Open.
func TestLinksMadeAfterOpen(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	fsys := openFS(t, fx.root, Options{})
	if err := os.Symlink(fx.canary, filepath.Join(fx.root, "late_abs")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../outside", filepath.Join(fx.root, "sub", "late_dir")); err != nil {
		t.Fatal(err)
	}
	// One ".." too few: resolved inside the root, where there is no
	// "outside" directory.
	if err := os.Symlink("../outside", filepath.Join(fx.root, "sub", "late_near")); err != nil {
		t.Fatal(err)
	}
	if _, errno := readAll(fsys, "sub/late_near/canary.txt", rdonly); errno != experimentalsys.ENOENT {
		t.Errorf("late_near: errno = %v, want ENOENT", errno)
	}
	if err := os.Link(filepath.Join(fx.outside, "sub", "x.txt"), filepath.Join(fx.root, "late_hard")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"late_abs", "sub/late_dir/canary.txt", "late_hard", "sub/late_dir/sub/x.txt"} {
		got, errno := readAll(fsys, p, rdonly)
		noCanary(t, p, got)
		if errno != experimentalsys.EACCES {
			t.Errorf("%s: errno = %v, want EACCES", p, errno)
		}
	}
	// Replace a directory the guest already uses by a link out.
	if err := os.Rename(filepath.Join(fx.root, "sub"), filepath.Join(fx.root, "sub.old")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(fx.outside, filepath.Join(fx.root, "sub")); err != nil {
		t.Fatal(err)
	}
	if _, errno := readAll(fsys, "sub/canary.txt", rdonly); errno != experimentalsys.EACCES {
		t.Errorf("swapped dir: errno = %v, want EACCES", errno)
	}
}

func TestAllowHardLinks(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	inside := filepath.Join(fx.root, "twin")
	if err := os.Link(filepath.Join(fx.root, "hello.txt"), inside); err != nil {
		t.Fatal(err)
	}
	strict := openFS(t, fx.root, Options{})
	if _, errno := readAll(strict, "twin", rdonly); errno != experimentalsys.EACCES {
		t.Fatalf("strict: %v, want EACCES", errno)
	}
	if _, errno := readAll(strict, "hello.txt", rdonly); errno != experimentalsys.EACCES {
		t.Fatalf("strict, the other name: %v, want EACCES", errno)
	}
	lax := openFS(t, fx.root, Options{AllowHardLinks: true})
	if got, errno := readAll(lax, "twin", rdonly); errno != 0 || string(got) != "hello\n" {
		t.Fatalf("lax: %q, %v", got, errno)
	}
	if st, errno := lax.Stat("twin"); errno != 0 || st.Nlink != 2 {
		t.Fatalf("lax stat: %+v, %v", st, errno)
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	tests := []struct {
		name string
		dir  string
		want error
	}{
		{"empty", "", fs.ErrInvalid},
		{"missing", filepath.Join(fx.dir, "nope"), fs.ErrNotExist},
		{"a file", fx.canary, ErrNotDir},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fsys, err := Open(tc.dir, true)
			if !errors.Is(err, tc.want) || fsys != nil {
				t.Fatalf("Open = %v, %v; want %v", fsys, err, tc.want)
			}
		})
	}
	// A symlinked mount directory is resolved once, by the operator's
	// choice, at Open.
	link := filepath.Join(fx.dir, "rootlink")
	if err := os.Symlink(fx.root, link); err != nil {
		t.Fatal(err)
	}
	fsys := openFS(t, link, Options{ReadOnly: true})
	if got, errno := readAll(fsys, "hello.txt", rdonly); errno != 0 || string(got) != "hello\n" {
		t.Fatalf("via symlinked root: %q, %v", got, errno)
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	fsys, err := Open(fx.root, false)
	if err != nil {
		t.Fatal(err)
	}
	f, errno := fsys.OpenFile("hello.txt", rdonly, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	if err := fsys.Close(); err != nil {
		t.Fatal(err)
	}
	if err := fsys.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, errno := fsys.OpenFile("hello.txt", rdonly, 0); errno != experimentalsys.EBADF {
		t.Fatalf("open after Close: %v, want EBADF", errno)
	}
	if _, errno := fsys.Stat("hello.txt"); errno != experimentalsys.EBADF {
		t.Fatalf("stat after Close: %v, want EBADF", errno)
	}
	// A file opened before Close still works.
	buf := make([]byte, 6)
	if n, errno := f.Read(buf); errno != 0 || string(buf[:n]) != "hello\n" {
		t.Fatalf("read = %q, %v", buf[:n], errno)
	}
	f.Close()
	if fsys.String() != "rootfs(rw)" {
		t.Fatalf("String = %q", fsys.String())
	}
}

func TestEscapeSentinel(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	openFS(t, fx.root, Options{})
	if errEscapes == nil {
		t.Fatal("os.Root's escape error was not learnt")
	}
	r, err := os.OpenRoot(fx.root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, err = r.Open("rel_out")
	if got := toErrno(err); got != experimentalsys.EACCES {
		t.Fatalf("toErrno(%v) = %v, want EACCES", err, got)
	}
	if got := toErrno(syscall.EXDEV); got != experimentalsys.EIO {
		t.Fatalf("EXDEV = %v, want EIO", got)
	}
}

// TestConcurrent: one FS shared by many instances at once (run with -race).
func TestConcurrent(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	fsys := openFS(t, fx.root, Options{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				if got, errno := readAll(fsys, "sub/up", rdonly); errno != 0 || string(got) != "hello\n" {
					t.Errorf("read: %q, %v", got, errno)
					return
				}
				if _, errno := readAll(fsys, "dir_out/canary.txt", rdonly); errno != experimentalsys.EACCES {
					t.Errorf("escape: %v", errno)
					return
				}
				name := filepath.Join("sub", "w"+string(rune('a'+i))+string(rune('a'+j%26)))
				f, errno := fsys.OpenFile(name, creat|rdwr, 0)
				if errno != 0 {
					t.Errorf("create: %v", errno)
					return
				}
				f.Close()
				fsys.Unlink(name)
			}
		})
	}
	wg.Wait()
}
