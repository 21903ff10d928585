// Package host wires the stages of a tool call together and serves the
// loaded tools over MCP.
//
// The path of one call, and the package that owns each stage:
//
//	transport      body cap, Origin/Host checks             host/transport
//	MCP server     go-sdk: initialize, tools/list, call     host (this package)
//	validate       arguments against the input schema       host/schema
//	sandbox        a fresh instance with only its grants    host/sandbox, host/rootfs
//	result         stdout → content / structuredContent     host (result.go)
//
// Authentication, rate limits and the audit trail slot in around the MCP
// server (issues #4 and #5). Every stage fails closed.
package host

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/moatmcp/moat/host/audit"
	"github.com/moatmcp/moat/host/auth"
	"github.com/moatmcp/moat/host/metrics"
	"github.com/moatmcp/moat/host/netpolicy"
	"github.com/moatmcp/moat/host/ratelimit"
	"github.com/moatmcp/moat/host/sandbox"
)

// Version is the host's version as it introduces itself to MCP clients.
const Version = "0.1.0"

// Options configures a Host. The zero value is usable.
type Options struct {
	// Logger receives the operator log: load errors, host faults with their
	// error ids, one line per call. nil discards it.
	Logger *slog.Logger
	// SessionTimeout closes HTTP sessions idle for this long; 0 means 30
	// minutes. Sessions hold memory, so they must not live forever.
	SessionTimeout time.Duration
	// Fallback is the principal of requests that carry no verified token:
	// stdio's local principal, or the anonymous principal of --no-auth.
	// nil (the default) means such requests may use no tool at all.
	Fallback *auth.Principal
	// Limiter applies the per principal × tool and per tool rates; nil
	// means no per-call rate limits.
	Limiter *ratelimit.Limiter
	// Audit receives one record per call; nil means none.
	Audit *audit.Logger
	// Metrics counts calls and denials; nil means none.
	Metrics *metrics.Metrics
}

// Host serves a set of loaded tools over MCP.
//
// # Notes
//
//   - Safe for concurrent use.
//   - Close closes every tool added to it.
type Host struct {
	log    *slog.Logger
	opts   Options
	server *mcp.Server

	mu    sync.RWMutex
	tools map[string]*Tool

	syncMu sync.Mutex // one Sync at a time
}

// New returns a Host with no tools.
func New(opts *Options) *Host {
	h := &Host{tools: map[string]*Tool{}}
	if opts != nil {
		h.opts = *opts
	}
	h.log = h.opts.Logger
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.opts.SessionTimeout == 0 {
		h.opts.SessionTimeout = 30 * time.Minute
	}
	h.server = mcp.NewServer(&mcp.Implementation{Name: "moat", Title: "moat tool host", Version: Version}, &mcp.ServerOptions{
		Logger: h.log,
		// Advertise tools (with list_changed for hot reload) and logging,
		// which tools use through moat.log.
		Capabilities: &mcp.ServerCapabilities{
			Tools:   &mcp.ToolCapabilities{ListChanged: true},
			Logging: &mcp.LoggingCapabilities{},
		},
		// What a caller may list depends on who the caller is, so no list
		// may be cached for anyone else, and tools change on reload.
		SetCacheable: func(_ context.Context, _ mcp.Request, c *mcp.Cacheable) {
			c.CacheScope = "private"
			c.TTLMs = 0
		},
	})
	h.server.AddReceivingMiddleware(h.listFilter)
	return h
}

// SetLimiter sets the per-call rate limiter. Call it before serving: the
// limiter's per-tool rates come from the loaded manifests.
func (h *Host) SetLimiter(l *ratelimit.Limiter) { h.opts.Limiter = l }

// SetFallback sets the principal of requests without a verified token
// (Options.Fallback). Call it before serving.
func (h *Host) SetFallback(p *auth.Principal) { h.opts.Fallback = p }

// AddTool serves t, replacing a tool of the same name (which is closed).
func (h *Host) AddTool(t *Tool) {
	h.mu.Lock()
	old := h.tools[t.Name()]
	h.tools[t.Name()] = t
	h.mu.Unlock()
	h.server.AddTool(t.MCPTool(), h.handler(t))
	if old != nil && old != t {
		// Calls in flight hold their own module reference; Close waits for them.
		go old.Close(context.Background())
	}
}

// RemoveTool stops serving a tool; calls in flight finish first.
func (h *Host) RemoveTool(name string) {
	h.mu.Lock()
	old := h.tools[name]
	delete(h.tools, name)
	h.mu.Unlock()
	h.server.RemoveTools(name)
	if old != nil {
		go old.Close(context.Background())
	}
}

// Tools returns the served tools, sorted by name.
func (h *Host) Tools() []*Tool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]*Tool, 0, len(h.tools))
	for _, t := range h.tools {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}

// Tool returns the served tool with that name.
func (h *Host) Tool(name string) (*Tool, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	t, ok := h.tools[name]
	return t, ok
}

// Server is the underlying go-sdk server (for in-memory transports in tests).
func (h *Host) Server() *mcp.Server { return h.server }

// HTTPHandler serves MCP over Streamable HTTP. Callers wrap it with
// host/transport's checks before exposing it.
func (h *Host) HTTPHandler(maxBody int64) http.Handler {
	return mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return h.server }, &mcp.StreamableHTTPOptions{
		Logger:                       h.log,
		SessionTimeout:               h.opts.SessionTimeout,
		MaxRequestBodyBytes:          maxBody,
		PropagateRequestCancellation: true,
	})
}

// ServeStdio serves MCP over stdin/stdout until the client hangs up or ctx
// ends. Nothing else may write to stdout meanwhile.
func (h *Host) ServeStdio(ctx context.Context) error {
	return h.server.Run(ctx, &mcp.StdioTransport{})
}

// Close closes every tool.
func (h *Host) Close(ctx context.Context) error {
	h.mu.Lock()
	tools := h.tools
	h.tools = map[string]*Tool{}
	h.mu.Unlock()
	var errs []error
	for _, t := range tools {
		errs = append(errs, t.Close(ctx))
	}
	return errors.Join(errs...)
}

// handler adapts a Tool to the go-sdk and runs the stages around the
// call: authorise → rate limit → (validate → sandbox → result, in
// Tool.Call) → audit. Host faults become an internal error that carries only
// an error id.
func (h *Host) handler(t *Tool) mcp.ToolHandler {
	sensitive := audit.SensitivePaths(t.Manifest.InputSchema)
	return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		start := time.Now()
		p := h.principal(req.Extra)
		rec := audit.Record{
			Event:      audit.EventToolCall,
			Tool:       t.Name(),
			ClientAddr: clientAddr(req.Extra),
			Args:       audit.Summarize(req.Params.Arguments, sensitive),
			BytesIn:    len(req.Params.Arguments),
		}
		if p != nil {
			rec.Principal, rec.AuthMethod = p.ID, p.Method
		}
		finish := func(outcome, reason string) {
			rec.Outcome, rec.Reason = outcome, reason
			rec.DurationMS = float64(time.Since(start).Microseconds()) / 1000
			h.audit(rec)
			h.opts.Metrics.Call(t.Name(), outcome, time.Since(start))
		}

		// Authorise: a tool the caller may not use does not exist for it.
		if !mayUse(p, t) {
			finish("denied", "tool not granted to principal")
			h.opts.Metrics.Denied("forbidden")
			return nil, unknownTool(t.Name())
		}
		if h.opts.Limiter != nil {
			if ok, wait, which := h.opts.Limiter.AllowCall(p.ID, t.Name()); !ok {
				finish("limited", which)
				h.opts.Metrics.Limited(which)
				return toolError(fmt.Sprintf("rate limit exceeded for tool %s; retry after %ds", t.Name(), ratelimit.RetryAfterSeconds(wait))), nil
			}
		}

		q := newNotifier()
		prog := newProgress(ctx, req, q)
		prog.start()
		hooks := &sandbox.Hooks{
			Log: func(level int, msg string) {
				if req.Session == nil {
					return
				}
				params := &mcp.LoggingMessageParams{Level: LogLevel(level), Data: msg, Logger: t.Name()}
				q.try(func() { _ = req.Session.Log(ctx, params) })
			},
			Progress: prog.report,
		}
		// One audit record per outbound request the tool makes (net grant).
		ctx = netpolicy.WithObserver(ctx, func(e netpolicy.Event) {
			h.audit(audit.Record{
				Event: audit.EventNetRequest, Tool: t.Name(), Principal: rec.Principal, ClientAddr: rec.ClientAddr,
				Outcome: e.Outcome, Host: e.Host, Method: e.Method, Status: e.Status,
				BytesIn: int(e.BytesIn), BytesOut: int(e.BytesOut), DurationMS: float64(e.Duration.Microseconds()) / 1000,
			})
		})
		h.opts.Metrics.InFlight(t.Name(), 1)
		// The principal decides which instances a per-principal tool may reuse.
		res, info, err := t.Call(sandbox.WithPrincipal(ctx, p.ID), req.Params.Arguments, hooks)
		h.opts.Metrics.InFlight(t.Name(), -1)
		prog.finish()
		if dropped := q.drain(ctx); dropped > 0 { // before the result: notifications come first
			h.log.Warn("client too slow for the tool's notifications; some were dropped", "tool", t.Name(), "principal", rec.Principal, "dropped", dropped)
		}
		if info.Run != nil {
			code := info.Run.ExitCode
			rec.ExitCode = &code
		}
		rec.BytesOut = info.BytesOut
		if err != nil {
			id := NewErrorID()
			rec.ErrorID = id
			h.log.Error("tool call failed", "error_id", id, "tool", t.Name(), "principal", rec.Principal, "err", err)
			finish("host_error", "")
			return nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: fmt.Sprintf("internal error (error id %s)", id)}
		}
		if info.Run != nil && info.Run.Err != nil && info.Outcome != "ok" {
			// The guest's own error, for the operator; never sent to the client.
			id := NewErrorID()
			rec.ErrorID = id
			h.log.Info("tool call ended badly", "error_id", id, "tool", t.Name(), "outcome", info.Outcome, "err", info.Run.Err)
		}
		finish(info.Outcome, "")
		return res, nil
	}
}

// AuthDecision records one authentication attempt (from the HTTP
// authenticator) in the audit log and metrics.
func (h *Host) AuthDecision(r *http.Request, d auth.Decision) {
	rec := audit.Record{Event: audit.EventAuth, Principal: d.PrincipalID, AuthMethod: d.Method, ClientAddr: d.Addr, Outcome: "auth_ok"}
	if !d.OK {
		rec.Outcome, rec.Reason = "auth_failed", d.Reason
		if d.Err != nil {
			rec.ErrorID = NewErrorID()
			h.log.Info("authentication failed", "error_id", rec.ErrorID, "addr", d.Addr, "reason", d.Reason, "err", d.Err)
		}
	}
	h.audit(rec)
	method := d.Method
	if method == "" {
		method = "none" // no credential, or one of no known shape
	}
	h.opts.Metrics.AuthDecision(method, d.OK)
	if !d.OK {
		h.opts.Metrics.Denied("unauthenticated")
	}
}

// audit writes a record; a failing audit log is an operator problem that
// must be loud, but must not take the tool host down with it.
func (h *Host) audit(rec audit.Record) {
	if h.opts.Audit == nil {
		return
	}
	if err := h.opts.Audit.Log(rec); err != nil {
		h.log.Error("audit log write failed", "err", err)
	}
}

// logLevels are MCP's log levels in syslog order, as moat.log numbers them.
var logLevels = [...]mcp.LoggingLevel{"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"}

// LogLevel names a moat.log level (0 debug … 7 emergency, clamped).
func LogLevel(n int) mcp.LoggingLevel {
	if n < 0 {
		n = 0
	}
	if n >= len(logLevels) {
		n = len(logLevels) - 1
	}
	return logLevels[n]
}

// NewErrorID returns a short random id that joins a client-facing error to
// the full error in the log.
func NewErrorID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
