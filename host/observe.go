package host

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/moatmcp/moat/internal/audit"
	"github.com/moatmcp/moat/internal/auth"
	"github.com/moatmcp/moat/internal/bytesize"
	"github.com/moatmcp/moat/internal/manifest"
	"github.com/moatmcp/moat/internal/netpolicy"
	"github.com/moatmcp/moat/internal/ratelimit"
	"github.com/moatmcp/moat/internal/sandbox"
	"github.com/moatmcp/moat/internal/telemetry"
)

// This file is the host's side of issue 19: the request's trace (spans in
// internal/telemetry), the call's receipt (sandbox.Receipt → audit.Used) and
// quotas per principal (counted in the state store). call.go, stack.go
// and mcp.go call into it at one point each.

// openTelemetry starts tracing as [telemetry] and the environment say
// (for the process's life: restartOnly), wraps the log so that lines
// logged with a call's context carry its trace_id, and picks where quota
// usage is counted (the shared store, else this process).
func (s *Server) openTelemetry(ctx context.Context, cfg *manifest.Config) error {
	s.log = slog.New(telemetry.LogHandler(s.log.Handler()))
	tel, err := telemetry.New(ctx, &telemetry.Options{Config: cfg.Telemetry, Recorder: s.opts.traces, OnDropped: s.metrics.SpansDropped})
	if err != nil {
		return fmt.Errorf("%s: [telemetry]: %w", cfg.File, err)
	}
	s.tel = tel
	if tel.Enabled() {
		s.log.Info("tracing on", "exporter", tel.String())
	}
	s.usage = s.store
	if s.usage == nil {
		s.usage = ratelimit.NewLocalStore(ratelimit.TableOptions{MaxEntries: cfg.Rates.MaxEntries})
	}
	return nil
}

// traceHead is what the HTTP trace stage needs of a request
// (telemetry.Middleware): the head parseHead decoded once.
func traceHead(r *http.Request) (method, id string, meta telemetry.Meta) {
	h := headOf(r)
	return h.Method, string(h.ID), h.trace
}

// traceMCP puts an MCP request's span in ctx: the one the HTTP stage
// started for it (cc's), else a new one whose parent is the request's
// params._meta or HTTP traceparent (stdio; or HTTP with tracing off, where
// only the caller's trace id is kept, for the audit record). end ends a
// span started here. cc is nil when the request's call context was not
// found.
func (s *Server) traceMCP(ctx context.Context, method string, req mcp.Request, cc *callContext) (_ context.Context, end func()) {
	if cc != nil {
		if c, ok := telemetry.Resume(ctx, cc.span); ok {
			return c, func() {}
		}
	}
	var header http.Header
	if extra := req.GetExtra(); extra != nil {
		header = extra.Header
	}
	var meta telemetry.Meta
	switch r := req.(type) {
	case *mcp.CallToolRequest:
		if r.Params != nil {
			meta = telemetry.MetaOf(r.Params.Meta)
		}
	case *mcp.ListToolsRequest:
		if r.Params != nil {
			meta = telemetry.MetaOf(r.Params.Meta)
		}
	}
	hm := telemetry.HeaderMeta(header)
	if meta.Traceparent == "" && hm.Traceparent == "" && !s.tel.Enabled() {
		return ctx, func() {} // nothing to trace: no cost
	}
	ctx, span := s.tel.StartRequest(ctx, method, "", meta, hm)
	if header == nil {
		span.SetString("network.transport", "pipe") // stdio
	}
	return ctx, span.End
}

// usedOf is a call's receipt as its audit record holds it; wall is the
// call's whole wall time as the host measured it.
func usedOf(r *sandbox.Receipt, wall time.Duration) *audit.Used {
	u := &audit.Used{WallMS: float64(wall.Microseconds()) / 1000, MemoryPeak: r.MemoryPeak, OutputBytes: r.OutputBytes,
		Module: r.Module, Instance: r.Instance}
	u.BytesRead, u.BytesWritten = r.Files.Totals()
	for _, f := range r.Files.Files() {
		mode := "read"
		if f.Write {
			mode = "write"
		}
		u.Files = append(u.Files, audit.FileUsed{Mount: f.Mount, Path: f.Path, Mode: mode, Read: f.BytesRead(), Written: f.BytesWritten()})
	}
	u.FilesOmitted = r.Files.Dropped()
	net, more := r.Net()
	for _, n := range net {
		u.Net = append(u.Net, audit.NetUsed{Host: n.Host, Method: n.Method, Status: n.Status, Outcome: n.Outcome,
			BytesOut: n.BytesOut, BytesIn: n.BytesIn, Secrets: n.Secrets})
		u.NetBytesOut += n.BytesOut
		u.NetBytesIn += n.BytesIn
	}
	u.NetOmitted = more
	return u
}

// netUse is one netpolicy event as a receipt records it.
func netUse(e netpolicy.Event) sandbox.NetUse {
	return sandbox.NetUse{Host: e.Host, Method: e.Method, Status: e.Status, Outcome: e.Outcome, BytesOut: e.BytesOut, BytesIn: e.BytesIn, Secrets: e.Secrets}
}

// quotaPolicy is a snapshot's quotas: [quotas], and the API keys that have
// their own.
type quotaPolicy struct {
	def  manifest.QuotaConfig
	keys map[string]manifest.QuotaConfig // API key id → its quotas
}

func newQuotaPolicy(cfg *manifest.Config) *quotaPolicy {
	q := &quotaPolicy{def: cfg.Quotas, keys: map[string]manifest.QuotaConfig{}}
	for _, k := range cfg.Auth.Keys {
		if k.Quotas != nil {
			q.keys[k.ID] = *k.Quotas
		}
	}
	return q
}

// of is p's quotas.
func (q *quotaPolicy) of(p *auth.Principal) manifest.QuotaConfig {
	if q == nil || p == nil {
		return manifest.QuotaConfig{}
	}
	if p.Method == auth.MethodAPIKey {
		if k, ok := q.keys[p.ID]; ok {
			return k
		}
	}
	return q.def
}

// quota counters in the state store, in this order.
const (
	quotaWall = iota // µs of call wall time
	quotaNet         // outbound HTTP body bytes, both ways
	quotaOut         // output bytes
	quotaCounters
)

var quotaNames = [quotaCounters]string{"wall_time", "outbound_bytes", "output_bytes"}

// quotaKey is a principal's usage key in the state store.
func quotaKey(p *auth.Principal) string { return "quota:" + p.ID }

// quotaCheck says whether p has a quota left: over names the quota used
// up ("" when none is), reset is when its window ends. An error means the
// usage could not be read (the call is refused, like a limit that cannot
// be checked).
func (s *Server) quotaCheck(ctx context.Context, snap *snapshot, p *auth.Principal) (q manifest.QuotaConfig, over string, reset time.Duration, err error) {
	q = snap.quotas.of(p)
	if !q.Any() {
		return q, "", 0, nil
	}
	totals, reset, err := s.usage.AddUsage(ctx, quotaKey(p), q.Window, make([]int64, quotaCounters))
	if err != nil {
		return q, "", 0, err
	}
	limits := [quotaCounters]int64{q.WallTime.Microseconds(), int64(min(q.OutboundBytes, 1<<62)), int64(min(q.OutputBytes, 1<<62))}
	for i, lim := range limits {
		if lim > 0 && totals[i] >= lim {
			return q, quotaNames[i], reset, nil
		}
	}
	return q, "", 0, nil
}

// quotaCharge adds one call's use to p's usage (when p has quotas). A
// store error is logged: the call has run, and refusing its result would
// not undo it.
func (s *Server) quotaCharge(ctx context.Context, q manifest.QuotaConfig, p *auth.Principal, wall time.Duration, r *sandbox.Receipt) {
	if !q.Any() {
		return
	}
	delta := make([]int64, quotaCounters)
	delta[quotaWall] = wall.Microseconds()
	delta[quotaNet] = r.NetBytes()
	delta[quotaOut] = int64(r.OutputBytes)
	if _, _, err := s.usage.AddUsage(context.WithoutCancel(ctx), quotaKey(p), q.Window, delta); err != nil {
		s.log.WarnContext(ctx, "quota usage not counted: state store unavailable", "principal", p.ID, "err", err)
	}
}

// overQuota is the tool error of a call refused by quota which.
func overQuota(which string, q manifest.QuotaConfig, reset time.Duration) *mcp.CallToolResult {
	limit := ""
	switch which {
	case "wall_time":
		limit = q.WallTime.String() + " of call time"
	case "outbound_bytes":
		limit = bytesize.Format(q.OutboundBytes) + " of outbound HTTP"
	case "output_bytes":
		limit = bytesize.Format(q.OutputBytes) + " of tool output"
	}
	secs := int64((reset + time.Second - 1) / time.Second)
	return toolError(fmt.Sprintf("quota exceeded: %s (%s per %s); it resets in %ds", which, limit, q.Window, secs))
}

// telemetryText is [telemetry] as restartOnly compares and reports it.
func telemetryText(t manifest.TelemetryConfig) string {
	on, ratio := "unset", "unset"
	if t.Enabled != nil {
		on = fmt.Sprint(*t.Enabled)
	}
	if t.SampleRatio != nil {
		ratio = fmt.Sprint(*t.SampleRatio)
	}
	return fmt.Sprintf("enabled=%s endpoint=%s protocol=%s service_name=%s sample_ratio=%s export_timeout=%s queue_size=%d",
		on, t.Endpoint, t.Protocol, t.ServiceName, ratio, t.ExportTimeout, t.QueueSize)
}
