package host

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// newMeta is a complete 2026-07-28 _meta triple.
const newMeta = `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"t","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}`

// statelessPost sends one 2026-07-28 request; header edits the headers.
func statelessPost(t *testing.T, url, key, method, name, body string, header func(http.Header)) (*http.Response, string) {
	t.Helper()
	req := mcpRequest(context.Background(), "POST", url+"/mcp", body, "")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("Mcp-Protocol-Version", "2026-07-28")
	req.Header.Set("Mcp-Method", method)
	if name != "" {
		req.Header.Set("Mcp-Name", name)
	}
	if header != nil {
		header(req.Header)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	resp.Body.Close()
	return resp, b.String()
}

// sseData is the JSON of the one message in an SSE or JSON answer.
func sseData(body string) string {
	for _, line := range strings.Split(body, "\n") {
		if d, ok := strings.CutPrefix(line, "data: "); ok {
			return d
		}
	}
	return strings.TrimSpace(body)
}

// TestDirectCallSameAnswer: a stateless tools/call answered directly
// (fastcall.go) gets the very answer the go-sdk gives the same request —
// status and JSON-RPC message byte for byte — and the same audit record;
// only the framing differs (application/json instead of one SSE event).
func TestDirectCallSameAnswer(t *testing.T) {
	t.Parallel()
	tk := newTestKeys(t, "reader")
	cfg := testConfig{http: true, toml: keyBlock(tk["reader"], `["emit","bad"]`), tools: map[string]string{
		"emit":    manifestText(guests["hostfixture"], `name = "emit"`),
		"bad":     manifestText(guests["hostfixture"], "name = \"bad\"\n[input_schema]\ntype = \"object\"\nrequired = [\"stdout\"]"),
		"counter": manifestText(guests["hostfixture"], `name = "counter"`),
	}}
	direct, viaSDK := newTestServer(t, cfg), newTestServer(t, cfg)
	viaSDK.noDirect = true
	key := tk["reader"].secret
	call := func(id, name, args string) string {
		return `{"jsonrpc":"2.0","id":` + id + `,"method":"tools/call","params":{"name":"` + name + `","arguments":` + args + `,` + newMeta + `}}`
	}
	cases := []struct {
		name, tool, body string
		status           int
		want             string
	}{
		{"result", "emit", call("1", "emit", `{"stdout":"hi"}`), 200, `{"jsonrpc":"2.0","id":1,"result":{"_meta":{"io.modelcontextprotocol/serverInfo":{"name":"moat","title":"moat tool host","version":"` + Version + `"}},"content":[{"type":"text","text":"hi"}],"resultType":"complete"}}`},
		{"string id", "emit", call(`"a-1"`, "emit", `{"stdout":"x"}`), 200, `"id":"a-1","result":`},
		{"HTML and escapes in the text", "emit", call("5", "emit", `{"stdout":"<a href=\"x\">&amp;</a>\u2028\n\té"}`), 200, `\u003ca href=\"x\"\u003e\u0026amp;\u003c/a\u003e`},
		{"tool error", "emit", call("2", "emit", `{"stdout":"oops","exit":3}`), 200, `"isError":true`},
		{"invalid arguments", "bad", call("3", "bad", `{}`), 200, `"isError":true`},
		{"not granted", "counter", call("4", "counter", `{}`), 400, `{"jsonrpc":"2.0","id":4,"error":{"code":-32602,"message":"unknown tool \"counter\""}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r1, b1 := statelessPost(t, direct.url, key, "tools/call", tc.tool, tc.body, nil)
			r2, b2 := statelessPost(t, viaSDK.url, key, "tools/call", tc.tool, tc.body, nil)
			if r1.StatusCode != tc.status || r2.StatusCode != tc.status {
				t.Fatalf("status direct %d, go-sdk %d, want %d", r1.StatusCode, r2.StatusCode, tc.status)
			}
			if d1, d2 := sseData(b1), sseData(b2); d1 != d2 || !strings.Contains(d1, tc.want) {
				t.Fatalf("answers differ or lack %s:\ndirect %s\ngo-sdk %s", tc.want, d1, d2)
			}
			if ct := r1.Header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("direct answer Content-Type %q", ct)
			}
		})
	}
	// The audit records match too (the clock aside): same outcome,
	// principal, tool and arguments summary, in the same order.
	norm := func(a string) []string {
		var out []string
		for _, line := range strings.Split(strings.TrimSpace(a), "\n") {
			if !strings.Contains(line, `"event":"tool_call"`) {
				continue
			}
			for _, f := range []string{`"outcome":`, `"tool":`, `"principal":`, `"args":`} {
				if i := strings.Index(line, f); i >= 0 {
					end := strings.IndexAny(line[i+len(f):], ",}")
					out = append(out, line[i:i+len(f)+end])
				}
			}
		}
		return out
	}
	a1, a2 := norm(direct.auditText()), norm(viaSDK.auditText())
	if len(a1) == 0 || strings.Join(a1, "|") != strings.Join(a2, "|") {
		t.Fatalf("audit differs:\ndirect %v\ngo-sdk %v", a1, a2)
	}
}

func TestPlainID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{`1`, true}, {`0`, true}, {`-12`, true}, {`"abc-1_2.3:4~"`, true}, {`""`, true},
		{`01`, false}, {`-0`, false}, {`-`, false}, {`1.5`, false}, {`1e3`, false}, {`1234567890123456`, false}, {`123456789012345`, true},
		{`"a\"b"`, false}, {`"a<b"`, false}, {`"é"`, false}, {`null`, false}, {``, false}, {`{}`, false}, {`"abc`, false},
	} {
		if got := plainID(json.RawMessage(tc.id)); got != tc.want {
			t.Errorf("plainID(%s) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

// TestDirectCallEligibility: only a request the go-sdk would accept and
// answer with one result, nothing streamed, is answered directly;
// everything else goes to the go-sdk, whose answer it then gets (an SSE
// stream or its refusal).
func TestDirectCallEligibility(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, testConfig{http: true, noAuth: true, tools: map[string]string{
		"emit":   manifestText(guests["hostfixture"], `name = "emit"`),
		"hdr":    manifestText(guests["hostfixture"], "name = \"hdr\"\n[input_schema]\ntype = \"object\"\n[input_schema.properties.stdout]\ntype = \"string\"\nx-mcp-header = \"Out\""),
		"notify": manifestText(guests["hostfixture"], `name = "notify"`),
	}})
	ts.streamAnswers = true // the go-sdk's answers stay streams: the content type tells the path
	body := func(params string) string {
		return `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"emit","arguments":{"stdout":"ok"}` + params + `}}`
	}
	meta := func(extra string) string {
		return `,"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}` + extra + `}`
	}
	cases := []struct {
		name, method, tool, body string
		header                   func(http.Header)
		direct                   bool
		status                   int
	}{
		{"plain call", "tools/call", "emit", body(meta("")), nil, true, 200},
		{"client info and capabilities", "tools/call", "emit", body(`,"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"c","version":"2"},"io.modelcontextprotocol/clientCapabilities":{"elicitation":{}}}`), nil, true, 200},
		{"progress token", "tools/call", "emit", body(meta(`,"progressToken":"p"`)), nil, false, 200},
		{"log level", "tools/call", "emit", body(meta(`,"io.modelcontextprotocol/logLevel":"debug"`)), nil, false, 200},
		{"multi-round-trip retry", "tools/call", "emit", body(`,"requestState":"x"` + meta("")), nil, false, 0},
		{"no _meta", "tools/call", "emit", body(""), nil, false, 0},
		{"_meta version differs from the header", "tools/call", "emit", body(`,"_meta":{"io.modelcontextprotocol/protocolVersion":"2025-11-25","io.modelcontextprotocol/clientCapabilities":{}}`), nil, false, 0},
		{"capabilities missing", "tools/call", "emit", body(`,"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}`), nil, false, 400},
		{"capabilities not an object", "tools/call", "emit", body(`,"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":"x"}`), nil, false, 400},
		{"capabilities of the wrong shape", "tools/call", "emit", body(`,"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"elicitation":7}}`), nil, false, 400},
		{"client info of the wrong shape", "tools/call", "emit", body(`,"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":1},"io.modelcontextprotocol/clientCapabilities":{}}`), nil, false, 400},
		{"Mcp-Name differs", "tools/call", "other", body(meta("")), nil, false, 400},
		{"Mcp-Name missing", "tools/call", "", body(meta("")), nil, false, 400},
		{"Mcp-Method differs", "tools/list", "emit", body(meta("")), nil, false, 400},
		{"Accept without event-stream", "tools/call", "emit", body(meta("")), func(h http.Header) { h.Set("Accept", "application/json") }, false, 400},
		// A 2026-07-28 request's session id is ignored (era.go): a plain call still.
		{"a session id", "tools/call", "emit", body(meta("")), func(h http.Header) { h.Set("Mcp-Session-Id", "abc") }, true, 200},
		{"a notification (no id)", "tools/call", "emit", `{"jsonrpc":"2.0","method":"tools/call","params":{"name":"emit"` + meta("") + `}}`, nil, false, 0},
		{"fractional id", "tools/call", "emit", `{"jsonrpc":"2.0","id":1.5,"method":"tools/call","params":{"name":"emit"` + meta("") + `}}`, nil, false, 0},
		{"id with an escape", "tools/call", "emit", `{"jsonrpc":"2.0","id":"a\u0041","method":"tools/call","params":{"name":"emit"` + meta("") + `}}`, nil, false, 0},
		{"id with an HTML character", "tools/call", "emit", `{"jsonrpc":"2.0","id":"a<b","method":"tools/call","params":{"name":"emit"` + meta("") + `}}`, nil, false, 0},
		{"string id", "tools/call", "emit", `{"jsonrpc":"2.0","id":"req-7:a","method":"tools/call","params":{"name":"emit"` + meta("") + `}}`, nil, true, 200},
		{"negative id", "tools/call", "emit", `{"jsonrpc":"2.0","id":-7,"method":"tools/call","params":{"name":"emit"` + meta("") + `}}`, nil, true, 200},
		{"null id", "tools/call", "emit", `{"jsonrpc":"2.0","id":null,"method":"tools/call","params":{"name":"emit"` + meta("") + `}}`, nil, false, 0},
		{"jsonrpc not 2.0", "tools/call", "emit", `{"jsonrpc":"1.0","id":1,"method":"tools/call","params":{"name":"emit"` + meta("") + `}}`, nil, false, 0},
		{"key in another case", "tools/call", "emit", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"Name":"emit"` + meta("") + `}}`, nil, false, 0},
		{"tool with header parameters", "tools/call", "hdr", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"hdr","arguments":{"stdout":"v"}` + meta("") + `}}`, func(h http.Header) { h.Set("Mcp-Param-Out", "v") }, false, 0},
		{"unknown tool", "tools/call", "nope", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"nope"` + meta("") + `}}`, nil, false, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := statelessPost(t, ts.url, "", tc.method, tc.tool, tc.body, tc.header)
			direct := resp.Header.Get("Content-Type") == "application/json" && resp.StatusCode == 200 && strings.Contains(b, `"result"`)
			if direct != tc.direct {
				t.Fatalf("answered directly %v, want %v: %d %s %s", direct, tc.direct, resp.StatusCode, resp.Header.Get("Content-Type"), b)
			}
			if tc.status != 0 && resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
		})
	}
}
