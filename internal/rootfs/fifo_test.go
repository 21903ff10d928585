package rootfs

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// fifoRacer swaps a FIFO and a regular file onto one name in a mount, as
// someone with access to the host folder could, to catch an open between
// its stat and its open(2). The FIFO is a hard link of one kept outside
// the root, so that a reader stuck in open(2) on it can be released.
type fifoRacer struct {
	keep  string        // the FIFO, outside the root
	done  chan struct{} // closed after the last swap
	swaps int           // read after done
}

// startFIFORacer creates root/name as a regular file, then swaps a FIFO
// onto it and back n times, on its own goroutine.
func startFIFORacer(t testing.TB, dir, root, name string, n int) *fifoRacer {
	t.Helper()
	r := &fifoRacer{keep: filepath.Join(dir, "keep.fifo"), done: make(chan struct{})}
	if err := syscall.Mkfifo(r.keep, 0o644); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(root, name)
	if err := os.WriteFile(target, []byte("regular\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(r.done)
		fifoTmp, fileTmp := filepath.Join(root, ".fifo.tmp"), filepath.Join(root, ".file.tmp")
		for ; r.swaps < n; r.swaps++ {
			_ = os.Remove(fifoTmp)
			if err := os.Link(r.keep, fifoTmp); err != nil {
				t.Errorf("link the FIFO: %v", err)
				return
			}
			if err := os.Rename(fifoTmp, target); err != nil {
				t.Errorf("rename the FIFO: %v", err)
				return
			}
			if err := os.WriteFile(fileTmp, []byte("regular\n"), 0o644); err != nil {
				t.Errorf("write the file: %v", err)
				return
			}
			if err := os.Rename(fileTmp, target); err != nil {
				t.Errorf("rename the file: %v", err)
				return
			}
		}
	}()
	return r
}

// racing reports whether the racer is still swapping.
func (r *fifoRacer) racing() bool {
	select {
	case <-r.done:
		return false
	default:
		return true
	}
}

// release unblocks a reader stuck opening the FIFO (opening it for
// writing completes the reader's open); it reports whether one was.
func (r *fifoRacer) release() bool {
	f, err := os.OpenFile(r.keep, os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return false // ENXIO: no reader has it open
	}
	_ = f.Close()
	return true
}

// hangBound is how long a test waits, once the racer has stopped, for a
// reader to finish the open it is in, before calling it blocked: far
// beyond any open of a local file, even on a loaded machine. A passing
// run never waits for it.
const hangBound = 30 * time.Second

// fifoSwaps is how many times the racer swaps the FIFO in: enough that
// an open between stat and open(2) is caught on every run of the unfixed
// code seen so far (it blocked within the first few hundred).
const fifoSwaps = 1000

// TestOpenFIFOSwappedIn: a FIFO renamed onto a name between OpenFile's
// stat and its open must not block the open. Bad input: it blocked in
// open(2) for good, holding the guest's host call, its concurrency slot
// and the server's shutdown.
func TestOpenFIFOSwappedIn(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	fsys := openFS(t, root, Options{})
	racer := startFIFORacer(t, dir, root, "name", fifoSwaps)

	var opens, regular, refused int
	opened := make(chan error, 1)
	go func() {
		for ; racer.racing(); opens++ {
			// Reads and writes: a FIFO's open blocks for either until
			// its other end shows up.
			f, errno := fsys.OpenFile("name", []experimentalsys.Oflag{rdonly, wronly, rdwr}[opens%3], 0)
			switch errno {
			case 0:
				isDir, _ := f.IsDir()
				st, _ := f.Stat()
				_ = f.Close()
				if isDir || !st.Mode.IsRegular() {
					opened <- errors.New("opened something that is not a regular file")
					return
				}
				regular++
			case experimentalsys.EACCES, experimentalsys.ENOENT:
				// The FIFO (caught by the stat, by the check on the
				// descriptor, or, for writing, by open(2) itself: no
				// reader, ENXIO), or the name between two renames.
				refused++
			default:
				opened <- errno
				return
			}
		}
		opened <- nil
	}()
	<-racer.done
	select {
	case err := <-opened:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(hangBound):
		t.Errorf("OpenFile blocked on a FIFO swapped in after its stat (released: %v)", racer.release())
		<-opened
	}
	t.Logf("%d opens: %d regular, %d refused; %d swaps", opens, regular, refused, racer.swaps)
}
