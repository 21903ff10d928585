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
	return h
}

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

// handler adapts a Tool to the go-sdk. It forwards the guest's log and
// progress reports to the session, runs the call, and turns host faults
// into an internal error that carries only an error id.
func (h *Host) handler(t *Tool) mcp.ToolHandler {
	return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		start := time.Now()
		prog := newProgress(ctx, req)
		prog.start()
		hooks := &sandbox.Hooks{
			Log: func(level int, msg string) {
				if req.Session == nil {
					return
				}
				_ = req.Session.Log(ctx, &mcp.LoggingMessageParams{Level: LogLevel(level), Data: msg, Logger: t.Name()})
			},
			Progress: prog.report,
		}
		res, info, err := t.Call(ctx, req.Params.Arguments, hooks)
		prog.finish()
		if err != nil {
			id := NewErrorID()
			h.log.Error("tool call failed", "error_id", id, "tool", t.Name(), "err", err)
			return nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: fmt.Sprintf("internal error (error id %s)", id)}
		}
		h.log.Info("tool call", "tool", t.Name(), "outcome", info.Outcome, "exit_code", info.ExitCode,
			"bytes_in", info.BytesIn, "bytes_out", info.BytesOut, "duration", time.Since(start))
		return res, nil
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
