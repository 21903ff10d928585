package host

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/moatmcp/moat/internal/auth"
	"github.com/moatmcp/moat/internal/state"
)

// sessionCap bounds the live MCP sessions over HTTP, in total and per
// principal. A session holds memory in the go-sdk from its initialize
// request until the client ends it (DELETE) or it idles out
// (sessionTimeout); without a cap one authenticated caller could
// open sessions until the host runs out of memory, each request well
// within its rate.
//
// It sits after authentication and the per-principal rate limit. A POST
// without an Mcp-Session-Id header is the only request that can create a
// session: it takes a slot first (so concurrent initializations cannot
// overshoot), which becomes the session's when the response names one,
// and is given back otherwise. When a principal or the host is at its cap,
// the slots of this replica's sessions the go-sdk has since closed (timed
// out) are reclaimed before the request is refused.
//
// The counts live in a state.Store: this process's memory, or Redis when
// [state] url is set, so that the caps hold across every replica together.
// Each slot lapses on its own (sessionSlotTTL after it was last touched),
// so the sessions of a replica that died free their slots without it; a
// live session's slot is touched again as it is used. The slot kinds are
// generic (slotKey): listen streams will count the same way.
//
// The caps come from the serving snapshot ([server] max_sessions and
// max_sessions_per_principal); the counts outlive snapshots.
type sessionCap struct {
	live    func() map[string]bool // ids of the go-sdk's live sessions
	limited func()                 // metrics
	store   state.Store
	now     func() time.Time

	mu    sync.Mutex
	owner map[string]*ownedSession // this replica's sessions: id → owner
	count map[string]int           // principal id → this replica's sessions and pending slots
	total int                      // sum of count
}

type ownedSession struct {
	principal string
	touched   time.Time
}

// sessionSlotTTL is how long a session's slot outlives its last touch: the
// go-sdk's idle timeout, plus the slack of touching at most every quarter
// of it (sessionTouchEvery), plus a minute.
const (
	sessionSlotTTL    = sessionTimeout*4/3 + time.Minute
	sessionTouchEvery = sessionSlotTTL / 4
	// pendingSlotTTL bounds a slot reserved for an initialize request
	// that has not answered yet.
	pendingSlotTTL = time.Minute
)

// slotKey is the counter of one kind of slot ("sessions", later
// "streams") for a principal (even "", a request without one);
// slotTotal is the counter of all principals together.
func slotKey(kind, principal string) string { return kind + ":p:" + principal }

func slotTotal(kind string) string { return kind + ":all" }

func newSessionCap(server *mcp.Server, store state.Store, limited func()) *sessionCap {
	live := func() map[string]bool {
		ids := map[string]bool{}
		for s := range server.Sessions() {
			ids[s.ID()] = true
		}
		return ids
	}
	return &sessionCap{live: live, limited: limited, store: store, now: time.Now, owner: map[string]*ownedSession{}, count: map[string]int{}}
}

// middleware applies the caps max (in total) and perPrincipal; a refused
// request is answered by refuse, one whose slot could not be counted (the
// store is down) by fail.
func (c *sessionCap) middleware(next http.Handler, max, perPrincipal int, refuse func(http.ResponseWriter, *http.Request, string), fail func(http.ResponseWriter, *http.Request, error)) http.Handler {
	if max <= 0 {
		max = 4096
	}
	if perPrincipal <= 0 {
		perPrincipal = min(256, max)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sid := r.Header.Get("Mcp-Session-Id")
		switch {
		case isStatelessEra(r):
			// A 2026-07-28 request never opens a session and takes no
			// slot; a session id it carries is ignored (era.go), so it
			// does not keep that session alive either.
			next.ServeHTTP(w, r)
		case r.Method == http.MethodPost && sid == "":
			// Only such a request can open a session (an initialize);
			// a 2026-07-28 request never does, and takes no slot.
			p := ""
			if pr, ok := auth.FromContext(r.Context()); ok {
				p = pr.ID
			}
			pending := "pending:" + newErrorID() + newErrorID()
			msg, err := c.take(r.Context(), p, pending, max, perPrincipal)
			if err != nil {
				fail(w, r, err)
				return
			}
			if msg != "" {
				if c.limited != nil {
					c.limited()
				}
				refuse(w, r, msg)
				return
			}
			// Settle when the headers go out, before the client can read
			// them and act on the session (a reload that ends a revoked
			// key's sessions must find it).
			sw := &settleWriter{ResponseWriter: w, settle: func(id string) { c.settle(r.Context(), p, pending, id) }}
			next.ServeHTTP(sw, r)
			sw.done()
		case r.Method == http.MethodDelete && sid != "":
			next.ServeHTTP(w, r)
			c.release(sid)
		case sid != "":
			c.touch(r.Context(), sid)
			next.ServeHTTP(w, r)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// take reserves a slot (member pending) for a new session of principal p,
// or says why not; err is the store's.
func (c *sessionCap) take(ctx context.Context, p, pending string, max, perPrinc int) (refusal string, err error) {
	counters := []state.Counter{{Key: slotKey("sessions", p), Max: perPrinc}, {Key: slotTotal("sessions"), Max: max}}
	ok, err := c.store.Acquire(ctx, pending, pendingSlotTTL, counters...)
	if err == nil && !ok && c.reclaim(ctx) > 0 {
		ok, err = c.store.Acquire(ctx, pending, pendingSlotTTL, counters...)
	}
	if err != nil {
		return "", err
	}
	if !ok {
		n, err := c.store.Count(ctx, counters[0].Key)
		if err != nil {
			return "", err
		}
		if n >= perPrinc {
			return "too many open sessions for this caller (" + strconv.Itoa(perPrinc) + "); end unused ones (HTTP DELETE with their Mcp-Session-Id) or wait for them to idle out", nil
		}
		return "the server has too many open sessions; retry later", nil
	}
	c.mu.Lock()
	c.count[p]++
	c.total++
	c.mu.Unlock()
	return "", nil
}

// settle makes p's reserved slot session id's, or gives it back when the
// request made no session. Store errors here are not the client's: the
// slot lapses on its own.
func (c *sessionCap) settle(ctx context.Context, p, pending, id string) {
	keys := []string{slotKey("sessions", p), slotTotal("sessions")}
	ctx = context.WithoutCancel(ctx)
	c.mu.Lock()
	_, dup := c.owner[id]
	if id == "" || dup {
		c.drop(p)
	} else {
		c.owner[id] = &ownedSession{principal: p, touched: c.now()}
	}
	c.mu.Unlock()
	if id != "" && !dup {
		_ = c.store.Touch(ctx, id, sessionSlotTTL, keys...)
	}
	_ = c.store.Release(ctx, pending, keys...)
}

// touch keeps a live session's slot from lapsing, at most every
// sessionTouchEvery.
func (c *sessionCap) touch(ctx context.Context, id string) {
	c.mu.Lock()
	o := c.owner[id]
	now := c.now()
	if o == nil || now.Sub(o.touched) < sessionTouchEvery {
		c.mu.Unlock()
		return
	}
	o.touched = now
	p := o.principal
	c.mu.Unlock()
	_ = c.store.Touch(ctx, id, sessionSlotTTL, slotKey("sessions", p), slotTotal("sessions"))
}

// release frees the slot of a session the client ended (or a reload
// revoked).
func (c *sessionCap) release(id string) {
	c.mu.Lock()
	o, ok := c.owner[id]
	if ok {
		delete(c.owner, id)
		c.drop(o.principal)
	}
	c.mu.Unlock()
	if ok {
		_ = c.store.Release(context.Background(), id, slotKey("sessions", o.principal), slotTotal("sessions"))
	}
}

// reclaim frees the slots of this replica's sessions the go-sdk no longer
// has (timed out), and returns how many.
func (c *sessionCap) reclaim(ctx context.Context) int {
	live := c.live()
	var gone []string
	c.mu.Lock()
	for id := range c.owner {
		if !live[id] {
			gone = append(gone, id)
		}
	}
	c.mu.Unlock()
	for _, id := range gone {
		c.release(id)
	}
	return len(gone)
}

// sessionsOf returns the ids of this replica's sessions whose principal
// matches.
func (c *sessionCap) sessionsOf(match func(principal string) bool) map[string]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := map[string]bool{}
	for id, o := range c.owner {
		if match(o.principal) {
			ids[id] = true
		}
	}
	return ids
}

// drop forgets one of p's local slots. Called with c.mu held.
func (c *sessionCap) drop(p string) {
	c.total--
	if c.count[p]--; c.count[p] <= 0 {
		delete(c.count, p)
	}
}

// settleWriter settles a session slot once, when the response's headers
// are written (or when the handler returns without writing any).
type settleWriter struct {
	http.ResponseWriter
	settle  func(id string)
	settled bool
}

func (w *settleWriter) once() {
	if !w.settled {
		w.settled = true
		w.settle(w.Header().Get("Mcp-Session-Id"))
	}
}

func (w *settleWriter) WriteHeader(code int) {
	w.once()
	w.ResponseWriter.WriteHeader(code)
}

func (w *settleWriter) Write(b []byte) (int, error) {
	w.once()
	return w.ResponseWriter.Write(b)
}

func (w *settleWriter) Flush() {
	w.once()
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *settleWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *settleWriter) done() { w.once() }
