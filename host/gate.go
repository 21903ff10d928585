package host

import (
	"context"
	"fmt"
	"net"
	"net/http"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/moatmcp/moat/host/auth"
)

// ClientAddrHeader carries the client's address from the HTTP layer to the
// MCP handlers (the go-sdk passes request headers through, not the
// connection). WithClientAddr sets it from the connection and drops any
// value a client sent, so it cannot be forged.
const ClientAddrHeader = "X-Moat-Client-Addr"

// WithClientAddr records r.RemoteAddr's host in ClientAddrHeader.
func WithClientAddr(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Del(ClientAddrHeader)
		if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			r.Header.Set(ClientAddrHeader, host)
		}
		next.ServeHTTP(w, r)
	})
}

// principal finds the caller of one MCP request: the principal the HTTP
// authenticator verified, else the host's fallback (stdio's local
// principal, or the anonymous one of --no-auth). nil means nobody, and
// nobody may use anything.
func (h *Host) principal(extra *mcp.RequestExtra) *auth.Principal {
	if extra != nil && extra.TokenInfo != nil {
		if p, ok := auth.FromTokenInfo(extra.TokenInfo); ok {
			return p
		}
		return nil // a token we did not issue: fail closed
	}
	return h.opts.Fallback
}

func clientAddr(extra *mcp.RequestExtra) string {
	if extra == nil || extra.Header == nil {
		return ""
	}
	return extra.Header.Get(ClientAddrHeader)
}

// mayUse reports whether p may see and call t.
func mayUse(p *auth.Principal, t *Tool) bool {
	return p != nil && p.MayUse(t.Name(), t.Manifest.RequiredScopes)
}

// unknownTool is the error for a tool that does not exist and for one the
// caller may not use: the two must be indistinguishable, so that probing
// reveals nothing about what else is served.
func unknownTool(name string) error {
	return &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: fmt.Sprintf("unknown tool %q", name)}
}

// listFilter is receiving middleware that removes from tools/list every
// tool the caller may not use.
func (h *Host) listFilter(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		res, err := next(ctx, method, req)
		if err != nil || method != "tools/list" {
			return res, err
		}
		lt, ok := res.(*mcp.ListToolsResult)
		if !ok {
			return res, err
		}
		p := h.principal(req.GetExtra())
		kept := make([]*mcp.Tool, 0, len(lt.Tools))
		for _, mt := range lt.Tools {
			if t, ok := h.Tool(mt.Name); ok && mayUse(p, t) {
				kept = append(kept, mt)
			}
		}
		out := *lt
		out.Tools = kept
		return &out, nil
	}
}
