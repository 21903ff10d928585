// Package telemetry is moat's OpenTelemetry tracing: one span per request
// with children for each stage of the call path, and the W3C trace context
// that links them to the agent that called and to the hosts a tool calls.
//
// It wraps every part of the call path without being a stage of its own:
//
//	transport → [request span] → authenticate → limits → authorise →
//	validate → sandbox (restore, run → outbound HTTP) → result → audit (trace_id)
//
// The request span's parent is the trace context of the request's
// params._meta (MCP 2026-07-28), else of its HTTP traceparent header.
// Children are started with Start from any package, through the context:
// a context without a recording span makes Start a no-op that allocates
// nothing, which is what every call costs when tracing is off.
//
// Only this package imports go.opentelemetry.io/otel (the API, the SDK and
// the OTLP exporters); the rest of moat sees Tracer, Span, Meta, Start,
// TraceID and the HTTP helpers.
//
// # Guarantees
//
//   - Off unless configured ([telemetry] or the standard OTEL_* variables):
//     no exporter, no goroutine, no span, no allocation on the call path.
//   - Calls never wait on the collector: finished spans go to a bounded
//     queue; when it is full, or an export fails or times out, the spans
//     are dropped and counted (Options.OnDropped).
//   - Span attributes never hold arguments, results, file contents,
//     header values or URLs' paths and queries: only names, sizes,
//     outcomes and host:port.
//   - Incoming trace context is bounded: a malformed traceparent is
//     ignored (a new trace starts), a tracestate over MaxTraceState bytes
//     or MaxTraceStateMembers members is dropped, a baggage over
//     MaxBaggage bytes is dropped. Baggage is never forwarded to the hosts
//     a tool contacts, nor recorded.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/moatmcp/moat/internal/manifest"
)

// ScopeName is the instrumentation scope of moat's spans.
const ScopeName = "github.com/moatmcp/moat"

// Options configures New. A nil *Options means the zero value: tracing
// as the environment says.
type Options struct {
	// Config is [telemetry]; the zero value leaves everything to the
	// OTEL_* environment variables.
	Config manifest.TelemetryConfig
	// Getenv reads the environment; nil means os.Getenv. (The exporters
	// read their own OTEL_EXPORTER_OTLP_* variables from the process
	// environment.)
	Getenv func(string) string
	// OnDropped is told how many finished spans were dropped (queue full,
	// export failed or timed out); nil drops them uncounted.
	OnDropped func(n int)
	// Recorder, when set, receives every span instead of an exporter
	// (tests): tracing is on whatever Config and the environment say.
	Recorder *Recorder
	// exporter, when set, replaces the OTLP exporter (tests of the queue).
	exporter sdktrace.SpanExporter
	// maxBatch caps the spans of one export; 0 means defaultMaxBatch.
	maxBatch int
}

// Tracer is the process's tracing: a TracerProvider and its export queue,
// or nothing when tracing is off. Create it with New; Shutdown it last.
//
// # Notes
//
//   - Safe for concurrent use. A nil *Tracer is off.
type Tracer struct {
	tp    *sdktrace.TracerProvider // nil when off
	tr    trace.Tracer
	queue *queue
	desc  string
}

// ErrConfig is returned by New when the environment asks for something it
// cannot do (an unknown OTEL_EXPORTER_OTLP_PROTOCOL).
var ErrConfig = errors.New("telemetry: bad configuration")

// New starts tracing when [telemetry] or the environment turns it on (see
// manifest.TelemetryConfig.Enabled), else returns an off Tracer.
func New(ctx context.Context, opts *Options) (*Tracer, error) {
	if opts == nil {
		opts = &Options{}
	}
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	cfg := opts.Config
	if opts.Recorder == nil && opts.exporter == nil && !enabled(cfg, getenv) {
		return &Tracer{desc: "off"}, nil
	}
	var exp sdktrace.SpanExporter
	desc := ""
	switch {
	case opts.Recorder != nil:
		exp, desc = opts.Recorder.mem, "in-memory recorder"
	case opts.exporter != nil:
		exp, desc = opts.exporter, "test exporter"
	default:
		var err error
		if exp, desc, err = otlpExporter(ctx, cfg, getenv); err != nil {
			return nil, err
		}
	}
	timeout := cfg.ExportTimeout
	if timeout <= 0 {
		timeout = manifest.DefaultExportTimeout
	}
	size := cfg.QueueSize
	if size <= 0 {
		size = manifest.DefaultSpanQueue
	}
	if opts.Recorder != nil {
		timeout = time.Minute // tests flush; never drop their spans on a slow machine
	}
	q := newQueue(exp, size, opts.maxBatch, timeout, opts.OnDropped)

	name := cfg.ServiceName
	if name == "" {
		name = getenv("OTEL_SERVICE_NAME")
	}
	if name == "" {
		name = "moat"
	}
	res, err := resource.New(ctx, resource.WithFromEnv(), resource.WithAttributes(attribute.String("service.name", name)))
	if err != nil && res == nil {
		res = resource.Default()
	}
	tpo := []sdktrace.TracerProviderOption{sdktrace.WithSpanProcessor(q), sdktrace.WithResource(res),
		sdktrace.WithRawSpanLimits(sdktrace.SpanLimits{AttributeValueLengthLimit: 256, AttributeCountLimit: 64,
			EventCountLimit: 16, LinkCountLimit: 4, AttributePerEventCountLimit: 8, AttributePerLinkCountLimit: 8})}
	if r := cfg.SampleRatio; r != nil {
		tpo = append(tpo, sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(*r))))
	}
	tp := sdktrace.NewTracerProvider(tpo...)
	return &Tracer{tp: tp, tr: tp.Tracer(ScopeName), queue: q, desc: desc}, nil
}

// enabled applies the rule of manifest.TelemetryConfig.Enabled.
func enabled(cfg manifest.TelemetryConfig, getenv func(string) string) bool {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") {
		return false
	}
	if cfg.Enabled != nil {
		return *cfg.Enabled
	}
	switch strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))) {
	case "none":
		return false
	case "otlp":
		return true
	}
	return cfg.Endpoint != "" || getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// otlpExporter makes the OTLP exporter of cfg's (else the environment's)
// protocol. Its own retries are off: a failed export is dropped and
// counted, the queue moves on.
func otlpExporter(ctx context.Context, cfg manifest.TelemetryConfig, getenv func(string) string) (sdktrace.SpanExporter, string, error) {
	proto := cfg.Protocol
	if proto == "" {
		proto = getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	}
	if proto == "" {
		proto = getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	if proto == "" {
		proto = "http/protobuf"
	}
	timeout := cfg.ExportTimeout
	if timeout <= 0 {
		timeout = manifest.DefaultExportTimeout
	}
	switch proto {
	case "http/protobuf":
		o := []otlptracehttp.Option{otlptracehttp.WithTimeout(timeout), otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false})}
		if cfg.Endpoint != "" {
			o = append(o, otlptracehttp.WithEndpointURL(strings.TrimSuffix(cfg.Endpoint, "/")+"/v1/traces"))
		}
		exp, err := otlptracehttp.New(ctx, o...)
		if err != nil {
			return nil, "", fmt.Errorf("telemetry: otlp http exporter: %w", err)
		}
		return exp, "otlp http/protobuf", nil
	case "grpc":
		o := []otlptracegrpc.Option{otlptracegrpc.WithTimeout(timeout), otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false})}
		if cfg.Endpoint != "" {
			o = append(o, otlptracegrpc.WithEndpointURL(cfg.Endpoint))
		}
		exp, err := otlptracegrpc.New(ctx, o...)
		if err != nil {
			return nil, "", fmt.Errorf("telemetry: otlp grpc exporter: %w", err)
		}
		return exp, "otlp grpc", nil
	}
	return nil, "", fmt.Errorf("%w: OTLP protocol %q: use http/protobuf or grpc", ErrConfig, proto)
}

// Enabled reports whether spans are recorded and exported.
func (t *Tracer) Enabled() bool { return t != nil && t.tp != nil }

// String says where spans go ("off", "otlp http/protobuf", …), for the
// start-up log.
func (t *Tracer) String() string {
	if t == nil {
		return "off"
	}
	return t.desc
}

// ForceFlush exports the spans queued so far, waiting until ctx ends.
func (t *Tracer) ForceFlush(ctx context.Context) error {
	if !t.Enabled() {
		return nil
	}
	return t.tp.ForceFlush(ctx)
}

// Shutdown flushes what is queued (until ctx ends) and stops exporting.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if !t.Enabled() {
		return nil
	}
	return t.tp.Shutdown(ctx)
}

// Span is one span, or nothing (the zero Span): every method of the zero
// Span does nothing, so callers never check whether tracing is on.
type Span struct{ s trace.Span }

// End ends the span; a second End does nothing.
func (s Span) End() {
	if s.s != nil {
		s.s.End()
	}
}

// Recording reports whether the span records (tracing on and sampled).
func (s Span) Recording() bool { return s.s != nil && s.s.IsRecording() }

// SetString sets a string attribute.
func (s Span) SetString(k, v string) {
	if s.s != nil {
		s.s.SetAttributes(attribute.String(k, v))
	}
}

// SetInt sets an integer attribute.
func (s Span) SetInt(k string, v int64) {
	if s.s != nil {
		s.s.SetAttributes(attribute.Int64(k, v))
	}
}

// SetName renames the span (the request span, once the tool is known).
func (s Span) SetName(name string) {
	if s.s != nil {
		s.s.SetName(name)
	}
}

// Fail marks the span failed with errType (a short, bounded kind such as
// an outcome: never an error's text, which may hold paths or guest
// output).
func (s Span) Fail(errType string) {
	if s.s != nil {
		s.s.SetAttributes(attribute.String("error.type", errType))
		s.s.SetStatus(codes.Error, errType)
	}
}

// Start starts a child of ctx's span named name. Without a recording span
// in ctx (tracing off, or the trace not sampled) it returns ctx and the
// zero Span, allocating nothing.
func Start(ctx context.Context, name string) (context.Context, Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, Span{}
	}
	ctx, s := parent.TracerProvider().Tracer(ScopeName).Start(ctx, name, trace.WithSpanKind(trace.SpanKindInternal))
	return ctx, Span{s}
}

// TraceID is the hex trace id of ctx's span, or of the remote parent a
// request came with while tracing is off; "" when there is none.
func TraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.TraceID().IsValid() {
		return ""
	}
	return sc.TraceID().String()
}

type requestKey struct{}

// Request is the request span ctx belongs to (the zero Span when none).
func Request(ctx context.Context) Span {
	s, _ := ctx.Value(requestKey{}).(Span)
	return s
}

// HasRequest reports whether ctx already belongs to a request span (or,
// tracing off, already carries the request's remote parent): the HTTP
// stage started it, so the MCP layer must not start another.
func HasRequest(ctx context.Context) bool {
	_, ok := ctx.Value(requestKey{}).(Span)
	return ok
}

// StartRequest starts the span of one MCP request, a server span whose
// parent is meta's trace context when valid, else header's (the HTTP
// traceparent; "" without). name is the method ("tools/call"); id the
// JSON-RPC id as sent (capped). With tracing off, only the remote parent
// is kept in ctx, so that TraceID still links the audit record to the
// caller's trace.
func (t *Tracer) StartRequest(ctx context.Context, method string, id string, meta Meta, header Meta) (context.Context, Span) {
	sc := meta.parent()
	if !sc.IsValid() {
		sc = header.parent()
	}
	if sc.IsValid() {
		ctx = trace.ContextWithRemoteSpanContext(ctx, sc)
	}
	if !t.Enabled() {
		if !sc.IsValid() {
			return ctx, Span{}
		}
		return context.WithValue(ctx, requestKey{}, Span{}), Span{}
	}
	method = methodName(method)
	ctx, s := t.tr.Start(ctx, method, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("mcp.method.name", method), attribute.String("rpc.system", "jsonrpc"),
			attribute.String("jsonrpc.protocol.version", "2.0")))
	if id != "" {
		s.SetAttributes(attribute.String("jsonrpc.request.id", capString(id, 64)))
	}
	sp := Span{s}
	return context.WithValue(ctx, requestKey{}, sp), sp
}

// SetTool names the request's tool once the host knows it is one it
// serves (never the client's text for an unknown name).
func SetTool(ctx context.Context, tool, principal string) {
	s := Request(ctx)
	if !s.Recording() {
		return
	}
	s.SetName("tools/call " + tool)
	s.s.SetAttributes(attribute.String("gen_ai.tool.name", tool), attribute.String("gen_ai.operation.name", "execute_tool"),
		attribute.String("moat.principal", principal))
}

// SetOutcome records how the request's call ended (an audit outcome):
// anything but ok marks the request span failed.
func SetOutcome(ctx context.Context, outcome string) {
	s := Request(ctx)
	if !s.Recording() {
		return
	}
	s.SetString("moat.outcome", outcome)
	if outcome != "ok" {
		s.Fail(outcome)
	}
}

// methodName is a JSON-RPC method as a span name: the client's text, so
// only a short name of letters, '/' and '_' (every MCP method) is kept;
// anything else is "other".
func methodName(m string) string {
	if m == "" || len(m) > 64 {
		return "other"
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '/' || c == '_') {
			return "other"
		}
	}
	return m
}

func capString(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
