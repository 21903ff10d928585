package reactor

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

// Images interns the pieces of reactor snapshot images by content:
// modules that initialise to (mostly) the same memory — the same Go tool
// served under several names, copies of one module — hold one copy of
// each equal piece (a Go tool's image is ≈ 1.6 MB, held twice: restore
// runs and reset image) instead of one each. Run data is never written
// after NewImage made it, so sharing it is safe; the table holds the
// pieces weakly, so a piece goes when the last module using it closes.
//
// # Notes
//
//   - Safe for concurrent use: every field is under mu. The zero value is
//     ready to use; a sandbox.Runtime holds one for all its modules.
type Images struct {
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
func (t *Images) intern(runs []Run) []Run {
	if len(runs) == 0 {
		return runs
	}
	var out []Run
	for _, r := range runs {
		for i := 0; i < len(r.Data); i += internChunk {
			piece := r.Data[i:min(i+internChunk, len(r.Data))]
			out = append(out, Run{Off: r.Off + uint32(i), Data: t.piece(piece)})
		}
	}
	return out
}

// piece returns the interned copy of b, interning a copy of b if there
// is none.
func (t *Images) piece(b []byte) []byte {
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
func (t *Images) forget(key [sha256.Size]byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if ref, ok := t.m[key]; ok && ref.first.Value() == nil {
		delete(t.m, key)
	}
}

// len is the number of pieces interned (for tests).
func (t *Images) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}
