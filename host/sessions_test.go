package host

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/moatmcp/moat/internal/ratelimit"
)

// TestSessionCap: a principal (here everyone: no authentication) opens at
// most MaxSessionsPerPrincipal sessions; ending one with DELETE, or its
// idling out, frees its slot. Requests within a session are never refused.
func TestSessionCap(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, testConfig{http: true, noAuth: true, toml: "[server]\nmax_sessions = 3\nmax_sessions_per_principal = 2\n",
		tools: map[string]string{"emit": manifestText(guests["hostfixture"], `name = "emit"`)}})

	do := func(method, body, session string) (*http.Response, string) {
		t.Helper()
		resp, b := doHTTP(t, mcpRequest(context.Background(), method, ts.url+"/mcp", body, session))
		return resp, string(b)
	}
	const initialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	open := func() (string, int, string) {
		resp, body := do("POST", initialize, "")
		return resp.Header.Get("Mcp-Session-Id"), resp.StatusCode, body
	}
	a, code, _ := open()
	b, code2, _ := open()
	if a == "" || b == "" || code != 200 || code2 != 200 {
		t.Fatalf("first two sessions: %q %d, %q %d", a, code, b, code2)
	}
	if _, code, body := open(); code != http.StatusTooManyRequests || !strings.Contains(body, "too many open sessions for this caller (2)") {
		t.Fatalf("third session: %d %s", code, body)
	}
	// Within a session nothing is refused.
	if resp, body := do("POST", `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`, a); resp.StatusCode != 200 {
		t.Fatalf("tools/list in a session: %d %s", resp.StatusCode, body)
	}
	// A malformed request without a session makes none and keeps no slot.
	if resp, _ := do("POST", `{"jsonrpc":"2.0","id":3,"method":"tools/list"}`, ""); resp.StatusCode == 200 && resp.Header.Get("Mcp-Session-Id") != "" {
		t.Fatalf("a session was made without initialize")
	}
	// Ending one frees its slot.
	if resp, _ := do("DELETE", "", a); resp.StatusCode >= 300 {
		t.Fatalf("DELETE: %d", resp.StatusCode)
	}
	c, code, body := open()
	if c == "" || code != 200 {
		t.Fatalf("after DELETE: %d %s", code, body)
	}
	// A session the go-sdk closed on its own (here: closed server-side, as
	// an idle timeout does) is reclaimed when the cap is reached.
	for s := range ts.mcp.Sessions() {
		if s.ID() == b {
			s.Close()
		}
	}
	if d, code, body := open(); d == "" || code != 200 {
		t.Fatalf("after the server closed a session: %d %s", code, body)
	}
}

// TestSessionCapTotal: the total cap holds across principals, and a
// reserved slot whose request made no session is given back, in the
// store too.
func TestSessionCapTotal(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, testConfig{tools: map[string]string{}})
	store := ratelimit.NewLocalStore(ratelimit.TableOptions{})
	c := newSessionCap(ts.mcp, store, nil)
	c.live = func() map[string]bool { // every session made here stays live
		ids := map[string]bool{}
		for id := range c.owner {
			ids[id] = true
		}
		return ids
	}
	ctx := context.Background()
	for i, step := range []struct{ p, refusal string }{
		{"alice", ""}, {"alice", ""}, {"alice", "for this caller"}, {"bob", ""}, {"bob", "the server has too many"},
	} {
		pending := "pending:" + strconv.Itoa(i)
		got, err := c.take(ctx, step.p, pending, 3, 2)
		if err != nil || (step.refusal == "") != (got == "") || !strings.Contains(got, step.refusal) {
			t.Fatalf("step %d (%s): %q, %v; want %q", i, step.p, got, err, step.refusal)
		}
		if got == "" {
			c.settle(ctx, step.p, pending, step.p+string(rune('0'+i)))
		}
	}
	if got, _ := c.take(ctx, "carol", "pending:c1", 3, 2); got == "" {
		t.Fatal("carol got a slot past the total")
	}
	c.release("bob3")
	if got, _ := c.take(ctx, "carol", "pending:c2", 3, 2); got != "" {
		t.Fatalf("after bob's session ended: %q", got)
	}
	c.settle(ctx, "carol", "pending:c2", "")   // the request made no session
	if c.total != 2 || c.count["carol"] != 0 { // alice0, alice1 (bob3 ended)
		t.Fatalf("total %d, carol %d after a slot was given back", c.total, c.count["carol"])
	}
	if n, _ := store.Count(ctx, slotTotal("sessions")); n != 2 {
		t.Fatalf("store counts %d sessions; want 2", n)
	}
}

// mcpRequest is a Streamable HTTP request as a client sends it: JSON in,
// JSON or SSE out, and within a session its id and protocol version.
func mcpRequest(ctx context.Context, method, url, body, session string) *http.Request {
	req, _ := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
		req.Header.Set("MCP-Protocol-Version", "2025-11-25")
	}
	return req
}

// doHTTP sends req and returns the response with its body read (and
// closed).
func doHTTP(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, b
}

// TestSessionCapStateless: a 2026-07-28 request opens no session, so it
// takes no session slot and is served while the cap is full.
func TestSessionCapStateless(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, testConfig{http: true, noAuth: true, toml: "[server]\nmax_sessions = 1\n",
		tools: map[string]string{"emit": manifestText(guests["hostfixture"], `name = "emit"`)}})
	const initialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	if resp, body := postMCP(t, ts.url, "", "", initialize); resp.StatusCode != 200 || resp.Header.Get("Mcp-Session-Id") == "" {
		t.Fatalf("first session: %d %s", resp.StatusCode, body)
	}
	if resp, body := postMCP(t, ts.url, "", "", initialize); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("second session: %d %s, want 429", resp.StatusCode, body)
	}
	for i := range 3 {
		resp, body := statelessPost(t, ts.url, "", "tools/call", "emit",
			`{"jsonrpc":"2.0","id":`+strconv.Itoa(i)+`,"method":"tools/call","params":{"name":"emit","arguments":{"stdout":"s"},`+newMeta+`}}`, nil)
		if resp.StatusCode != 200 || resp.Header.Get("Mcp-Session-Id") != "" || !strings.Contains(body, `"text":"s"`) {
			t.Fatalf("stateless call %d with the cap full: %d %s", i, resp.StatusCode, body)
		}
	}
}
