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
//
// Most calls send nothing (no progress token, no log): the queue and its
// goroutine are made on the first notification.
type notifier struct {
	mu      sync.Mutex
	ch      chan func() // nil until the first notification
	done    chan struct{}
	closed  bool
	dropped int
	// senders counts wait calls between taking the lock and their send,
	// which they make without it (a lock held across a channel wait would
	// stall the guest's try behind a slow client); drain closes ch only
	// after they are done.
	senders sync.WaitGroup
}

func newNotifier() *notifier { return &notifier{} }

// start makes the queue and its sender. Call it with n.mu held.
func (n *notifier) start() {
	if n.ch != nil {
		return
	}
	n.ch, n.done = make(chan func(), notifyQueue), make(chan struct{})
	ch, done := n.ch, n.done
	go func() {
		defer close(done)
		for f := range ch {
			f()
		}
	}()
}

// try queues f, or drops it when the queue is full or closed.
func (n *notifier) try(f func()) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		n.dropped++
		return
	}
	n.start()
	select {
	case n.ch <- f:
	default:
		n.dropped++
	}
}

// wait queues f, waiting for room until ctx ends. The wait is made
// without n.mu, so the guest's try calls meanwhile drop rather than block.
func (n *notifier) wait(ctx context.Context, f func()) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.start()
	ch := n.ch
	n.senders.Add(1)
	n.mu.Unlock()
	defer n.senders.Done()
	select {
	case ch <- f:
	case <-ctx.Done():
	}
}

// drain closes the queue and waits until what is in it was sent or ctx
// ends. It returns how many notifications were dropped.
func (n *notifier) drain(ctx context.Context) (dropped int) {
	n.mu.Lock()
	wasClosed := n.closed
	n.closed = true // no new sender from here on
	n.mu.Unlock()
	n.senders.Wait() // the sender goroutine keeps reading: they finish
	n.mu.Lock()
	if !wasClosed && n.ch != nil {
		close(n.ch)
	}
	dropped, done := n.dropped, n.done
	n.mu.Unlock()
	if done == nil {
		return dropped // nothing was ever sent
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
	return dropped
}
