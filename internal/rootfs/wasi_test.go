package rootfs

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
)

// mount is one guest mount for a test guest.
type mount struct {
	fsys  *FS
	guest string
}

// guestRunner runs one compiled guest in fresh instances, as internal/sandbox
// does: a runtime that stops guests when the context is done, WASI, and only
// the given mounts.
type guestRunner struct {
	rt       wazero.Runtime
	compiled wazero.CompiledModule
}

func newGuestRunner(t testing.TB, wasm []byte) *guestRunner {
	t.Helper()
	g, err := compileGuest(context.Background(), wasm)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.rt.Close(context.Background()) })
	return g
}

func compileGuest(ctx context.Context, wasm []byte) (*guestRunner, error) {
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(true))
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	compiled, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		_ = rt.Close(ctx)
		return nil, err
	}
	return &guestRunner{rt: rt, compiled: compiled}, nil
}

// run starts a fresh instance with stdin and args, and returns its stdout
// and stderr. A non-zero exit is a test failure.
func (g *guestRunner) run(t testing.TB, mounts []mount, stdin string, args ...string) (string, string) {
	t.Helper()
	fsc := wazero.NewFSConfig()
	for _, m := range mounts {
		fsc = fsc.(sysfs.FSConfig).WithSysFSMount(m.fsys, m.guest)
	}
	var stdout, stderr bytes.Buffer
	cfg := wazero.NewModuleConfig().
		WithName("").
		WithFSConfig(fsc).
		WithStdin(strings.NewReader(stdin)).
		WithStdout(&stdout).
		WithStderr(&stderr).
		WithArgs(append([]string{"guest"}, args...)...)
	mod, err := g.rt.InstantiateModule(context.Background(), g.compiled, cfg)
	if mod != nil {
		_ = mod.Close(context.Background())
	}
	var exit *sys.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 0) {
		t.Fatalf("guest failed: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	return stdout.String(), stderr.String()
}

func readGuest(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../../testdata/guests/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// probeCase is one line of fs_probe's script and the exact line it must
// print.
type probeCase struct {
	cmd, want string
}

// runProbe runs the cases in one instance and compares every line.
func runProbe(t *testing.T, g *guestRunner, mounts []mount, cases []probeCase) {
	t.Helper()
	var script strings.Builder
	for _, c := range cases {
		script.WriteString(c.cmd + "\n")
	}
	out, _ := g.run(t, mounts, script.String())
	noCanary(t, "fs_probe output", []byte(out))
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(cases) {
		t.Fatalf("got %d lines for %d commands:\n%s", len(lines), len(cases), out)
	}
	for i, c := range cases {
		if lines[i] != c.want {
			t.Errorf("%-45s → %q, want %q", c.cmd, lines[i], c.want)
		}
	}
}

// TestWASIEscapes drives the raw WASI calls (and wasi-libc's) of a C guest
// against two mounts side by side: the fixture's root at /data (rw) and its
// look-alike neighbour root2 at /data2 (ro).
func TestWASIEscapes(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	data := openFS(t, fx.root, Options{})
	data2 := openFS(t, fx.root2, Options{ReadOnly: true})
	g := newGuestRunner(t, readGuest(t, "fs_probe.wasm"))
	mounts := []mount{{data, "/data"}, {data2, "/data2"}}

	runProbe(t, g, mounts, []probeCase{
		// Reading, with and without LOOKUP_SYMLINK_FOLLOW.
		{"open /data 1 hello.txt", `ok hello\n`},
		{"open /data 0 hello.txt", `ok hello\n`},
		{"open /data 1 sub/up", `ok hello\n`},
		{"open /data 0 sub/up", "err ELOOP"},
		{"open /data 1 linkdir_in/inner.txt", `ok inner\n`},
		{"open /data 1 sub/../hello.txt", `ok hello\n`},
		// Paths that leave the mount are refused by wazero before rootfs.
		{"open /data 1 ../outside/canary.txt", "err EPERM"},
		{"open /data 1 sub/../../outside/canary.txt", "err EPERM"},
		{"open /data 1 /etc/passwd", "err EPERM"},
		{"open /data 1 ../../../../../../etc/passwd", "err EPERM"},
		// Links that leave the root are refused by rootfs.
		{"open /data 1 abs_out", "err EACCES"},
		{"open /data 0 abs_out", "err ELOOP"},
		{"open /data 1 abs_in", "err EACCES"},
		{"open /data 1 rel_out", "err EACCES"},
		{"open /data 1 dotdots", "err EACCES"},
		{"open /data 1 dir_out/canary.txt", "err EACCES"},
		{"open /data 1 dir_out/sub/x.txt", "err EACCES"},
		{"open /data 1 chain_a", "err EACCES"},
		{"open /data 1 hard", "err EACCES"},
		{"open /data 1 fifo", "err EACCES"},
		{"open /data 1 dangling", "err ENOENT"},
		// /data and /data2: each descriptor reaches only its own root.
		{"open /data2 1 secret2.txt", `ok secret2\n`},
		{"open /data 1 2/secret2.txt", "err ENOENT"},
		{"open /data2 1 ../data/hello.txt", "err EPERM"},
		{"open /data2 1 ../root/hello.txt", "err EPERM"},
		{"open /data2 1 hello.txt", "err ENOENT"},
		// A directory descriptor, including one opened as "." (wazero then
		// joins "/" + path).
		{"opendirfd /data . hello.txt", `ok hello\n`},
		{"opendirfd /data sub up", `ok hello\n`},
		{"opendirfd /data linkdir_in inner.txt", `ok inner\n`},
		{"opendirfd /data sub ../hello.txt", "err EPERM"},
		{"opendirfd /data dir_out canary.txt", "err EACCES"},
		// path_filestat_get: type 4 = regular, 3 = directory, 7 = symlink.
		{"stat /data 1 hello.txt", "ok type=4 size=6 nlink=1"},
		{"stat /data 1 link_in", "ok type=4 size=6 nlink=1"},
		{"stat /data 0 link_in", "ok type=7 size=9 nlink=1"},
		{"stat /data 1 linkdir_in", "ok type=3 size=4096 nlink=2"},
		{"stat /data 1 abs_out", "err EACCES"},
		{"stat /data 0 abs_out", "ok type=7 size=0 nlink=1"},
		{"stat /data 1 dir_out/canary.txt", "err EACCES"},
		{"stat /data 0 dir_out/canary.txt", "err EACCES"},
		{"stat /data 1 hard", "err EACCES"},
		{"stat /data 0 hard", "err EACCES"},
		{"stat /data 1 ../outside", "err EPERM"},
		// path_readlink reveals only in-root relative targets.
		{"readlink /data link_in", "ok hello.txt"},
		{"readlink /data sub/up", "ok ../hello.txt"},
		{"readlink /data abs_out", "err EACCES"},
		{"readlink /data abs_in", "err EACCES"},
		{"readlink /data rel_out", "err EACCES"},
		{"readlink /data dotdots", "err EACCES"},
		{"readlink /data dir_out", "err EACCES"},
		{"readlink /data hello.txt", "err EINVAL"},
		// The guest cannot make links, in either mount.
		{"symlink /etc/passwd /data evil", "err EPERM"},
		{"symlink ../../.. /data evil", "err EPERM"},
		{"symlink hello.txt /data evil", "err EPERM"},
		{"symlink secret2.txt /data2 evil", "err EPERM"},
		{"link /data hello.txt /data evil", "err EPERM"},
		{"link /data sub/inner.txt /data sub/evil", "err EPERM"},
		{"link /data hello.txt /data2 evil", "err ENOSYS"},
		{"open /data 1 evil", "err ENOENT"},
		// Renames never cross a mount or leave one.
		{"rename /data hello.txt /data2 stolen", "err ENOSYS"},
		{"rename /data2 secret2.txt /data stolen", "err ENOSYS"},
		{"rename /data hello.txt /data ../escaped", "err EPERM"},
		{"rename /data link_in /data dir_out/escaped", "err EACCES"},
		{"rename /data dir_out/canary.txt /data stolen", "err EACCES"},
		// Legitimate work in the rw mount; the ro one refuses with EROFS.
		{"mkdir /data work", "ok"},
		{"mkdir /data work", "err EEXIST"},
		{"mkdir /data2 work", "err EROFS"},
		{"mkdir /data dir_out/work", "err EACCES"},
		{"write /data work/f.txt hi", "ok 2"},
		{"open /data 1 work/f.txt", "ok hi"},
		{"rename /data work/f.txt /data work/g.txt", "ok"},
		{"readdir /data work", "ok g.txt"},
		{"readdir /data .", "ok abs_in abs_out chain_a chain_b dangling dir_out dotdots fifo hard hello.txt link_in linkdir_in rel_out sub work"},
		{"readdir /data2 .", "ok secret2.txt"},
		{"readdir /data dir_out", "err EACCES"},
		{"write /data2 x y", "err EROFS"},
		{"write /data rel_out pwned", "err EACCES"},
		{"write /data abs_out pwned", "err EACCES"},
		{"write /data hard pwned", "err EACCES"},
		{"write /data dir_out/new pwned", "err EACCES"},
		{"unlink /data2 secret2.txt", "err EROFS"},
		{"rmdir /data work", "err ENOTEMPTY"},
		{"unlink /data work", "err EISDIR"},
		{"unlink /data work/g.txt", "ok"},
		{"rmdir /data work", "ok"},
		{"unlink /data dir_out/canary.txt", "err EACCES"},
		// wasi-libc picks the preopen by whole path components.
		{"cat /data/hello.txt", `ok hello\n`},
		{"cat /data2/secret2.txt", `ok secret2\n`},
		{"cat /data/../data2/secret2.txt", "err EPERM"}, // wasi-libc keeps "..": wazero refuses it
		{"cat /data2/../data/abs_out", "err EPERM"},
		{"cat /etc/passwd", "err ENOTCAPABLE"}, // no preopen matches
		{"cat /data/dir_out/canary.txt", "err EACCES"},
		{"lsymlink /etc/passwd /data/evil", "err EPERM"},
		{"llink /data/hello.txt /data/evil", "err EPERM"},
		{"lrename /data/hello.txt /data2/hello.txt", "err ENOSYS"},
		{"lrename /data/hello.txt /etc/passwd", "err ENOTCAPABLE"},
	})
}

// TestWASILookAlikePrefix: only /data is mounted. wasi-libc matches whole
// components, so /data2/... does not route to /data.
func TestWASILookAlikePrefix(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	if err := os.Mkdir(fx.root+"2x", 0o755); err != nil { // a sibling the guest must not see
		t.Fatal(err)
	}
	data := openFS(t, fx.root, Options{ReadOnly: true})
	g := newGuestRunner(t, readGuest(t, "fs_probe.wasm"))
	runProbe(t, g, []mount{{data, "/data"}}, []probeCase{
		{"cat /data/hello.txt", `ok hello\n`},
		{"cat /data2/secret2.txt", "err ENOTCAPABLE"},
		{"cat /datahello.txt", "err ENOTCAPABLE"},
		{"cat /data/../root2/secret2.txt", "err EPERM"},
		{"open /data 1 ../root2/secret2.txt", "err EPERM"},
	})
}
