package telemetry

import (
	"sort"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// Recorder keeps every span in memory (the SDK's tracetest exporter), for
// tests that assert the span tree: pass it as Options.Recorder.
//
// # Notes
//
//   - Safe for concurrent use.
type Recorder struct{ mem *tracetest.InMemoryExporter }

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder { return &Recorder{mem: tracetest.NewInMemoryExporter()} }

// SpanData is one finished span as a test sees it.
type SpanData struct {
	Name       string
	Kind       string // "server", "client", "internal"
	TraceID    string
	SpanID     string
	ParentID   string // "" for a root; the remote parent's id for a request with one
	Remote     bool   // the parent is remote (the request's trace context)
	TraceState string // the W3C tracestate the span carries
	Attrs      map[string]string
	Error      string // the status description when the span failed
}

// Spans are the spans exported so far (after Tracer.ForceFlush), in the
// order they started.
func (r *Recorder) Spans() []SpanData {
	stubs := r.mem.GetSpans()
	sort.SliceStable(stubs, func(i, j int) bool { return stubs[i].StartTime.Before(stubs[j].StartTime) })
	out := make([]SpanData, 0, len(stubs))
	for _, s := range stubs {
		d := SpanData{Name: s.Name, Kind: s.SpanKind.String(), TraceID: s.SpanContext.TraceID().String(), SpanID: s.SpanContext.SpanID().String(),
			Remote: s.Parent.IsRemote(), TraceState: s.SpanContext.TraceState().String(), Attrs: map[string]string{}}
		if s.Parent.SpanID().IsValid() {
			d.ParentID = s.Parent.SpanID().String()
		}
		if s.Status.Code.String() == "Error" {
			d.Error = s.Status.Description
		}
		for _, kv := range s.Attributes {
			d.Attrs[string(kv.Key)] = kv.Value.String()
		}
		out = append(out, d)
	}
	return out
}

// Reset forgets the spans recorded so far.
func (r *Recorder) Reset() { r.mem.Reset() }
