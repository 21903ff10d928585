package metrics

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape serves one GET /metrics from m and parses the text exposition.
func scrape(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: status %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("scrape: content type %q", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("scrape: parse: %v", err)
	}
	return fams
}

// series flattens a family into "label=value,label=value" → value (counter,
// gauge) or → sample count (histogram).
func series(f *dto.MetricFamily) map[string]float64 {
	out := make(map[string]float64)
	if f == nil {
		return out
	}
	for _, m := range f.GetMetric() {
		var parts []string
		for _, l := range m.GetLabel() {
			parts = append(parts, l.GetName()+"="+l.GetValue())
		}
		sort.Strings(parts)
		key := strings.Join(parts, ",")
		switch {
		case m.Counter != nil:
			out[key] = m.GetCounter().GetValue()
		case m.Gauge != nil:
			out[key] = m.GetGauge().GetValue()
		case m.Histogram != nil:
			out[key] = float64(m.GetHistogram().GetSampleCount())
		}
	}
	return out
}

// nonZero drops zero-valued series, so a test can state exactly what moved.
func nonZero(s map[string]float64) map[string]float64 {
	out := make(map[string]float64)
	for k, v := range s {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

func equal(t *testing.T, name string, got, want map[string]float64) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) { // fmt sorts map keys
		t.Errorf("%s:\n got  %v\n want %v", name, got, want)
	}
}

func TestScrapeAfterKnownSequence(t *testing.T) {
	m := New()
	m.Call("echo", "ok", 2*time.Millisecond)
	m.Call("echo", "ok", 3*time.Millisecond)
	m.Call("echo", "timeout", 5*time.Second)
	m.Call("grep", "tool_error", 40*time.Millisecond)
	m.Call("grep", "bogus-outcome", time.Millisecond) // → other
	m.Call("bad name{}", "ok", time.Millisecond)      // → tool other
	m.Denied("forbidden")
	m.Denied("forbidden")
	m.Denied("unauthenticated")
	m.Denied("\x00attacker-chosen") // → other
	m.Limited("principal")
	m.Limited("principal_tool")
	m.Limited("nope") // → other
	m.InFlight("echo", 1)
	m.InFlight("echo", 1)
	m.InFlight("echo", -1)
	m.InFlight("grep", 1)
	m.InFlight("grep", -1)
	m.LoadError("load")
	m.LoadError("reload")
	m.LoadError("reload")
	m.LoadError("explode") // → other
	m.Reload(true)
	m.Reload(false)
	m.Reload(true)
	m.AuthDecision("api_key", true)
	m.AuthDecision("api_key", false)
	m.AuthDecision("jwt", false)
	m.AuthDecision("basic", true) // → other

	fams := scrape(t, m)

	equal(t, "moat_tool_calls_total", series(fams["moat_tool_calls_total"]), map[string]float64{
		"outcome=ok,tool=echo":         2,
		"outcome=timeout,tool=echo":    1,
		"outcome=tool_error,tool=grep": 1,
		"outcome=other,tool=grep":      1,
		"outcome=ok,tool=other":        1,
	})
	equal(t, "moat_tool_call_duration_seconds", series(fams["moat_tool_call_duration_seconds"]), map[string]float64{
		"tool=echo": 3, "tool=grep": 2, "tool=other": 1,
	})
	equal(t, "moat_denials_total", nonZero(series(fams["moat_denials_total"])), map[string]float64{
		"reason=forbidden": 2, "reason=unauthenticated": 1, "reason=other": 1,
	})
	equal(t, "moat_rate_limited_total", nonZero(series(fams["moat_rate_limited_total"])), map[string]float64{
		"limit=principal": 1, "limit=principal_tool": 1, "limit=other": 1,
	})
	equal(t, "moat_instances_in_flight", series(fams["moat_instances_in_flight"]), map[string]float64{
		"tool=echo": 1, "tool=grep": 0,
	})
	equal(t, "moat_load_errors_total", series(fams["moat_load_errors_total"]), map[string]float64{
		"kind=load": 1, "kind=reload": 2, "kind=other": 1,
	})
	equal(t, "moat_reloads_total", series(fams["moat_reloads_total"]), map[string]float64{
		"result=ok": 2, "result=error": 1,
	})
	equal(t, "moat_auth_total", nonZero(series(fams["moat_auth_total"])), map[string]float64{
		"method=api_key,result=ok": 1, "method=api_key,result=failed": 1,
		"method=jwt,result=failed": 1, "method=other,result=ok": 1,
	})

	// The histogram's buckets: echo saw 2ms, 3ms and 5s.
	var echo *dto.Histogram
	for _, mm := range fams["moat_tool_call_duration_seconds"].GetMetric() {
		if mm.GetLabel()[0].GetValue() == "echo" {
			echo = mm.GetHistogram()
		}
	}
	if echo == nil {
		t.Fatal("no histogram for echo")
	}
	cum := map[float64]uint64{}
	for _, b := range echo.GetBucket() {
		cum[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	for _, c := range []struct {
		le   float64
		want uint64
	}{{0.001, 0}, {0.0025, 1}, {0.005, 2}, {2.5, 2}, {5, 3}, {30, 3}} {
		if got := cum[c.le]; got != c.want {
			t.Errorf("echo bucket le=%g: got %d, want %d", c.le, got, c.want)
		}
	}
	if got, want := echo.GetSampleSum(), 5.005; got < want-1e-9 || got > want+1e-9 {
		t.Errorf("echo sum: got %g, want %g", got, want)
	}

	// The Go and process collectors are registered alongside.
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes"} {
		if fams[name] == nil {
			t.Errorf("missing %s", name)
		}
	}
}

func TestFreshScrapeHasZeroSeries(t *testing.T) {
	fams := scrape(t, New())
	for _, c := range []struct{ family, series string }{
		{"moat_denials_total", "reason=forbidden"},
		{"moat_denials_total", "reason=other"},
		{"moat_rate_limited_total", "limit=principal"},
		{"moat_reloads_total", "result=error"},
		{"moat_load_errors_total", "kind=reload"},
		{"moat_auth_total", "method=jwt,result=failed"},
	} {
		v, ok := series(fams[c.family])[c.series]
		if !ok || v != 0 {
			t.Errorf("%s{%s}: got %v (present %v), want 0", c.family, c.series, v, ok)
		}
	}
	if f := fams["moat_tool_calls_total"]; f != nil {
		t.Errorf("moat_tool_calls_total has series before any call: %v", series(f))
	}
}

func TestToolLabelIsBounded(t *testing.T) {
	m := New()
	for i := 0; i < MaxTools+50; i++ {
		m.Call(fmt.Sprintf("tool%d", i), "ok", time.Millisecond)
	}
	got := series(scrape(t, m)["moat_tool_calls_total"])
	if len(got) != MaxTools+1 {
		t.Fatalf("series: got %d, want %d", len(got), MaxTools+1)
	}
	if got["outcome=ok,tool=other"] != 50 {
		t.Errorf("other: got %v, want 50", got["outcome=ok,tool=other"])
	}
	// A name seen before the cap keeps its own series.
	m.Call("tool0", "ok", time.Millisecond)
	if got := series(scrape(t, m)["moat_tool_calls_total"])["outcome=ok,tool=tool0"]; got != 2 {
		t.Errorf("tool0: got %v, want 2", got)
	}
}

func TestLabelValues(t *testing.T) {
	for _, c := range []struct {
		name, in, want string
	}{
		{"known tool", "fs.read_file", "fs.read_file"},
		{"empty tool", "", Other},
		{"space", "a b", Other},
		{"quote", `a"b`, Other},
		{"newline", "a\nb", Other},
		{"utf8", "é", Other},
		{"too long", strings.Repeat("a", 129), Other},
		{"max length", strings.Repeat("a", 128), strings.Repeat("a", 128)},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := New().tool(c.in); got != c.want {
				t.Errorf("tool(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestNilMetricsIsANoOp(t *testing.T) {
	var m *Metrics
	m.Call("x", "ok", time.Second)
	m.Denied("forbidden")
	m.Limited("global")
	m.InFlight("x", 1)
	m.LoadError("load")
	m.Reload(true)
	m.AuthDecision("jwt", true)
}

func TestTwoInstancesDoNotCollide(t *testing.T) {
	a, b := New(), New()
	a.Reload(true)
	if got := series(scrape(t, b)["moat_reloads_total"])["result=ok"]; got != 0 {
		t.Errorf("b saw a's reload: %v", got)
	}
}

func BenchmarkCall(b *testing.B) {
	m := New()
	b.ReportAllocs()
	for b.Loop() {
		m.Call("echo", "ok", time.Millisecond)
	}
}

// TestStateUp: moat_state_up starts at 1 (in-process state is always up)
// and follows StateUp; a nil Metrics ignores it.
func TestStateUp(t *testing.T) {
	m := New()
	for i, c := range []struct {
		set  *bool
		want float64
	}{{nil, 1}, {new(false), 0}, {new(true), 1}} {
		if c.set != nil {
			m.StateUp(*c.set)
		}
		if got := series(scrape(t, m)["moat_state_up"])[""]; got != c.want {
			t.Fatalf("step %d: moat_state_up = %v; want %v", i, got, c.want)
		}
	}
	var nilM *Metrics
	nilM.StateUp(false)
}
