package rootfs

import (
	"io/fs"
	"sort"
	"sync"
	"sync/atomic"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// MaxRecordedFiles is how many distinct files (mount, path, read or
// write) one Recorder lists; the opens past it are only counted
// (Recorder.Dropped), their bytes still added to the totals.
const MaxRecordedFiles = 64

// maxRecordedPath caps a recorded path (a guest chooses its file names).
const maxRecordedPath = 256

// Recorder is what one call did through its mounts, as the filesystem saw
// it: each regular file opened (mount, path relative to it, for reading
// or writing) and the bytes read from and written to it. It is the file
// part of a call's receipt (internal/sandbox.Receipt).
//
// # Notes
//
//   - Safe for concurrent use. Counting a read or a write is one atomic
//     add: no lock, no allocation.
//   - A file kept open by a reused instance (isolation shared or
//     per_principal) counts into the Recorder of the call that opened it.
type Recorder struct {
	mu      sync.Mutex
	files   map[fileKey]*FileUse
	order   []*FileUse
	dropped int
	other   FileUse // bytes of the files past MaxRecordedFiles
}

type fileKey struct {
	mount, path string
	write       bool
}

// FileUse is one file of a Recorder.
type FileUse struct {
	Mount string // the guest path of the mount, e.g. "/data"
	Path  string // relative to the mount, e.g. "notes/a.txt"
	Write bool   // opened for writing (or reading and writing)
	read  atomic.Int64
	wrote atomic.Int64
}

// BytesRead is what the guest read from the file.
func (u *FileUse) BytesRead() int64 { return u.read.Load() }

// BytesWritten is what the guest wrote to the file.
func (u *FileUse) BytesWritten() int64 { return u.wrote.Load() }

// open returns the entry of (mount, path, write), made on first use.
func (r *Recorder) open(mount, path string, write bool) *FileUse {
	if len(path) > maxRecordedPath {
		path = path[:maxRecordedPath]
	}
	k := fileKey{mount, path, write}
	r.mu.Lock()
	defer r.mu.Unlock()
	if u := r.files[k]; u != nil {
		return u
	}
	if len(r.order) >= MaxRecordedFiles {
		r.dropped++
		return &r.other
	}
	if r.files == nil {
		r.files = map[fileKey]*FileUse{}
	}
	u := &FileUse{Mount: mount, Path: path, Write: write}
	r.files[k] = u
	r.order = append(r.order, u)
	return u
}

// Files are the files recorded, sorted by mount, path and mode.
func (r *Recorder) Files() []*FileUse {
	r.mu.Lock()
	out := append([]*FileUse(nil), r.order...)
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Mount != b.Mount {
			return a.Mount < b.Mount
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return !a.Write && b.Write
	})
	return out
}

// Dropped is how many opens were not listed (past MaxRecordedFiles).
func (r *Recorder) Dropped() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dropped
}

// Totals are the bytes read and written through every file, listed or
// not.
func (r *Recorder) Totals() (read, written int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, u := range r.order {
		read += u.read.Load()
		written += u.wrote.Load()
	}
	return read + r.other.read.Load(), written + r.other.wrote.Load()
}

// Recording returns a view of f, mounted at mount (the guest path), that
// records every regular file opened through it into the Recorder rec
// returns at the time of the open (nil: not recorded). rec is called once
// per open, so one view can serve an instance that several calls reuse
// in turn.
func (f *FS) Recording(mount string, rec func() *Recorder) experimentalsys.FS {
	return &recordingFS{FS: f, mount: mount, rec: rec}
}

// recordingFS is an FS that records its opens.
type recordingFS struct {
	*FS
	mount string
	rec   func() *Recorder
}

// OpenFile implements experimentalsys.FS: FS.OpenFile, recorded.
func (v *recordingFS) OpenFile(p string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	f, errno := v.FS.OpenFile(p, flag, perm)
	if errno != 0 {
		return f, errno
	}
	if ff, ok := f.(*file); ok && !ff.isDir {
		if r := v.rec(); r != nil {
			ff.use = r.open(v.mount, rel(p), ff.writable())
		}
	}
	return f, 0
}
