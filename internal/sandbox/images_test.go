package sandbox

import (
	"context"
	"testing"

	"github.com/moatmcp/moat/internal/sandbox/reactor"
)

// TestSnapshotImagesShared: two tools of one Go reactor module hold one
// copy of its snapshot image (interned by content), and sharing it shares
// nothing a call writes: each call of either starts from the snapshot.
func TestSnapshotImagesShared(t *testing.T) {
	a := load(t, "", Spec{Name: "rx_a", Wasm: goReactor(t), Isolation: IsolationPerCall})
	b := load(t, "", Spec{Name: "rx_b", Wasm: goReactor(t), Isolation: IsolationPerCall})
	// Their memories differ only where the name is (argv): every other
	// piece is one copy.
	shared := func(x, y []reactor.Run) (same, all int) {
		for i := range min(len(x), len(y)) {
			all++
			if x[i].Off == y[i].Off && len(x[i].Data) > 0 && &x[i].Data[0] == &y[i].Data[0] {
				same++
			}
		}
		return same, all
	}
	aRuns, aReset := a.rx.img.Runs()
	bRuns, bReset := b.rx.img.Runs()
	if same, all := shared(aReset, bReset); all == 0 || same < all-2 {
		t.Fatalf("reset images share %d of %d pieces", same, all)
	}
	if same, all := shared(aRuns, bRuns); all == 0 || same < all-2 {
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

// TestIdenticalModulesShareCompiled: tools of identical bytes share one
// compiled module (compiled.go), which stays while any of them is open:
// closing one leaves the other serving, and closing the last releases it.
// Different bytes are compiled apart.
func TestIdenticalModulesShareCompiled(t *testing.T) {
	ctx := context.Background()
	rt, err := New(ctx, &Options{NoCache: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(ctx) })
	a := loadOn(t, rt, Spec{Name: "a", Wasm: goReactor(t)})
	b := loadOn(t, rt, Spec{Name: "b", Wasm: goReactor(t)})
	c := loadOn(t, rt, Spec{Name: "c", Wasm: guest(t, "lim_echo.wasm")})
	if a.compiled != b.compiled || a.compiled == c.compiled {
		t.Fatalf("shared: a=b %v, a=c %v; want true, false", a.compiled == b.compiled, a.compiled == c.compiled)
	}
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if res, err := b.Call(ctx, []byte("count"), nil); err != nil || res.Outcome != OutcomeOK || string(res.Stdout) != "1" {
		t.Fatalf("b after a closed: %v, %v", res, err)
	}
	b.Close(ctx)
	c.Close(ctx)
	rt.mu.Lock()
	n := len(rt.compiled)
	rt.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d compiled modules left after every module closed", n)
	}
}

// TestWorkersFor: a compilation alone in flight uses every core; several
// share them, never below one goroutine each.
func TestWorkersFor(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ cores, inFlight, want int }{
		{cores: 2, inFlight: 1, want: 2},
		{cores: 2, inFlight: 2, want: 1},
		{cores: 2, inFlight: 5, want: 1},
		{cores: 8, inFlight: 3, want: 2},
		{cores: 1, inFlight: 1, want: 1},
		{cores: 4, inFlight: 0, want: 4}, // not counted yet: treated as alone
	} {
		if got := workersFor(c.cores, c.inFlight); got != c.want {
			t.Errorf("workersFor(%d, %d) = %d, want %d", c.cores, c.inFlight, got, c.want)
		}
	}
}
