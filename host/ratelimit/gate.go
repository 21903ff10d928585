package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// ErrBusy is what Gate.Acquire returns when no slot came free in time.
var ErrBusy = errors.New("too many concurrent calls")

// Gate bounds how many calls run at once (a tool's max_concurrency). A call
// waits a bounded time for a slot, then is refused: waiting forever would
// let a slow tool pile up goroutines and memory for every queued call.
//
//	release, err := gate.Acquire(ctx)
//	if err != nil { /* errors.Is(err, ErrBusy): report busy */ }
//	defer release()
//
// # Notes
//
//   - Safe for concurrent use.
//   - Waiters get slots in no guaranteed order.
type Gate struct {
	slots   chan struct{}
	maxWait time.Duration
}

// NewGate returns a gate admitting slots calls at once, each waiting up to
// maxWait for a slot. slots below 1 admits nothing (fail closed: a gate that
// was not configured must not mean "no limit"); maxWait of zero or less
// means no wait at all.
func NewGate(slots int, maxWait time.Duration) *Gate {
	return &Gate{slots: make(chan struct{}, max(slots, 0)), maxWait: maxWait}
}

// Acquire takes a slot, waiting up to the gate's maxWait or until ctx ends.
// It returns a release function that frees the slot (calling it more than
// once frees it once), or an error wrapping ErrBusy, and also ctx.Err() if
// ctx ended first.
func (g *Gate) Acquire(ctx context.Context) (release func(), err error) {
	select {
	case g.slots <- struct{}{}:
		return g.releaser(), nil
	default:
	}
	if cap(g.slots) == 0 || g.maxWait <= 0 {
		return nil, ErrBusy
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBusy, err)
	}
	timer := time.NewTimer(g.maxWait)
	defer timer.Stop()
	select {
	case g.slots <- struct{}{}:
		return g.releaser(), nil
	case <-timer.C:
		return nil, ErrBusy
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrBusy, ctx.Err())
	}
}

func (g *Gate) releaser() func() {
	var done atomic.Bool
	return func() {
		if done.CompareAndSwap(false, true) {
			<-g.slots
		}
	}
}

// InUse is the number of slots taken.
func (g *Gate) InUse() int { return len(g.slots) }

// Max is the number of slots.
func (g *Gate) Max() int { return cap(g.slots) }
