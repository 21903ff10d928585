package telemetry

import (
	"context"

	"net/http"
	"net/url"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Stage returns an HTTP stage that runs inner (a stage of the host's HTTP
// path, e.g. authentication) under a child span named name: the span ends
// when inner hands the request on, or when inner answers it itself (a
// refusal, which marks the span failed). The stages after it run under
// the request span again.
//
// With no recording span in the request's context it is inner itself, at
// no cost.
func Stage(name string, inner func(http.Handler) http.Handler) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		type stageKey struct{}
		type stageState struct {
			parent  trace.Span
			resumed bool
		}
		resume := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			trace.SpanFromContext(r.Context()).End()
			if st, ok := r.Context().Value(stageKey{}).(*stageState); ok {
				st.resumed = true
				r = r.WithContext(trace.ContextWithSpan(r.Context(), st.parent))
			}
			next.ServeHTTP(w, r)
		})
		wrapped := inner(resume)
		plain := inner(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			parent := trace.SpanFromContext(r.Context())
			if !parent.IsRecording() {
				plain.ServeHTTP(w, r)
				return
			}
			st := &stageState{parent: parent}
			ctx, s := parent.TracerProvider().Tracer(ScopeName).Start(context.WithValue(r.Context(), stageKey{}, st), name)
			wrapped.ServeHTTP(w, r.WithContext(ctx))
			if !st.resumed { // inner answered the request itself: a refusal
				Span{s}.Fail("refused")
				s.End()
			}
		})
	}
}

// StartHTTP starts the client span of one outbound request a tool asked
// for (method and rawURL as the guest gave them). Its attributes are the
// method and the server's host and port: never the path, the query or
// any header. With no recording span in ctx it returns ctx and the zero
// Span.
func StartHTTP(ctx context.Context, method, rawURL string) (context.Context, Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, Span{}
	}
	attrs := []attribute.KeyValue{attribute.String("http.request.method", capString(method, 16))}
	if u, err := url.Parse(rawURL); err == nil && u.Host != "" {
		host, port := u.Hostname(), u.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
		}
		attrs = append(attrs, attribute.String("server.address", capString(host, 253)), attribute.String("url.scheme", capString(u.Scheme, 8)))
		if n, err := strconv.Atoi(port); err == nil {
			attrs = append(attrs, attribute.Int("server.port", n))
		}
	}
	ctx, s := parent.TracerProvider().Tracer(ScopeName).Start(ctx, capString(method, 16), trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	return ctx, Span{s}
}

// EndHTTP ends a StartHTTP span with the response status (0 when none
// came) and the error kind ("" on success; an ABI error name otherwise).
func (s Span) EndHTTP(status int, errKind string) {
	if s.s == nil {
		return
	}
	if status > 0 {
		s.s.SetAttributes(attribute.Int("http.response.status_code", status))
	}
	switch {
	case errKind != "":
		s.Fail(errKind)
	case status >= 400:
		s.Fail(strconv.Itoa(status))
	}
	s.s.End()
}

// RequestHead is what the HTTP stage needs of a request: its JSON-RPC
// method and id (as sent) and the trace context of its params._meta.
type RequestHead func(r *http.Request) (method, id string, meta Meta)

// Middleware is the HTTP stage that starts each POST's request span (see
// StartRequest) and puts it in the request's context (Request), from
// where the host hands it to the MCP layer (Resume); the span ends when
// the response is written. With tracing off it is next itself.
func (t *Tracer) Middleware(head RequestHead) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if !t.Enabled() {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost {
				next.ServeHTTP(w, r)
				return
			}
			method, id, meta := head(r)
			ctx, s := t.StartRequest(r.Context(), method, id, meta, HeaderMeta(r.Header))
			defer s.End()
			s.SetString("network.transport", "tcp")
			s.SetString("network.protocol.name", "http")
			if v := r.Header.Get("Mcp-Protocol-Version"); protocolVersion(v) {
				s.SetString("mcp.protocol.version", v)
			}
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// Resume puts s, a request span the HTTP stage started (Request of its
// context), in ctx, as that request's span: the MCP layer runs a request
// under contexts of its own. false when s is the zero Span (tracing off).
func Resume(ctx context.Context, s Span) (context.Context, bool) {
	if s.s == nil {
		return ctx, false
	}
	return context.WithValue(trace.ContextWithSpan(ctx, s.s), requestKey{}, s), true
}

// protocolVersion reports whether v looks like an MCP protocol version
// (YYYY-MM-DD), the only client text kept as mcp.protocol.version.
func protocolVersion(v string) bool {
	if len(v) != 10 || v[4] != '-' || v[7] != '-' {
		return false
	}
	for i := 0; i < len(v); i++ {
		if i != 4 && i != 7 && (v[i] < '0' || v[i] > '9') {
			return false
		}
	}
	return true
}
