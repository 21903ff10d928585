package reactor

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeInstance is an Instance over a plain byte slice.
type fakeInstance struct {
	id      int
	mem     []byte
	noMem   bool // Memory reports none
	broken  bool // Memory cannot be read
	changed bool // not Intact
	globals []Global
	nanos   int64
	closed  bool
}

func (f *fakeInstance) Intact() bool { return !f.changed && !f.closed }
func (f *fakeInstance) Memory() ([]byte, bool) {
	if f.noMem {
		return nil, true
	}
	return f.mem, !f.broken
}
func (f *fakeInstance) SetGlobals(g []Global)     { f.globals = slices.Clone(g) }
func (f *fakeInstance) Restart(nanos int64)       { f.nanos = nanos }
func (f *fakeInstance) Close(ctx context.Context) { f.closed = true }

// manualTimer records the trims a pool schedules; the test runs them.
type manualTimer struct {
	mu        sync.Mutex
	scheduled int
}

func (m *manualTimer) afterFunc(time.Duration, func()) Timer {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.scheduled++
	return stopper{}
}

type stopper struct{}

func (stopper) Stop() bool { return true }

func ids(p *Pool[*fakeInstance]) []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []int
	for _, e := range p.idle {
		out = append(out, e.in.id)
	}
	return out
}

// TestPoolTrimAfterBurst: instances no call took during a whole window
// are closed at its end (the oldest first), at least one is kept, and a
// window in which calls took k of them keeps k.
func TestPoolTrimAfterBurst(t *testing.T) {
	ctx := context.Background()
	var timer manualTimer
	p := NewPool[*fakeInstance](&PoolOptions{Max: 8, AfterFunc: timer.afterFunc})
	var all []*fakeInstance
	put := func(n int) {
		for range n {
			in := &fakeInstance{id: len(all)}
			all = append(all, in)
			p.Put(ctx, in, "")
		}
	}
	take := func() *fakeInstance {
		in, ok := p.Take("")
		if !ok {
			t.Fatal("Take: none idle")
		}
		return in
	}
	put(6) // a burst of six calls ends
	if timer.scheduled != 1 {
		t.Fatalf("trims scheduled = %d, want 1", timer.scheduled)
	}
	p.Trim() // the window had the burst in it: the low-water mark is 0
	if got := ids(p); !slices.Equal(got, []int{0, 1, 2, 3, 4, 5}) {
		t.Fatalf("after the first trim: %v", got)
	}
	// Steady load of two: each window takes two at once, then puts them back.
	a, b := take(), take()
	p.Put(ctx, a, "")
	p.Put(ctx, b, "")
	p.Trim() // four were never needed: the oldest four go
	if got := ids(p); !slices.Equal(got, []int{5, 4}) {
		t.Fatalf("after the second trim: %v, want [5 4]", got)
	}
	for i, in := range all[:4] {
		if !in.closed {
			t.Errorf("instance %d not closed", i)
		}
	}
	p.Trim() // an idle window: all but the most recent go
	if got := ids(p); !slices.Equal(got, []int{4}) {
		t.Fatalf("after the idle trim: %v, want [4]", got)
	}
	p.Trim() // one left and still no call: it stays (KeepLast is 30 s, 15 windows)
	if got := ids(p); !slices.Equal(got, []int{4}) {
		t.Fatalf("with one idle: %v", got)
	}
	p.Close(ctx)
	if !all[4].closed {
		t.Error("Close left an idle instance open")
	}
}

// TestPoolKeepLast: with no call taking or returning an instance for
// KeepLast (whole windows), the last idle instance goes too, and no trim
// is scheduled for an empty pool; a call in between starts the count
// again.
func TestPoolKeepLast(t *testing.T) {
	ctx := context.Background()
	var timer manualTimer
	p := NewPool[*fakeInstance](&PoolOptions{Max: 4, Window: time.Second, KeepLast: 2500 * time.Millisecond, AfterFunc: timer.afterFunc})
	last := &fakeInstance{id: 1}
	p.Put(ctx, last, "")
	p.Trim() // the window had the Put: busy
	p.Trim() // quiet 1
	if in, ok := p.Take(""); !ok || in != last {
		t.Fatal("Take: not the idle instance")
	}
	p.Put(ctx, last, "")
	p.Trim() // busy again
	p.Trim() // quiet 1
	p.Trim() // quiet 2
	if p.Idle() != 1 || last.closed {
		t.Fatalf("after two quiet windows: idle %d, closed %v; want 1, false", p.Idle(), last.closed)
	}
	scheduled := timer.scheduled
	p.Trim() // quiet 3: 2.5 s rounds up to three windows
	if p.Idle() != 0 || !last.closed {
		t.Fatalf("after three quiet windows: idle %d, closed %v; want 0, true", p.Idle(), last.closed)
	}
	if timer.scheduled != scheduled {
		t.Fatal("a trim was scheduled for an empty pool")
	}
}

// TestPoolCaps: Max per pool evicts the oldest; the shared Cap across
// pools refuses (closes) what would go over it; Take frees a place; keys
// are kept apart; a closed pool closes what it is given.
func TestPoolCaps(t *testing.T) {
	ctx := context.Background()
	var timer manualTimer
	shared := &Cap{Max: 3}
	a := NewPool[*fakeInstance](&PoolOptions{Max: 2, Shared: shared, AfterFunc: timer.afterFunc})
	b := NewPool[*fakeInstance](&PoolOptions{Max: 4, Shared: shared, AfterFunc: timer.afterFunc})
	i0, i1, i2 := &fakeInstance{id: 0}, &fakeInstance{id: 1}, &fakeInstance{id: 2}
	a.Put(ctx, i0, "")
	a.Put(ctx, i1, "")
	a.Put(ctx, i2, "") // over Max 2: the oldest goes
	if got := ids(a); !i0.closed || !slices.Equal(got, []int{1, 2}) || shared.Len() != 2 {
		t.Fatalf("a = %v, i0 closed %v, shared %d", got, i0.closed, shared.Len())
	}
	b3, b4 := &fakeInstance{id: 3}, &fakeInstance{id: 4}
	b.Put(ctx, b3, "alice")
	b.Put(ctx, b4, "bob") // over the shared cap: refused and closed
	if got := ids(b); !b4.closed || !slices.Equal(got, []int{3}) || shared.Len() != 3 {
		t.Fatalf("b = %v, b4 closed %v, shared %d", got, b4.closed, shared.Len())
	}
	if _, ok := b.Take("bob"); ok {
		t.Fatal("Take(bob) got alice's instance")
	}
	if in, ok := b.Take("alice"); !ok || in != b3 || shared.Len() != 2 {
		t.Fatalf("Take(alice) = %v, %v; shared %d", in, ok, shared.Len())
	}
	a.Close(ctx)
	if shared.Len() != 0 || !i1.closed || !i2.closed {
		t.Fatalf("after Close: shared %d, closed %v %v", shared.Len(), i1.closed, i2.closed)
	}
	late := &fakeInstance{id: 5}
	a.Put(ctx, late, "")
	if !late.closed || a.Idle() != 0 {
		t.Fatal("a closed pool kept an instance")
	}
}

// TestPoolResetHandOff: a reset instance goes back to the pool when the
// reset succeeded and is closed when it did not; Take waits for a reset
// only when two or more are running and nothing is idle.
func TestPoolResetHandOff(t *testing.T) {
	ctx := context.Background()
	var timer manualTimer
	p := NewPool[*fakeInstance](&PoolOptions{Max: 4, WaitForReset: true, AfterFunc: timer.afterFunc})
	if _, ok := p.Take(""); ok {
		t.Fatal("Take from an empty pool")
	}
	p.ResetStarted()
	if _, ok := p.Take(""); ok { // one reset running: no wait
		t.Fatal("Take with one reset running returned an instance")
	}
	bad := &fakeInstance{id: 1}
	p.ResetDone(ctx, bad, "", false)
	if !bad.closed || p.Idle() != 0 {
		t.Fatal("a failed reset's instance was kept")
	}
	p.ResetStarted()
	p.ResetStarted()
	got := make(chan *fakeInstance)
	go func() {
		in, _ := p.Take("") // two resets running: waits for one
		got <- in
	}()
	good := &fakeInstance{id: 2}
	p.ResetDone(ctx, good, "", true)
	if in := <-got; in != good {
		t.Fatalf("Take = %v, want the reset instance", in)
	}
	p.ResetDone(ctx, &fakeInstance{id: 3}, "", true)
	p.Settle()
	p.Close(ctx)
}

// TestImageReset: what Reset writes and when it refuses, by case.
func TestImageReset(t *testing.T) {
	after := make([]byte, 2*PageSize)
	after[10], after[PageSize+5] = 7, 9
	before := make([]byte, 2*PageSize)
	before[10] = 7 // a data segment: not in the restore runs, but in the reset image
	globals := []Global{{Name: "g0", Value: 42}}
	img := NewImage(Capture{Before: before, After: after, Globals: globals, Nanos: 5, Reset: true}, nil)
	if img.Pages != 2 || img.Bytes != chunk {
		t.Fatalf("Pages %d, Bytes %d; want 2, %d (one chunk differs from before)", img.Pages, img.Bytes, chunk)
	}
	dirty := func() []byte {
		b := make([]byte, 2*PageSize)
		for i := range b {
			b[i] = 0xAA
		}
		return b
	}
	tests := []struct {
		name string
		img  *Image
		in   *fakeInstance
		want bool
	}{
		{"resets a used instance", img, &fakeInstance{mem: dirty()}, true},
		{"not resettable", NewImage(Capture{After: after}, nil), &fakeInstance{mem: dirty()}, false},
		{"not intact", img, &fakeInstance{mem: dirty(), changed: true}, false},
		{"memory grew", img, &fakeInstance{mem: make([]byte, 3*PageSize)}, false},
		{"memory unreadable", img, &fakeInstance{mem: dirty(), broken: true}, false},
		{"no memory, image has pages", img, &fakeInstance{noMem: true}, false},
		{"no memory, image has none", NewImage(Capture{Reset: true}, nil), &fakeInstance{noMem: true}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.img.Reset(tt.in); got != tt.want {
				t.Fatalf("Reset = %v, want %v", got, tt.want)
			}
			if !tt.want || tt.in.noMem {
				return
			}
			if !slices.Equal(tt.in.mem, after) {
				t.Error("memory after Reset is not the image")
			}
			if !slices.Equal(tt.in.globals, globals) || tt.in.nanos != 5 {
				t.Errorf("globals %v, nanos %d", tt.in.globals, tt.in.nanos)
			}
		})
	}
	fresh := slices.Clone(before)
	if !img.Restore(fresh) || !slices.Equal(fresh, after) {
		t.Error("Restore over a fresh memory is not the image")
	}
	if img.Restore(make([]byte, PageSize)) {
		t.Error("Restore into a memory of the wrong size")
	}
}
