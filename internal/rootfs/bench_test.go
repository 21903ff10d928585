package rootfs

import (
	"os"
	"path/filepath"
	"testing"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// BenchmarkOpenRead is the cost of the checks rootfs adds to an open (stat
// before, fstat after) against os.Root alone and a plain os.Open.
func BenchmarkOpenRead(b *testing.B) {
	fx := newFixture(b)
	fsys := openFS(b, fx.root, Options{ReadOnly: true})
	buf := make([]byte, 64)
	b.Run("rootfs", func(b *testing.B) {
		for b.Loop() {
			f, errno := fsys.OpenFile("sub/inner.txt", experimentalsys.O_RDONLY, 0)
			if errno != 0 {
				b.Fatal(errno)
			}
			f.Read(buf)
			f.Close()
		}
	})
	b.Run("os.Root", func(b *testing.B) {
		r, _ := os.OpenRoot(fx.root)
		defer r.Close()
		for b.Loop() {
			f, err := r.Open("sub/inner.txt")
			if err != nil {
				b.Fatal(err)
			}
			f.Read(buf)
			f.Close()
		}
	})
	b.Run("os.Open", func(b *testing.B) {
		p := filepath.Join(fx.root, "sub", "inner.txt")
		for b.Loop() {
			f, err := os.Open(p)
			if err != nil {
				b.Fatal(err)
			}
			f.Read(buf)
			f.Close()
		}
	})
	b.Run("rootfs-stat", func(b *testing.B) {
		for b.Loop() {
			if _, errno := fsys.Stat("sub/inner.txt"); errno != 0 {
				b.Fatal(errno)
			}
		}
	})
}
