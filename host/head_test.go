package host

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// goErrorText are fragments of Go and go-sdk error strings that must never
// reach a client.
var goErrorText = []string{"json:", "cannot unmarshal", "unmarshaling", "Go struct", "Go value", "go-sdk", "*mcp.", "mcp.", "jsonrpc2", "not handled", "invalid character", "unexpected end"}

// leaksGoError returns the first fragment of goErrorText in body, or "".
func leaksGoError(body string) string {
	for _, s := range goErrorText {
		if strings.Contains(body, s) {
			return s
		}
	}
	return ""
}

// eraClient sends requests to a test server in either protocol era: a
// 2025-11-25 session (initialized), or 2026-07-28 stateless requests with
// the headers and _meta a client sends.
type eraClient struct {
	t   testing.TB
	url string
	sid string
}

func newEraClient(t testing.TB, ts *testServer) *eraClient {
	t.Helper()
	c := &eraClient{t: t, url: ts.url}
	req := mcpRequest(context.Background(), "POST", ts.url+"/mcp", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`, "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if c.sid = resp.Header.Get("Mcp-Session-Id"); c.sid == "" {
		t.Fatalf("initialize: %d", resp.StatusCode)
	}
	c.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`, c.sid, nil)
	return c
}

// send posts body with headers hdr (a "" value deletes the header) and
// returns the status and body.
func (c *eraClient) send(body, session string, hdr map[string]string) (int, string) {
	c.t.Helper()
	req := mcpRequest(context.Background(), "POST", c.url+"/mcp", body, session)
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b)
}

// newEra sends a 2026-07-28 request of method with params (without
// braces; the _meta triple is added) and the matching Mcp-* headers.
func (c *eraClient) newEra(method, name, params string) (int, string) {
	if params != "" {
		params += ","
	}
	hdr := map[string]string{"Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": method}
	if name != "" {
		hdr["Mcp-Name"] = name
	}
	return c.send(`{"jsonrpc":"2.0","id":42,"method":"`+method+`","params":{`+params+newEraMeta+`}}`, "", hdr)
}

// legacy sends a request of method with params within the session.
func (c *eraClient) legacy(method, params string) (int, string) {
	return c.send(`{"jsonrpc":"2.0","id":42,"method":"`+method+`","params":{`+params+`}}`, c.sid, nil)
}

// TestEraBadInput: requests that do not fit their protocol era get a
// fixed JSON-RPC error of the spec's code, with the request's id, and no
// Go or go-sdk text (and no value echoed from the request).
func TestEraBadInput(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, testConfig{http: true, noAuth: true, tools: map[string]string{
		"emit":   manifestText(guests["hostfixture"], `name = "emit"`),
		"region": manifestText(guests["hostfixture"], "name = \"region\"\n[input_schema]\ntype = \"object\"\n[input_schema.properties.region]\ntype = \"string\"\n\"x-mcp-header\" = \"Region\""),
	}})
	c := newEraClient(t, ts)
	const region = `{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"region","arguments":{"region":"eu"},` + newEraMeta + `}}`
	const list = `{"jsonrpc":"2.0","id":42,"method":"tools/list","params":{` + newEraMeta + `}}`
	const call = `{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"emit","arguments":{},` + newEraMeta + `}}`
	v26 := func(kv ...string) map[string]string {
		h := map[string]string{"Mcp-Protocol-Version": "2026-07-28"}
		for i := 0; i+1 < len(kv); i += 2 {
			h[kv[i]] = kv[i+1]
		}
		return h
	}
	for _, tc := range []struct {
		name, body, session string
		hdr                 map[string]string
		status              int
		want                string // the whole body, or its prefix when it ends in "…"
	}{
		// MCP 2026-07-28 transports: a session id on a 2026-07-28
		// request is ignored; the request is served statelessly.
		{"2026-07-28 request with a live session id", call, c.sid, v26("Mcp-Method", "tools/call", "Mcp-Name", "emit"), 200,
			`{"jsonrpc":"2.0","id":42,"result":{…`},
		{"Mcp-Param header that differs from the argument", region, "", v26("Mcp-Method", "tools/call", "Mcp-Name", "region", "Mcp-Param-Region", "<b>us</b>"), 400,
			`{"jsonrpc":"2.0","id":42,"error":{"code":-32020,"message":"header mismatch: an Mcp-* header does not match the request body (error id …`},
		{"Mcp-Param header missing", region, "", v26("Mcp-Method", "tools/call", "Mcp-Name", "region"), 400,
			`{"jsonrpc":"2.0","id":42,"error":{"code":-32020,"message":"header mismatch: an Mcp-* header does not match the request body (error id …`},
		{"2026-07-28 request with an unknown session id", call, "nosuch", v26("Mcp-Method", "tools/call", "Mcp-Name", "emit"), 200,
			`{"jsonrpc":"2.0","id":42,"result":{…`},
		{"legacy request without a session", `{"jsonrpc":"2.0","id":42,"method":"tools/list","params":{}}`, "", map[string]string{"Mcp-Protocol-Version": "2025-11-25"}, 400,
			`{"jsonrpc":"2.0","id":42,"error":{"code":-32600,"message":"invalid request: no session: send initialize first, or use protocol version 2026-07-28, which has no sessions (error id …`},
		{"Mcp-Method missing", list, "", v26(), 400,
			`{"jsonrpc":"2.0","id":42,"error":{"code":-32020,"message":"header mismatch: the Mcp-Method header is required (error id …`},
		{"body method differs from Mcp-Method", list, "", v26("Mcp-Method", "tools/call"), 400,
			`{"jsonrpc":"2.0","id":42,"error":{"code":-32020,"message":"header mismatch: the Mcp-Method header does not match the request's method (error id …`},
		{"Mcp-Name missing on tools/call", call, "", v26("Mcp-Method", "tools/call"), 400,
			`{"jsonrpc":"2.0","id":42,"error":{"code":-32020,"message":"header mismatch: the Mcp-Name header is required for tools/call (error id …`},
		{"Mcp-Name differs from the tool called", call, "", v26("Mcp-Method", "tools/call", "Mcp-Name", "other"), 400,
			`{"jsonrpc":"2.0","id":42,"error":{"code":-32020,"message":"header mismatch: the Mcp-Name header does not match the request's name (error id …`},
		{"_meta protocolVersion differs from the header", strings.Replace(list, `"2026-07-28"`, `"<b>1999-01-01</b>"`, 1), "", v26("Mcp-Method", "tools/list"), 400,
			`{"jsonrpc":"2.0","id":42,"error":{"code":-32020,"message":"header mismatch: the Mcp-Protocol-Version header does not match _meta's io.modelcontextprotocol/protocolVersion (error id …`},
		{"malformed version", list, "", map[string]string{"Mcp-Protocol-Version": "2026-7-28", "Mcp-Method": "tools/list"}, 400,
			`{"jsonrpc":"2.0","id":42,"error":{"code":-32022,"message":"unsupported protocol version","data":{"supported":["2026-07-28","2025-11-25","2025-06-18","2025-03-26","2024-11-05"],"requested":"2026-7-28"}}}`},
		{"unsupported version", list, "", map[string]string{"Mcp-Protocol-Version": "2031-01-01", "Mcp-Method": "tools/list"}, 400,
			`{"jsonrpc":"2.0","id":42,"error":{"code":-32022,"message":"unsupported protocol version","data":{"supported":["2026-07-28","2025-11-25","2025-06-18","2025-03-26","2024-11-05"],"requested":"2031-01-01"}}}`},
		{"_meta missing", `{"jsonrpc":"2.0","id":42,"method":"tools/list","params":{}}`, "", v26("Mcp-Method", "tools/list"), 400,
			`{"jsonrpc":"2.0","id":42,"error":{"code":-32602,"message":"missing or invalid _meta field \"io.modelcontextprotocol/protocolVersion\""}}`},
		{"_meta not an object", `{"jsonrpc":"2.0","id":42,"method":"tools/list","params":{"_meta":"x"}}`, "", v26("Mcp-Method", "tools/list"), 400,
			`{"jsonrpc":"2.0","id":42,"error":{"code":-32602,"message":"invalid params: _meta has the wrong type (error id …`},
		{"_meta clientCapabilities of the wrong type", strings.Replace(list, `"io.modelcontextprotocol/clientCapabilities":{}`, `"io.modelcontextprotocol/clientCapabilities":5`, 1), "", v26("Mcp-Method", "tools/list"), 400,
			`{"jsonrpc":"2.0","id":42,"error":{"code":-32602,"message":"missing or invalid _meta field \"io.modelcontextprotocol/clientCapabilities\""}}`},
		{"removed method: initialize", `{"jsonrpc":"2.0","id":42,"method":"initialize","params":{"protocolVersion":"2026-07-28","capabilities":{},"clientInfo":{"name":"t","version":"1"},` + newEraMeta + `}}`, "", v26("Mcp-Method", "initialize"), 404,
			`{"jsonrpc":"2.0","id":42,"error":{"code":-32601,"message":"method not found (error id …`},
		{"removed method: ping", `{"jsonrpc":"2.0","id":42,"method":"ping","params":{` + newEraMeta + `}}`, "", v26("Mcp-Method", "ping"), 404,
			`{"jsonrpc":"2.0","id":42,"error":{"code":-32601,"message":"method not found (error id …`},
		{"unknown method (2026-07-28)", `{"jsonrpc":"2.0","id":42,"method":"x/y","params":{` + newEraMeta + `}}`, "", v26("Mcp-Method", "x/y"), 404,
			`{"jsonrpc":"2.0","id":42,"error":{"code":-32601,"message":"method not found (error id …`},
		{"unknown method (2025-11-25)", `{"jsonrpc":"2.0","id":42,"method":"x/y","params":{}}`, c.sid, nil, 400,
			`{"jsonrpc":"2.0","id":42,"error":{"code":-32601,"message":"method not found (error id …`},
		{"subscriptions/listen in a 2025-11-25 session", `{"jsonrpc":"2.0","id":42,"method":"subscriptions/listen","params":{"notifications":{"toolsListChanged":true}}}`, c.sid, nil, 400,
			`{"jsonrpc":"2.0","id":42,"error":{"code":-32601,"message":"method not found (error id …`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := c.send(tc.body, tc.session, tc.hdr)
			ok := body == tc.want
			if p, cut := strings.CutSuffix(tc.want, "…"); cut {
				ok = strings.HasPrefix(body, p)
			}
			if status != tc.status || !ok {
				t.Fatalf("got %d %s\nwant %d %s", status, body, tc.status, tc.want)
			}
			if s := leaksGoError(body); s != "" || strings.Contains(body, "<b>") {
				t.Fatalf("leaks %q: %s", s, body)
			}
		})
	}
}

// TestWrongTypedParams: params whose fields have the wrong type get
// -32602 with the request's id and a fixed text naming the field, in both
// eras (the go-sdk's answer was its Go decoding error, on the SSE stream
// too); a tool's arguments that are not an object are the tool's error
// result, in moat's words.
func TestWrongTypedParams(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, testConfig{http: true, noAuth: true, tools: map[string]string{"emit": manifestText(guests["hostfixture"], `name = "emit"`)}})
	c := newEraClient(t, ts)
	for _, tc := range []struct {
		name, method, tool, params string
		status                     int // of the 2026-07-28 request; a session's is 400 too
		want                       string
	}{
		{"tools/list cursor a number", "tools/list", "", `"cursor":5`, 400, `{"jsonrpc":"2.0","id":42,"error":{"code":-32602,"message":"invalid params: cursor has the wrong type (error id …`},
		{"tools/call name a number", "tools/call", "", `"name":7`, 400, `{"jsonrpc":"2.0","id":42,"error":{"code":-32602,"message":"invalid params: name has the wrong type (error id …`},
		{"tools/call requestState a number", "tools/call", "emit", `"name":"emit","requestState":1`, 400, `{"jsonrpc":"2.0","id":42,"error":{"code":-32602,"message":"invalid params: requestState has the wrong type (error id …`},
		{"subscriptions/listen notifications a number", "subscriptions/listen", "", `"notifications":5`, 400, `{"jsonrpc":"2.0","id":42,"error":{"code":-32602,"message":"invalid params: notifications has the wrong type (error id …`},
		{"tools/call arguments a string", "tools/call", "emit", `"name":"emit","arguments":"x"`, 200, `"content":[{"type":"text","text":"invalid arguments: arguments must be a JSON object, got string"}],"isError":true`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := c.newEra(tc.method, tc.tool, tc.params)
			want := strings.TrimSuffix(tc.want, "…")
			if status != tc.status || (status != 200 && !strings.HasPrefix(body, want)) || !strings.Contains(body, want) {
				t.Errorf("2026-07-28: %d %s", status, body)
			}
			if s := leaksGoError(body); s != "" {
				t.Errorf("2026-07-28 leaks %q: %s", s, body)
			}
			if tc.method == "subscriptions/listen" {
				return // not a 2025-11-25 method
			}
			status, body = c.legacy(tc.method, tc.params)
			if (status != 200 && (status != 400 || !strings.HasPrefix(body, want))) || !strings.Contains(body, want) {
				t.Errorf("2025-11-25: %d %s", status, body)
			}
			if s := leaksGoError(body); s != "" {
				t.Errorf("2025-11-25 leaks %q: %s", s, body)
			}
		})
	}
}

// FuzzRequestHead: whatever the method, params and Mcp-* headers, in
// either era, a response carries no Go or go-sdk error text, and an error
// response to a request that parsed carries its id.
func FuzzRequestHead(f *testing.F) {
	for _, s := range []struct {
		method, params, hdrMethod, hdrName string
		newEra                             bool
	}{
		{"tools/list", `{"cursor":5}`, "tools/list", "", true},
		{"tools/list", `{"cursor":5}`, "", "", false},
		{"tools/call", `{"name":7}`, "tools/call", "7", true},
		{"tools/call", `{"name":"emit","arguments":"x"}`, "tools/call", "emit", true},
		{"tools/call", `{"name":"emit","_meta":{"progressToken":[]}}`, "", "", false},
		{"tools/call", `{"name":"emit","inputResponses":5}`, "tools/call", "emit", true},
		{"tools/call", `{"name":"emit","inputResponses":{"a":5}}`, "", "", false},
		{"ping", `{"_meta":5}`, "", "", false},
		{"logging/setLevel", `{"level":5}`, "", "", false},
		{"prompts/get", `{"name":{}}`, "prompts/get", "", true},
		{"resources/read", `{"uri":1}`, "", "", false},
		{"subscriptions/listen", `{"notifications":{"toolsListChanged":"yes"}}`, "subscriptions/listen", "", true},
		{"server/discover", `{"_meta":[]}`, "server/discover", "", true},
		{"notifications/cancelled", `{"requestId":{}}`, "", "", false},
		{"initialize", `{"protocolVersion":5}`, "", "", false},
		{"x", `{}`, "y", "", true},
		{"tools/list", `[1]`, "tools/list", "", true},
		{"tools/list", `{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"elicitation":5}}}`, "tools/list", "", true},
	} {
		f.Add(s.method, s.params, s.hdrMethod, s.hdrName, s.newEra)
	}
	// One server for every input; the fuzzer drives its handler in memory.
	ts := newTestServer(f, testConfig{http: true, noAuth: true, tools: map[string]string{"emit": manifestText(guests["hostfixture"], `name = "emit"`)}})
	c := newEraClient(f, ts)
	f.Fuzz(func(t *testing.T, method, params, hdrMethod, hdrName string, newEra bool) {
		m, _ := json.Marshal(method)
		body := `{"jsonrpc":"2.0","id":42,"method":` + string(m) + `,"params":` + params + `}`
		req := httptest.NewRequest("POST", "/mcp", strings.NewReader(body))
		req.Host = strings.TrimPrefix(ts.url, "http://")
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if newEra {
			req.Header.Set("Mcp-Protocol-Version", "2026-07-28")
		} else {
			req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
			req.Header.Set("Mcp-Session-Id", c.sid)
		}
		for k, v := range map[string]string{"Mcp-Method": hdrMethod, "Mcp-Name": hdrName} {
			if v != "" && !strings.ContainsAny(v, "\r\n\x00") {
				req.Header.Set(k, v)
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		if method == methodListen {
			cancel() // a stream that opened ends at once
		}
		rec := httptest.NewRecorder()
		ts.Handler().ServeHTTP(rec, req.WithContext(ctx))
		out := rec.Body.String()
		if s := leaksGoError(out); s != "" {
			t.Fatalf("%s\n→ %d leaks %q: %s", body, rec.Code, s, out)
		}
		if json.Valid([]byte(body)) && strings.Contains(out, `"error":`) && !strings.Contains(out, `"id":42`) {
			t.Fatalf("%s\n→ %d error without the request's id: %s", body, rec.Code, out)
		}
	})
}
