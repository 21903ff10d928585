//lint:file-ignore SA1019 MCP logging is deprecated by protocol 2026-07-28 (SEP-2577) but still served through its deprecation window; this file is the one place moat uses it (docs/abi.md, "moat.log and protocol 2026-07-28").

package host

import (
	"context"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// This file holds moat's use of MCP logging, which protocol 2026-07-28
// deprecates (SEP-2577) and keeps working for at least twelve months. A
// guest's moat.log messages go to the client as notifications/message while
// clients still ask for them (logging/setLevel in a 2025-11-25 session, or
// the log level in a 2026-07-28 request's _meta); nothing else in moat
// depends on the feature, so dropping it when the window closes is a change
// to this file and to serverCapabilities.

// serverCapabilities is what initialize and server/discover advertise:
// tools (with list_changed for hot reload) and logging, which tools use
// through moat.log.
func serverCapabilities() *mcp.ServerCapabilities {
	return &mcp.ServerCapabilities{
		Tools:   &mcp.ToolCapabilities{ListChanged: true},
		Logging: &mcp.LoggingCapabilities{},
	}
}

// guestLog forwards a guest's moat.log messages to the client of req, under
// the tool's name, through the call's notification queue q (which drops
// what a slow client cannot take). The go-sdk sends a message only when
// the client's level admits it.
func guestLog(ctx context.Context, req *mcp.CallToolRequest, q *notifier, tool string) func(level int, msg string) {
	return func(level int, msg string) {
		if req.Session == nil {
			return
		}
		params := &mcp.LoggingMessageParams{Level: LogLevel(level), Data: msg, Logger: tool}
		q.try(func() { _ = req.Session.Log(ctx, params) })
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
