package sandbox

import (
	"context"
	"testing"
)

// TestSnapshotImagesShared: two tools of one Go reactor module hold one
// copy of its snapshot image (interned by content), and sharing it shares
// nothing a call writes: each call of either starts from the snapshot.
func TestSnapshotImagesShared(t *testing.T) {
	a := load(t, "", Spec{Name: "rx_a", Wasm: goReactor(t), Isolation: IsolationPerCall})
	b := load(t, "", Spec{Name: "rx_b", Wasm: goReactor(t), Isolation: IsolationPerCall})
	// Their memories differ only where the name is (argv): every other
	// piece is one copy.
	shared := func(x, y []memRun) (same, all int) {
		for i := range min(len(x), len(y)) {
			all++
			if x[i].off == y[i].off && len(x[i].data) > 0 && &x[i].data[0] == &y[i].data[0] {
				same++
			}
		}
		return same, all
	}
	if same, all := shared(a.snap.image, b.snap.image); all == 0 || same < all-2 {
		t.Fatalf("reset images share %d of %d pieces", same, all)
	}
	if same, all := shared(a.snap.runs, b.snap.runs); all == 0 || same < all-2 {
		t.Fatalf("restore runs share %d of %d pieces", same, all)
	}
	ctx := context.Background()
	for i, st := range []struct {
		m        *Module
		in, want string
	}{
		{a, "put secret", "ok"}, {b, "get", "empty"}, {a, "get", "empty"}, {b, "put other", "ok"}, {a, "count", "1"}, {b, "count", "1"}, {a, "get", "empty"},
	} {
		res, err := st.m.Call(ctx, []byte(st.in), nil)
		if err != nil || res.Outcome != OutcomeOK || string(res.Stdout) != st.want {
			t.Fatalf("step %d (%s): %v %v %q, want %q", i, st.in, err, res.Outcome, res.Stdout, st.want)
		}
	}
}

// TestInternEqualRuns: runs are cut into internChunk pieces, and equal
// pieces (wherever they are) intern to one copy of their bytes.
func TestInternEqualRuns(t *testing.T) {
	var im images
	big := make([]byte, internChunk+10)
	big[0], big[internChunk] = 1, 2
	x := im.intern([]memRun{{off: 0, data: []byte("abc")}, {off: 1 << 20, data: big}})
	y := im.intern([]memRun{{off: 8192, data: []byte("abc")}, {off: 1 << 20, data: append([]byte(nil), big...)}})
	// x: "abc" at 0, then big cut in two pieces.
	if len(x) != 3 || x[1].off != 1<<20 || len(x[1].data) != internChunk || x[2].off != 1<<20+internChunk || len(x[2].data) != 10 || x[2].data[0] != 2 {
		t.Fatalf("pieces = %+v", x)
	}
	if y[0].off != 8192 || string(y[0].data) != "abc" || &x[0].data[0] != &y[0].data[0] || &x[1].data[0] != &y[1].data[0] || &x[2].data[0] != &y[2].data[0] {
		t.Fatal("equal pieces not interned to one copy (at their own offsets)")
	}
	big[0] = 9 // interned pieces are copies: the caller's bytes are its own
	if x[1].data[0] != 1 {
		t.Fatal("an interned piece aliases the caller's bytes")
	}
	if got := im.intern(nil); got != nil {
		t.Fatalf("intern(nil) = %v", got)
	}
	if im.len() != 3 {
		t.Fatalf("interned %d, want 3", im.len())
	}
}
