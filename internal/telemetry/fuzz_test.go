package telemetry

import (
	"context"
	"regexp"
	"testing"
)

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

// FuzzRequestContext: whatever a client puts in traceparent, tracestate
// and baggage (in _meta or the headers), starting the request's span
// never fails, keeps the bounds, and yields no trace id or a well-formed
// one — with tracing on and off.
func FuzzRequestContext(f *testing.F) {
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "a=1,b=2", "k=v")
	f.Add("00-00000000000000000000000000000000-0000000000000000-00", "", "")
	f.Add("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "=,,=", ";;")
	f.Add("00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01", "a=\x00", "k=%zz")
	rec := NewRecorder()
	on, _ := New(context.Background(), &Options{Recorder: rec})
	off, _ := New(context.Background(), &Options{Getenv: func(string) string { return "" }})
	f.Fuzz(func(t *testing.T, tp, ts, bg string) {
		m := Meta{Traceparent: tp, Tracestate: ts, Baggage: bg}
		b := m.Bounded()
		if len(b.Traceparent) > traceparentLen || len(b.Tracestate) > MaxTraceState || len(b.Baggage) > MaxBaggage {
			t.Fatalf("Bounded kept %d/%d/%d bytes", len(b.Traceparent), len(b.Tracestate), len(b.Baggage))
		}
		for _, tr := range []*Tracer{on, off} {
			ctx, s := tr.StartRequest(context.Background(), "tools/call", tp, m, Meta{Traceparent: bg})
			if id := TraceID(ctx); id != "" && !hex32.MatchString(id) {
				t.Fatalf("trace id %q", id)
			}
			out := Inject(ctx, map[string]string{"traceparent": tp})
			if v, ok := out["traceparent"]; ok && s.Recording() && len(v) != traceparentLen {
				t.Fatalf("injected traceparent %q", v)
			}
			s.End()
		}
		rec.Reset()
	})
}
