package host

import (
	"fmt"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/moatmcp/moat/internal/auth"
)

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
