package reactor

import "testing"

// TestInternEqualRuns: runs are cut into internChunk pieces, and equal
// pieces (wherever they are) intern to one copy of their bytes.
func TestInternEqualRuns(t *testing.T) {
	var im Images
	big := make([]byte, internChunk+10)
	big[0], big[internChunk] = 1, 2
	x := im.intern([]Run{{Off: 0, Data: []byte("abc")}, {Off: 1 << 20, Data: big}})
	y := im.intern([]Run{{Off: 8192, Data: []byte("abc")}, {Off: 1 << 20, Data: append([]byte(nil), big...)}})
	// x: "abc" at 0, then big cut in two pieces.
	if len(x) != 3 || x[1].Off != 1<<20 || len(x[1].Data) != internChunk || x[2].Off != 1<<20+internChunk || len(x[2].Data) != 10 || x[2].Data[0] != 2 {
		t.Fatalf("pieces = %+v", x)
	}
	if y[0].Off != 8192 || string(y[0].Data) != "abc" || &x[0].Data[0] != &y[0].Data[0] || &x[1].Data[0] != &y[1].Data[0] || &x[2].Data[0] != &y[2].Data[0] {
		t.Fatal("equal pieces not interned to one copy (at their own offsets)")
	}
	big[0] = 9 // interned pieces are copies: the caller's bytes are its own
	if x[1].Data[0] != 1 {
		t.Fatal("an interned piece aliases the caller's bytes")
	}
	if got := im.intern(nil); got != nil {
		t.Fatalf("intern(nil) = %v", got)
	}
	if im.len() != 3 {
		t.Fatalf("interned %d, want 3", im.len())
	}
}
