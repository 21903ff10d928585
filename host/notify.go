package host

import (
	"context"
	"sync"
)

// notifyQueue is how many of a call's notifications wait for a slow client
// before the guest's further ones are dropped.
const notifyQueue = 256

// notifier sends one call's notifications (moat.log, progress) in order on
// its own goroutine. The guest's hooks only queue (try), so a client that
// reads its stream slowly never stalls the guest, which holds a sandbox
// slot and a CPU while it runs; what does not fit is dropped and counted.
// The host's own start and finish reports wait for room (wait). Before the
// call's result is sent, drain waits for the queue, so notifications still
// reach the client before the response, as MCP requires.
type notifier struct {
	ch   chan func()
	done chan struct{}

	mu      sync.Mutex
	closed  bool
	dropped int
}

func newNotifier() *notifier {
	n := &notifier{ch: make(chan func(), notifyQueue), done: make(chan struct{})}
	go func() {
		defer close(n.done)
		for f := range n.ch {
			f()
		}
	}()
	return n
}

// try queues f, or drops it when the queue is full or closed.
func (n *notifier) try(f func()) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		n.dropped++
		return
	}
	select {
	case n.ch <- f:
	default:
		n.dropped++
	}
}

// wait queues f, waiting for room until ctx ends.
func (n *notifier) wait(ctx context.Context, f func()) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	select {
	case n.ch <- f:
	case <-ctx.Done():
	}
}

// drain closes the queue and waits until what is in it was sent or ctx
// ends. It returns how many notifications were dropped.
func (n *notifier) drain(ctx context.Context) (dropped int) {
	n.mu.Lock()
	if !n.closed {
		n.closed = true
		close(n.ch)
	}
	dropped = n.dropped
	n.mu.Unlock()
	select {
	case <-n.done:
	case <-ctx.Done():
	}
	return dropped
}
