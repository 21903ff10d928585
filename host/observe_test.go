package host

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/moatmcp/moat/internal/audit"
	"github.com/moatmcp/moat/internal/telemetry"
)

// upstream is a 127.0.0.1 HTTP server a tool calls: it keeps the trace
// headers and the secret header of each request it got.
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	got  []http.Header
	host string // "127.0.0.1:port"
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.got = append(u.got, r.Header.Clone())
		u.mu.Unlock()
		io.WriteString(w, "pong")
	}))
	t.Cleanup(u.Close)
	u.host = strings.TrimPrefix(u.URL, "http://")
	return u
}

func (u *upstream) headers() []http.Header {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]http.Header(nil), u.got...)
}

const testSecret = "s3cr3t-value-never-in-a-span"

// usageTools are the usage guest's tools: fetchfile (reads /data, GETs
// the upstream with a secret header, MOAT_TEST_SECRET, which TestMain
// sets for the whole run so that these tests can run in parallel) and
// writetrap (writes /out, traps).
func usageTools(t *testing.T, up *upstream) (map[string]string, string, string) {
	data, out := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "in.txt"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	net := fmt.Sprintf("[net]\nallow = [%q]\nhttp_hosts = [%q]\nallow_ips = [\"127.0.0.1\"]\n[[net.header]]\nhost = %q\nname = \"X-Api-Key\"\nvalue = { env = \"MOAT_TEST_SECRET\" }\n", up.host, up.host, up.host)
	return map[string]string{
		"fetchfile": manifestText(guests["usage"], fmt.Sprintf("name = \"fetchfile\"\n[[mount]]\nhost = %q\nguest = \"/data\"\nmode = \"ro\"\n%s", data, net)),
		"writetrap": manifestText(guests["usage"], fmt.Sprintf("name = \"writetrap\"\n[[mount]]\nhost = %q\nguest = \"/out\"\nmode = \"rw\"\n%s", out, net)),
		"emit":      manifestText(guests["hostfixture"], `name = "emit"`),
	}, data, out
}

// statelessCall posts one 2026-07-28 tools/call with key and the given
// params._meta entries and HTTP headers; it returns the response body.
func statelessCall(t *testing.T, ts *testServer, key, tool, args, meta string, header map[string]string) string {
	t.Helper()
	m := `"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"t","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}`
	if meta != "" {
		m += "," + meta
	}
	body := `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"` + tool + `","arguments":` + args + `,"_meta":{` + m + `}}}`
	req := mcpRequest(context.Background(), "POST", ts.url+"/mcp", body, "")
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Mcp-Protocol-Version", "2026-07-28")
	req.Header.Set("Mcp-Method", "tools/call")
	req.Header.Set("Mcp-Name", tool)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// lastCall is the last tool_call record of ts's audit log.
func lastCall(t *testing.T, ts *testServer, tool string) audit.Record {
	t.Helper()
	var last audit.Record
	found := false
	for _, line := range strings.Split(strings.TrimSpace(ts.auditText()), "\n") {
		var r audit.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		if r.Event == audit.EventToolCall && r.Tool == tool {
			last, found = r, true
		}
	}
	if !found {
		t.Fatalf("no tool_call record of %s in:\n%s", tool, ts.auditText())
	}
	return last
}

func flush(t *testing.T, ts *testServer) {
	t.Helper()
	if err := ts.tel.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

const (
	callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	callerSpan  = "00f067aa0ba902b7"
)

// TestTraceSpanTree is the proof of issue 19: a call that reads a file
// and makes an outbound request, with its trace context in params._meta,
// gives one trace whose spans nest request → authenticate, limits,
// authorise, validate, sandbox → run → GET; the host contacted gets the
// GET span as its parent (not the tool's own forged traceparent); no span
// attribute holds the secret header's value; and the audit record carries
// the trace id and the receipt.
func TestTraceSpanTree(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	tools, _, _ := usageTools(t, up)
	rec := telemetry.NewRecorder()
	tk := newTestKeys(t, "agent")
	ts := newTestServer(t, testConfig{http: true, traces: rec, toml: keyBlock(tk["agent"], `["*"]`), tools: tools})

	body := statelessCall(t, ts, tk["agent"].secret, "fetchfile", `{"file":"/data/in.txt","url":"`+up.URL+`/ping?q=private"}`,
		`"traceparent":"00-`+callerTrace+`-`+callerSpan+`-01","tracestate":"moat=1"`, nil)
	if !strings.Contains(body, `{\"file_bytes\":5,\"status\":200}`) {
		t.Fatalf("call: %s", body)
	}
	flush(t, ts)

	byName := map[string]telemetry.SpanData{}
	for _, s := range rec.Spans() {
		if s.TraceID != callerTrace {
			continue
		}
		if _, dup := byName[s.Name]; dup {
			t.Fatalf("two spans named %s", s.Name)
		}
		byName[s.Name] = s
		for k, v := range s.Attrs {
			if strings.Contains(v, testSecret) || strings.Contains(v, "q=private") || strings.Contains(v, "hello") {
				t.Errorf("span %s attribute %s = %q holds a secret, a query or file contents", s.Name, k, v)
			}
		}
	}
	req := byName["tools/call fetchfile"]
	for _, tc := range []struct{ span, parent, kind string }{
		{"tools/call fetchfile", callerSpan, "server"},
		{"moat.authenticate", req.SpanID, "internal"},
		{"moat.limits", req.SpanID, "internal"},
		{"moat.authorise", req.SpanID, "internal"},
		{"moat.validate", req.SpanID, "internal"},
		{"moat.sandbox", req.SpanID, "internal"},
		{"moat.sandbox.run", byName["moat.sandbox"].SpanID, "internal"},
		{"GET", byName["moat.sandbox.run"].SpanID, "client"},
	} {
		s, ok := byName[tc.span]
		if !ok {
			t.Errorf("no span %s in trace %s; spans: %v", tc.span, callerTrace, rec.Spans())
			continue
		}
		if s.ParentID != tc.parent || s.Kind != tc.kind || s.SpanID == "" {
			t.Errorf("%s: parent %s kind %s; want parent %s kind %s", tc.span, s.ParentID, s.Kind, tc.parent, tc.kind)
		}
	}
	if a := req.Attrs; a["mcp.method.name"] != "tools/call" || a["gen_ai.tool.name"] != "fetchfile" || a["moat.outcome"] != "ok" || a["moat.principal"] != "agent" ||
		a["mcp.protocol.version"] != "2026-07-28" || a["network.transport"] != "tcp" || a["jsonrpc.request.id"] != "9" {
		t.Errorf("request span attributes: %v", a)
	}
	if a := byName["GET"].Attrs; a["server.address"] != "127.0.0.1" || a["http.response.status_code"] != "200" || a["http.request.method"] != "GET" {
		t.Errorf("GET span attributes: %v", a)
	}

	got := up.headers()
	if len(got) != 1 {
		t.Fatalf("upstream got %d requests", len(got))
	}
	if want := "00-" + callerTrace + "-" + byName["GET"].SpanID + "-01"; got[0].Get("Traceparent") != want {
		t.Errorf("upstream traceparent %q; want %q (the GET span, replacing the tool's own)", got[0].Get("Traceparent"), want)
	}
	if got[0].Get("Tracestate") != "moat=1" || got[0].Get("X-Api-Key") != testSecret {
		t.Errorf("upstream tracestate %q, secret header set: %v", got[0].Get("Tracestate"), got[0].Get("X-Api-Key") == testSecret)
	}

	r := lastCall(t, ts, "fetchfile")
	if r.TraceID != callerTrace || r.Used == nil {
		t.Fatalf("audit record: trace_id %q, used %v", r.TraceID, r.Used)
	}
	u := r.Used
	if len(u.Files) != 1 || u.Files[0] != (audit.FileUsed{Mount: "/data", Path: "in.txt", Mode: "read", Read: 5}) || u.BytesRead != 5 || u.BytesWritten != 0 {
		t.Errorf("receipt files: %+v read %d written %d", u.Files, u.BytesRead, u.BytesWritten)
	}
	if len(u.Net) != 1 || u.Net[0].Host != up.host || u.Net[0].Method != "GET" || u.Net[0].Status != 200 || u.Net[0].BytesIn != 4 ||
		len(u.Net[0].Secrets) != 1 || u.Net[0].Secrets[0] != "X-Api-Key" {
		t.Errorf("receipt net: %+v", u.Net)
	}
	if !strings.HasPrefix(u.Module, "sha256:") || u.MemoryPeak == 0 || u.OutputBytes != len(`{"file_bytes":5,"status":200}`) || u.WallMS <= 0 || u.Instance != "fresh" {
		t.Errorf("receipt: %+v", u)
	}
	if strings.Contains(ts.auditText(), testSecret) {
		t.Error("the audit log holds the secret header's value")
	}
}

var hexTrace = regexp.MustCompile(`^[0-9a-f]{32}$`)

// TestTraceContextBadInput: what a request's trace context may be, and
// what moat makes of it: malformed is ignored (a new trace), oversized
// tracestate or baggage is dropped (the trace is kept), _meta wins over
// the HTTP header.
func TestTraceContextBadInput(t *testing.T) {
	t.Parallel()
	rec := telemetry.NewRecorder()
	tk := newTestKeys(t, "agent")
	ts := newTestServer(t, testConfig{http: true, traces: rec, toml: keyBlock(tk["agent"], `["*"]`),
		tools: map[string]string{"emit": manifestText(guests["hostfixture"], `name = "emit"`)}})
	tp := func(trace string) string { return "00-" + trace + "-" + callerSpan + "-01" }
	huge := strings.Repeat("a", 600)
	other := "0af7651916cd43dd8448eb211c80319c"
	for _, tc := range []struct {
		name      string
		meta      string
		header    map[string]string
		wantTrace string // "" = a new trace
	}{
		{"valid _meta traceparent", `"traceparent":"` + tp(callerTrace) + `"`, nil, callerTrace},
		{"malformed hex", `"traceparent":"00-zzzz2f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"`, nil, ""},
		{"too short", `"traceparent":"00-4bf92f3577b34da6-00f067aa0ba902b7-01"`, nil, ""},
		{"all-zero trace id", `"traceparent":"` + tp(strings.Repeat("0", 32)) + `"`, nil, ""},
		{"not a string", `"traceparent":42`, nil, ""},
		{"huge traceparent", `"traceparent":"` + huge + `"`, nil, ""},
		{"huge tracestate: dropped, trace kept", `"traceparent":"` + tp(callerTrace) + `","tracestate":"k=` + huge + `"`, nil, callerTrace},
		{"many tracestate members: dropped, trace kept", `"traceparent":"` + tp(callerTrace) + `","tracestate":"` + strings.Repeat("k=v,", 40) + `k=v"`, nil, callerTrace},
		{"huge baggage: dropped, trace kept", `"traceparent":"` + tp(callerTrace) + `","baggage":"k=` + strings.Repeat("v", 5000) + `"`, nil, callerTrace},
		{"HTTP header only", "", map[string]string{"Traceparent": tp(other)}, other},
		{"_meta wins over the header", `"traceparent":"` + tp(callerTrace) + `"`, map[string]string{"Traceparent": tp(other)}, callerTrace},
		{"malformed _meta falls back to the header", `"traceparent":"garbage"`, map[string]string{"Traceparent": tp(other)}, other},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec.Reset()
			if body := statelessCall(t, ts, tk["agent"].secret, "emit", `{"stdout":"x"}`, tc.meta, tc.header); !strings.Contains(body, `"text":"x"`) {
				t.Fatalf("call: %s", body)
			}
			flush(t, ts)
			var req *telemetry.SpanData
			for _, s := range rec.Spans() {
				if s.Name == "tools/call emit" {
					req = &s
				}
			}
			if req == nil {
				t.Fatalf("no request span: %v", rec.Spans())
			}
			r := lastCall(t, ts, "emit")
			switch {
			case tc.wantTrace != "" && (req.TraceID != tc.wantTrace || req.ParentID != callerSpan || !req.Remote):
				t.Errorf("span trace %s parent %s; want %s under %s", req.TraceID, req.ParentID, tc.wantTrace, callerSpan)
			case tc.wantTrace == "" && (req.TraceID == callerTrace || !hexTrace.MatchString(req.TraceID) || req.ParentID != ""):
				t.Errorf("span trace %s parent %q; want a new root trace", req.TraceID, req.ParentID)
			case r.TraceID != req.TraceID:
				t.Errorf("audit trace_id %q; span's %q", r.TraceID, req.TraceID)
			}
			if strings.Contains(req.TraceState, huge) || strings.Count(req.TraceState, ",") >= telemetry.MaxTraceStateMembers {
				t.Errorf("tracestate kept over its bounds: %d bytes", len(req.TraceState))
			}
		})
	}
}

// TestTraceOffKeepsCallerTraceID: with tracing off, no span is made, but
// the audit record and the log line still carry the caller's trace id.
func TestTraceOffKeepsCallerTraceID(t *testing.T) {
	t.Parallel()
	var logs syncBuf
	tk := newTestKeys(t, "agent")
	ts := newTestServer(t, testConfig{http: true, toml: keyBlock(tk["agent"], `["*"]`), logger: slog.New(slog.NewTextHandler(&logs, nil)),
		tools: map[string]string{"emit": manifestText(guests["hostfixture"], `name = "emit"`)}})
	if ts.tel.Enabled() {
		t.Fatal("tracing on with nothing configured")
	}
	statelessCall(t, ts, tk["agent"].secret, "emit", `{"stdout":"x","exit":3}`, `"traceparent":"00-`+callerTrace+`-`+callerSpan+`-01"`, nil)
	if r := lastCall(t, ts, "emit"); r.TraceID != callerTrace {
		t.Errorf("audit trace_id %q; want the caller's", r.TraceID)
	}
	if !strings.Contains(logs.String(), "trace_id="+callerTrace) {
		t.Errorf("log lines of the call lack its trace_id:\n%s", logs.String())
	}
	statelessCall(t, ts, tk["agent"].secret, "emit", `{"stdout":"x"}`, "", nil)
	if r := lastCall(t, ts, "emit"); r.TraceID != "" {
		t.Errorf("a call without trace context got trace_id %q with tracing off", r.TraceID)
	}
}

// TestReceiptTrappedMidWrite: a call that wrote to a file and then trapped
// still gets a receipt with the bytes the filesystem saw written.
func TestReceiptTrappedMidWrite(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	tools, _, out := usageTools(t, up)
	ts := newTestServer(t, testConfig{tools: tools})
	cs, _ := connect(t, ts)
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "writetrap", Arguments: map[string]any{"file": "/out/o.txt", "n": 1000}})
	if err != nil || !res.IsError {
		t.Fatalf("call: %v %+v", err, res)
	}
	r := lastCall(t, ts, "writetrap")
	if r.Outcome != "trap" || r.Used == nil {
		t.Fatalf("record: outcome %s used %v", r.Outcome, r.Used)
	}
	want := audit.FileUsed{Mount: "/out", Path: "o.txt", Mode: "write", Written: 1000}
	if len(r.Used.Files) != 1 || r.Used.Files[0] != want || r.Used.BytesWritten != 1000 {
		t.Errorf("receipt files %+v written %d; want %+v", r.Used.Files, r.Used.BytesWritten, want)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "o.txt")); len(b) != 1000 {
		t.Errorf("the file holds %d bytes", len(b))
	}
}

// TestQuotas: a principal over a quota gets a tool error naming the quota
// and when it resets, the refusal is audited and counted; a key with its
// own quotas is held to those; a principal under no quota is never
// refused.
func TestQuotas(t *testing.T) {
	t.Parallel()
	tk := newTestKeys(t, "small", "big", "free")
	toml := "[quotas]\nwindow = \"1h\"\noutput_bytes = \"10B\"\n" +
		keyBlock(tk["small"], `["*"]`) +
		keyBlock(tk["big"], `["*"]`, `quotas = { output_bytes = "1KiB" }`)
	ts := newTestServer(t, testConfig{http: true, toml: toml, tools: map[string]string{"emit": manifestText(guests["hostfixture"], `name = "emit"`)}})
	twenty := `{"stdout":"twenty bytes of text"}`
	resets := regexp.MustCompile(`quota exceeded: output_bytes \(10B of tool output per 1h0m0s\); it resets in (\d+)s`)
	for _, tc := range []struct {
		name, key, want, outcome string
	}{
		{"first call: under the quota", "small", `"text":"twenty bytes of text"`, "ok"},
		{"second call: over, with when it resets", "small", `quota exceeded: output_bytes`, "over_quota"},
		{"a key's own quota", "big", `"text":"twenty bytes of text"`, "ok"},
		{"its second call still fits", "big", `"text":"twenty bytes of text"`, "ok"},
	} {
		body := statelessCall(t, ts, tk[tc.key].secret, "emit", twenty, "", nil)
		if !strings.Contains(body, tc.want) {
			t.Errorf("%s: %s", tc.name, body)
		}
		r := lastCall(t, ts, "emit")
		if string(r.Outcome) != tc.outcome || r.Principal != tc.key {
			t.Errorf("%s: audit outcome %s principal %s", tc.name, r.Outcome, r.Principal)
		}
		if tc.outcome == "over_quota" {
			var res struct {
				Result struct {
					Content []struct{ Text string }
					IsError bool
				}
			}
			if i := strings.Index(body, "{"); i >= 0 {
				json.Unmarshal([]byte(strings.TrimSpace(body[i:])), &res)
			}
			if len(res.Result.Content) == 0 {
				t.Fatalf("%s: body %s", tc.name, body)
			}
			m := resets.FindStringSubmatch(res.Result.Content[0].Text)
			if !res.Result.IsError || m == nil || m[1] == "0" || len(m[1]) > 4 {
				t.Errorf("%s: tool error %+v", tc.name, res.Result)
			}
			if r.Reason != "output_bytes" {
				t.Errorf("%s: audit reason %q", tc.name, r.Reason)
			}
		}
	}
	rec := httptest.NewRecorder()
	ts.metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{`moat_quota_exceeded_total{quota="output_bytes"} 1`, `moat_tool_calls_total{outcome="over_quota",tool="emit"} 1`} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestNoQuotaNoStore: without [quotas] a call never asks the usage store
// (a broken one cannot refuse it).
func TestNoQuotaNoStore(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, testConfig{tools: map[string]string{"emit": manifestText(guests["hostfixture"], `name = "emit"`)}})
	ts.usage = nil // any use would panic
	cs, _ := connect(t, ts)
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "emit", Arguments: map[string]any{"stdout": "x"}})
	if err != nil || res.IsError {
		t.Fatalf("call: %v %+v", err, res)
	}
}

// TestSlowCollectorCallsDoNotWait: with the collector accepting
// connections and never answering, calls still return at once; the spans
// are dropped when the export times out, and counted.
func TestSlowCollectorCallsDoNotWait(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hold := make(chan struct{})
	var conns sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() { defer conns.Done(); <-hold; c.Close() }() // read nothing, answer nothing
		}
	}()
	t.Cleanup(func() { close(hold); ln.Close(); conns.Wait() })
	toml := fmt.Sprintf("[telemetry]\nendpoint = \"http://%s\"\nexport_timeout = \"100ms\"\n", ln.Addr())
	ts := newTestServer(t, testConfig{toml: toml, tools: map[string]string{"emit": manifestText(guests["hostfixture"], `name = "emit"`)}})
	if !ts.tel.Enabled() {
		t.Fatal("tracing off")
	}
	cs, _ := connect(t, ts)
	for i := range 3 {
		res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "emit", Arguments: map[string]any{"stdout": "x"}})
		if err != nil || res.IsError {
			t.Fatalf("call %d: %v %+v", i, err, res)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ts.tel.ForceFlush(ctx) // returns once the hanging export has timed out
	rec := httptest.NewRecorder()
	ts.metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	m := regexp.MustCompile(`(?m)^moat_trace_spans_dropped_total (\d+)$`).FindStringSubmatch(rec.Body.String())
	if m == nil || m[1] == "0" {
		t.Errorf("dropped spans not counted: %v", m)
	}
}

// TestTraceLegacySession: a 2025-11-25 client in a session gets the same
// request span for its call as a stateless one (the go-sdk runs the call
// under the session's context; the span comes with the request).
func TestTraceLegacySession(t *testing.T) {
	t.Parallel()
	rec := telemetry.NewRecorder()
	tk := newTestKeys(t, "agent")
	ts := newTestServer(t, testConfig{http: true, traces: rec, toml: keyBlock(tk["agent"], `["*"]`),
		tools: map[string]string{"emit": manifestText(guests["hostfixture"], `name = "emit"`)}})
	key := tk["agent"].secret
	resp, _ := postMCP(t, ts.url, key, "", initializeBody)
	sid := resp.Header.Get("Mcp-Session-Id")
	if sid == "" {
		t.Fatal("no session")
	}
	postMCP(t, ts.url, key, sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	req := mcpRequest(context.Background(), "POST", ts.url+"/mcp", `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"emit","arguments":{"stdout":"x"}}}`, sid)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Traceparent", "00-"+callerTrace+"-"+callerSpan+"-01")
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, r.Body)
	r.Body.Close()
	flush(t, ts)
	var call *telemetry.SpanData
	for _, s := range rec.Spans() {
		if s.Name == "tools/call emit" {
			call = &s
		}
	}
	if call == nil || call.TraceID != callerTrace || call.ParentID != callerSpan {
		t.Fatalf("call span %+v; spans %v", call, rec.Spans())
	}
	n := 0
	for _, s := range rec.Spans() {
		if s.TraceID == callerTrace && s.ParentID == call.SpanID {
			n++
		}
	}
	if n < 4 {
		t.Errorf("%d children of the call span; want authenticate, limits, authorise, validate, sandbox", n)
	}
	if got := lastCall(t, ts, "emit").TraceID; got != callerTrace {
		t.Errorf("audit trace_id %q", got)
	}
}
