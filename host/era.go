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
// compatibility rules select them: a POST that names a stateless-era
// version in Mcp-Protocol-Version is served statelessly (an
// Mcp-Session-Id it carries is ignored: isStatelessEra); everything else
// (initialize, requests within a session, older versions, the GET stream,
// DELETE) by the session-keeping handler,
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
//
// MCP 2026-07-28 has no sessions, and its transport says a server
// receiving an Mcp-Session-Id on such a request ignores it and neither
// mints nor echoes one (basic/transports, "Earlier Streamable HTTP
// revisions"). So a 2026-07-28 POST is stateless whatever session id it
// carries: it is served like one without, under its own credentials, and
// neither touches nor uses the session (the session stages skip it). The
// go-sdk's session handler would answer it -32022 instead. GET and DELETE
// are session operations, which 2026-07-28 does not have: with a session
// id they still go to the session handler.
func isStatelessEra(r *http.Request) bool {
	if r.Header.Get("Mcp-Protocol-Version") < statelessEra {
		return false
	}
	return r.Method == http.MethodPost || r.Header.Get("Mcp-Session-Id") == ""
}
