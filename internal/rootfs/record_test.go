package rootfs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRecording: a recording view lists each regular file opened (mount,
// path relative to it, read or write) with the bytes read and written
// through it; directories, failed opens and opens without a Recorder are
// not listed.
func TestRecording(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "in.txt"), []byte("hello world"), 0o644)
	os.Mkdir(filepath.Join(root, "sub"), 0o755)
	rec := &Recorder{}
	on := true
	v := openFS(t, root, Options{}).Recording("/data", func() *Recorder {
		if on {
			return rec
		}
		return nil
	})

	f, errno := v.OpenFile("/in.txt", rdonly, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	buf := make([]byte, 4)
	f.Read(buf)
	f.Pread(buf, 6)
	f.Close()
	w, errno := v.OpenFile("sub/out.txt", wronly|creat|trunc, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	w.Write([]byte("abc"))
	w.Pwrite([]byte("de"), 3)
	w.Close()
	again, _ := v.OpenFile("in.txt", rdonly, 0) // the same entry again
	again.Read(make([]byte, 100))
	again.Close()
	if d, errno := v.OpenFile("sub", rdonly|dir, 0); errno == 0 {
		d.Close()
	}
	if _, errno := v.OpenFile("missing.txt", rdonly, 0); errno == 0 {
		t.Fatal("opened a missing file")
	}
	on = false
	if g, errno := v.OpenFile("in.txt", rdwr, 0); errno == 0 {
		g.Write([]byte("x"))
		g.Close()
	}

	var got []string
	for _, u := range rec.Files() {
		got = append(got, fmt.Sprintf("%s %s write=%v read=%d written=%d", u.Mount, u.Path, u.Write, u.BytesRead(), u.BytesWritten()))
	}
	want := []string{"/data in.txt write=false read=19 written=0", "/data sub/out.txt write=true read=0 written=5"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("files:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if r, w := rec.Totals(); r != 19 || w != 5 || rec.Dropped() != 0 {
		t.Errorf("totals %d %d dropped %d", r, w, rec.Dropped())
	}
}

// TestRecordingBounded: past MaxRecordedFiles, opens are counted, not
// listed, and their bytes still reach the totals; long paths are cut.
func TestRecordingBounded(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for i := range MaxRecordedFiles + 3 {
		os.WriteFile(filepath.Join(root, fmt.Sprintf("f%03d", i)), []byte("ab"), 0o644)
	}
	rec := &Recorder{}
	v := openFS(t, root, Options{ReadOnly: true}).Recording("/d", func() *Recorder { return rec })
	for i := range MaxRecordedFiles + 3 {
		f, errno := v.OpenFile(fmt.Sprintf("f%03d", i), rdonly, 0)
		if errno != 0 {
			t.Fatal(errno)
		}
		f.Read(make([]byte, 8))
		f.Close()
	}
	if n, d := len(rec.Files()), rec.Dropped(); n != MaxRecordedFiles || d != 3 {
		t.Errorf("listed %d, dropped %d; want %d and 3", n, d, MaxRecordedFiles)
	}
	if r, _ := rec.Totals(); r != 2*(MaxRecordedFiles+3) {
		t.Errorf("read total %d", r)
	}
	long := &Recorder{}
	u := long.open("/d", strings.Repeat("p", 1000), false)
	if len(u.Path) != maxRecordedPath {
		t.Errorf("path of %d bytes kept", len(u.Path))
	}
}

// TestRecordingReadsDoNotAllocate: counting a read or a write is an
// atomic add, nothing more.
func TestRecordingReadsDoNotAllocate(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "in.txt"), []byte(strings.Repeat("x", 4096)), 0o644)
	rec := &Recorder{}
	v := openFS(t, root, Options{}).Recording("/d", func() *Recorder { return rec })
	f, errno := v.OpenFile("in.txt", rdwr, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	defer f.Close()
	buf := make([]byte, 16)
	if n := testing.AllocsPerRun(200, func() { f.Pread(buf, 0); f.Pwrite(buf, 0) }); n != 0 {
		t.Errorf("%v allocations per recorded read and write; want 0", n)
	}
}
