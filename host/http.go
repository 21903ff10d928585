package host

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path"

	"github.com/moatmcp/moat/host/auth"
	"github.com/moatmcp/moat/host/ratelimit"
	"github.com/moatmcp/moat/host/transport"
)

// HTTPOptions configures the HTTP stack in front of the MCP handler.
type HTTPOptions struct {
	Transport transport.Options
	// Auth authenticates every request; nil means no authentication
	// (--no-auth: every caller is Options.Fallback).
	Auth *auth.Authenticator
	// Limiter applies the per-principal and failed-authentication limits;
	// nil means none.
	Limiter *ratelimit.Limiter
	// Metrics, when non-nil, is served at /metrics behind the same
	// authentication as /mcp.
	Metrics http.Handler
	// Extra handlers (health, …) mounted as they are, without auth.
	Extra map[string]http.Handler
	// MaxSessions and MaxSessionsPerPrincipal cap the live MCP sessions
	// (sessions.go); 0 means 4096 and 256.
	MaxSessions, MaxSessionsPerPrincipal int
}

// HTTPHandler returns the whole HTTP stack, in call-path order:
//
//	transport   body cap, content type, Origin and Host checks
//	            failed-authentication limit per client address (429)
//	authenticate API key or JWT → principal (401/403, RFC 9728 challenge)
//	rate limit  per principal (429 + Retry-After)
//	sessions    live MCP sessions, in total and per principal (429)
//	scopes      step-up: a granted tool whose required scopes are missing → 403 insufficient_scope
//	MCP         the go-sdk's Streamable HTTP handler (authorise, validate, sandbox… per call)
//
// plus the protected resource metadata documents, which must be reachable
// without a token.
func (h *Host) HTTPStack(opts HTTPOptions) http.Handler {
	maxBody := opts.Transport.MaxBodyBytes
	var mcpH http.Handler = cancelOnDisconnect(sdkErrors(h.log, h.HTTPHandler(maxBody)))
	if opts.Auth != nil {
		mcpH = h.scopeCheck(opts.Auth, mcpH)
	}
	maxS, perS := opts.MaxSessions, opts.MaxSessionsPerPrincipal
	if maxS <= 0 {
		maxS = 4096
	}
	if perS <= 0 {
		perS = min(256, maxS)
	}
	mcpH = newSessionCap(h.server, maxS, perS, func() { h.opts.Metrics.Limited("sessions") }).middleware(mcpH)
	if opts.Limiter != nil {
		mcpH = opts.Limiter.PrincipalMiddleware(mcpH, func(r *http.Request) (string, ratelimit.Rate) {
			p, ok := auth.FromContext(r.Context())
			if !ok {
				return "", ratelimit.Rate{}
			}
			rate, _ := ratelimit.ParseRate(p.Rate)
			return p.ID, rate
		}, func() { h.opts.Metrics.Limited("principal") })
	}
	protect := func(next http.Handler) http.Handler {
		if opts.Auth == nil {
			return next
		}
		next = opts.Auth.Middleware(next)
		if opts.Limiter != nil {
			inner := next
			next = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if blocked, wait := opts.Limiter.Blocked(r.RemoteAddr); blocked {
					h.opts.Metrics.Limited("auth_failures")
					ratelimit.WriteTooManyRequests(w, wait)
					return
				}
				inner.ServeHTTP(w, r)
			})
		}
		return next
	}
	mux := http.NewServeMux()
	mux.Handle("/mcp", transport.Wrap(WithClientAddr(protect(mcpH)), &opts.Transport))
	if opts.Metrics != nil {
		mux.Handle("/metrics", protect(opts.Metrics))
	}
	if opts.Auth != nil {
		for _, p := range opts.Auth.MetadataPaths() {
			mux.Handle(p, opts.Auth.MetadataHandler())
		}
	}
	for p, x := range opts.Extra {
		mux.Handle(p, x)
	}
	return mux
}

// scopeCheck answers a tools/call for a tool the principal is granted by
// name but lacks the scopes of with 403 insufficient_scope and the scopes
// it needs, so an OAuth client can step up (MCP authorization, "Scope
// challenge handling"). Tools the principal is not granted at all are left
// to the MCP handler, which reports them as unknown.
func (h *Host) scopeCheck(a *auth.Authenticator, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := auth.FromContext(r.Context())
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		msg, r := peekCall(r)
		if msg != nil {
			if t, ok := h.Tool(msg.Params.Name); ok && grantedByName(p, t.Name()) && !p.MayUse(t.Name(), t.Manifest.RequiredScopes) {
				h.opts.Metrics.Denied("scope")
				a.WriteError(w, auth.ErrInsufficientScope, t.Manifest.RequiredScopes)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func grantedByName(p *auth.Principal, tool string) bool {
	for _, g := range p.Tools {
		if ok, _ := path.Match(g, tool); ok {
			return true
		}
	}
	return false
}

// callMessage is what the HTTP layer needs to know of a tools/call.
type callMessage struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params struct {
		Name string `json:"name"`
	} `json:"params"`
}

type callMessageKey struct{}

// peekCall returns the request's JSON-RPC message when it is a tools/call
// POST (nil otherwise). The body is read and decoded once per request
// (transport.Wrap has already capped and checked it); pass the returned
// request on, so the next middleware that asks finds it in the context.
func peekCall(r *http.Request) (*callMessage, *http.Request) {
	if v, ok := r.Context().Value(callMessageKey{}).(*callMessage); ok {
		return v, r
	}
	var msg *callMessage
	if r.Method == http.MethodPost && r.Body != nil {
		if body, err := io.ReadAll(r.Body); err == nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
			var m callMessage
			if json.Unmarshal(body, &m) == nil && m.Method == "tools/call" {
				msg = &m
			}
		}
	}
	return msg, r.WithContext(context.WithValue(r.Context(), callMessageKey{}, msg))
}
