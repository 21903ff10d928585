package host

import (
	"context"
	"fmt"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// newMCPServer makes the go-sdk server, which outlives snapshots: it holds
// the MCP sessions. Its tool registry is kept in step with the serving
// snapshot (syncSDKTools), so that the go-sdk tells clients when the list
// changed and does its own work around a call (the result's type and
// server info of 2026-07-28); but what a request sees comes from the
// request's own snapshot: dispatch answers tools/list from it, and every
// registered handler (callHandler) runs the call under it.
func newMCPServer(s *Server) *mcp.Server {
	srv := mcp.NewServer(serverImpl, &mcp.ServerOptions{
		Logger: s.log,
		// Advertise tools (with list_changed for hot reload) and logging,
		// which tools use through moat.log.
		Capabilities: serverCapabilities(),
		// What a caller may list depends on who the caller is, so no list
		// may be cached for anyone else, and tools change on reload.
		SetCacheable: func(_ context.Context, _ mcp.Request, c *mcp.Cacheable) {
			c.CacheScope = "private"
			c.TTLMs = 0
		},
	})
	srv.AddReceivingMiddleware(s.dispatch)
	return srv
}

// serverImpl is moat's identity in MCP (initialize, and every 2026-07-28
// result's _meta; fastcall.go stamps it as the go-sdk does).
var serverImpl = &mcp.Implementation{Name: "moat", Title: "moat tool host", Version: Version}

// notServed are the methods of capabilities moat does not serve (and does
// not advertise): answered "method not found", not with the go-sdk's empty
// lists, so that a client never takes moat for a server of prompts,
// resources or completions.
var notServed = map[string]bool{
	"prompts/list": true, "prompts/get": true,
	"resources/list": true, "resources/read": true, "resources/templates/list": true,
	"resources/subscribe": true, "resources/unsubscribe": true,
	"completion/complete": true,
}

// dispatch answers tools/list from the request's snapshot and refuses the
// methods moat does not serve; every other method goes to the go-sdk
// (tools/call reaches callHandler through its registry). It finds the
// request's call context once (callOf, sdkadapter.go) and hands it on in
// ctx; tools/list and tools/call without one are refused (fail closed).
func (s *Server) dispatch(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		if notServed[method] {
			return nil, &jsonrpc.Error{Code: jsonrpc.CodeMethodNotFound, Message: "method not found: moat serves tools only"}
		}
		cc, release, ok := s.callOf(req.GetExtra())
		if !ok {
			if method == "tools/list" || method == "tools/call" {
				return nil, s.callLost(method)
			}
			// Other methods (initialize, notifications, server/discover,
			// subscriptions/listen) need no caller's facts: the go-sdk
			// answers them; they are traced without the HTTP span.
		} else {
			defer release()
			ctx = withCall(ctx, cc)
		}
		ctx, end := s.traceMCP(ctx, method, req, cc) // observe.go
		defer end()
		if method == "tools/list" {
			// Filtered per caller and changed by reloads: never cacheable
			// for anyone else.
			res := &mcp.ListToolsResult{Tools: []*mcp.Tool{}, Cacheable: mcp.Cacheable{CacheScope: "private", TTLMs: int(cc.snap.cfg.ListTTL.Milliseconds())}}
			for _, name := range cc.snap.names {
				if t := cc.snap.tools[name]; mayUse(cc.principal, t) {
					res.Tools = append(res.Tools, t.MCPTool())
				}
			}
			return res, nil
		}
		return next(ctx, method, req)
	}
}

// callLost is the error of a tools/list or tools/call whose call context
// cannot be found (callOf): nothing runs without knowing who asked.
func (s *Server) callLost(method string) error {
	if s.current() == nil {
		return errUnavailable
	}
	id := newErrorID()
	s.log.Warn("request refused: its call context was not found (its HTTP request had ended)", "error_id", id, "method", method)
	return &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: fmt.Sprintf("%s (error id %s)", msgCallLost, id)}
}

// syncSDKTools makes the go-sdk's registry match cur (see newMCPServer):
// adding or replacing a tool and removing one each make the go-sdk send
// notifications/tools/list_changed.
func (s *Server) syncSDKTools(prev, cur *snapshot) {
	var removed []string
	if prev != nil {
		for _, name := range prev.names {
			if _, ok := cur.tools[name]; !ok {
				removed = append(removed, name)
			}
		}
	}
	if len(removed) > 0 {
		s.mcp.RemoveTools(removed...)
	}
	for _, name := range cur.names {
		t := cur.tools[name]
		if prev != nil && prev.tools[name] == t {
			continue
		}
		s.mcp.AddTool(t.MCPTool(), s.callHandler)
	}
}

// notifyListChanged makes the go-sdk tell clients to list tools again when
// no tool changed but who may see them did (keys, scopes, [auth.local]):
// re-adding a tool counts as a change.
func (s *Server) notifyListChanged() {
	if snap := s.current(); snap != nil && len(snap.names) > 0 {
		s.mcp.AddTool(snap.tools[snap.names[0]].MCPTool(), s.callHandler)
	}
}

// callHandler is every tool's handler in the go-sdk's registry: it runs
// the call under the request's call context (its snapshot, principal and
// address), whatever tool the registry found (a tool the snapshot does
// not serve, or that the caller may not use, is "unknown", exactly like a
// name the registry does not know). A call stops when its HTTP request
// goes away (stopWithRequest).
func (s *Server) callHandler(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	cc := callIn(ctx)
	if cc == nil { // not through dispatch: look it up here
		var release func()
		var ok bool
		if cc, release, ok = s.callOf(req.GetExtra()); !ok {
			return nil, s.callLost("tools/call")
		}
		defer release()
	}
	if cc.era == eraSession {
		// A stateless request's handler runs under its request's context
		// already (PropagateRequestCancellation, or the direct path).
		var stop func()
		ctx, stop = stopWithRequest(ctx, cc)
		defer stop()
	}
	return s.call(ctx, cc, req)
}

// endSessions closes the MCP sessions of credentials a reload revoked.
// Their next request is refused by the new snapshot's authenticator anyway;
// ending the session also ends its GET stream and frees its slot.
func (s *Server) endSessions(ch *changeSet) int {
	if len(ch.revoked) == 0 && !ch.jwtChanged {
		return 0
	}
	ids := s.caps.sessionsOf(func(principal string) bool {
		return ch.revoked[principal] || (ch.jwtChanged && len(principal) > 4 && principal[:4] == "jwt:")
	})
	if len(ids) == 0 {
		return 0
	}
	n := 0
	for ss := range s.mcp.Sessions() {
		if ids[ss.ID()] {
			_ = ss.Close()
			s.caps.release(ss.ID())
			n++
		}
	}
	return n
}
