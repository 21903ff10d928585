// Package metrics exposes moat's operational counters in the Prometheus text
// format: calls by tool and outcome, call latency, denials, rate-limited
// calls, instances in flight, load and reload errors,
// authentication decisions, and whether the shared state store answers.
//
// It sits beside the call path rather than in it: every stage
// (transport → authenticate → rate limit → MCP server → authorise → validate
// → sandbox → result → audit) reports what it decided here, and an operator
// scrapes Handler on its own listener or behind auth.
//
// This is the only package that imports github.com/prometheus/client_golang;
// see docs/metrics.md for why the dependency is worth it.
//
// # Notes
//
//   - Label cardinality is bounded. Outcome, reason, limit, kind, method and
//     result values outside fixed sets are recorded as "other", so a client
//     cannot create series by choosing what it sends. Tool names come from
//     manifests (a bounded set chosen by the operator); a name that is not a
//     valid tool name, or that arrives after MaxTools distinct names have been
//     seen, is recorded as "other".
//   - A Metrics uses its own registry (not prometheus.DefaultRegisterer), so
//     several can exist in one process (tests, reloads) without collisions.
//   - All methods are safe for concurrent use. A nil *Metrics is valid and
//     records nothing, so callers need not guard every call.
package metrics

import (
	"net/http"
	"sync"
	"time"

	"github.com/moatmcp/moat/internal/audit"
	"github.com/moatmcp/moat/internal/manifest"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Other is the label value recorded for any value outside a label's known set.
const Other = "other"

// MaxTools bounds the number of distinct tool label values. Manifests are the
// only source of tool names, so this is far above any real deployment; it
// exists so that a bug upstream (an unvalidated name reaching Call) cannot
// grow the series count without limit.
const MaxTools = 1024

// Outcomes is the set of call outcomes recorded by Call: the audit log's
// (audit.CallOutcomes), the one vocabulary.
var Outcomes = func() []string {
	out := make([]string, len(audit.CallOutcomes))
	for i, o := range audit.CallOutcomes {
		out[i] = string(o)
	}
	return out
}()

// Quotas is the set of quotas recorded by OverQuota ([quotas]).
var Quotas = []string{"wall_time", "outbound_bytes", "output_bytes"}

// MemoryBuckets are the guest memory histogram's upper bounds in bytes:
// one 64 KiB page to 4 GiB (wasm32's most), ×4 apart.
var MemoryBuckets = []float64{1 << 16, 1 << 18, 1 << 20, 1 << 22, 1 << 24, 1 << 26, 1 << 28, 1 << 30, 1 << 32}

// DenyReasons is the set of reasons recorded by Denied.
var DenyReasons = []string{
	"unauthenticated", "forbidden", "unknown_tool", "scope", "origin",
	"host", "body_too_large", "client_capability",
}

// Limits is the set of limiter names recorded by Limited.
var Limits = []string{
	"global", "principal", "principal_tool", "tool", "concurrency",
	"auth_failures", "table_full", "sessions", "listen_streams",
}

// AuthMethods is the set of authentication methods recorded by AuthDecision.
var AuthMethods = []string{"api_key", "jwt", "none", "stdio"}

// LoadKinds is the set of kinds recorded by LoadError.
var LoadKinds = []string{"load", "reload"}

// DurationBuckets are the latency histogram's upper bounds in seconds: from
// 100µs (a cached no-op guest) to 30s (the longest timeout a manifest is
// expected to grant), roughly ×2.5 apart.
var DurationBuckets = []float64{
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
}

// Metrics holds moat's collectors and the registry they are exposed from.
// Create one with New.
type Metrics struct {
	reg *prometheus.Registry

	calls        *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	denials      *prometheus.CounterVec
	limited      *prometheus.CounterVec
	inFlight     *prometheus.GaugeVec
	loadErrors   *prometheus.CounterVec
	reloads      *prometheus.CounterVec
	auth         *prometheus.CounterVec
	stateUp      prometheus.Gauge
	guestMemory  *prometheus.HistogramVec
	overQuota    *prometheus.CounterVec
	spansDropped prometheus.Counter

	outcomes, reasons, limits, methods, kinds, quotas map[string]bool

	mu    sync.Mutex
	tools map[string]bool // distinct tool label values seen, at most MaxTools
}

// New returns a Metrics with every collector registered on a private
// registry, together with the Go runtime and process collectors.
//
// Series for the fixed label sets that do not depend on a tool (denials,
// limits, auth, reloads) are created at zero, so a dashboard
// sees 0 rather than no data before the first event.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "moat_tool_calls_total",
			Help: "Tool calls by tool and outcome.",
		}, []string{"tool", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "moat_tool_call_duration_seconds",
			Help:    "Tool call latency, from dispatch to result, by tool.",
			Buckets: DurationBuckets,
		}, []string{"tool"}),
		denials: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "moat_denials_total",
			Help: "Requests denied, by reason.",
		}, []string{"reason"}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "moat_rate_limited_total",
			Help: "Requests refused by a rate or concurrency limit, by limit.",
		}, []string{"limit"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "moat_instances_in_flight",
			Help: "Guest instances currently running, by tool.",
		}, []string{"tool"}),
		loadErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "moat_load_errors_total",
			Help: "Tools that failed to load, at startup (load) or on reload.",
		}, []string{"kind"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "moat_reloads_total",
			Help: "Reloads of the tool set, by result.",
		}, []string{"result"}),
		auth: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "moat_auth_total",
			Help: "Authentication decisions, by method and result.",
		}, []string{"method", "result"}),
		stateUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "moat_state_up",
			Help: "1 while the shared state store ([state] url, Redis) answers, 0 while it does not; 1 with in-process state.",
		}),
		guestMemory: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "moat_guest_memory_bytes",
			Help:    "Guest linear memory at its largest during each tool call (the receipt's memory_peak_bytes), by tool.",
			Buckets: MemoryBuckets,
		}, []string{"tool"}),
		overQuota: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "moat_quota_exceeded_total",
			Help: "Tool calls refused because the principal used up a quota ([quotas]), by quota.",
		}, []string{"quota"}),
		spansDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "moat_trace_spans_dropped_total",
			Help: "Finished trace spans dropped because the export queue was full or an export to the OTLP collector failed or timed out ([telemetry]).",
		}),
		outcomes: set(Outcomes),
		quotas:   set(Quotas),
		reasons:  set(DenyReasons),
		limits:   set(Limits),
		methods:  set(AuthMethods),
		kinds:    set(LoadKinds),
		tools:    make(map[string]bool),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.calls, m.duration, m.denials, m.limited, m.inFlight,
		m.loadErrors, m.reloads, m.auth, m.stateUp,
		m.guestMemory, m.overQuota, m.spansDropped,
	)
	for _, q := range append(Quotas, Other) {
		m.overQuota.WithLabelValues(q)
	}
	m.stateUp.Set(1)
	for _, r := range append(DenyReasons, Other) {
		m.denials.WithLabelValues(r)
	}
	for _, l := range append(Limits, Other) {
		m.limited.WithLabelValues(l)
	}
	for _, k := range LoadKinds {
		m.loadErrors.WithLabelValues(k)
	}
	for _, r := range []string{"ok", "error"} {
		m.reloads.WithLabelValues(r)
	}
	for _, meth := range AuthMethods {
		for _, r := range []string{"ok", "failed"} {
			m.auth.WithLabelValues(meth, r)
		}
	}
	return m
}

// StateUp records whether the shared state store answers (docs/scale.md).
func (m *Metrics) StateUp(up bool) {
	if m == nil {
		return
	}
	if up {
		m.stateUp.Set(1)
	} else {
		m.stateUp.Set(0)
	}
}

// GuestMemory records one call's guest memory peak:
// moat_guest_memory_bytes{tool}.
func (m *Metrics) GuestMemory(tool string, bytes uint64) {
	if m == nil {
		return
	}
	m.guestMemory.WithLabelValues(m.tool(tool)).Observe(float64(bytes))
}

// OverQuota records one call refused by a quota:
// moat_quota_exceeded_total{quota}.
func (m *Metrics) OverQuota(quota string) {
	if m == nil {
		return
	}
	m.overQuota.WithLabelValues(pick(m.quotas, quota)).Inc()
}

// SpansDropped adds n to moat_trace_spans_dropped_total.
func (m *Metrics) SpansDropped(n int) {
	if m == nil || n <= 0 {
		return
	}
	m.spansDropped.Add(float64(n))
}

// Handler returns the HTTP handler that serves the exposition. It is not
// authenticated: mount it on a separate listener or behind auth.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		// A scrape that fails to gather a collector still serves the rest
		// and counts the error, rather than failing the whole scrape.
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      m.reg,
	})
}

// Call records one finished tool call: moat_tool_calls_total{tool,outcome}
// and moat_tool_call_duration_seconds{tool}.
func (m *Metrics) Call(tool string, outcome audit.Outcome, d time.Duration) {
	if m == nil {
		return
	}
	tool = m.tool(tool)
	m.calls.WithLabelValues(tool, pick(m.outcomes, string(outcome))).Inc()
	if d < 0 {
		d = 0
	}
	m.duration.WithLabelValues(tool).Observe(d.Seconds())
}

// Denied records one denial: moat_denials_total{reason}.
func (m *Metrics) Denied(reason string) {
	if m == nil {
		return
	}
	m.denials.WithLabelValues(pick(m.reasons, reason)).Inc()
}

// Limited records one rate-limited request: moat_rate_limited_total{limit}.
func (m *Metrics) Limited(which string) {
	if m == nil {
		return
	}
	m.limited.WithLabelValues(pick(m.limits, which)).Inc()
}

// InFlight adds delta to moat_instances_in_flight{tool}: +1 when an instance
// starts, -1 when it ends.
func (m *Metrics) InFlight(tool string, delta int) {
	if m == nil {
		return
	}
	m.inFlight.WithLabelValues(m.tool(tool)).Add(float64(delta))
}

// LoadError records one tool that failed to load:
// moat_load_errors_total{kind="load"|"reload"}.
func (m *Metrics) LoadError(kind string) {
	if m == nil {
		return
	}
	m.loadErrors.WithLabelValues(pick(m.kinds, kind)).Inc()
}

// Reload records one reload of the tool set: moat_reloads_total{result="ok"|"error"}.
func (m *Metrics) Reload(ok bool) {
	if m == nil {
		return
	}
	m.reloads.WithLabelValues(choose(ok, "ok", "error")).Inc()
}

// AuthDecision records one authentication decision:
// moat_auth_total{method,result="ok"|"failed"}.
func (m *Metrics) AuthDecision(method string, ok bool) {
	if m == nil {
		return
	}
	m.auth.WithLabelValues(pick(m.methods, method), choose(ok, "ok", "failed")).Inc()
}

// tool returns the label value for a tool name: the name itself while fewer
// than MaxTools distinct names have been seen and it looks like a tool name,
// Other otherwise.
func (m *Metrics) tool(name string) string {
	if !validToolName(name) {
		return Other
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tools[name] {
		return name
	}
	if len(m.tools) >= MaxTools {
		return Other
	}
	m.tools[name] = true
	return name
}

// validToolName is the manifest's tool-name rule (manifest.CheckToolName),
// a backstop so no arbitrary bytes become a label value.
func validToolName(s string) bool { return manifest.CheckToolName(s) == "" }

func set(values []string) map[string]bool {
	s := make(map[string]bool, len(values))
	for _, v := range values {
		s[v] = true
	}
	return s
}

func pick(known map[string]bool, v string) string {
	if known[v] {
		return v
	}
	return Other
}

func choose(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}
