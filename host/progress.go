package host

import (
	"context"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// progress forwards a call's progress to a client that asked for it (sent a
// progress token). MCP requires each notification's progress to be larger
// than the last, so the host's own start and finish reports and the
// guest's reports share one strictly increasing counter.
type progress struct {
	ctx   context.Context
	req   *mcp.CallToolRequest
	token any
	q     *notifier // sends, in order with the call's log messages

	mu        sync.Mutex
	last      float64
	lastTotal float64 // the total the guest last declared; 0 = unknown
	sent      bool    // the guest reported progress itself
}

func newProgress(ctx context.Context, req *mcp.CallToolRequest, q *notifier) *progress {
	p := &progress{ctx: ctx, req: req, q: q}
	if req.Params != nil {
		p.token = req.Params.GetProgressToken()
	}
	p.last = -1
	return p
}

// notify queues one notification: the guest's (fromGuest) are dropped
// when the client is too slow to take them, the host's wait for room.
func (p *progress) notify(value, total float64, msg string, fromGuest bool) {
	if p.token == nil || p.req.Session == nil {
		return
	}
	params := &mcp.ProgressNotificationParams{ProgressToken: p.token, Progress: value, Message: msg}
	if total > 0 {
		params.Total = total
	}
	send := func() { _ = p.req.Session.NotifyProgress(p.ctx, params) }
	if fromGuest {
		p.q.try(send)
	} else {
		p.q.wait(p.ctx, send)
	}
}

// start is sent before the instance is created.
//
// start and finish bracket the guest's run, so no report runs beside
// them; they decide what to send under p.mu and queue it after unlocking:
// queuing waits for room, and no lock is held across a channel wait.
func (p *progress) start() {
	p.mu.Lock()
	p.last = 0
	p.mu.Unlock()
	p.notify(0, 0, "started", false)
}

// report forwards the guest's own progress, dropping values that do not
// move forward.
func (p *progress) report(value, total float64, msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if value <= p.last {
		return
	}
	p.last = value
	p.sent = true
	if total > 0 {
		p.lastTotal = total
	}
	p.notify(value, total, msg, true) // try: never waits
}

// finish reports the end of the instance, whatever the outcome, without
// contradicting the guest: if it declared a total and reached it, nothing
// more is sent; if it declared one and stopped short, the total is sent;
// if it reported nothing, 1 of 1.
func (p *progress) finish() {
	p.mu.Lock()
	send := true
	var value, total float64
	switch {
	case !p.sent:
		p.last = 1
		value, total = 1, 1
	case p.lastTotal > 0 && p.last < p.lastTotal:
		p.last = p.lastTotal
		value, total = p.lastTotal, p.lastTotal
	case p.lastTotal <= 0:
		p.last++
		value = p.last
	default:
		send = false
	}
	p.mu.Unlock()
	if send {
		p.notify(value, total, "finished", false)
	}
}
