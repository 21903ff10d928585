package telemetry

import (
	"context"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Bounds of incoming trace context. W3C Trace Context asks to propagate at
// least 512 bytes of tracestate and 32 members (more is never required);
// W3C Baggage allows 8192 bytes, moat keeps far less since it only reads
// it.
const (
	traceparentLen       = 55 // "00-" 32 hex "-" 16 hex "-" 2 hex
	MaxTraceState        = 512
	MaxTraceStateMembers = 32
	MaxBaggage           = 1024
)

// Meta is the W3C trace context of one request: from params._meta
// (MCP 2026-07-28: "traceparent", "tracestate", "baggage") or from the
// HTTP headers of the same names. Values that are not strings are
// ignored; the host decodes it with the request head, once.
type Meta struct {
	Traceparent string `json:"traceparent"`
	Tracestate  string `json:"tracestate"`
	Baggage     string `json:"baggage"`
}

// MetaOf reads a request's _meta as the go-sdk decodes it (nil: none).
func MetaOf(m map[string]any) Meta {
	if m == nil {
		return Meta{}
	}
	str := func(k string) string { s, _ := m[k].(string); return s }
	return Meta{Traceparent: str("traceparent"), Tracestate: str("tracestate"), Baggage: str("baggage")}
}

// HeaderMeta reads the trace context headers of an HTTP request.
func HeaderMeta(h http.Header) Meta {
	if h == nil {
		return Meta{}
	}
	return Meta{Traceparent: h.Get("Traceparent"), Tracestate: h.Get("Tracestate"), Baggage: h.Get("Baggage")}
}

// Bounded is m with what is over the bounds dropped: a traceparent that
// is not exactly 55 bytes, a tracestate over MaxTraceState bytes or
// MaxTraceStateMembers members, a baggage over MaxBaggage bytes.
func (m Meta) Bounded() Meta {
	if len(m.Traceparent) != traceparentLen {
		m.Traceparent = ""
	}
	if len(m.Tracestate) > MaxTraceState || strings.Count(m.Tracestate, ",") >= MaxTraceStateMembers {
		m.Tracestate = ""
	}
	if len(m.Baggage) > MaxBaggage {
		m.Baggage = ""
	}
	return m
}

// carrier is a Meta as a propagation.TextMapCarrier.
type carrier struct{ m *Meta }

func (c carrier) Get(k string) string {
	switch strings.ToLower(k) {
	case "traceparent":
		return c.m.Traceparent
	case "tracestate":
		return c.m.Tracestate
	case "baggage":
		return c.m.Baggage
	}
	return ""
}
func (c carrier) Set(k, v string) {}
func (c carrier) Keys() []string  { return []string{"traceparent", "tracestate", "baggage"} }

var traceContext = propagation.TraceContext{}

// parent is m's remote span context: invalid when m has none or a
// malformed one. Baggage is bounded (Bounded) but not used: moat neither
// records nor forwards it.
func (m Meta) parent() trace.SpanContext {
	if m.Traceparent == "" {
		return trace.SpanContext{}
	}
	b := m.Bounded()
	return trace.SpanContextFromContext(traceContext.Extract(context.Background(), carrier{&b}))
}

// Inject returns h (a guest's outbound request headers) with ctx's trace
// context as traceparent and tracestate, replacing the guest's own in any
// letter case; h itself is not changed. Without a recording span in ctx it
// returns h. The caller's baggage is never added: it is the agent's,
// not for the hosts a tool contacts.
func Inject(ctx context.Context, h map[string]string) map[string]string {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return h
	}
	out := make(map[string]string, len(h)+2)
	for k, v := range h {
		switch strings.ToLower(k) {
		case "traceparent", "tracestate":
			continue
		}
		out[k] = v
	}
	traceContext.Inject(ctx, propagation.MapCarrier(out))
	return out
}
