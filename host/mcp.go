package host

import (
	"context"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/moatmcp/moat/internal/auth"
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
// (tools/call reaches callHandler through its registry).
func (s *Server) dispatch(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		if notServed[method] {
			return nil, &jsonrpc.Error{Code: jsonrpc.CodeMethodNotFound, Message: "method not found: moat serves tools only"}
		}
		ctx, end := s.traceMCP(ctx, method, req) // observe.go
		defer end()
		switch method {
		case "tools/list":
			snap, release := s.requestSnapshot(req.GetExtra())
			if snap == nil {
				return nil, errUnavailable
			}
			defer release()
			p := principalOf(snap, req.GetExtra())
			// Filtered per caller and changed by reloads: never cacheable
			// for anyone else.
			res := &mcp.ListToolsResult{Tools: []*mcp.Tool{}, Cacheable: mcp.Cacheable{CacheScope: "private", TTLMs: int(snap.cfg.ListTTL.Milliseconds())}}
			for _, name := range snap.names {
				if t := snap.tools[name]; mayUse(p, t) {
					res.Tools = append(res.Tools, t.MCPTool())
				}
			}
			return res, nil
		}
		return next(ctx, method, req)
	}
}

// requestSnapshot is the snapshot a request runs under: the one that
// authenticated it over HTTP (held by the HTTP request until it ends), or,
// without authentication (stdio, --no-auth), the one serving now, held
// until release.
func (s *Server) requestSnapshot(extra *mcp.RequestExtra) (*snapshot, func()) {
	if extra != nil && extra.TokenInfo != nil {
		if snap, ok := extra.TokenInfo.Extra[snapshotExtraKey].(*snapshot); ok && snap != nil {
			return snap, func() {}
		}
		return nil, nil // a token we did not issue: fail closed
	}
	snap := s.acquire()
	if snap == nil {
		return nil, nil
	}
	return snap, snap.release
}

// principalOf finds the caller of one MCP request: the principal the HTTP
// authenticator verified, else the snapshot's fallback (stdio's local
// principal, or the anonymous one of --no-auth). nil means nobody, and
// nobody may use anything.
func principalOf(snap *snapshot, extra *mcp.RequestExtra) *auth.Principal {
	if extra != nil && extra.TokenInfo != nil {
		if p, ok := auth.FromTokenInfo(extra.TokenInfo); ok {
			return p
		}
		return nil // a token we did not issue: fail closed
	}
	return snap.fallback
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
// the call under the request's snapshot, whatever tool the registry found
// (a tool the snapshot does not serve, or that the caller may not use, is
// "unknown", exactly like a name the registry does not know).
func (s *Server) callHandler(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	snap, release := s.requestSnapshot(req.GetExtra())
	if snap == nil {
		return nil, errUnavailable
	}
	defer release()
	return s.call(ctx, snap, req)
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
