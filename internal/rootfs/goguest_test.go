package rootfs

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// goEscape is testdata/guests/goescape, built for wasip1 and compiled once
// in TestMain (compiling a Go guest takes about a second).
var goEscape *guestRunner

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "moat-rootfs-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out := filepath.Join(dir, "goescape.wasm")
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = "../../testdata/guests/goescape"
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the goescape guest: %v\n%s", err, b)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx := context.Background()
	goEscape, err = compileGuest(ctx, wasm)
	if err != nil {
		fmt.Fprintf(os.Stderr, "compiling the goescape guest: %v\n", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = goEscape.rt.Close(ctx)
	os.RemoveAll(dir)
	os.Exit(code)
}

// runGoEscape runs the Go guest with the script and compares every line.
func runGoEscape(t *testing.T, mounts []mount, cases []probeCase) {
	t.Helper()
	g := goEscape
	var script strings.Builder
	for _, c := range cases {
		script.WriteString(c.cmd + "\n")
	}
	out, stderr := g.run(t, mounts, script.String())
	noCanary(t, "goescape stdout", []byte(out))
	noCanary(t, "goescape stderr", []byte(stderr))
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(cases) {
		t.Fatalf("got %d lines for %d commands:\n%s\nstderr:\n%s", len(lines), len(cases), out, stderr)
	}
	for i, c := range cases {
		if lines[i] != c.want {
			t.Errorf("%-50s → %q, want %q", c.cmd, lines[i], c.want)
		}
	}
}

// TestGoGuest: the same escapes through Go's standard library, which does
// its own path handling (cleaning, picking the preopen) before WASI.
func TestGoGuest(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	data := openFS(t, fx.root, Options{})
	data2 := openFS(t, fx.root2, Options{ReadOnly: true})

	runGoEscape(t, []mount{{data, "/data"}, {data2, "/data2"}}, []probeCase{
		// Escapes by path.
		{"read /data/hello.txt", `ok hello\n`},
		{"read /data/../outside/canary.txt", "err EBADF"},
		{"read /etc/passwd", "err EBADF"},
		{"read /data/sub/../../../etc/passwd", "err EBADF"},
		// Escapes by host-made links.
		{"read /data/link_in", `ok hello\n`},
		{"read /data/sub/up", `ok hello\n`},
		{"read /data/linkdir_in/inner.txt", `ok inner\n`},
		{"read /data/abs_out", "err EACCES"},
		{"read /data/abs_in", "err EACCES"},
		{"read /data/rel_out", "err EACCES"},
		{"read /data/dotdots", "err EACCES"},
		{"read /data/dir_out/canary.txt", "err EACCES"},
		{"read /data/dir_out/sub/x.txt", "err EACCES"},
		{"read /data/chain_a", "err EACCES"},
		{"read /data/hard", "err EACCES"},
		{"read /data/fifo", "err EACCES"},
		{"eval /data/link_in", "ok /data/hello.txt"},
		{"eval /data/linkdir_in/inner.txt", "ok /data/sub/inner.txt"},
		{"eval /data/abs_out", "err EACCES"},
		{"eval /data/rel_out", "err EACCES"},
		{"eval /data/dir_out/canary.txt", "err EACCES"},
		{"readlink /data/sub/up", "ok ../hello.txt"},
		{"readlink /data/abs_out", "err EACCES"},
		{"readlink /data/dotdots", "err EACCES"},
		{"stat /data/abs_out", "err EACCES"},
		{"lstat /data/abs_out", "ok Lrw------- 0"}, // WASI has no modes: Go makes them up; size 0 hides the target's length
		// /data vs /data2.
		{"read /data2/secret2.txt", `ok secret2\n`},
		{"read /data/../data2/secret2.txt", `ok secret2\n`},
		{"write /data2/x y", "err EROFS"},
		// Guest-made links.
		{"symlink /etc/passwd /data/evil", "err EPERM"},
		{"symlink ../../.. /data/evil", "err EPERM"},
		{"symlink hello.txt /data/evil", "err EPERM"},
		{"link /data/hello.txt /data/evil", "err EPERM"},
		{"link /data/hello.txt /data2/evil", "err ENOSYS"},
		{"read /data/evil", "err ENOENT"},
		// Renames out of a mount.
		{"rename /data/hello.txt /data2/hello.txt", "err ENOSYS"},
		{"rename /data2/secret2.txt /data/secret2.txt", "err ENOSYS"},
		{"rename /data/hello.txt /outside.txt", "err EBADF"},
		{"rename /data/hello.txt /data/dir_out/hello.txt", "err EACCES"},
		// Writes through links that leave.
		{"write /data/rel_out pwned", "err EACCES"},
		{"write /data/abs_out pwned", "err EACCES"},
		{"write /data/hard pwned", "err EACCES"},
		{"append /data/hard pwned", "err EACCES"},
		{"write /data/dir_out/new.txt pwned", "err EACCES"},
		{"truncate /data/hard 0", "err EACCES"},
		{"truncate /data/rel_out 0", "err EACCES"},
		{"chtimes /data/hard", "err EACCES"},
		{"removeall /data/dir_out/sub", "err EACCES"},
		// Legitimate work in the rw mount.
		{"mkdirall /data/work/a/b", "ok"},
		{"mkdir /data/work", "err EEXIST"},
		{"write /data/work/a/b/f.txt hello-world", "ok"},
		{"append /data/work/a/b/f.txt !", "ok"},
		{"read /data/work/a/b/f.txt", "ok hello-world!"},
		{"truncate /data/work/a/b/f.txt 5", "ok"},
		{"read /data/work/a/b/f.txt", "ok hello"},
		{"stat /data/work/a/b/f.txt", "ok -rw------- 5"},
		{"chtimes /data/work/a/b/f.txt", "ok"},
		{"chmod /data/work/a/b/f.txt", "ok"}, // Go's wasip1 Chmod only stats: WASI has no chmod
		{"rename /data/work/a/b/f.txt /data/work/g.txt", "ok"},
		{"ls /data/work", "ok a g.txt"},
		{"walk /data/work", "ok /data/work /data/work/a /data/work/a/b /data/work/g.txt"},
		{"remove /data/work/a", "err ENOTEMPTY"},
		{"remove /data/work/g.txt", "ok"},
		{"removeall /data/work", "ok"},
		{"ls /data/work", "err ENOENT"},
		{"ls /data2", "ok secret2.txt"},
	})
}

// TestGoGuestPrefix: Go's wasip1 runtime picks the preopen by string prefix
// (not by path component), so with only /data mounted, /data2/x is looked up
// as "2/x" inside /data. It stays inside /data; it never reaches a neighbour.
func TestGoGuestPrefix(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	data := openFS(t, fx.root, Options{ReadOnly: true})
	runGoEscape(t, []mount{{data, "/data"}}, []probeCase{
		{"read /data2/secret2.txt", "err ENOENT"},
		{"read /data/../root2/secret2.txt", "err EBADF"},
		{"ls /data2", "err ENOENT"},
	})
}
