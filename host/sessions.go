package host

import (
	"net/http"
	"strconv"
	"sync"

	"github.com/moatmcp/moat/host/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// sessionCap bounds the live MCP sessions over HTTP, in total and per
// principal. A session holds memory in the go-sdk from its initialize
// request until the client ends it (DELETE) or it idles out
// (Options.SessionTimeout); without a cap one authenticated caller could
// open sessions until the host runs out of memory, each request well
// within its rate.
//
// It sits after authentication and the per-principal rate limit. A POST
// without an Mcp-Session-Id header is the only request that can create a
// session: it takes a slot first (so concurrent initializations cannot
// overshoot), which becomes the session's when the response names one,
// and is given back otherwise. When a principal or the host is at its cap,
// the slots of sessions the go-sdk has since closed (timed out) are
// reclaimed before the request is refused.
//
// The caps come from the serving snapshot ([server] max_sessions and
// max_sessions_per_principal), the counts live here, across reloads.
type sessionCap struct {
	live    func() map[string]bool // ids of the go-sdk's live sessions
	limited func()                 // metrics
	mu      sync.Mutex
	owner   map[string]string // session id → principal id
	count   map[string]int    // principal id → sessions and pending slots
	total   int               // sum of count
}

func newSessionCap(server *mcp.Server, limited func()) *sessionCap {
	live := func() map[string]bool {
		ids := map[string]bool{}
		for s := range server.Sessions() {
			ids[s.ID()] = true
		}
		return ids
	}
	return &sessionCap{live: live, limited: limited, owner: map[string]string{}, count: map[string]int{}}
}

// middleware applies the caps max (in total) and perPrincipal; a refused
// request is answered by refuse.
func (c *sessionCap) middleware(next http.Handler, max, perPrincipal int, refuse func(http.ResponseWriter, *http.Request, string)) http.Handler {
	if max <= 0 {
		max = 4096
	}
	if perPrincipal <= 0 {
		perPrincipal = min(256, max)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sid := r.Header.Get("Mcp-Session-Id")
		switch {
		case r.Method == http.MethodPost && sid == "":
			p := ""
			if pr, ok := auth.FromContext(r.Context()); ok {
				p = pr.ID
			}
			if msg := c.take(p, max, perPrincipal); msg != "" {
				if c.limited != nil {
					c.limited()
				}
				refuse(w, r, msg)
				return
			}
			// Settle when the headers go out, before the client can read
			// them and act on the session (a reload that ends a revoked
			// key's sessions must find it).
			sw := &settleWriter{ResponseWriter: w, settle: func(id string) { c.settle(p, id) }}
			next.ServeHTTP(sw, r)
			sw.done()
		case r.Method == http.MethodDelete && sid != "":
			next.ServeHTTP(w, r)
			c.release(sid)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// take reserves a slot for a new session of principal p, or says why not.
func (c *sessionCap) take(p string, max, perPrinc int) (refusal string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.count[p] >= perPrinc || c.total >= max {
		c.reclaim()
	}
	switch {
	case c.count[p] >= perPrinc:
		return "too many open sessions for this caller (" + strconv.Itoa(perPrinc) + "); end unused ones (HTTP DELETE with their Mcp-Session-Id) or wait for them to idle out"
	case c.total >= max:
		return "the server has too many open sessions; retry later"
	}
	c.count[p]++
	c.total++
	return ""
}

// settle makes p's reserved slot session id's, or gives it back when the
// request made no session.
func (c *sessionCap) settle(p, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, dup := c.owner[id]; id == "" || dup {
		c.drop(p)
		return
	}
	c.owner[id] = p
}

// release frees the slot of a session the client ended.
func (c *sessionCap) release(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.owner[id]; ok {
		delete(c.owner, id)
		c.drop(p)
	}
}

// reclaim frees the slots of sessions the go-sdk no longer has (timed
// out). Called with c.mu held; it walks the go-sdk's live sessions.
func (c *sessionCap) reclaim() {
	live := c.live()
	for id, p := range c.owner {
		if !live[id] {
			delete(c.owner, id)
			c.drop(p)
		}
	}
}

// sessionsOf returns the ids of the sessions whose principal matches.
func (c *sessionCap) sessionsOf(match func(principal string) bool) map[string]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := map[string]bool{}
	for id, p := range c.owner {
		if match(p) {
			ids[id] = true
		}
	}
	return ids
}

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
