package host

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/moatmcp/moat/internal/auth"
	"github.com/moatmcp/moat/internal/state"
)

// methodListen is MCP 2026-07-28's subscriptions/listen (SEP-2575): one
// POST whose SSE response stays open and carries the list_changed
// notifications the client asked for. The go-sdk serves it (in the
// stateless era: an ephemeral session per stream); moat caps, tracks and
// ends the streams.
const methodListen = "subscriptions/listen"

// listenSlotTTL is how long a listen stream's slot in the state store
// outlives its last touch; an open stream touches it every
// listenTouchEvery, so the slots of a replica that died lapse on their
// own.
const (
	listenSlotTTL    = 2 * time.Minute
	listenTouchEvery = listenSlotTTL / 4
)

// listenStreams caps the open subscriptions/listen streams per principal
// ([server] max_listen_streams_per_principal), apart from sessions: a
// stream is one long-lived POST, not a session, and a client that keeps
// one open per tab must not use up its sessions (or the other way round).
// The counts live in the same state.Store as the session caps (this
// process's memory, or Redis with [state] url, so the cap holds across
// replicas).
//
// It also knows this replica's open streams, so that a reload that
// revokes a credential ends its streams (closeOf), like its sessions, and
// shutdown ends them all (closeAll) rather than waiting out its grace.
//
// # Notes
//
//   - Safe for concurrent use. A stream is registered before its request
//     reaches the go-sdk and unregistered (and its slot released) when the
//     request returns, however it ends.
type listenStreams struct {
	store   state.Store
	limited func() // metrics
	closed  func() // a stream ended and its slot was released; nil = not told (tests' Options.events)

	mu   sync.Mutex
	open map[string]*listenStream // slot id → stream
}

type listenStream struct {
	principal string
	cancel    context.CancelFunc
}

func newListenStreams(store state.Store, limited func()) *listenStreams {
	return &listenStreams{store: store, limited: limited, open: map[string]*listenStream{}}
}

// middleware caps, registers and serves a subscriptions/listen request;
// every other request passes. A refused request is answered by refuse,
// one whose slot could not be counted (the store is down) by fail.
func (l *listenStreams) middleware(next http.Handler, perPrincipal int, refuse func(http.ResponseWriter, *http.Request, string), fail func(http.ResponseWriter, *http.Request, error)) http.Handler {
	if perPrincipal <= 0 {
		perPrincipal = 16
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || headOf(r).Method != methodListen {
			next.ServeHTTP(w, r)
			return
		}
		p := ""
		if pr, ok := auth.FromContext(r.Context()); ok {
			p = pr.ID
		}
		id := "listen:" + newErrorID() + newErrorID()
		key := slotKey("listen", p)
		ok, err := l.store.Acquire(r.Context(), id, listenSlotTTL, state.Counter{Key: key, Max: perPrincipal})
		if err != nil {
			fail(w, r, err)
			return
		}
		if !ok {
			if l.limited != nil {
				l.limited()
			}
			refuse(w, r, "too many open listen streams for this caller (at most "+strconv.Itoa(perPrincipal)+"); close one (cancel its subscriptions/listen request) before opening another")
			return
		}
		ctx, cancel := context.WithCancel(r.Context())
		l.mu.Lock()
		l.open[id] = &listenStream{principal: p, cancel: cancel}
		l.mu.Unlock()
		// The stream must not keep its snapshot's tools open past a
		// reload: it runs no tool.
		if h, ok := r.Context().Value(holdKey{}).(*hold); ok {
			h.release()
		}
		touched := make(chan struct{})
		go func() {
			defer close(touched)
			t := time.NewTicker(listenTouchEvery)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					_ = l.store.Touch(ctx, id, listenSlotTTL, key)
				}
			}
		}()
		defer func() {
			cancel()
			<-touched
			l.mu.Lock()
			delete(l.open, id)
			l.mu.Unlock()
			_ = l.store.Release(context.WithoutCancel(r.Context()), id, key)
			if l.closed != nil {
				l.closed()
			}
		}()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// closeOf ends this replica's open streams whose principal matches, and
// returns how many.
func (l *listenStreams) closeOf(match func(principal string) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.open {
		if match(s.principal) {
			s.cancel()
			n++
		}
	}
	return n
}

// closeAll ends every open stream (server shutdown).
func (l *listenStreams) closeAll() {
	l.closeOf(func(string) bool { return true })
}

// listenLimit is the stack's stage for subscriptions/listen (listen.go).
func (s *Server) listenLimit(snap *snapshot) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return s.listens.middleware(next, snap.cfg.MaxListenPer, func(w http.ResponseWriter, r *http.Request, msg string) {
			id := newErrorID()
			s.refuseWithID(w, r, time.Minute, msg+" (error id "+id+")", "listen_streams", id)
		}, s.stateFailure)
	}
}

// endListens closes the listen streams of credentials a reload revoked
// (the same rule as endSessions): their next request would be refused, and
// a stream sends without a request.
func (s *Server) endListens(ch *changeSet) int {
	if ch == nil || (len(ch.revoked) == 0 && !ch.jwtChanged) {
		return 0
	}
	return s.listens.closeOf(func(principal string) bool {
		return ch.revoked[principal] || (ch.jwtChanged && len(principal) > 4 && principal[:4] == "jwt:")
	})
}
