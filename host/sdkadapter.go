package host

// The one adapter between moat's HTTP stages and the MCP handlers the
// go-sdk runs (dispatch and callHandler, mcp.go).
//
// The HTTP stages learn the facts of a request: the client's address
// (the connection's), its protocol era, its JSON-RPC head (parsed once,
// parseHead), its trace span, its principal and the snapshot it runs
// under. The go-sdk runs the MCP handlers of a session under the
// session's context, not the request's, so a value in r.Context() does not
// reach them; what it does hand a handler of every request is
// RequestExtra{TokenInfo, Header}, where Header is the very http.Header
// map of the HTTP request and TokenInfo the very pointer the authenticate
// stage put in the request's context (go-sdk v1.8.0, streamable.go
// servePOST; pinned by TestSDKPassesRequestIdentity).
//
// So one callContext per request is made by an early HTTP stage
// (openCall), completed once the request is authenticated (bindCall), and,
// for a request the go-sdk serves, registered under the identity of the
// request's header map for as long as it does (handOver). A handler finds it with callOf. No
// header is added to the request and no request is made up: a client's
// X-Moat-Client-Addr or Moat-Internal-Span header is an unknown header
// like any other.
//
// Fail closed: a handler that cannot find its request's call context (its
// HTTP request has ended, or the go-sdk handed over another TokenInfo)
// gets none, never another request's; tools/call and tools/list are then
// refused. A header map's address cannot be reused by another request
// while it is registered (the request holds it) nor while a handler still
// holds it (the handler does), so an address found is always this
// request's.
//
// stdio (and in-memory transports in tests) hand over no header: their
// call context is built directly, as is the direct path's
// (fastcall.go).

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"sync"
	"unsafe"

	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/moatmcp/moat/internal/auth"
	"github.com/moatmcp/moat/internal/telemetry"
)

// The protocol eras of a call context.
const (
	eraStateless = statelessEra // MCP 2026-07-28 over HTTP: each request stands alone
	eraSession   = "session"    // 2025-11-25 and older over HTTP: within an MCP session
	eraLocal     = "local"      // stdio (or an in-memory transport): no HTTP request at all
)

// callContext is what moat knows of one request, for every stage after
// the one that learns it and for the MCP handlers.
//
// # Notes
//
//   - Written only by the HTTP stages (openCall, then bindCall), before
//     the go-sdk or the direct path sees the request; read-only after
//     that, so handlers on other goroutines read it without a lock (the
//     go-sdk hands the request over through a channel).
type callContext struct {
	// addr is the client's address: the host of the connection's
	// RemoteAddr; "" for stdio.
	addr string
	// era is eraStateless, eraSession or eraLocal.
	era string
	// head is the request's JSON-RPC head (parseHead); an empty one for
	// stdio and for requests that are not POSTs.
	head *requestHead
	// span is the request span the HTTP trace stage started; the zero
	// Span with tracing off, and for stdio.
	span telemetry.Span
	// tokenInfo is what the authenticate stage handed the go-sdk; nil
	// without authentication. callOf accepts a handler's RequestExtra
	// only with this very pointer.
	tokenInfo *sdkauth.TokenInfo
	// principal is the caller, from tokenInfo (auth.FromTokenInfo) or,
	// without authentication, the snapshot's fallback; nil is nobody, who
	// may use nothing.
	principal *auth.Principal
	// snap is the snapshot the request runs under; nil until bindCall.
	snap *snapshot
	// request is the HTTP request's own context, kept only for its end:
	// done when the request returns or its client goes away; nil for
	// stdio.
	request context.Context
}

type callKey struct{}

// callOfRequest is the call context the HTTP stages keep in r.Context();
// nil before openCall (or when it did not run).
func callOfRequest(r *http.Request) *callContext {
	if h := holdOf(r); h != nil && h.state.ccSet {
		return &h.state.cc
	}
	cc, _ := r.Context().Value(callKey{}).(*callContext)
	return cc
}

// connAddr is the host part of a connection's RemoteAddr.
func connAddr(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}

// openCall is the early HTTP stage that makes the request's call context
// from what is known once the head is parsed: the connection's address,
// the era and the head.
func openCall(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		era := eraSession
		if isStatelessEra(r) {
			era = eraStateless
		}
		cc, inHold := ccSlot(r) // reqstate.go
		*cc = callContext{addr: connAddr(r.RemoteAddr), era: era, head: headOf(r), request: r.Context()}
		if !inHold {
			r = r.WithContext(context.WithValue(r.Context(), callKey{}, cc))
		}
		next.ServeHTTP(w, r)
	})
}

// bindCall is the HTTP stage, after authentication and the limits, that
// completes the call context (principal, snapshot, span). handOver
// registers it for the go-sdk's handlers; the direct path reads it from
// the request's context and needs no registration.
func (s *Server) bindCall(snap *snapshot) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			cc := callOfRequest(r)
			if cc == nil { // openCall did not run: a wiring bug
				cc = &callContext{addr: connAddr(r.RemoteAddr), era: eraSession, head: headOf(r), request: r.Context()}
				r = r.WithContext(context.WithValue(r.Context(), callKey{}, cc))
			}
			ti := sdkauth.TokenInfoFromContext(r.Context())
			cc.tokenInfo = ti
			cc.snap, cc.principal = callerOf(snap, ti)
			cc.span = telemetry.Request(r.Context())
			next.ServeHTTP(w, r)
		})
	}
}

// handOver is the last HTTP stage, in front of the go-sdk's handler: it
// registers the request's call context under the identity of its header
// map (callOf finds it there) until the request returns.
func (s *Server) handOver(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cc := callOfRequest(r)
		key := headerIdentity(r.Header)
		if cc == nil || key == nil || !s.calls.add(key, cc) {
			// No call context (a wiring bug), or another request
			// registered under this very header map (impossible for
			// requests net/http made): refuse rather than let a handler
			// see nothing or another request's facts.
			var id json.RawMessage
			if cc != nil {
				id = cc.head.ID
			}
			errID := newErrorID()
			s.log.Error("request refused: its call context could not be registered", "error_id", errID)
			writeJSONRPCError(w, http.StatusInternalServerError, id, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: fmt.Sprintf("internal error (error id %s)", errID)})
			return
		}
		defer s.calls.remove(key)
		next.ServeHTTP(w, r)
	})
}

// callerOf is the snapshot and principal of a request that came with ti
// (nil without authentication) to the stack of snap: the principal the
// authenticator verified, from ti; without ti, the snapshot's fallback
// (stdio's local principal, the anonymous one of --no-auth, or nobody).
// A ti that names another snapshot than snap, or none, is not ours: no
// snapshot and nobody.
func callerOf(snap *snapshot, ti *sdkauth.TokenInfo) (*snapshot, *auth.Principal) {
	if ti == nil {
		if snap == nil {
			return nil, nil
		}
		return snap, snap.fallback
	}
	own, ok := ti.Extra[snapshotExtraKey].(*snapshot)
	if !ok || own == nil || (snap != nil && own != snap) {
		return nil, nil
	}
	p, ok := auth.FromTokenInfo(ti)
	if !ok {
		return own, nil
	}
	return own, p
}

// headerIdentity is the identity of a request's header map: the address
// of the map itself, which the go-sdk hands every handler of the request
// (RequestExtra.Header). nil for a nil map.
func headerIdentity(h http.Header) unsafe.Pointer {
	if h == nil {
		return nil
	}
	return reflect.ValueOf(h).UnsafePointer()
}

// callRegistry holds the call contexts of the requests the go-sdk is
// serving, by headerIdentity.
//
// # Notes
//
//   - Safe for concurrent use. A key is present exactly while its
//     request is in handOver's next.
type callRegistry struct{ m sync.Map } // unsafe.Pointer → *callContext

// add registers cc under key; false if key is taken.
func (c *callRegistry) add(key unsafe.Pointer, cc *callContext) bool {
	_, taken := c.m.LoadOrStore(key, cc)
	return !taken
}

func (c *callRegistry) remove(key unsafe.Pointer) { c.m.Delete(key) }

func (c *callRegistry) get(key unsafe.Pointer) *callContext {
	if v, ok := c.m.Load(key); ok {
		return v.(*callContext)
	}
	return nil
}

// msgCallLost answers a call whose request's call context cannot be
// found: its HTTP request ended before the go-sdk ran the handler (the
// client went away), or the handler was handed something moat did not
// register.
const msgCallLost = "request no longer in progress; retry it"

// callOf is the call context of an MCP request, found from what the
// go-sdk handed its handler, and the function that releases it. ok is
// false when there is none to be had: a request over HTTP whose context
// is not registered (or was registered with another TokenInfo), or no
// snapshot to run under (the server is closing).
//
// Without a header (stdio, in-memory transports) the context is built
// here: the snapshot serving now, held until release, and its fallback
// principal, unless a TokenInfo says otherwise (verified as over HTTP).
func (s *Server) callOf(extra *mcp.RequestExtra) (cc *callContext, release func(), ok bool) {
	if extra == nil || extra.Header == nil {
		snap := s.acquire()
		if snap == nil {
			return nil, nil, false
		}
		var ti *sdkauth.TokenInfo
		if extra != nil {
			ti = extra.TokenInfo
		}
		own, p := callerOf(snap, ti)
		if own == nil {
			snap.release()
			return nil, nil, false
		}
		return &callContext{era: eraLocal, head: &requestHead{}, tokenInfo: ti, principal: p, snap: own}, snap.release, true
	}
	cc = s.calls.get(headerIdentity(extra.Header))
	if cc == nil || cc.tokenInfo != extra.TokenInfo || cc.snap == nil {
		return nil, nil, false
	}
	// The HTTP request holds cc.snap until it returns, and the handler of
	// a request runs before it does (else cc would not be registered).
	return cc, func() {}, true
}

type callCtxKey struct{}

// withCall puts cc in the context dispatch hands the go-sdk's next
// handler, so callHandler does not look it up again.
func withCall(ctx context.Context, cc *callContext) context.Context {
	return context.WithValue(ctx, callCtxKey{}, cc)
}

// callIn is the call context withCall put in ctx; nil when none.
func callIn(ctx context.Context) *callContext {
	cc, _ := ctx.Value(callCtxKey{}).(*callContext)
	return cc
}

// stopWithRequest makes ctx end when cc's HTTP request goes away. For
// protocol versions before 2026-07-28 the go-sdk runs a session's call
// under the session's context and keeps it running when its request goes
// away, so that a client could resume the stream; moat keeps no event
// store, so nothing can resume, and a guest would otherwise burn its
// whole timeout for nobody. (A request that ended normally had its answer
// already: ending ctx then changes nothing.)
func stopWithRequest(ctx context.Context, cc *callContext) (context.Context, func()) {
	if cc == nil || cc.request == nil {
		return ctx, func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(cc.request, cancel)
	return ctx, func() {
		stop()
		cancel()
	}
}
