package host

import (
	"fmt"
	"net"
	"net/http"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/moatmcp/moat/internal/auth"
)

// clientAddrHeader carries the client's address from the HTTP layer to the
// MCP handlers (the go-sdk passes request headers through, not the
// connection). WithClientAddr sets it from the connection and drops any
// value a client sent, so it cannot be forged.
const clientAddrHeader = "X-Moat-Client-Addr"

// withClientAddr records r.RemoteAddr's host in clientAddrHeader.
func withClientAddr(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Del(clientAddrHeader)
		if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			r.Header.Set(clientAddrHeader, host)
		}
		next.ServeHTTP(w, r)
	})
}

func clientAddr(extra *mcp.RequestExtra) string {
	if extra == nil || extra.Header == nil {
		return ""
	}
	return extra.Header.Get(clientAddrHeader)
}

// mayUse reports whether p may see and call t.
func mayUse(p *auth.Principal, t *Tool) bool {
	return p != nil && t != nil && p.MayUse(t.Name(), t.Manifest.RequiredScopes)
}

// unknownTool is the error for a tool that does not exist and for one the
// caller may not use: the two must be indistinguishable, so that probing
// reveals nothing about what else is served.
func unknownTool(name string) error {
	return &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: fmt.Sprintf("unknown tool %q", name)}
}
