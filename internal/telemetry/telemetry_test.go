package telemetry

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/moatmcp/moat/internal/manifest"
)

func env(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

func ptr[T any](v T) *T { return &v }

// TestEnabled: when tracing is on, from [telemetry] and the standard
// variables.
func TestEnabled(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  manifest.TelemetryConfig
		env  map[string]string
		want bool
	}{
		{"nothing configured", manifest.TelemetryConfig{}, nil, false},
		{"endpoint in moat.toml", manifest.TelemetryConfig{Endpoint: "http://127.0.0.1:4318"}, nil, true},
		{"OTEL_EXPORTER_OTLP_ENDPOINT", manifest.TelemetryConfig{}, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, true},
		{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", manifest.TelemetryConfig{}, map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, true},
		{"OTEL_TRACES_EXPORTER=otlp", manifest.TelemetryConfig{}, map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true},
		{"OTEL_TRACES_EXPORTER=none wins over an endpoint variable", manifest.TelemetryConfig{}, map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c"}, false},
		{"enabled = false wins", manifest.TelemetryConfig{Enabled: ptr(false), Endpoint: "http://c"}, map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, false},
		{"enabled = true", manifest.TelemetryConfig{Enabled: ptr(true)}, nil, true},
		{"OTEL_SDK_DISABLED wins over everything", manifest.TelemetryConfig{Enabled: ptr(true)}, map[string]string{"OTEL_SDK_DISABLED": "true"}, false},
	} {
		if got := enabled(tc.cfg, env(tc.env)); got != tc.want {
			t.Errorf("%s: enabled = %v; want %v", tc.name, got, tc.want)
		}
	}
}

// TestOffCostsNothing: with tracing off, starting spans allocates nothing
// and returns the context as it was.
func TestOffCostsNothing(t *testing.T) {
	tr, err := New(context.Background(), &Options{Getenv: env(nil)})
	if err != nil || tr.Enabled() {
		t.Fatalf("New: %v, enabled %v", err, tr.Enabled())
	}
	ctx := context.Background()
	allocs := testing.AllocsPerRun(100, func() {
		c, s := Start(ctx, "x")
		s.SetString("k", "v")
		s.End()
		c2, s2 := tr.StartRequest(c, "tools/call", "1", Meta{}, Meta{})
		s2.End()
		c3, s3 := StartHTTP(c2, "GET", "http://example.com/")
		s3.EndHTTP(200, "")
		if Inject(c3, nil) != nil || TraceID(c3) != "" {
			t.Fatal("off: something was traced")
		}
	})
	if allocs != 0 {
		t.Errorf("off: %v allocations per call path; want 0", allocs)
	}
}

// TestMetaBounded: the bounds on incoming trace context.
func TestMetaBounded(t *testing.T) {
	tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for _, tc := range []struct {
		name string
		in   Meta
		want Meta
	}{
		{"within bounds", Meta{tp, "a=1", "k=v"}, Meta{tp, "a=1", "k=v"}},
		{"traceparent of another length", Meta{tp + "-00", "", ""}, Meta{}},
		{"tracestate over 512 bytes", Meta{tp, "a=" + strings.Repeat("x", 511), ""}, Meta{tp, "", ""}},
		{"tracestate of 33 members", Meta{tp, strings.Repeat("a=1,", 32) + "a=1", ""}, Meta{tp, "", ""}},
		{"tracestate of 32 members", Meta{tp, strings.Repeat("a=1,", 31) + "a=1", ""}, Meta{tp, strings.Repeat("a=1,", 31) + "a=1", ""}},
		{"baggage over 1 KiB", Meta{tp, "", "k=" + strings.Repeat("v", 1023)}, Meta{tp, "", ""}},
	} {
		if got := tc.in.Bounded(); got != tc.want {
			t.Errorf("%s: Bounded = %+v; want %+v", tc.name, got, tc.want)
		}
	}
}

// TestInjectReplacesTheGuests: the host's trace context replaces the
// tool's own traceparent and tracestate in any letter case, keeps its
// other headers, leaves its map alone, and adds no baggage.
func TestInjectReplacesTheGuests(t *testing.T) {
	rec := NewRecorder()
	tr, _ := New(context.Background(), &Options{Recorder: rec})
	defer tr.Shutdown(context.Background())
	ctx, req := tr.StartRequest(context.Background(), "tools/call", "", Meta{Traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", Baggage: "user=alice"}, Meta{})
	defer req.End()
	ctx, s := StartHTTP(ctx, "GET", "https://api.example.com:8443/x?token=1")
	guest := map[string]string{"TRACEPARENT": "00-ffffffffffffffffffffffffffffffff-ffffffffffffffff-01", "tracestate": "evil=1", "Accept": "a/b"}
	got := Inject(ctx, guest)
	s.EndHTTP(200, "")
	if len(guest) != 3 || guest["TRACEPARENT"] == "" {
		t.Error("the guest's map was changed")
	}
	want := "00-4bf92f3577b34da6a3ce929d0e0e4736-" + s.s.SpanContext().SpanID().String() + "-01"
	if got["traceparent"] != want || got["Accept"] != "a/b" || got["TRACEPARENT"] != "" || got["tracestate"] != "" || got["baggage"] != "" || len(got) != 2 {
		t.Errorf("Inject = %v; want traceparent %s and Accept only", got, want)
	}
}

// blockingExporter blocks every export until release is closed, and says
// when an export has begun.
type blockingExporter struct {
	began   chan int
	release chan struct{}
}

func (b *blockingExporter) ExportSpans(ctx context.Context, s []sdktrace.ReadOnlySpan) error {
	b.began <- len(s)
	select {
	case <-b.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
func (b *blockingExporter) Shutdown(context.Context) error { return nil }

// TestSlowCollectorDropsNotWaits: while an export hangs, ending spans
// never blocks; the spans past the queue are dropped and counted, one by
// one.
func TestSlowCollectorDropsNotWaits(t *testing.T) {
	exp := &blockingExporter{began: make(chan int, 4), release: make(chan struct{})}
	var dropped atomic.Int64
	tr, err := New(context.Background(), &Options{Config: manifest.TelemetryConfig{QueueSize: 2, ExportTimeout: time.Minute},
		exporter: exp, maxBatch: 1, OnDropped: func(n int) { dropped.Add(int64(n)) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, root := tr.StartRequest(context.Background(), "tools/call", "", Meta{}, Meta{})
	root.End() // the first span: taken by the exporter, which hangs
	if n := <-exp.began; n != 1 {
		t.Fatalf("first batch of %d", n)
	}
	for range 5 { // two fit the queue, three are dropped
		_, s := tr.tr.Start(ctx, "more")
		s.End()
	}
	if got := dropped.Load(); got != 3 {
		t.Errorf("dropped %d spans; want 3 (queue of 2, exporter busy)", got)
	}
	close(exp.release)
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestCollectorDownDropsAndCounts: with the collector's port closed, every
// span is dropped and counted when its export fails, and Shutdown returns
// without waiting for anything.
func TestCollectorDownDropsAndCounts(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	var mu sync.Mutex
	dropped := 0
	tr, err := New(context.Background(), &Options{Getenv: env(nil), Config: manifest.TelemetryConfig{Endpoint: "http://" + addr, ExportTimeout: 30 * time.Second},
		OnDropped: func(n int) { mu.Lock(); dropped += n; mu.Unlock() }})
	if err != nil || !tr.Enabled() {
		t.Fatalf("New: %v", err)
	}
	ctx, root := tr.StartRequest(context.Background(), "tools/call", "", Meta{}, Meta{})
	for range 4 {
		_, s := Start(ctx, "child")
		s.End()
	}
	root.End()
	if err := tr.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if dropped != 5 {
		t.Errorf("dropped %d; want all 5 spans", dropped)
	}
	if err := tr.Shutdown(context.Background()); err != nil && !errors.Is(err, context.Canceled) {
		t.Logf("shutdown: %v", err)
	}
}

// TestBadProtocol: an unknown OTLP protocol in the environment is a clear
// error at start.
func TestBadProtocol(t *testing.T) {
	_, err := New(context.Background(), &Options{Getenv: env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"})})
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), `"http/json"`) {
		t.Fatalf("err = %v", err)
	}
}

// TestStage: a stage's span ends when the stage hands the request on (the
// next stages run under the request span), and is failed when the stage
// answers the request itself.
func TestStage(t *testing.T) {
	rec := NewRecorder()
	tr, _ := New(context.Background(), &Options{Recorder: rec})
	defer tr.Shutdown(context.Background())
	var sawParent string
	final := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawParent = trace.SpanFromContext(r.Context()).SpanContext().SpanID().String()
	})
	gate := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Deny") != "" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	h := Stage("moat.authenticate", gate)(final)
	for _, deny := range []bool{false, true} {
		rec.Reset()
		ctx, req := tr.StartRequest(context.Background(), "tools/call", "", Meta{}, Meta{})
		r := httptest.NewRequest("POST", "/mcp", nil).WithContext(ctx)
		if deny {
			r.Header.Set("Deny", "1")
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
		req.End()
		tr.ForceFlush(context.Background())
		spans := rec.Spans()
		if len(spans) != 2 || spans[1].Name != "moat.authenticate" || spans[1].ParentID != spans[0].SpanID {
			t.Fatalf("deny=%v: spans %+v", deny, spans)
		}
		if deny && spans[1].Error != "refused" || !deny && (spans[1].Error != "" || sawParent != spans[0].SpanID) {
			t.Errorf("deny=%v: stage error %q, next ran under %s (request %s)", deny, spans[1].Error, sawParent, spans[0].SpanID)
		}
	}
}

// TestMethodName: a client's method becomes a span name only when it looks
// like one.
func TestMethodName(t *testing.T) {
	for in, want := range map[string]string{
		"tools/call": "tools/call", "notifications/initialized": "notifications/initialized", "server/discover": "server/discover",
		"": "other", "tools/call\x1b[2J": "other", strings.Repeat("a", 65): "other", "a b": "other",
	} {
		if got := methodName(in); got != want {
			t.Errorf("methodName(%q) = %q; want %q", in, got, want)
		}
	}
}
