package host

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestNotifier: a stuck client never blocks the guest's hooks (try drops
// past the queue and counts), what was queued is sent in order, and drain
// waits for it.
func TestNotifier(t *testing.T) {
	t.Parallel()
	n := newNotifier()
	release := make(chan struct{})
	var mu sync.Mutex
	var sent []int
	record := func(i int) func() {
		return func() {
			<-release // the client is not reading
			mu.Lock()
			sent = append(sent, i)
			mu.Unlock()
		}
	}
	n.wait(context.Background(), record(-1)) // the host's "started"
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 2 * notifyQueue {
			n.try(record(i))
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("try blocked behind a stuck client")
	}
	close(release)
	if dropped := n.drain(context.Background()); dropped < notifyQueue || dropped > notifyQueue+1 { // +1: "started" may still sit in the queue
		t.Fatalf("dropped %d, want about %d", dropped, notifyQueue)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(sent) < notifyQueue || sent[0] != -1 || !slices.IsSorted(sent) {
		t.Fatalf("sent %d notifications, in order %v, first %d", len(sent), slices.IsSorted(sent), sent[0])
	}
	n.try(record(0)) // after drain: dropped, no panic
}

// TestNotifierDrainGivesUp: drain returns when its ctx ends even if the
// client never reads.
func TestNotifierDrainGivesUp(t *testing.T) {
	t.Parallel()
	n := newNotifier()
	block := make(chan struct{})
	defer close(block)
	n.try(func() { <-block })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	n.drain(ctx) // must return: the test would hang otherwise
}

// TestNotifierIdle: a call that sends nothing starts no goroutine, and
// drain returns at once.
func TestNotifierIdle(t *testing.T) {
	t.Parallel()
	n := newNotifier()
	if got := n.drain(context.Background()); got != 0 || n.ch != nil {
		t.Fatalf("drain = %d, queue %v", got, n.ch)
	}
}

// TestTryDoesNotWaitBehindWait: while the host's own report waits for room
// in a full queue (a slow client), a guest's notification is dropped at
// once: no lock is held across that wait.
func TestTryDoesNotWaitBehindWait(t *testing.T) {
	t.Parallel()
	n := newNotifier()
	release := make(chan struct{})
	n.try(func() { <-release }) // the sender is stuck on this one
	for range notifyQueue {
		n.try(func() {})
	}
	waiting := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		close(waiting)
		n.wait(ctx, func() {})
	}()
	<-waiting
	tried := make(chan struct{})
	go func() {
		n.try(func() {}) // must not block on the waiting sender
		close(tried)
	}()
	select {
	case <-tried:
	case <-time.After(60 * time.Second):
		t.Fatal("try blocked behind wait")
	}
	close(release)
	if dropped := n.drain(context.Background()); dropped < 1 {
		t.Fatalf("dropped = %d, want the guest's extra notification dropped", dropped)
	}
}
