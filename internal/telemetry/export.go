package telemetry

import (
	"context"
	"sync"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

const (
	defaultMaxBatch = 512
	batchDelay      = time.Second
)

// queue is the span processor: finished, sampled spans go to a bounded
// channel that one goroutine drains in batches to the exporter. It is the
// SDK's BatchSpanProcessor without its blocking option and with drops
// counted: OnEnd never waits (a full queue drops the span), and a batch
// whose export fails or outlasts the timeout is dropped too. Either way
// onDrop learns how many.
type queue struct {
	exp     sdktrace.SpanExporter
	ch      chan sdktrace.ReadOnlySpan
	max     int
	timeout time.Duration
	onDrop  func(int)

	flush chan chan struct{}
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
}

var _ sdktrace.SpanProcessor = (*queue)(nil)

func newQueue(exp sdktrace.SpanExporter, size, maxBatch int, timeout time.Duration, onDrop func(int)) *queue {
	if maxBatch <= 0 {
		maxBatch = defaultMaxBatch
	}
	if onDrop == nil {
		onDrop = func(int) {}
	}
	q := &queue{exp: exp, ch: make(chan sdktrace.ReadOnlySpan, size), max: maxBatch, timeout: timeout, onDrop: onDrop,
		flush: make(chan chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	go q.run()
	return q
}

// OnStart implements sdktrace.SpanProcessor: nothing to do.
func (q *queue) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// OnEnd implements sdktrace.SpanProcessor: queue the span or drop it.
func (q *queue) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() {
		return
	}
	select {
	case <-q.stop:
		q.onDrop(1)
		return
	default:
	}
	select {
	case q.ch <- s:
	default:
		q.onDrop(1)
	}
}

func (q *queue) run() {
	defer close(q.done)
	batch := make([]sdktrace.ReadOnlySpan, 0, q.max)
	tick := time.NewTicker(batchDelay)
	defer tick.Stop()
	send := func() {
		if len(batch) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), q.timeout)
		if err := q.exp.ExportSpans(ctx, batch); err != nil {
			q.onDrop(len(batch))
		}
		cancel()
		clear(batch)
		batch = batch[:0]
	}
	drain := func() {
		for {
			select {
			case s := <-q.ch:
				batch = append(batch, s)
				if len(batch) == q.max {
					send()
				}
			default:
				send()
				return
			}
		}
	}
	for {
		select {
		case s := <-q.ch:
			batch = append(batch, s)
			if len(batch) == q.max {
				send()
			}
		case <-tick.C:
			send()
		case ack := <-q.flush:
			drain()
			close(ack)
		case <-q.stop:
			drain()
			return
		}
	}
}

// ForceFlush implements sdktrace.SpanProcessor: export what is queued.
func (q *queue) ForceFlush(ctx context.Context) error {
	ack := make(chan struct{})
	select {
	case q.flush <- ack:
	case <-q.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ack:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Shutdown implements sdktrace.SpanProcessor: export what is queued
// (bounded by ctx) and stop.
func (q *queue) Shutdown(ctx context.Context) error {
	q.once.Do(func() { close(q.stop) })
	select {
	case <-q.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return q.exp.Shutdown(ctx)
}
