package ratelimit

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func background(*testing.T) context.Context { return context.Background() }

func canceled(*testing.T) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

func TestGate(t *testing.T) {
	tests := []struct {
		name    string
		slots   int
		maxWait time.Duration
		hold    int // slots taken before the tested Acquire
		ctx     func(*testing.T) context.Context
		wantErr []error // errors.Is targets; nil for success
	}{
		{"free slot", 2, 0, 1, background, nil},
		{"full, no wait", 2, 0, 2, background, []error{ErrBusy}},
		{"full, bounded wait", 1, 10 * time.Millisecond, 1, background, []error{ErrBusy}},
		{"zero slots admit nothing", 0, time.Hour, 0, background, []error{ErrBusy}},
		{"negative slots admit nothing", -3, time.Hour, 0, background, []error{ErrBusy}},
		{"full, context already canceled", 1, time.Hour, 1, canceled, []error{ErrBusy, context.Canceled}},
		{"full, context deadline", 1, time.Hour, 1, func(t *testing.T) context.Context {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
			t.Cleanup(cancel)
			return ctx
		}, []error{ErrBusy, context.DeadlineExceeded}},
		// A free slot is taken even with a dead context: the caller's
		// own ctx check decides whether to run.
		{"free slot, context canceled", 1, time.Hour, 0, canceled, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := NewGate(tc.slots, tc.maxWait)
			for range tc.hold {
				if _, err := g.Acquire(context.Background()); err != nil {
					t.Fatalf("holding a slot: %v", err)
				}
			}
			release, err := g.Acquire(tc.ctx(t))
			if tc.wantErr == nil {
				if err != nil || release == nil {
					t.Fatalf("Acquire = %v, %v; want a slot", release != nil, err)
				}
				if g.InUse() != tc.hold+1 {
					t.Errorf("InUse = %d, want %d", g.InUse(), tc.hold+1)
				}
				release()
				if g.InUse() != tc.hold {
					t.Errorf("after release InUse = %d, want %d", g.InUse(), tc.hold)
				}
				return
			}
			if release != nil {
				t.Error("Acquire returned a release function with its error")
			}
			for _, target := range tc.wantErr {
				if !errors.Is(err, target) {
					t.Errorf("Acquire error %v is not %v", err, target)
				}
			}
			if g.InUse() != tc.hold {
				t.Errorf("InUse = %d, want %d", g.InUse(), tc.hold)
			}
		})
	}
}

func TestGateRelease(t *testing.T) {
	g := NewGate(2, 0)
	r1, _ := g.Acquire(context.Background())
	r2, _ := g.Acquire(context.Background())
	if _, err := g.Acquire(context.Background()); !errors.Is(err, ErrBusy) {
		t.Fatalf("third Acquire: %v, want ErrBusy", err)
	}
	r1()
	r1() // a second call must not free r2's slot
	if g.InUse() != 1 {
		t.Fatalf("after double release InUse = %d, want 1", g.InUse())
	}
	r3, err := g.Acquire(context.Background())
	if err != nil {
		t.Fatalf("Acquire after release: %v", err)
	}
	if _, err := g.Acquire(context.Background()); !errors.Is(err, ErrBusy) {
		t.Fatalf("Acquire over max: %v, want ErrBusy", err)
	}
	r2()
	r3()
	if g.InUse() != 0 || g.Max() != 2 {
		t.Errorf("InUse %d, Max %d", g.InUse(), g.Max())
	}
}

// TestGateWaiterGetsReleasedSlot: a waiter is handed a slot freed while it
// waits (with an hour's maxWait, only a release can end its wait).
func TestGateWaiterGetsReleasedSlot(t *testing.T) {
	g := NewGate(1, time.Hour)
	release, _ := g.Acquire(context.Background())
	done := make(chan error)
	go func() {
		r, err := g.Acquire(context.Background())
		if err == nil {
			r()
		}
		done <- err
	}()
	release()
	if err := <-done; err != nil {
		t.Fatalf("waiter: %v", err)
	}
}

func TestGateCancelWhileWaiting(t *testing.T) {
	g := NewGate(1, time.Hour)
	g.Acquire(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := g.Acquire(ctx)
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, ErrBusy) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire: %v, want ErrBusy and context.Canceled", err)
	}
}

// TestGateMaxConcurrent: many callers, never more than the gate's slots
// running at once.
func TestGateMaxConcurrent(t *testing.T) {
	const slots, callers = 3, 64
	g := NewGate(slots, time.Hour)
	var running, peak atomic.Int32
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			release, err := g.Acquire(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			n := running.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			runtime.Gosched() // let others run while holding the slot (no sleep: nothing here waits on time)
			running.Add(-1)
			release()
		})
	}
	wg.Wait()
	if p := peak.Load(); p > slots || p < 1 {
		t.Errorf("peak concurrency %d, want 1..%d", p, slots)
	}
	if g.InUse() != 0 {
		t.Errorf("InUse = %d after all released", g.InUse())
	}
}
