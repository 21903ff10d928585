package sandbox

import (
	"crypto/sha256"
	"runtime"
	"sync"
	"unsafe"
	"weak"
)

// internChunk is the size of the pieces images shares: small enough that
// modules whose initialised memory differs in a few bytes (the tool's
// name in argv, say) still share every other piece, large enough to keep
// the run lists short.
const internChunk = 64 << 10

// images interns the pieces of reactor snapshot images by content:
// modules that initialise to (mostly) the same memory — the same Go tool
// served under several names, copies of one module — hold one copy of
// each equal piece (a Go tool's image is ≈ 1.6 MB, held twice: restore
// runs and reset image) instead of one each. Run data is never written
// after takeSnapshot made it, so sharing it is safe; the table holds the
// pieces weakly, so a piece goes when the last module using it closes.
type images struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]pieceRef
}

// pieceRef is a weak reference to an interned piece.
type pieceRef struct {
	first weak.Pointer[byte]
	n     int
}

// intern returns runs cut into pieces of at most internChunk bytes, each
// piece's data the interned copy of equal bytes when there is one.
func (t *images) intern(runs []memRun) []memRun {
	if len(runs) == 0 {
		return runs
	}
	var out []memRun
	for _, r := range runs {
		for i := 0; i < len(r.data); i += internChunk {
			piece := r.data[i:min(i+internChunk, len(r.data))]
			out = append(out, memRun{off: r.off + uint32(i), data: t.piece(piece)})
		}
	}
	return out
}

// piece returns the interned copy of b, interning a copy of b if there
// is none.
func (t *images) piece(b []byte) []byte {
	key := sha256.Sum256(b)
	t.mu.Lock()
	defer t.mu.Unlock()
	if ref, ok := t.m[key]; ok && ref.n == len(b) {
		if p := ref.first.Value(); p != nil {
			return unsafe.Slice(p, ref.n)
		}
	}
	if t.m == nil {
		t.m = map[[sha256.Size]byte]pieceRef{}
	}
	own := make([]byte, len(b)) // its own allocation: weakly referenced from its start
	copy(own, b)
	t.m[key] = pieceRef{first: weak.Make(&own[0]), n: len(own)}
	runtime.AddCleanup(&own[0], t.forget, key)
	return own
}

// forget drops key once its piece has been collected.
func (t *images) forget(key [sha256.Size]byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if ref, ok := t.m[key]; ok && ref.first.Value() == nil {
		delete(t.m, key)
	}
}

// len is the number of pieces interned (for tests).
func (t *images) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}
