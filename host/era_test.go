package host

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// TestBothEras: one endpoint serves a 2026-07-28 client statelessly (no
// initialize, no session) and a 2025-11-25 client in a session, under the
// same authentication, authorisation and audit.
func TestBothEras(t *testing.T) {
	t.Parallel()
	tk := newTestKeys(t, "reader")
	ts := newTestServer(t, testConfig{http: true, toml: keyBlock(tk["reader"], `["emit"]`), tools: map[string]string{
		"emit":    manifestText(guests["hostfixture"], `name = "emit"`),
		"counter": manifestText(guests["hostfixture"], `name = "counter"`),
	}})
	key := tk["reader"].secret
	const meta = `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"t","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}`
	stateless := func(method, name, body string) (*http.Response, string) {
		req := mcpRequest(context.Background(), "POST", ts.url+"/mcp", body, "")
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Mcp-Protocol-Version", "2026-07-28")
		req.Header.Set("Mcp-Method", method)
		if name != "" {
			req.Header.Set("Mcp-Name", name)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return resp, b.String()
	}
	for _, tc := range []struct {
		name, method, tool, body, want string
		status                         int
	}{
		{"list, filtered and private", "tools/list", "", `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{` + meta + `}}`, `"cacheScope":"private","tools":[{`, 200},
		{"call a granted tool", "tools/call", "emit", `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"emit","arguments":{"stdout":"new era"},` + meta + `}}`, `"text":"new era"`, 200},
		{"a tool not granted is unknown", "tools/call", "counter", `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"counter","arguments":{},` + meta + `}}`, `"message":"unknown tool \"counter\""`, 400},
	} {
		resp, body := stateless(tc.method, tc.tool, tc.body)
		if resp.StatusCode != tc.status || resp.Header.Get("Mcp-Session-Id") != "" || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d session %q %s", tc.name, resp.StatusCode, resp.Header.Get("Mcp-Session-Id"), body)
		}
		if strings.Contains(tc.name, "list") && strings.Contains(body, `"counter"`) {
			t.Errorf("%s: lists a tool the key may not use: %s", tc.name, body)
		}
	}
	// The older era, on the same endpoint: a session.
	if code := callStatus(t, ts.url, key, "emit"); code != 200 {
		t.Fatalf("2025-11-25 session: HTTP %d", code)
	}
	a := ts.auditText()
	if strings.Count(a, `"event":"tool_call","principal":"reader"`) != 3 {
		t.Errorf("audit: want 3 call records of reader (2 stateless, 1 in a session):\n%s", a)
	}
}

// TestParamsNotAnObject: params that are not an object get -32602 with the
// request's id and a fixed message, in either era — never the go-sdk's Go
// decoding error.
func TestParamsNotAnObject(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, testConfig{http: true, noAuth: true, tools: map[string]string{"emit": manifestText(guests["hostfixture"], `name = "emit"`)}})
	resp, _ := postMCP(t, ts.url, "", "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	sid := resp.Header.Get("Mcp-Session-Id")
	for _, tc := range []struct{ name, session, body string }{
		{"in a session", sid, `{"jsonrpc":"2.0","id":7,"method":"tools/list","params":"x"}`},
		{"without one", "", `{"jsonrpc":"2.0","id":"a","method":"tools/list","params":[1]}`},
	} {
		resp, body := postMCP(t, ts.url, "", tc.session, tc.body)
		want := `"error":{"code":-32602,"message":"invalid params: params must be an object (error id `
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, want) || strings.Contains(body, "unmarshal") ||
			(!strings.Contains(body, `"id":7`) && !strings.Contains(body, `"id":"a"`)) {
			t.Errorf("%s: %d %s", tc.name, resp.StatusCode, body)
		}
	}
}

// TestNotServedMethods: prompts, resources and completions are neither
// advertised nor half-answered: their methods are "method not found", with
// the request's id, in either era.
func TestNotServedMethods(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, testConfig{tools: map[string]string{"emit": manifestText(guests["hostfixture"], `name = "emit"`)}})
	cs, _ := connect(t, ts)
	if _, err := cs.ListPrompts(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "method not found") {
		t.Fatalf("prompts/list: %v", err)
	}
	if _, err := cs.ListResources(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "method not found") {
		t.Fatalf("resources/list: %v", err)
	}
	if caps := cs.InitializeResult().Capabilities; caps.Prompts != nil || caps.Resources != nil || caps.Completions != nil {
		t.Fatalf("advertised: %+v", caps)
	}
}

// TestListTTL: [server] list_ttl is the ttlMs of tools/list; the list
// stays private to its caller.
func TestListTTL(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, testConfig{http: true, noAuth: true, toml: "[server]\nlist_ttl = \"30s\"\n",
		tools: map[string]string{"emit": manifestText(guests["hostfixture"], `name = "emit"`)}})
	req := mcpRequest(context.Background(), "POST", ts.url+"/mcp", `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`, "")
	req.Header.Set("Mcp-Protocol-Version", "2026-07-28")
	req.Header.Set("Mcp-Method", "tools/list")
	resp, b := doHTTP(t, req)
	if !strings.Contains(string(b), `"ttlMs":30000`) || !strings.Contains(string(b), `"cacheScope":"private"`) {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
}

// TestStatelessIgnoresSessionID: MCP 2026-07-28 has no sessions, and a
// server ignores an Mcp-Session-Id on a 2026-07-28 request (basic/
// transports): the request is served statelessly on both paths (direct,
// and the go-sdk's), no session id is echoed, and the session named is
// neither used nor ended.
func TestStatelessIgnoresSessionID(t *testing.T) {
	ts := newTestServer(t, testConfig{http: true, noAuth: true, tools: map[string]string{"emit": manifestText(guests["hostfixture"], `name = "emit"`)}})
	c := newEraClient(t, ts)
	v26 := func(method, name string) map[string]string {
		h := map[string]string{"Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": method}
		if name != "" {
			h["Mcp-Name"] = name
		}
		return h
	}
	for _, tc := range []struct {
		name, body, session string
		hdr                 map[string]string
		want                string // in the body
	}{
		{"tools/call, a live session's id", `{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"emit","arguments":{"stdout":"s"},` + newEraMeta + `}}`, c.sid, v26("tools/call", "emit"), `"text":"s"`},
		{"tools/call, an unknown session id", `{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"emit","arguments":{"stdout":"u"},` + newEraMeta + `}}`, "nosuch", v26("tools/call", "emit"), `"text":"u"`},
		{"tools/list, a live session's id", `{"jsonrpc":"2.0","id":42,"method":"tools/list","params":{` + newEraMeta + `}}`, c.sid, v26("tools/list", ""), `"name":"emit"`},
		{"server/discover, a live session's id", `{"jsonrpc":"2.0","id":42,"method":"server/discover","params":{` + newEraMeta + `}}`, c.sid, v26("server/discover", ""), `"supportedVersions"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := mcpRequest(context.Background(), "POST", ts.url+"/mcp", tc.body, tc.session)
			for k, v := range tc.hdr {
				req.Header.Set(k, v)
			}
			resp, b := doHTTP(t, req)
			if resp.StatusCode != 200 || !strings.Contains(string(b), `"id":42`) || !strings.Contains(string(b), tc.want) || strings.Contains(string(b), `"error"`) {
				t.Fatalf("%d %s; want 200 with %s", resp.StatusCode, b, tc.want)
			}
			if sid := resp.Header.Get("Mcp-Session-Id"); sid != "" {
				t.Fatalf("answer carries Mcp-Session-Id %q", sid)
			}
		})
	}
	// The session is still there, and still its own.
	if status, body := c.legacy("tools/list", ""); status != 200 || !strings.Contains(body, `"name":"emit"`) {
		t.Fatalf("the session after 2026-07-28 requests named it: %d %s", status, body)
	}
}
