package host

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/moatmcp/moat/internal/audit"
	"github.com/moatmcp/moat/internal/auth"
	"github.com/moatmcp/moat/internal/ratelimit"
	"github.com/moatmcp/moat/internal/telemetry"
	"github.com/moatmcp/moat/internal/transport"
)

// stage is one step of the HTTP path: a name for the reader, and the
// middleware.
type stage struct {
	name string
	wrap func(next http.Handler) http.Handler
}

// stack builds a snapshot's HTTP handler from one ordered list that reads
// in call-path order; the go-sdk's handler (shared by every snapshot: it
// holds the sessions) is last, and the MCP methods are answered by
// dispatch (mcp.go) under the same snapshot.
func (s *Server) stack(snap *snapshot) http.Handler {
	cfg := snap.cfg
	topts := transport.Options{
		AllowedOrigins: cfg.AllowedOrigins,
		AllowedHosts:   cfg.AllowedHosts,
		ListenAddr:     s.addr,
		MaxBodyBytes:   cfg.MaxBodyBytes,
		// The versions the go-sdk serves: any other is refused here,
		// with the request's id (transport.Options.SupportedVersions).
		SupportedVersions: mcp.SupportedProtocolVersions(),
		OnRefusal:         s.refusalAudit,
	}
	stages := []stage{
		{"transport: body cap, content type, Origin and Host checks", func(n http.Handler) http.Handler { return transport.Wrap(n, &topts) }},
		{"request head: the JSON-RPC id, method and tool name, parsed once", func(n http.Handler) http.Handler { return parseHead(s.log, n) }},
		{"call context: the connection's address, the era and the head (sdkadapter.go)", openCall},
		{"trace: the request's span, its parent from params._meta or traceparent (observe.go)", s.tel.Middleware(traceHead)},
		{"failed authentications per client address (429)", s.authFailureLimit(snap)},
		{"authenticate: API key or JWT → principal (401, 403)", telemetry.Stage("moat.authenticate", s.authenticate(snap))},
		{"audit: refuse while the audit log cannot be written (503)", s.auditGate},
		{"raw requests per principal: the flood ceiling (429)", s.requestCeiling(snap)},
		{"tool calls per principal (429)", telemetry.Stage("moat.limits", s.principalRate(snap))},
		{"open subscriptions/listen streams per principal (429)", s.listenLimit(snap)},
		{"live sessions per principal and in total (429)", s.sessionLimit(snap)},
		{"scopes: step-up for a granted tool (403 insufficient_scope)", s.scopeCheck(snap)},
		{"call context: principal, snapshot and span (sdkadapter.go)", s.bindCall(snap)},
		{"release the snapshot early for streams", releaseStreams},
		{"go-sdk errors without Go error text", func(n http.Handler) http.Handler { return sdkErrors(s.log, n) }},
		{"a plain stateless tools/call answered directly, the rest by the go-sdk", s.directCalls},
		{"the call context registered for the go-sdk's handlers (sdkadapter.go)", s.handOver},
		{"a go-sdk answer that streams nothing but its response sent as JSON (jsonanswer.go)", s.jsonAnswers},
	}
	h := s.mcpHTTP
	for i := len(stages) - 1; i >= 0; i-- {
		h = stages[i].wrap(h)
	}

	mux := http.NewServeMux()
	mux.Handle("/mcp", h)
	consoleH := s.consoleHandler(snap, &topts)
	mux.Handle("/console", consoleH)
	mux.Handle("/console/", consoleH)
	if cfg.MetricsListen == "" {
		// Behind the same authentication as /mcp.
		mux.Handle("/metrics", s.authFailureLimit(snap)(s.authenticate(snap)(s.metrics.Handler())))
	}
	if snap.authn != nil {
		for _, p := range snap.authn.MetadataPaths() {
			mux.Handle(p, snap.authn.MetadataHandler())
		}
	}
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if why := s.notReady(); why != "" {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, why+"\n")
			return
		}
		fmt.Fprintf(w, "ready: %d tools\n", len(snap.names))
	})
	return mux
}

// Handler is the whole HTTP side of the server: /mcp, /metrics (unless it
// has its own listener), the operator console under /console (console.go),
// /healthz, /readyz and the OAuth protected resource metadata. Each request runs under the snapshot serving when it arrived.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		snap := s.acquire()
		if snap == nil {
			http.Error(w, "server closed", http.StatusServiceUnavailable)
			return
		}
		h := &hold{snap: snap}
		defer h.release()
		snap.handler.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), holdKey{}, h)))
	})
}

// hold is one HTTP request's hold on its snapshot.
type hold struct {
	snap  *snapshot
	once  sync.Once
	state stageFacts // the head and call context (reqstate.go)
}

func (h *hold) release() { h.once.Do(h.snap.release) }

type holdKey struct{}

// releaseStreams lets go of the snapshot for requests that are not calls
// (a GET stream lives as long as the client likes; a DELETE runs nothing):
// they must not keep a replaced snapshot's tools open.
func releaseStreams(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			if h, ok := r.Context().Value(holdKey{}).(*hold); ok {
				h.release()
			}
		}
		next.ServeHTTP(w, r)
	})
}

// notReady says why the server should not get traffic, or "".
func (s *Server) notReady() string {
	switch {
	case s.stopping.Load():
		return "shutting down"
	case s.auditBroken() != nil:
		return "audit log cannot be written"
	case s.stateBroken() != "":
		return s.stateBroken()
	}
	return ""
}

// requestHead is what the HTTP stages need of a JSON-RPC request: parsed
// once per request (parseHead), from the body transport.Wrap has capped
// and checked.
type requestHead struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  string          `json:"method"`
	Params  headParams      `json:"params"`
	// exact: the head came from decodeHead (headdecode.go), which reads
	// keys exactly as the go-sdk does; fastcall.go serves only such
	// requests.
	exact bool
	// trace is params._meta's W3C trace context (MCP 2026-07-28); a
	// malformed one is ignored (a new trace).
	trace telemetry.Meta
	// meta is params._meta decoded (encoding/json), when quickHead
	// decoded it; else nil.
	meta map[string]any
}

type headKey struct{}

// parseHead reads a POST's body once and puts its head in the context;
// the body is handed on as a fresh reader. Params that are not an object
// or not of the method's shape, and Mcp-* headers that disagree with the
// body, are refused here with the request's id (checkHead): the go-sdk
// would answer them with its Go decoding error or echo the values.
func parseHead(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		head, inHold := headSlot(r) // reqstate.go
		if r.Method == http.MethodPost && r.Body != nil {
			body, ok := transport.Body(r) // read and checked once, not copied again
			var err error
			if !ok {
				if body, err = io.ReadAll(r.Body); err == nil {
					r.Body = io.NopCloser(bytes.NewReader(body))
				}
			}
			if err == nil {
				// The common tools/call in one decode (headdecode.go), the
				// rest with every check of head.go.
				if ok && quickHead(r, body, head) {
					if quickRefused(log, w, r, head) {
						return
					}
				} else if carefulHead(log, w, r, body, head) {
					return
				}
			}
		}
		if !inHold {
			r = r.WithContext(context.WithValue(r.Context(), headKey{}, head))
		}
		next.ServeHTTP(w, r)
	})
}

// headOf is the request's head; an empty one when parseHead did not run.
func headOf(r *http.Request) *requestHead {
	if h := holdOf(r); h != nil && h.state.headSet {
		return &h.state.head
	}
	if h, ok := r.Context().Value(headKey{}).(*requestHead); ok {
		return h
	}
	return &requestHead{}
}

// authFailureLimit refuses, before its credentials are even checked, an
// address that failed authentication too often.
func (s *Server) authFailureLimit(snap *snapshot) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if snap.authn == nil {
			return next
		}
		return s.limitStage("auth_failures", "auth_failures", func(r *http.Request) (bool, time.Duration, error) {
			blocked, wait, err := snap.limiter.Blocked(r.Context(), r.RemoteAddr)
			return !blocked, wait, err
		})(next)
	}
}

// authenticate runs the snapshot's authenticator; without one (stdio,
// --no-auth) every request is the snapshot's fallback principal.
func (s *Server) authenticate(snap *snapshot) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if snap.authn == nil {
			return next
		}
		return snap.authn.Middleware(next)
	}
}

// principalKey is the limiter key of a request's principal.
func principalKey(r *http.Request) (string, ratelimit.Rate) {
	p, ok := auth.FromContext(r.Context())
	if !ok {
		p = nil
	}
	return limiterKey(r, p) // reqstate.go: made once per request
}

// limitStage refuses with 429 the requests allow refuses; metric names the
// limit in metrics, reason in the audit record. When the state store
// cannot answer, the request is refused (stateFailure): a limit that
// cannot be checked is not a limit that passed.
func (s *Server) limitStage(metric, reason string, allow func(r *http.Request) (bool, time.Duration, error)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ok, wait, err := allow(r)
			if err != nil {
				s.stateFailure(w, r, err)
				return
			}
			if !ok {
				s.metrics.Limited(metric)
				s.refuse(w, r, wait, ratelimit.Message(wait), reason)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// requestCeiling bounds raw requests per principal: flood protection that
// a well-behaved client never meets.
func (s *Server) requestCeiling(snap *snapshot) func(http.Handler) http.Handler {
	return s.limitStage("principal", "requests", func(r *http.Request) (bool, time.Duration, error) {
		key, _ := principalKey(r)
		return snap.limiter.AllowRequest(r.Context(), key)
	})
}

// principalRate counts a principal's tool calls against its rate (an API
// key's own, else [rate_limits] per_principal). Only tools/call counts:
// the housekeeping around calls does not use up a key's calls.
func (s *Server) principalRate(snap *snapshot) func(http.Handler) http.Handler {
	return s.limitStage("principal", "principal", func(r *http.Request) (bool, time.Duration, error) {
		if headOf(r).Method != "tools/call" {
			return true, 0, nil
		}
		key, own := principalKey(r)
		return snap.limiter.AllowPrincipal(r.Context(), key, own)
	})
}

// sessionLimit caps live MCP sessions (sessions.go) at the snapshot's
// [server] max_sessions and max_sessions_per_principal.
func (s *Server) sessionLimit(snap *snapshot) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return s.caps.middleware(next, snap.cfg.MaxSessions, snap.cfg.MaxSessionsPer, func(w http.ResponseWriter, r *http.Request, msg string) {
			s.refuse(w, r, time.Minute, msg, "sessions")
		}, s.stateFailure)
	}
}

// refuse answers 429 with the request's JSON-RPC id and records the
// refusal in the audit log.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, wait time.Duration, msg, which string) {
	s.refuseWithID(w, r, wait, msg, which, "")
}

// refuseWithID is refuse whose audit record carries errorID (the id the
// message gives the client), when not "".
func (s *Server) refuseWithID(w http.ResponseWriter, r *http.Request, wait time.Duration, msg, which, errorID string) {
	head := headOf(r)
	rec := audit.Record{Event: audit.EventRefusal, Outcome: audit.OutcomeLimited, Reason: which, Status: http.StatusTooManyRequests, ClientAddr: clientAddrOf(r), ErrorID: errorID, TraceID: telemetry.TraceID(r.Context())}
	if p, ok := auth.FromContext(r.Context()); ok {
		rec.Principal, rec.AuthMethod = p.ID, p.Method
	}
	if head.Method == "tools/call" {
		rec.Tool = s.knownTool(r, head.Params.Name)
	}
	_ = s.writeAudit(rec)
	ratelimit.WriteRefusal(w, head.ID, wait, msg)
}

// refusalAudit records a refusal of the transport stage (413, 415, 403 on
// Origin or Host, 400 on a malformed body).
func (s *Server) refusalAudit(r *http.Request, status int, err error) {
	switch {
	case errors.Is(err, transport.ErrForbiddenOrigin):
		s.metrics.Denied("origin")
	case errors.Is(err, transport.ErrForbiddenHost):
		s.metrics.Denied("host")
	case errors.Is(err, transport.ErrBodyTooLarge):
		s.metrics.Denied("body_too_large")
	}
	_ = s.writeAudit(audit.Record{Event: audit.EventRefusal, Outcome: audit.OutcomeRefused, Reason: err.Error(), Status: status, ClientAddr: clientAddrOf(r)})
}

// knownTool is name when the request's snapshot serves a tool of that
// name, else "": a name the client made up is not recorded as a tool.
func (s *Server) knownTool(r *http.Request, name string) string {
	if h, ok := r.Context().Value(holdKey{}).(*hold); ok {
		if _, ok := h.snap.tools[name]; ok {
			return name
		}
	}
	return ""
}

// scopeCheck answers a tools/call for a tool the principal is granted by
// name but lacks the scopes of with 403 insufficient_scope and the scopes
// it needs, so an OAuth client can step up (MCP authorization, "Scope
// challenge handling"). Tools the principal is not granted at all are left
// to the MCP handler, which reports them as unknown.
func (s *Server) scopeCheck(snap *snapshot) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if snap.authn == nil {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, ok := auth.FromContext(r.Context())
			head := headOf(r)
			if ok && head.Method == "tools/call" {
				if t, ok := snap.tools[head.Params.Name]; ok && p.Granted(t.Name()) && !p.MayUse(t.Name(), t.Manifest.RequiredScopes) {
					s.metrics.Denied("scope")
					_ = s.writeAudit(audit.Record{Event: audit.EventRefusal, Outcome: audit.OutcomeDenied, Reason: "insufficient_scope", Status: http.StatusForbidden,
						Principal: p.ID, AuthMethod: p.Method, Tool: t.Name(), ClientAddr: clientAddrOf(r), TraceID: telemetry.TraceID(r.Context())})
					snap.authn.WriteError(w, auth.ErrInsufficientScope, t.Manifest.RequiredScopes)
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// clientAddrOf is the client's address: the call context's, else (before
// openCall) the host part of r.RemoteAddr.
func clientAddrOf(r *http.Request) string {
	if cc := callOfRequest(r); cc != nil {
		return cc.addr
	}
	return connAddr(r.RemoteAddr)
}
