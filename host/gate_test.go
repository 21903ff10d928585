package host

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/moatmcp/moat/internal/audit"
	"github.com/moatmcp/moat/internal/metrics"
)

type bearer struct {
	token string
	base  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.base.RoundTrip(r)
}

// gateServer serves three tools behind API keys, rate limits and an audit
// log, over real HTTP on loopback.
func gateServer(t *testing.T) (url string, keys map[string]string, auditFile string, mets *metrics.Metrics) {
	t.Helper()
	mod := guests["hostfixture"]
	tk := newTestKeys(t, "reader", "wide", "admin")
	ts := newTestServer(t, testConfig{
		http: true,
		toml: "[rate_limits]\nper_principal_tool = \"3/min burst 3\"\n" +
			keyBlock(tk["reader"], `["emit"]`) + keyBlock(tk["wide"], `["*"]`) + keyBlock(tk["admin"], `["*"]`, `scopes = ["admin"]`),
		tools: map[string]string{
			"emit":    manifestText(mod, "name = \"emit\"\n[input_schema]\ntype = \"object\"\n[input_schema.properties.stdout]\ntype = \"string\"\n[input_schema.properties.password]\ntype = \"string\"\nwriteOnly = true\n"),
			"counter": manifestText(mod, `name = "counter"`),
			"secret":  manifestText(mod, "name = \"secret\"\nrequired_scopes = [\"admin\"]"),
		},
	})
	keys = map[string]string{}
	for id, k := range tk {
		keys[id] = k.secret
	}
	return ts.url, keys, filepath.Join(ts.dir, "audit.log"), ts.metrics
}

func dial(t *testing.T, url, token string) *mcp.ClientSession {
	t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "gate-test", Version: "1"}, nil)
	cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{
		Endpoint:   url + "/mcp",
		HTTPClient: &http.Client{Transport: bearer{token, http.DefaultTransport}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func TestGate(t *testing.T) {
	t.Parallel()
	url, keys, auditFile, mets := gateServer(t)
	ctx := context.Background()

	// No credentials: 401 with a challenge, and nothing served.
	resp, err := http.Post(url+"/mcp", "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("no credentials: %d %q %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
	}

	// reader sees and may call only emit.
	reader := dial(t, url, keys["reader"])
	lt, err := reader.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(lt.Tools) != 1 || lt.Tools[0].Name != "emit" {
		t.Fatalf("reader's tools/list: %+v", lt.Tools)
	}
	// A tool it was not granted is indistinguishable from one that does not exist.
	_, errGranted := reader.CallTool(ctx, &mcp.CallToolParams{Name: "counter", Arguments: map[string]any{}})
	_, errMissing := reader.CallTool(ctx, &mcp.CallToolParams{Name: "nope", Arguments: map[string]any{}})
	var e1, e2 *jsonrpc.Error
	if !errors.As(errGranted, &e1) || !errors.As(errMissing, &e2) || e1.Code != e2.Code ||
		strings.ReplaceAll(e1.Message, "counter", "X") != strings.ReplaceAll(e2.Message, "nope", "X") {
		t.Fatalf("not granted %v vs unknown %v", errGranted, errMissing)
	}

	// The per principal × tool rate: 3 calls, then a tool error with a delay.
	secretArg := "ghp_" + strings.Repeat("A1b2", 9)
	for i := 0; i < 4; i++ {
		res, err := reader.CallTool(ctx, &mcp.CallToolParams{Name: "emit", Arguments: map[string]any{"stdout": "hi", "password": "hunter2-" + secretArg}})
		if err != nil {
			t.Fatal(err)
		}
		text := res.Content[0].(*mcp.TextContent).Text
		if i < 3 && (res.IsError || text != "hi") {
			t.Fatalf("call %d: %q", i, text)
		}
		if i == 3 && (!res.IsError || !strings.HasPrefix(text, "rate limit exceeded for tool emit; retry after ")) {
			t.Fatalf("call %d not limited: %q", i, text)
		}
	}

	// wide is granted every tool by name but lacks the admin scope that
	// secret requires: 403 insufficient_scope naming it (step-up).
	req, _ := http.NewRequest("POST", url+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"secret","arguments":{}}}`))
	req.Header.Set("Authorization", "Bearer "+keys["wide"])
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`) ||
		!strings.Contains(resp.Header.Get("WWW-Authenticate"), `scope="admin"`) {
		t.Fatalf("step-up: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	// admin holds it.
	admin := dial(t, url, keys["admin"])
	if res, err := admin.CallTool(ctx, &mcp.CallToolParams{Name: "secret", Arguments: map[string]any{"stdout": "ok"}}); err != nil || res.IsError {
		t.Fatalf("admin: %v %+v", err, res)
	}

	// The audit trail: every decision recorded, the chain intact, and no
	// secret anywhere in the file.
	raw, err := os.ReadFile(auditFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{secretArg, "hunter2", keys["reader"], keys["wide"], keys["admin"]} {
		if strings.Contains(string(raw), s) {
			t.Fatalf("the audit log contains a secret: %q", s)
		}
	}
	if sum, err := audit.VerifyChain(strings.NewReader(string(raw)), nil); err != nil {
		t.Fatalf("chain broken after %d lines: %v", sum.Lines, err)
	}
	counts := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	for sc.Scan() {
		var r audit.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		counts[r.Event+"/"+string(r.Outcome)+"/"+r.Principal+"/"+r.Tool]++
		if r.Event == "tool_call" && r.ClientAddr != "127.0.0.1" {
			t.Errorf("record without the client address: %s", sc.Text())
		}
	}
	// The metrics saw the same sequence.
	rec := httptest.NewRecorder()
	mets.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, line := range []string{
		`moat_tool_calls_total{outcome="ok",tool="emit"} 3`,
		`moat_tool_calls_total{outcome="limited",tool="emit"} 1`,
		`moat_tool_calls_total{outcome="denied",tool="counter"} 1`,
		`moat_tool_calls_total{outcome="ok",tool="secret"} 1`,
	} {
		if !strings.Contains(rec.Body.String(), line+"\n") {
			t.Errorf("/metrics lacks %q", line)
		}
	}

	for k, want := range map[string]int{
		"auth/auth_failed//":              1,
		"tool_call/denied/reader/counter": 1,
		"tool_call/ok/reader/emit":        3,
		"tool_call/limited/reader/emit":   1,
		"tool_call/ok/admin/secret":       1,
	} {
		if counts[k] != want {
			t.Errorf("audit %s: %d records, want %d (all: %v)", k, counts[k], want, counts)
		}
	}
}

// TestDisconnectCancelsCall: a client whose HTTP request goes away while
// its call runs stops the guest (protocol 2025-11-25, where the go-sdk
// alone would keep it running until its timeout).
func TestDisconnectCancelsCall(t *testing.T) {
	t.Parallel()
	sleep, err := filepath.Abs("../testdata/guests/lim_sleep.wasm")
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, testConfig{http: true, noAuth: true, tools: map[string]string{
		"sleepy": manifestText(sleep, "name = \"sleepy\"\n[grants]\nclock = true\n[limits]\ntimeout = \"10m\""),
	}})
	buf := auditReader{ts}

	send := func(ctx context.Context, body, session string) (*http.Response, error) {
		return http.DefaultClient.Do(mcpRequest(ctx, "POST", ts.url+"/mcp", body, session))
	}
	resp, err := send(context.Background(), `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`, "")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	session := resp.Header.Get("Mcp-Session-Id")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := send(ctx, `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"sleepy","arguments":{}}}`, session); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	ts.waitCallStarted("sleepy", 1)
	cancel()
	<-done
	ts.waitAudited("sleepy", "canceled")
	if !strings.Contains(buf.String(), `"tool":"sleepy"`) || !strings.Contains(buf.String(), `"outcome":"canceled"`) {
		t.Fatalf("the guest was not stopped when the request went away; audit:\n%s", buf.String())
	}
}

// TestNetRequestsAudited: every outbound request a tool makes through its
// [net] grant gets an audit record with host, method and status, and
// nothing of the URL's path or query.
func TestNetRequestsAudited(t *testing.T) {
	t.Parallel()
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") }))
	defer web.Close()
	host := strings.TrimPrefix(web.URL, "http://")
	fetch, err := filepath.Abs("../testdata/guests/net_fetch.wasm")
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, testConfig{tools: map[string]string{
		"fetch": manifestText(fetch, "name = \"fetch\"\n[net]\nallow = [\""+host+"\"]\nhttp_hosts = [\""+host+"\"]\nallow_ips = [\"127.0.0.1\"]\n"),
	}})
	buf := auditReader{ts}
	cs, _ := connect(t, ts)
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "fetch", Arguments: map[string]any{"method": "GET", "url": web.URL + "/secret-path?token=abc"}})
	if err != nil || res.IsError {
		t.Fatalf("call: %v %+v", err, res)
	}
	var rec audit.Record
	netLine := ""
	for _, line := range strings.Split(buf.String(), "\n") {
		if strings.Contains(line, `"event":"net_request"`) {
			netLine = line
			json.Unmarshal([]byte(line), &rec)
		}
	}
	if rec.Tool != "fetch" || rec.Method != "GET" || rec.Status != 200 || !strings.HasPrefix(host, rec.Host) || rec.BytesIn != 5 {
		t.Fatalf("net_request record %+v\n%s", rec, buf.String())
	}
	// (The call's own record summarises its arguments, URL included; the
	// request record names the host only.)
	if strings.Contains(netLine, "secret-path") || strings.Contains(netLine, "token=abc") {
		t.Fatalf("the net_request record holds the URL's path or query:\n%s", netLine)
	}
}

// TestRateCountsToolCalls: a key's rate is a number of tool calls, whatever
// protocol housekeeping surrounds them (initialize, notifications,
// tools/list); past it the 429 carries the request's JSON-RPC id, and the
// refusal is in the audit log with its reason.
func TestRateCountsToolCalls(t *testing.T) {
	t.Parallel()
	tk := newTestKeys(t, "slow")
	ts := newTestServer(t, testConfig{http: true,
		toml:  keyBlock(tk["slow"], `["*"]`, `rate = "5/min burst 3"`),
		tools: map[string]string{"emit": manifestText(guests["hostfixture"], `name = "emit"`)}})
	key := tk["slow"].secret
	resp, _ := postMCP(t, ts.url, key, "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	sid := resp.Header.Get("Mcp-Session-Id")
	if resp.StatusCode != 200 || sid == "" {
		t.Fatalf("initialize: %d", resp.StatusCode)
	}
	for i, body := range []string{
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`,
		`{"jsonrpc":"2.0","id":3,"method":"tools/list"}`,
		`{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"emit","arguments":{"stdout":"a"}}}`,
		`{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"emit","arguments":{"stdout":"b"}}}`,
		`{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"emit","arguments":{"stdout":"c"}}}`,
	} {
		if resp, b := postMCP(t, ts.url, key, sid, body); resp.StatusCode >= 300 || strings.Contains(b, "rate limit") {
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, b)
		}
	}
	resp, b := postMCP(t, ts.url, key, sid, `{"jsonrpc":"2.0","id":"call-7","method":"tools/call","params":{"name":"emit","arguments":{"stdout":"d"}}}`)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" ||
		!strings.HasPrefix(b, `{"jsonrpc":"2.0","id":"call-7","error":{"code":-32000,"message":"rate limit exceeded; retry after `) {
		t.Fatalf("the 4th call: %d %q", resp.StatusCode, b)
	}
	// Housekeeping is still served.
	if resp, b := postMCP(t, ts.url, key, sid, `{"jsonrpc":"2.0","id":8,"method":"tools/list"}`); resp.StatusCode != 200 {
		t.Fatalf("tools/list after the limit: %d %s", resp.StatusCode, b)
	}
	if a := ts.auditText(); !strings.Contains(a, `"event":"refusal","principal":"slow","auth_method":"api_key","client_addr":"127.0.0.1","tool":"emit","outcome":"limited","reason":"principal","status":429`) {
		t.Fatalf("no refusal record:\n%s", a)
	}
}

// TestRefusalsAudited: a request refused before any tool runs — too large
// (413), from a foreign Origin (403), without credentials (401), without a
// required scope (403) — leaves an audit record with its reason.
func TestRefusalsAudited(t *testing.T) {
	t.Parallel()
	tk := newTestKeys(t, "wide")
	ts := newTestServer(t, testConfig{http: true,
		toml:  "[server]\nmax_body = \"1KiB\"\n" + keyBlock(tk["wide"], `["*"]`),
		tools: map[string]string{"secret": manifestText(guests["hostfixture"], "name = \"secret\"\nrequired_scopes = [\"admin\"]")}})
	key := tk["wide"].secret
	big := `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"x":"` + strings.Repeat("a", 2048) + `"}}}`
	if resp, _ := postMCP(t, ts.url, key, "", big); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized: %d", resp.StatusCode)
	}
	req := mcpRequest(context.Background(), "POST", ts.url+"/mcp", `{"jsonrpc":"2.0","id":1,"method":"ping"}`, "")
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Authorization", "Bearer "+key)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: %v %v", resp, err)
	}
	if resp, _ := postMCP(t, ts.url, "", "", `{"jsonrpc":"2.0","id":1,"method":"ping"}`); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no credentials: %d", resp.StatusCode)
	}
	if code := callStatus(t, ts.url, key, "secret"); code != http.StatusForbidden {
		t.Fatalf("missing scope: %d", code)
	}
	a := ts.auditText()
	for _, want := range []string{
		`"event":"refusal","client_addr":"127.0.0.1","outcome":"refused","reason":"request body too large","status":413`,
		`"event":"refusal","client_addr":"127.0.0.1","outcome":"refused","reason":"forbidden: origin not allowed","status":403`,
		`"client_addr":"127.0.0.1","outcome":"auth_failed","reason":"authentication required"`,
		`"event":"refusal","principal":"wide","auth_method":"api_key","client_addr":"127.0.0.1","tool":"secret","outcome":"denied","reason":"insufficient_scope","status":403`,
	} {
		if !strings.Contains(a, want) {
			t.Errorf("audit lacks %s", want)
		}
	}
	// Each refusal is counted under its denial reason too.
	rec := httptest.NewRecorder()
	ts.metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{
		`moat_denials_total{reason="body_too_large"} 1`,
		`moat_denials_total{reason="origin"} 1`,
		`moat_denials_total{reason="unauthenticated"} 1`,
		`moat_denials_total{reason="scope"} 1`,
	} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if t.Failed() {
		t.Log(a)
	}
}

// failingWriter fails every write while fail is set (a full disk).
type failingWriter struct {
	fail atomic.Bool
	mu   sync.Mutex
	b    strings.Builder
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.fail.Load() {
		return 0, syscall.ENOSPC
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// TestAuditFailClosed: while the audit log cannot be written, requests are
// refused with 503 and an error id (authenticated or not), /readyz says
// not ready, no tool runs unrecorded; when writing works again, service
// resumes by itself.
func TestAuditFailClosed(t *testing.T) {
	t.Parallel()
	tk := newTestKeys(t, "ci")
	ts := newTestServer(t, testConfig{http: true, toml: keyBlock(tk["ci"], `["*"]`),
		tools: map[string]string{"emit": manifestText(guests["hostfixture"], `name = "emit"`)}})
	var clock atomic.Int64 // the audit log's clock, in Unix nanoseconds
	clock.Store(time.Now().UnixNano())
	var w failingWriter
	ts.audit = audit.NewWith(&w, &audit.Options{Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	key := tk["ci"].secret
	if code := callStatus(t, ts.url, key, "emit"); code != 200 {
		t.Fatalf("before: %d", code)
	}
	w.fail.Store(true)
	resp, body := postMCP(t, ts.url, key, "", `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"emit","arguments":{"stdout":"unrecorded"}}}`)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "error id") || strings.Contains(body, "no space") {
		t.Fatalf("while failing: %d %s", resp.StatusCode, body)
	}
	if resp, _ := http.Get(ts.url + "/readyz"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/readyz while failing: %d", resp.StatusCode)
	}
	if resp, _ := postMCP(t, ts.url, "", "", `{"jsonrpc":"2.0","id":1,"method":"ping"}`); resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("unauthenticated while failing: %d", resp.StatusCode)
	}
	w.fail.Store(false)
	clock.Add(int64(2 * time.Second)) // the log retries at most once a second
	if resp, _ := http.Get(ts.url + "/readyz"); resp.StatusCode != 200 {
		t.Fatalf("/readyz after recovery: %d", resp.StatusCode)
	}
	if code := callStatus(t, ts.url, key, "emit"); code != 200 {
		t.Fatalf("after recovery: %d", code)
	}
	w.mu.Lock()
	text := w.b.String()
	w.mu.Unlock()
	if strings.Contains(text, "unrecorded") || !strings.Contains(text, `"outcome":"resumed"`) {
		t.Fatalf("audit after recovery:\n%s", text)
	}
	if sum, err := audit.VerifyChain(strings.NewReader(text), nil); err != nil {
		t.Fatalf("chain broken after %d lines: %v", sum.Lines, err)
	}
}
