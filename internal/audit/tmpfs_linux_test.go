package audit

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/moatmcp/moat/internal/testclock"
)

// TestFullTmpfs fills a real 64 KiB tmpfs under the audit log: records
// fail with ENOSPC and leave no partial line, Ready says not ready, and
// once a filler file is removed the log resumes by itself and the chain
// verifies. It needs to mount (root, CAP_SYS_ADMIN); elsewhere it skips,
// and TestWriteFailureFailsClosed covers the same with an injected writer.
func TestFullTmpfs(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "size=64k,mode=0700"); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v): TestWriteFailureFailsClosed covers this with an injected writer", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	path := filepath.Join(dir, "audit.log")
	clock := testclock.New(t0)
	l, err := OpenWith(path, &Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rec := Record{Event: EventToolCall, Tool: "echo", Principal: "alice", Outcome: "ok"}

	// Fill the rest of the filesystem with a filler file.
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1024)
	for {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	f.Close()

	// Log until the disk is full (bounded: 64 KiB holds far fewer lines).
	var failed error
	for i := 0; i < 1000 && failed == nil; i++ {
		failed = l.Log(rec)
	}
	if !errors.Is(failed, ErrWriteFailed) || !errors.Is(failed, syscall.ENOSPC) || !l.Refuses(failed) {
		t.Fatalf("Log on a full tmpfs: %v, want a refusing ErrWriteFailed wrapping ENOSPC", failed)
	}
	if err := l.Ready(); !errors.Is(err, ErrWriteFailed) {
		t.Fatalf("Ready on a full tmpfs: %v, want ErrWriteFailed", err)
	}
	if _, _, err := readTail(path); err != nil {
		t.Fatalf("the log on a full tmpfs: %v", err)
	}
	before := verifyFile(t, path, nil).Lines

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	if err := l.Ready(); err != nil {
		t.Fatalf("Ready once the tmpfs has room: %v", err)
	}
	if err := l.Log(rec); err != nil {
		t.Fatal(err)
	}
	if got := verifyFile(t, path, nil).Lines; got != before+2 {
		t.Fatalf("%d records after recovery, want %d (+ resumed + one)", got, before+2)
	}
}
