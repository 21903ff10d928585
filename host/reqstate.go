package host

import (
	"net/http"

	"github.com/moatmcp/moat/internal/auth"
	"github.com/moatmcp/moat/internal/ratelimit"
)

// stageFacts is what the early HTTP stages learn of one request, kept
// in its hold (Handler) instead of one context value each: parseHead's
// head and openCall's call context, in the one allocation Handler makes
// per request. Each context value cost a context and a shallow copy of
// the http.Request (WithContext), per stage and per call.
//
// # Notes
//
//   - Written only by parseHead, openCall and the limit stages
//     (limiterKey), on the request's goroutine, before any later stage or
//     handler reads it; read-only after that.
//   - A stage run without Handler in front (tests) finds no hold and
//     keeps its value in the context as before (headKey, callKey).
type stageFacts struct {
	head    requestHead
	headSet bool // parseHead filled head
	cc      callContext
	ccSet   bool // openCall filled cc

	// The limiter key of keyFor at keyAddr (limiterKey).
	key     string
	rate    ratelimit.Rate
	keyFor  *auth.Principal
	keyAddr string
	keySet  bool
}

// holdOf is the request's hold, or nil outside Handler.
func holdOf(r *http.Request) *hold {
	h, _ := r.Context().Value(holdKey{}).(*hold)
	return h
}

// headSlot is where parseHead writes r's head: in r's hold (inHold, and
// r needs no new context), else a new one for the context.
func headSlot(r *http.Request) (head *requestHead, inHold bool) {
	if h := holdOf(r); h != nil && !h.state.headSet {
		h.state.headSet = true
		return &h.state.head, true
	}
	return &requestHead{}, false
}

// ccSlot is where openCall writes r's call context, as headSlot.
func ccSlot(r *http.Request) (cc *callContext, inHold bool) {
	if h := holdOf(r); h != nil && !h.state.ccSet {
		h.state.ccSet = true
		return &h.state.cc, true
	}
	return &callContext{}, false
}

// limiterKey is the limiter key and rate of r's principal p (nil: none,
// keyed by the client's address), kept in r's hold: the request ceiling
// and the call rate both need it, and each key is a string built anew.
// The kept key is used only for the same principal and address.
func limiterKey(r *http.Request, p *auth.Principal) (string, ratelimit.Rate) {
	h := holdOf(r)
	if h != nil && h.state.keySet && h.state.keyFor == p && h.state.keyAddr == r.RemoteAddr {
		return h.state.key, h.state.rate
	}
	key, rate := ratelimit.PrincipalKey("", r.RemoteAddr), ratelimit.Rate{}
	if p != nil {
		key, rate = ratelimit.PrincipalKey(p.ID, r.RemoteAddr), p.Rate
	}
	if h != nil {
		h.state.key, h.state.rate, h.state.keyFor, h.state.keyAddr, h.state.keySet = key, rate, p, r.RemoteAddr, true
	}
	return key, rate
}
