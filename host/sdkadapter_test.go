package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/moatmcp/moat/internal/audit"
	"github.com/moatmcp/moat/internal/telemetry"
)

// TestSDKPassesRequestIdentity pins what the adapter (sdkadapter.go)
// relies on in the go-sdk: every handler of an HTTP request gets, in
// RequestExtra, the very http.Header map of that request and the very
// *TokenInfo the authentication stage put in its context — in stateless
// (2026-07-28) requests and in a session's requests (2025-11-25), both in
// a receiving middleware (dispatch) and in a tool's handler
// (callHandler). A go-sdk upgrade that copies either breaks moat's call
// context lookup: this test fails first.
func TestSDKPassesRequestIdentity(t *testing.T) {
	type seen struct {
		method string
		header bool // the same map as the request's
		token  bool // the same pointer as the request's
	}
	var (
		mu      sync.Mutex
		current struct {
			header http.Header
			token  *sdkauth.TokenInfo
		}
		got []seen
	)
	note := func(method string, extra *mcp.RequestExtra) {
		mu.Lock()
		defer mu.Unlock()
		s := seen{method: method}
		if extra != nil {
			s.header = extra.Header != nil && headerIdentity(extra.Header) == headerIdentity(current.header)
			s.token = extra.TokenInfo != nil && extra.TokenInfo == current.token
		}
		got = append(got, s)
	}
	srv := mcp.NewServer(&mcp.Implementation{Name: "pin", Version: "1"}, nil)
	srv.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			if method == "tools/call" || method == "tools/list" {
				note("middleware "+method, req.GetExtra())
			}
			return next(ctx, method, req)
		}
	})
	srv.AddTool(&mcp.Tool{Name: "echo", InputSchema: json.RawMessage(`{"type":"object"}`)}, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		note("handler tools/call", req.GetExtra())
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "ok"}}}, nil
	})
	// The authentication stage: a fresh TokenInfo per request, handed to
	// the go-sdk as internal/auth does (RequireBearerToken).
	withToken := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ti := &sdkauth.TokenInfo{UserID: "u", Extra: map[string]any{}}
			sdkauth.RequireBearerToken(func(context.Context, string, *http.Request) (*sdkauth.TokenInfo, error) { return ti, nil },
				&sdkauth.RequireBearerTokenOptions{AllowMissingExpiration: true})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if sdkauth.TokenInfoFromContext(r.Context()) != ti {
					t.Error("RequireBearerToken put another TokenInfo in the context")
				}
				mu.Lock()
				current.header, current.token = r.Header, ti
				mu.Unlock()
				next.ServeHTTP(w, r)
			})).ServeHTTP(w, r)
		})
	}
	get := func(*http.Request) *mcp.Server { return srv }
	for _, tc := range []struct {
		name     string
		opts     *mcp.StreamableHTTPOptions
		version  string
		session  bool
		wantSeen []string
	}{
		{"stateless 2026-07-28", &mcp.StreamableHTTPOptions{Stateless: true}, "2026-07-28", false,
			[]string{"middleware tools/list", "middleware tools/call", "handler tools/call"}},
		{"session 2025-11-25", &mcp.StreamableHTTPOptions{}, "2025-11-25", true,
			[]string{"middleware tools/list", "middleware tools/call", "handler tools/call"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			web := httptest.NewServer(withToken(mcp.NewStreamableHTTPHandler(get, tc.opts)))
			defer web.Close()
			post := func(sid, body, method, name string) *http.Response {
				t.Helper()
				req, _ := http.NewRequest("POST", web.URL, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Accept", "application/json, text/event-stream")
				req.Header.Set("Authorization", "Bearer x")
				req.Header.Set("Mcp-Protocol-Version", tc.version)
				if sid != "" {
					req.Header.Set("Mcp-Session-Id", sid)
				}
				if !tc.session {
					req.Header.Set("Mcp-Method", method)
					if name != "" {
						req.Header.Set("Mcp-Name", name)
					}
				}
				resp, b := doHTTP(t, req)
				if resp.StatusCode >= 300 || strings.Contains(string(b), `"error"`) {
					t.Fatalf("%s: %d %s", method, resp.StatusCode, b)
				}
				return resp
			}
			meta, sid := "", ""
			if tc.session {
				resp := post("", initializeBody, "initialize", "")
				sid = resp.Header.Get("Mcp-Session-Id")
				post(sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, "", "")
			} else {
				meta = `,` + newMeta
			}
			mu.Lock()
			got = nil
			mu.Unlock()
			post(sid, `{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{`+strings.TrimPrefix(meta, ",")+`}}`, "tools/list", "")
			post(sid, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{}`+meta+`}}`, "tools/call", "echo")
			mu.Lock()
			defer mu.Unlock()
			var names []string
			for _, s := range got {
				names = append(names, s.method)
				if !s.header || !s.token {
					t.Errorf("%s: same header map %v, same TokenInfo %v; the go-sdk must hand handlers the request's own", s.method, s.header, s.token)
				}
			}
			if fmt.Sprint(names) != fmt.Sprint(tc.wantSeen) {
				t.Errorf("handlers seen %v; want %v", names, tc.wantSeen)
			}
		})
	}
}

// adapterPaths are the ways a tools/call reaches moat's call handler over
// HTTP: a 2026-07-28 call answered directly (fastcall.go), one the go-sdk
// answers (its stateless handler), and a 2025-11-25 session's call. The
// go-sdk's one-event answers go out as JSON too (jsonanswer.go); the
// server keeps them as streams here, so that the content type tells which
// path answered.
var adapterPaths = []struct {
	name     string
	noDirect bool
	session  bool
	wantType string // the answer's Content-Type: which path answered
}{
	{"2026-07-28 direct", false, false, "application/json"},
	{"2026-07-28 via the go-sdk", true, false, "text/event-stream"},
	{"2025-11-25 session", false, true, "text/event-stream"},
}

// adapterServer is a server with one key, agent, for every tool, and the
// tool emit; noDirect as the path needs it, set before any request.
func adapterServer(t *testing.T, noDirect bool, traces *telemetry.Recorder) (*testServer, string) {
	tk := newTestKeys(t, "agent")
	ts := newTestServer(t, testConfig{http: true, traces: traces, toml: keyBlock(tk["agent"], `["*"]`),
		tools: map[string]string{"emit": manifestText(guests["hostfixture"], `name = "emit"`)}})
	ts.noDirect = noDirect
	ts.streamAnswers = true
	return ts, tk["agent"].secret
}

// adapterCall makes one tools/call of emit on ts, in a session or not,
// with the caller's trace context (in params._meta for 2026-07-28, in
// traceparent for a session) and the extra headers; it checks the answer
// came by the path under test (wantType) and returns the audit record.
func adapterCall(t *testing.T, ts *testServer, key string, session bool, wantType string, extra map[string]string) audit.Record {
	t.Helper()
	tp := "00-" + callerTrace + "-" + callerSpan + "-01"
	var req *http.Request
	if session {
		resp, _ := postMCP(t, ts.url, key, "", initializeBody)
		sid := resp.Header.Get("Mcp-Session-Id")
		if sid == "" {
			t.Fatal("no session")
		}
		postMCP(t, ts.url, key, sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
		req = mcpRequest(context.Background(), "POST", ts.url+"/mcp", `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"emit","arguments":{"stdout":"x"}}}`, sid)
		req.Header.Set("Traceparent", tp)
	} else {
		meta := `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"t","version":"1"},"io.modelcontextprotocol/clientCapabilities":{},"traceparent":"` + tp + `"}`
		req = mcpRequest(context.Background(), "POST", ts.url+"/mcp", `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"emit","arguments":{"stdout":"x"},`+meta+`}}`, "")
		req.Header.Set("Mcp-Protocol-Version", "2026-07-28")
		req.Header.Set("Mcp-Method", "tools/call")
		req.Header.Set("Mcp-Name", "emit")
	}
	req.Header.Set("Authorization", "Bearer "+key)
	for k, v := range extra {
		req.Header.Set(k, v)
	}
	resp, b := doHTTP(t, req)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"text":"x"`) {
		t.Fatalf("call: %d %s", resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, wantType) {
		t.Fatalf("answered as %q, want %q: not the path under test", ct, wantType)
	}
	return lastCall(t, ts, "emit")
}

// TestCallContextReachesAudit: the connection's address and the caller's
// trace id reach the call's audit record on every path, and the call runs
// under the HTTP request's span (tracing on).
func TestCallContextReachesAudit(t *testing.T) {
	for _, tracing := range []bool{true, false} {
		for _, p := range adapterPaths {
			t.Run(fmt.Sprintf("%s tracing=%v", p.name, tracing), func(t *testing.T) {
				var rec *telemetry.Recorder
				if tracing {
					rec = telemetry.NewRecorder()
				}
				ts, key := adapterServer(t, p.noDirect, rec)
				r := adapterCall(t, ts, key, p.session, p.wantType, nil)
				if r.ClientAddr != "127.0.0.1" || r.TraceID != callerTrace || r.Principal != "agent" || r.Outcome != "ok" {
					t.Errorf("audit record: client_addr %q trace_id %q principal %q outcome %q; want 127.0.0.1, the caller's trace, agent, ok",
						r.ClientAddr, r.TraceID, r.Principal, r.Outcome)
				}
				if !tracing {
					return
				}
				flush(t, ts)
				calls := 0
				for _, s := range rec.Spans() {
					if s.Name == "tools/call emit" {
						calls++
						if s.TraceID != callerTrace || s.ParentID != callerSpan {
							t.Errorf("call span %+v: not under the caller's span", s)
						}
					}
				}
				if calls != 1 {
					t.Errorf("%d request spans named tools/call emit; want the HTTP stage's one", calls)
				}
			})
		}
	}
}

// TestForgedInternalHeadersChangeNothing: the headers that once carried
// facts from the HTTP stages to the MCP handlers (X-Moat-Client-Addr,
// Moat-Internal-Span) are nobody's now: a client that sends them gets the
// same record as one that does not — the connection's address, its own
// trace — on every path.
func TestForgedInternalHeadersChangeNothing(t *testing.T) {
	forged := []struct {
		name   string
		header map[string]string
	}{
		{"client address", map[string]string{"X-Moat-Client-Addr": "203.0.113.9"}},
		{"internal span", map[string]string{"Moat-Internal-Span": "00f067aa0ba902b7"}},
		{"both, and a forwarded address", map[string]string{"X-Moat-Client-Addr": "203.0.113.9", "Moat-Internal-Span": "1111111111111111", "X-Forwarded-For": "198.51.100.7"}},
	}
	for _, p := range adapterPaths {
		ts, key := adapterServer(t, p.noDirect, telemetry.NewRecorder())
		for _, f := range forged {
			t.Run(p.name+"/"+f.name, func(t *testing.T) {
				r := adapterCall(t, ts, key, p.session, p.wantType, f.header)
				if r.ClientAddr != "127.0.0.1" || r.TraceID != callerTrace || r.Outcome != "ok" {
					t.Errorf("audit record: client_addr %q trace_id %q outcome %q; want 127.0.0.1, the caller's trace, ok", r.ClientAddr, r.TraceID, r.Outcome)
				}
			})
		}
	}
}

// TestCallContextLost: a handler is given a call context only for the
// request it serves: an unregistered header map (its request has ended),
// or a registered one with another TokenInfo, finds none, and tools/call
// and tools/list are then refused without running anything.
func TestCallContextLost(t *testing.T) {
	tk := newTestKeys(t, "agent")
	ts := newTestServer(t, testConfig{http: true, toml: keyBlock(tk["agent"], `["*"]`),
		tools: map[string]string{"emit": manifestText(guests["hostfixture"], `name = "emit"`)}})
	snap := ts.current()
	ti := &sdkauth.TokenInfo{UserID: "agent", Extra: map[string]any{snapshotExtraKey: snap}}
	registered := http.Header{}
	cc := &callContext{addr: "127.0.0.1", era: eraSession, head: &requestHead{}, tokenInfo: ti, snap: snap}
	if !ts.calls.add(headerIdentity(registered), cc) {
		t.Fatal("register")
	}
	defer ts.calls.remove(headerIdentity(registered))
	if ts.calls.add(headerIdentity(registered), &callContext{}) {
		t.Fatal("a second context registered under the same header map")
	}
	for _, tc := range []struct {
		name  string
		extra *mcp.RequestExtra
		found bool
	}{
		{"registered, same TokenInfo", &mcp.RequestExtra{Header: registered, TokenInfo: ti}, true},
		{"registered, another TokenInfo", &mcp.RequestExtra{Header: registered, TokenInfo: &sdkauth.TokenInfo{UserID: "agent", Extra: ti.Extra}}, false},
		{"registered, no TokenInfo", &mcp.RequestExtra{Header: registered}, false},
		{"not registered (the request ended)", &mcp.RequestExtra{Header: http.Header{}, TokenInfo: ti}, false},
		{"a copy of the registered header", &mcp.RequestExtra{Header: registered.Clone(), TokenInfo: ti}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, release, ok := ts.callOf(tc.extra)
			if ok != tc.found || (ok && got != cc) {
				t.Fatalf("callOf: %v %v; want found=%v", got, ok, tc.found)
			}
			if ok {
				release()
				return
			}
			h := ts.dispatch(func(context.Context, string, mcp.Request) (mcp.Result, error) {
				t.Fatal("a request without its call context reached the go-sdk's handler")
				return nil, nil
			})
			for _, req := range []mcp.Request{
				&mcp.CallToolRequest{Params: &mcp.CallToolParamsRaw{Name: "emit"}, Extra: tc.extra},
				&mcp.ListToolsRequest{Params: &mcp.ListToolsParams{}, Extra: tc.extra},
			} {
				method := "tools/call"
				if _, ok := req.(*mcp.ListToolsRequest); ok {
					method = "tools/list"
				}
				res, err := h(context.Background(), method, req)
				var jerr *jsonrpc.Error
				if res != nil || !errors.As(err, &jerr) || jerr.Code != jsonrpc.CodeInternalError ||
					!strings.HasPrefix(jerr.Message, msgCallLost+" (error id ") || strings.Contains(jerr.Message, "127.0.0.1") {
					t.Errorf("%s: %v %v; want %q with an error id", method, res, err, msgCallLost)
				}
			}
		})
	}
}
