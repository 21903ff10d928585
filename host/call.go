package host

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/moatmcp/moat/internal/audit"
	"github.com/moatmcp/moat/internal/netpolicy"
	"github.com/moatmcp/moat/internal/ratelimit"
	"github.com/moatmcp/moat/internal/sandbox"
	"github.com/moatmcp/moat/internal/telemetry"
)

// errUnavailable answers a request that arrives while the server is
// closing (no snapshot to run it under).
var errUnavailable = &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "server unavailable; retry later"}

// call runs one tools/call under cc's snapshot, for its principal: authorise → rate limit →
// (validate → sandbox → result, in Tool.Call) → audit. Host faults become
// an internal error that carries only an error id.
func (s *Server) call(ctx context.Context, cc *callContext, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	start := time.Now()
	snap, p := cc.snap, cc.principal
	name := ""
	if req.Params != nil {
		name = req.Params.Name
	}
	t := snap.tools[name]
	rec := audit.Record{Event: audit.EventToolCall, Tool: name, ClientAddr: cc.addr, TraceID: telemetry.TraceID(ctx)}
	if t != nil {
		rec.Args = audit.Summarize(req.Params.Arguments, t.sensitive)
		rec.BytesIn = len(req.Params.Arguments)
	}
	if p != nil {
		rec.Principal, rec.AuthMethod = p.ID, p.Method
	}
	finish := func(outcome audit.Outcome, reason string) error {
		rec.Outcome, rec.Reason = outcome, reason
		telemetry.SetOutcome(ctx, string(outcome))
		rec.DurationMS = float64(time.Since(start).Microseconds()) / 1000
		s.metrics.Call(s.metricsTool(snap, name), outcome, time.Since(start))
		return s.writeAudit(rec)
	}

	_, authorise := telemetry.Start(ctx, "moat.authorise") // and the limits and quotas
	defer authorise.End()
	// Authorise: a tool the caller may not use does not exist for it.
	if t == nil || !mayUse(p, t) {
		// The client cannot tell the two apart (unknownTool); the operator
		// can, in the audit reason and the denial metric.
		reason, denial := "tool not granted to principal", "forbidden"
		if t == nil {
			rec.Tool = "" // an unknown name is the caller's text: not a label, not a record field
			reason, denial = "unknown tool", "unknown_tool"
		}
		if err := finish("denied", reason); err != nil {
			return nil, s.auditFailure(err)
		}
		s.metrics.Denied(denial)
		return nil, unknownTool(name)
	}
	telemetry.SetTool(ctx, t.Name(), p.ID)
	// A tool that cannot work without a client capability is not run for a
	// client that did not declare it (MCP 2026-07-28, SEP-2575: -32021).
	// Only such a tool reads the capabilities: the go-sdk decodes them
	// from _meta anew on each read, with a 32 KiB buffer.
	if need := t.Manifest.ClientCapabilities; len(need) > 0 {
		if missing := missingClientCaps(need, req.ClientCapabilities()); len(missing) > 0 {
			if err := finish("denied", "client lacks capability "+string(missing[0])); err != nil {
				return nil, s.auditFailure(err)
			}
			s.metrics.Denied("client_capability")
			return nil, missingCapabilityError(missing)
		}
	}
	ok, wait, which, lerr := snap.limiter.AllowCall(ctx, p.ID, t.Name())
	quota, over, reset, qerr := s.quotaCheck(ctx, snap, p) // observe.go
	if lerr == nil {
		lerr = qerr
	}
	if lerr != nil {
		id := newErrorID()
		rec.ErrorID = id
		s.log.DebugContext(ctx, "call refused: state store unavailable", "error_id", id, "err", lerr)
		if err := finish("host_error", "state_unavailable"); err != nil {
			return nil, s.auditFailure(err)
		}
		return nil, stateError(id)
	}
	if !ok {
		if err := finish("limited", which); err != nil {
			return nil, s.auditFailure(err)
		}
		s.metrics.Limited(which)
		return toolError(fmt.Sprintf("rate limit exceeded for tool %s; retry after %ds", t.Name(), ratelimit.RetryAfterSeconds(wait))), nil
	}
	if over != "" {
		if err := finish("over_quota", over); err != nil {
			return nil, s.auditFailure(err)
		}
		s.metrics.OverQuota(over)
		return overQuota(over, quota, reset), nil
	}
	authorise.End()
	receipt := &sandbox.Receipt{}

	q := newNotifier()
	prog := newProgress(ctx, req, q)
	prog.start()
	var hooks sandbox.Hooks
	if req.Session != nil {
		// Without a session (the direct path) there is no stream to
		// notify on: the guest's log and progress go nowhere either way,
		// and the two closures are not made.
		hooks.Log, hooks.Progress = guestLog(ctx, req, q, t.Name()), prog.report
	}
	// One audit record per outbound request the tool makes (net grant).
	// A tool without the grant has no way out (its module may not import
	// moat.http_request): nothing to observe.
	if t.Manifest.Net != nil {
		ctx = netpolicy.WithObserver(ctx, func(e netpolicy.Event) {
			receipt.AddNet(netUse(e))
			_ = s.writeAudit(audit.Record{TraceID: rec.TraceID,
				Event: audit.EventNetRequest, Tool: t.Name(), Principal: rec.Principal, ClientAddr: rec.ClientAddr,
				Outcome: audit.Outcome(e.Outcome), Host: e.Host, Method: e.Method, Status: e.Status,
				BytesIn: int(e.BytesIn), BytesOut: int(e.BytesOut), DurationMS: float64(e.Duration.Microseconds()) / 1000,
			})
		})
	}
	s.metrics.InFlight(t.Name(), 1)
	if ev := s.opts.events; ev != nil && ev.callStarted != nil {
		ev.callStarted(t.Name())
	}
	// The principal decides which instances a per-principal tool may reuse.
	// callRounds: t.Call, replayed through a multi-round-trip call's answers (mrtr.go).
	callCtx := sandbox.WithCallOptions(ctx, sandbox.CallOptions{Principal: p.ID, Receipt: receipt, SlotWait: snap.cfg.Rates.ConcurrencyWait})
	res, info, err := s.callRounds(callCtx, p, t, req, hooks)
	s.metrics.InFlight(t.Name(), -1)
	rec.Used = usedOf(receipt, time.Since(start))
	if receipt.Instance != "" { // an instance ran
		s.metrics.GuestMemory(t.Name(), receipt.MemoryPeak)
	}
	s.quotaCharge(ctx, quota, p, time.Since(start), receipt)
	prog.finish()
	if dropped := q.drain(ctx); dropped > 0 { // before the result: notifications come first
		s.log.WarnContext(ctx, "client too slow for the tool's notifications; some were dropped", "tool", t.Name(), "principal", rec.Principal, "dropped", dropped)
	}
	if refused := refusalOf(err); refused != nil {
		rec.ErrorID = refused.id
		if aerr := finish("invalid_request_state", refused.kind); aerr != nil {
			return nil, s.auditFailure(aerr)
		}
		return nil, refused.wire
	}
	if info.Run != nil && info.Outcome != "input_required" { // a guest ended where it asked has no exit code
		code := info.Run.ExitCode
		rec.ExitCode = &code
	}
	rec.BytesOut = info.BytesOut
	if err != nil {
		id := newErrorID()
		rec.ErrorID = id
		s.log.ErrorContext(ctx, "tool call failed", "error_id", id, "tool", t.Name(), "principal", rec.Principal, "err", err)
		if aerr := finish("host_error", ""); aerr != nil {
			return nil, s.auditFailure(aerr)
		}
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: fmt.Sprintf("internal error (error id %s)", id)}
	}
	if info.Run != nil && info.Run.Err != nil && info.Outcome != "ok" && info.Outcome != "input_required" {
		// The guest's own error, for the operator; never sent to the client.
		id := newErrorID()
		rec.ErrorID = id
		s.log.InfoContext(ctx, "tool call ended badly", "error_id", id, "tool", t.Name(), "outcome", info.Outcome, "err", info.Run.Err)
	}
	if info.ErrorID != "" {
		rec.ErrorID = info.ErrorID
	}
	if err := finish(info.Outcome, info.Reason); err != nil {
		// The call ran, but it cannot be recorded: its result is not
		// released (fail closed, [audit] on_failure = "refuse").
		return nil, s.auditFailure(err)
	}
	return res, nil
}

// refusalOf is err's *inputRefusal, or nil. (A function of its own, so
// that the variables errors.As needs are made only for an error.)
func refusalOf(err error) *inputRefusal {
	if err == nil {
		return nil
	}
	var refused *inputRefusal
	if errors.As(err, &refused) {
		return refused
	}
	return nil
}

// metricsTool is the tool label of a call's metrics: the tool's name when
// it exists, else "" (metrics turns it into a bounded placeholder).
func (s *Server) metricsTool(snap *snapshot, name string) string {
	if _, ok := snap.tools[name]; ok {
		return name
	}
	return ""
}

// auditFailure is the client-facing error of a request refused because its
// audit record could not be written.
func (s *Server) auditFailure(err error) error {
	id := newErrorID()
	s.log.Error("request refused: its audit record could not be written", "error_id", id, "err", err)
	return &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: fmt.Sprintf("service unavailable: the audit log cannot be written (error id %s)", id)}
}
