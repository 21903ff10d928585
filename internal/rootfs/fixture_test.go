package rootfs

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// canaryBytes is the content of the file outside every mount. It must never
// appear in anything a guest reads, and must never change.
const canaryBytes = "CANARY-3f9a1c-outside-the-root\n"

// fixture is a host tree made for one test:
//
//	dir/
//	  outside/canary.txt          the canary, outside the root
//	  outside/sub/x.txt
//	  root/                        the mount
//	    hello.txt                  "hello\n"
//	    sub/inner.txt              "inner\n"
//	    sub/up -> ../hello.txt     relative, stays inside
//	    link_in -> hello.txt
//	    linkdir_in -> sub          symlinked directory, inside
//	    abs_out -> DIR/outside/canary.txt
//	    abs_in -> DIR/root/hello.txt      absolute, even though it points inside
//	    rel_out -> ../outside/canary.txt
//	    dotdots -> ../../../../../../../../etc/passwd
//	    dir_out -> ../outside      symlinked directory, outside
//	    chain_a -> chain_b -> ../outside/canary.txt
//	    dangling -> nothing-here
//	    hard                       hard link to outside/canary.txt
//	    fifo                       a named pipe
//	  root2/secret2.txt            a look-alike neighbour ("root" vs "root2")
type fixture struct {
	dir, root, root2, outside, canary string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	dir := t.TempDir()
	fx := &fixture{
		dir:     dir,
		root:    filepath.Join(dir, "root"),
		root2:   filepath.Join(dir, "root2"),
		outside: filepath.Join(dir, "outside"),
	}
	fx.canary = filepath.Join(fx.outside, "canary.txt")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{fx.outside, filepath.Join(fx.outside, "sub"), fx.root, filepath.Join(fx.root, "sub"), fx.root2} {
		must(os.MkdirAll(d, 0o755))
	}
	must(os.WriteFile(fx.canary, []byte(canaryBytes), 0o644))
	must(os.WriteFile(filepath.Join(fx.outside, "sub", "x.txt"), []byte(canaryBytes), 0o644))
	must(os.WriteFile(filepath.Join(fx.root, "hello.txt"), []byte("hello\n"), 0o644))
	must(os.WriteFile(filepath.Join(fx.root, "sub", "inner.txt"), []byte("inner\n"), 0o644))
	must(os.WriteFile(filepath.Join(fx.root2, "secret2.txt"), []byte("secret2\n"), 0o644))
	links := map[string]string{
		"sub/up":     "../hello.txt",
		"link_in":    "hello.txt",
		"linkdir_in": "sub",
		"abs_out":    fx.canary,
		"abs_in":     filepath.Join(fx.root, "hello.txt"),
		"rel_out":    "../outside/canary.txt",
		"dotdots":    "../../../../../../../../etc/passwd",
		"dir_out":    "../outside",
		"chain_a":    "chain_b",
		"chain_b":    "../outside/canary.txt",
		"dangling":   "nothing-here",
	}
	for name, target := range links {
		must(os.Symlink(target, filepath.Join(fx.root, name)))
	}
	must(os.Link(fx.canary, filepath.Join(fx.root, "hard")))
	must(syscall.Mkfifo(filepath.Join(fx.root, "fifo"), 0o644))
	t.Cleanup(func() { fx.checkCanary(t) })
	return fx
}

// checkCanary fails the test if the canary changed.
func (fx *fixture) checkCanary(t testing.TB) {
	t.Helper()
	got, err := os.ReadFile(fx.canary)
	if err != nil {
		t.Errorf("canary: %v", err)
		return
	}
	if string(got) != canaryBytes {
		t.Errorf("canary was modified: %q", got)
	}
}

// noCanary fails the test if b contains the canary's bytes.
func noCanary(t testing.TB, what string, b []byte) {
	t.Helper()
	if bytes.Contains(b, []byte("CANARY-3f9a1c")) {
		t.Fatalf("%s: the canary's bytes reached the guest: %q", what, b)
	}
}
