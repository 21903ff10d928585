package host

import (
	"log/slog"
	"net/http"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// statelessEra is the first MCP version whose HTTP transport has no
// sessions: each request carries its protocol version (the
// Mcp-Protocol-Version header and _meta) and stands alone.
const statelessEra = "2026-07-28"

// newEraRouter serves both protocol eras on one endpoint, as the spec's
// compatibility rules select them: a request that names a stateless-era
// version in Mcp-Protocol-Version and carries no Mcp-Session-Id is served
// statelessly; everything else (initialize, requests within a session,
// older versions, the GET stream, DELETE) by the session-keeping handler,
// so older clients keep cancellation, per-session log levels, list_changed
// on the GET stream and session caps. The go-sdk serves 2026-07-28 over
// HTTP only in stateless mode. Both handlers share one mcp.Server, so the
// stages behind them are the same for both eras.
func newEraRouter(server *mcp.Server, log *slog.Logger, maxBody int64) http.Handler {
	get := func(*http.Request) *mcp.Server { return server }
	sessions := mcp.NewStreamableHTTPHandler(get, &mcp.StreamableHTTPOptions{
		Logger:                       log,
		SessionTimeout:               sessionTimeout,
		MaxRequestBodyBytes:          maxBody,
		PropagateRequestCancellation: true,
	})
	stateless := mcp.NewStreamableHTTPHandler(get, &mcp.StreamableHTTPOptions{
		Logger:                       log,
		Stateless:                    true,
		MaxRequestBodyBytes:          maxBody,
		PropagateRequestCancellation: true,
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isStatelessEra(r) {
			stateless.ServeHTTP(w, r)
			return
		}
		sessions.ServeHTTP(w, r)
	})
}

// isStatelessEra reports whether r is a stateless-era request. The header
// was checked to be one date-shaped value (internal/transport), so dates
// compare as strings.
func isStatelessEra(r *http.Request) bool {
	return r.Header.Get("Mcp-Session-Id") == "" && r.Header.Get("Mcp-Protocol-Version") >= statelessEra
}
