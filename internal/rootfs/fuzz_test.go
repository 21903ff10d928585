package rootfs

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"
)

type sysStat = sys.Stat_t

// FuzzOpenPath: whatever the path, opening it (read-only, or creating in a
// read-write mount), stat-ing it or reading its link is either an error or
// something inside the root. "Inside" is checked by inode against every
// file and directory outside the root, so a symlink or ".." trick that
// reached the canary, its directory, the neighbour mount or the host's "/"
// is caught even if it did not read a byte.
func FuzzOpenPath(f *testing.F) {
	for _, seed := range []string{
		"hello.txt", "/hello.txt", "", ".", "..", "/", "../outside/canary.txt",
		"abs_out", "abs_in", "rel_out", "dotdots", "dir_out/canary.txt", "dir_out/sub/x.txt",
		"chain_a", "hard", "fifo", "sub/up", "linkdir_in/../hello.txt", "sub/../../root2/secret2.txt",
		"linkdir_in/../../outside", "dir_out/..", "dir_out/../root/hello.txt", "sub//./up/",
		"new.txt", "sub/new/../../x", "dangling", "\x00", "a\x00b", strings.Repeat("../", 40) + "etc/passwd",
		strings.Repeat("linkdir_in/", 50) + "inner.txt",
	} {
		f.Add(seed)
	}
	fx := newFixture(f)
	forbidden := map[[2]uint64]string{}
	addInode := func(p string) {
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err == nil {
			forbidden[[2]uint64{uint64(st.Dev), st.Ino}] = p
		}
	}
	for _, p := range []string{"/", "/etc", "/etc/passwd", fx.dir, fx.outside, fx.canary,
		filepath.Join(fx.outside, "sub"), filepath.Join(fx.outside, "sub", "x.txt"),
		fx.root2, filepath.Join(fx.root2, "secret2.txt")} {
		addInode(p)
	}
	outsideNames := func() string {
		var names []string
		for _, d := range []string{fx.dir, fx.outside, filepath.Join(fx.outside, "sub"), fx.root2} {
			es, _ := os.ReadDir(d)
			for _, e := range es {
				names = append(names, d+"/"+e.Name())
			}
		}
		return strings.Join(names, "\n")
	}
	before := outsideNames()

	ro := openFS(f, fx.root, Options{ReadOnly: true})
	rw := openFS(f, fx.root, Options{})

	f.Fuzz(func(t *testing.T, p string) {
		check := func(what string, fl experimentalsys.File) {
			t.Helper()
			defer fl.Close()
			st, errno := fl.Stat()
			if errno != 0 {
				return
			}
			if host, bad := forbidden[[2]uint64{st.Dev, st.Ino}]; bad {
				t.Fatalf("%s %q opened %s outside the root", what, p, host)
			}
			buf := make([]byte, 256)
			n, _ := fl.Read(buf)
			noCanary(t, p, buf[:n])
		}
		if fl, errno := ro.OpenFile(p, experimentalsys.O_RDONLY, 0); errno == 0 {
			check("ro open", fl)
		}
		if fl, errno := rw.OpenFile(p, experimentalsys.O_RDWR|experimentalsys.O_CREAT, 0); errno == 0 {
			check("rw create", fl)
		}
		for _, stat := range []func(string) (sysStat, experimentalsys.Errno){ro.Stat, ro.Lstat} {
			if st, errno := stat(p); errno == 0 {
				if host, bad := forbidden[[2]uint64{st.Dev, st.Ino}]; bad {
					t.Fatalf("stat %q reached %s outside the root", p, host)
				}
			}
		}
		if target, errno := ro.Readlink(p); errno == 0 && (strings.HasPrefix(target, "/") || strings.Contains(target, fx.dir)) {
			t.Fatalf("readlink %q revealed %q", p, target)
		}
		_ = rw.Mkdir(p, 0o777)
		if got := outsideNames(); got != before {
			t.Fatalf("%q changed the tree outside the root:\n%s", p, got)
		}
		fx.checkCanary(t)
	})
}
