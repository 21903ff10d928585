package reactor

import (
	"bytes"
	"context"
)

// PageSize is WebAssembly's page: linear memory sizes are multiples of it.
const PageSize = 64 << 10

// chunk is the granularity at which an initialised memory is compared
// with a fresh instance's: small enough that unchanged data segments are
// not copied again, large enough to keep the run list short.
const chunk = 4 << 10

// Run is a stretch of memory: Data belongs at offset Off.
type Run struct {
	Off  uint32
	Data []byte
}

// Global is a mutable global's value after initialisation.
type Global struct {
	Name  string // its export name (the sandbox exports every global of a reactor)
	Value uint64
}

// Capture is what the sandbox read from a template instance after its
// _initialize ran, to make an Image from.
type Capture struct {
	// Before is a fresh instance's memory (its data segments applied);
	// nil means a fresh instance's memory is all zero (the sandbox took
	// the data section out and wrote it into the template itself).
	Before []byte
	// After is the template's memory after initialisation: a whole
	// number of pages. Nil: the module has no memory.
	After   []byte
	Globals []Global // mutable globals only
	// Nanos is the fake monotonic clock after initialisation: a
	// restored or reset instance continues from it.
	Nanos int64
	// Reset asks for the image a reset in place writes (Image.Reset);
	// false leaves Image.Reset refusing every instance.
	Reset bool
}

// Image is a reactor's initialised state: what every call of the module
// starts from, whether in a restored instance or a reset one.
//
// # Notes
//
//   - Immutable: NewImage fills it and nothing writes it afterwards, so
//     it is read without a lock by any number of calls at once. Its run
//     data is interned (Images) and may be shared with other modules.
type Image struct {
	Pages   uint32   // memory size, in pages
	Globals []Global // written into every restored or reset instance
	Nanos   int64    // the fake monotonic clock after initialisation
	// Bytes is the sum of the restore runs' lengths: the memory a
	// restore copies, for the log and the bench.
	Bytes int

	// runs are where the initialised memory differs from a fresh
	// instance's (Restore writes them).
	runs []Run
	// reset is the whole initialised memory as runs over zero (Reset
	// writes them, clearing what lies between); nil without Capture.Reset.
	reset []Run
	// resettable is Capture.Reset.
	resettable bool
}

// NewImage records c: the chunks of c.After that differ from c.Before (or
// from zero), and with c.Reset the non-zero chunks of c.After. Both are
// interned in pieces (nil pieces: not shared).
func NewImage(c Capture, pieces *Images) *Image {
	img := &Image{Pages: uint32(len(c.After) / PageSize), Globals: c.Globals, Nanos: c.Nanos, resettable: c.Reset}
	if pieces == nil {
		pieces = &Images{}
	}
	var runs []Run
	for off := 0; off < len(c.After); off += chunk {
		end := min(off+chunk, len(c.After))
		var was []byte
		if off < len(c.Before) {
			was = c.Before[off:min(end, len(c.Before))]
		}
		now := c.After[off:end]
		if bytes.Equal(now, was) || (len(was) == 0 && allZero(now)) {
			continue
		}
		runs = appendRun(runs, off, now)
		img.Bytes += len(now)
	}
	img.runs = pieces.intern(runs)
	if c.Reset {
		img.reset = img.runs
		if c.Before != nil { // the runs are relative to the data segments: the reset image is relative to zero
			img.reset = pieces.intern(nonZeroRuns(c.After))
		}
	}
	return img
}

// appendRun adds b at off to runs, extending the last run when it ends at
// off.
func appendRun(runs []Run, off int, b []byte) []Run {
	if n := len(runs); n > 0 && int(runs[n-1].Off)+len(runs[n-1].Data) == off {
		runs[n-1].Data = append(runs[n-1].Data, b...)
		return runs
	}
	return append(runs, Run{Off: uint32(off), Data: append([]byte(nil), b...)})
}

// nonZeroRuns returns the chunk-aligned runs of b that are not all zero.
func nonZeroRuns(b []byte) []Run {
	var runs []Run
	for off := 0; off < len(b); off += chunk {
		if now := b[off:min(off+chunk, len(b))]; !allZero(now) {
			runs = appendRun(runs, off, now)
		}
	}
	return runs
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// Restore writes the image's memory into mem, a fresh instance's memory
// already grown to Pages pages, reporting false when a run does not fit
// (mem is then not the image's size: discard the instance).
func (img *Image) Restore(mem []byte) bool {
	if uint64(len(mem)) != uint64(img.Pages)*PageSize {
		return false
	}
	for _, r := range img.runs {
		copy(mem[r.Off:], r.Data) // fits: NewImage cut the runs from a memory of this size
	}
	return true
}

// Resettable reports whether Reset can be used (Capture.Reset).
func (img *Image) Resettable() bool { return img.resettable }

// Runs returns the restore runs and the reset image's runs (nil without
// Capture.Reset), for tests and measurements; the caller must not write
// them.
func (img *Image) Runs() (restore, reset []Run) { return img.runs, img.reset }

// Instance is one live instance of a reactor module as this package sees
// it; the sandbox implements it over its WebAssembly runtime. One call at
// a time uses an instance, and Reset runs only between calls, so none of
// these methods is called concurrently for one instance.
type Instance interface {
	// Intact reports whether nothing an Image does not hold changed
	// during the last call: the instance is not closed, and its WASI
	// descriptor table is the one it started with (when the sandbox
	// checks it). False: the instance must be discarded.
	Intact() bool
	// Memory returns the instance's linear memory, to be written in
	// place; nil and true when it has none, false when it cannot be read.
	Memory() (mem []byte, ok bool)
	// SetGlobals sets the instance's mutable globals, given in the
	// Image's order.
	SetGlobals(g []Global)
	// Restart puts the instance's host-side state (fake clocks,
	// deterministic random source) back where a restored instance's
	// starts; nanos is the Image's monotonic clock.
	Restart(nanos int64)
	// Close releases the instance.
	Close(ctx context.Context)
}

// Reset puts in back into the image's state in place, reporting false
// when it cannot (in must then be discarded): the image was made without
// Capture.Reset, the instance is not Intact, or its memory is not the
// image's size (wasm memory cannot shrink, so a call that grew it
// discards the instance). Memory the image does not hold is zeroed, so
// what a reset instance offers the next call is byte for byte what a
// restored one would.
func (img *Image) Reset(in Instance) bool {
	if !img.resettable || !in.Intact() {
		return false
	}
	buf, ok := in.Memory()
	if !ok || uint64(len(buf)) != uint64(img.Pages)*PageSize {
		return false
	}
	off := 0
	for _, r := range img.reset {
		clear(buf[off:r.Off])
		off = int(r.Off) + copy(buf[r.Off:], r.Data)
	}
	clear(buf[off:])
	in.SetGlobals(img.Globals)
	in.Restart(img.Nanos)
	return true
}
