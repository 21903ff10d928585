package host

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/moatmcp/moat/internal/state/statetest"
)

// newEraMeta is the _meta every 2026-07-28 request carries.
const newEraMeta = `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"t","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}`

// listenStream is one open subscriptions/listen response: its status, and
// the data lines of its SSE events as they arrive (closed at the end of
// the stream).
type openListen struct {
	resp   *http.Response
	events chan string
	cancel context.CancelFunc
}

// next is the stream's next event, or "" when it ended; bounded.
func (o *openListen) next(t *testing.T) string {
	t.Helper()
	select {
	case e, ok := <-o.events:
		if !ok {
			return ""
		}
		return e
	case <-time.After(60 * time.Second):
		t.Fatal("no event on the listen stream within 60 s")
		return ""
	}
}

// listen opens a 2026-07-28 subscriptions/listen stream for tools
// list_changed with key (none when "").
func listen(t *testing.T, url, key, id string) *openListen {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	body := `{"jsonrpc":"2.0","id":` + id + `,"method":"subscriptions/listen","params":{"notifications":{"toolsListChanged":true},` + newEraMeta + `}}`
	req := mcpRequest(ctx, "POST", url+"/mcp", body, "")
	req.Header.Set("Mcp-Protocol-Version", "2026-07-28")
	req.Header.Set("Mcp-Method", "subscriptions/listen")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	o := &openListen{resp: resp, events: make(chan string, 64), cancel: cancel}
	go func() {
		defer close(o.events)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				o.events <- d
			} else if resp.StatusCode != 200 && sc.Text() != "" {
				o.events <- sc.Text()
			}
		}
	}()
	t.Cleanup(cancel)
	return o
}

// TestListen: subscriptions/listen (MCP 2026-07-28) streams tools
// list_changed after a reload; a principal's open streams are capped,
// apart from its sessions, with a 429 that says so; a reload that revokes
// a key ends its streams; an unauthenticated caller cannot listen.
func TestListen(t *testing.T) {
	t.Parallel()
	tk := newTestKeys(t, "a", "b")
	keys := keyBlock(tk["a"], `["*"]`) + keyBlock(tk["b"], `["*"]`)
	cfg := "[server]\nmax_listen_streams_per_principal = 1\nmax_sessions_per_principal = 1\n" + keys
	tools := map[string]string{"emit": manifestText(guests["hostfixture"], `name = "emit"`)}
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, ts *testServer)
	}{
		{"notification received after reload", func(t *testing.T, ts *testServer) {
			o := listen(t, ts.url, tk["a"].secret, "1")
			if ack := o.next(t); o.resp.StatusCode != 200 || !strings.Contains(ack, `"method":"notifications/subscriptions/acknowledged"`) || !strings.Contains(ack, `"toolsListChanged":true`) {
				t.Fatalf("open: %d %s", o.resp.StatusCode, ack)
			}
			ts.writeTool("counter", manifestText(guests["hostfixture"], `name = "counter"`))
			ts.reload()
			if e := o.next(t); !strings.Contains(e, `"method":"notifications/tools/list_changed"`) || !strings.Contains(e, `"io.modelcontextprotocol/subscriptionId":1`) {
				t.Fatalf("after reload: %s", e)
			}
		}},
		{"stream opened past the cap", func(t *testing.T, ts *testServer) {
			first := listen(t, ts.url, tk["a"].secret, "1")
			if ack := first.next(t); first.resp.StatusCode != 200 || !strings.Contains(ack, "acknowledged") {
				t.Fatalf("first: %d %s", first.resp.StatusCode, ack)
			}
			o := listen(t, ts.url, tk["a"].secret, `"second"`)
			refusal := o.next(t)
			want := `{"jsonrpc":"2.0","id":"second","error":{"code":-32000,"message":"too many open listen streams for this caller (at most 1); close one (cancel its subscriptions/listen request) before opening another (error id `
			if o.resp.StatusCode != http.StatusTooManyRequests || !strings.HasPrefix(refusal, want) || o.resp.Header.Get("Retry-After") == "" {
				t.Fatalf("past the cap: %d %s", o.resp.StatusCode, refusal)
			}
			// Another principal has its own cap; and listen streams are
			// not sessions: a (capped at 1) session still opens.
			if b := listen(t, ts.url, tk["b"].secret, "1"); b.resp.StatusCode != 200 {
				t.Fatalf("other principal: %d", b.resp.StatusCode)
			}
			if resp, _ := postMCP(t, ts.url, tk["a"].secret, "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`); resp.StatusCode != 200 || resp.Header.Get("Mcp-Session-Id") == "" {
				t.Fatalf("a session next to a listen stream: %d", resp.StatusCode)
			}
			if a := ts.auditText(); !strings.Contains(a, `"reason":"listen_streams"`) {
				t.Fatalf("refusal not audited:\n%s", a)
			}
			// Closing the first stream frees its slot.
			first.cancel()
			ts.waitEvent("the first stream's slot to be freed", func(e *eventLog) bool { return e.listensClosed >= 1 })
			if n, err := ts.listens.store.Count(context.Background(), slotKey("listen", "a")); err != nil || n != 0 {
				t.Fatalf("slots held after the stream closed: %d, %v", n, err)
			}
			if again := listen(t, ts.url, tk["a"].secret, "3"); again.resp.StatusCode != 200 {
				t.Fatalf("after closing one: %d", again.resp.StatusCode)
			}
		}},
		{"stream closed on key revocation", func(t *testing.T, ts *testServer) {
			a := listen(t, ts.url, tk["a"].secret, "1")
			b := listen(t, ts.url, tk["b"].secret, "1")
			a.next(t)
			b.next(t)
			ts.writeConfig("[server]\nmax_listen_streams_per_principal = 1\n" + keyBlock(tk["b"], `["*"]`))
			rep := ts.reload()
			if rep.ListenStreamsEnded != 1 {
				t.Fatalf("ListenStreamsEnded = %d; want 1", rep.ListenStreamsEnded)
			}
			// The stream ends (next returns "" at its end; bounded), perhaps
			// after the list_changed of the reload and the listen's result,
			// when the go-sdk writes it before the connection closes.
			for e := a.next(t); e != ""; e = a.next(t) {
				if !strings.Contains(e, `"method":"notifications/tools/list_changed"`) && !strings.HasPrefix(e, `{"jsonrpc":"2.0","id":1,"result":{"resultType":"complete"`) {
					t.Fatalf("revoked stream: unexpected event %s", e)
				}
			}
			// b's stream is open and told that its list may have changed.
			if e := b.next(t); !strings.Contains(e, "notifications/tools/list_changed") {
				t.Fatalf("b: %s", e)
			}
			ts.waitEvent("the revoked stream's slot to be freed", func(e *eventLog) bool { return e.listensClosed >= 1 })
			if n, err := ts.listens.store.Count(context.Background(), slotKey("listen", "a")); err != nil || n != 0 {
				t.Fatalf("slots held after the revoked stream closed: %d, %v", n, err)
			}
		}},
		{"listen by an unauthenticated caller", func(t *testing.T, ts *testServer) {
			for _, key := range []string{"", "moat_not-a-key"} {
				o := listen(t, ts.url, key, "1")
				if o.resp.StatusCode != http.StatusUnauthorized || !strings.Contains(o.resp.Header.Get("WWW-Authenticate"), "Bearer") {
					t.Fatalf("key %q: %d", key, o.resp.StatusCode)
				}
			}
			if n := len(ts.listens.open); n != 0 {
				t.Fatalf("%d streams registered", n)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, testConfig{http: true, toml: cfg, tools: tools})
			tc.run(t, ts)
		})
	}
}

// TestListenCapAcrossReplicas: with [state] url, two replicas count one
// principal's listen streams together.
func TestListenCapAcrossReplicas(t *testing.T) {
	t.Parallel()
	r := statetest.Start(t)
	cfg := "[server]\nmax_listen_streams_per_principal = 1\n"
	a := newTestServer(t, testConfig{http: true, noAuth: true, toml: cfg + stateToml(r, "replica-a"), tools: map[string]string{}})
	b := newTestServer(t, testConfig{http: true, noAuth: true, toml: cfg + stateToml(r, "replica-b"), tools: map[string]string{}})
	first := listen(t, a.url, "", "1")
	if ack := first.next(t); first.resp.StatusCode != 200 || !strings.Contains(ack, "acknowledged") {
		t.Fatalf("on a: %d %s", first.resp.StatusCode, ack)
	}
	second := listen(t, b.url, "", "2")
	if e := second.next(t); second.resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(e, "too many open listen streams for this caller (at most 1)") {
		t.Fatalf("on b, past the shared cap: %d %s", second.resp.StatusCode, e)
	}
	first.cancel()
	a.waitEvent("a's stream to release its slot in Redis", func(e *eventLog) bool { return e.listensClosed >= 1 })
	if n, err := b.listens.store.Count(context.Background(), slotKey("listen", "")); err != nil || n != 0 {
		t.Fatalf("b still counts a's stream: %d, %v", n, err)
	}
	if again := listen(t, b.url, "", "3"); again.resp.StatusCode != 200 {
		t.Fatalf("on b, after a's stream closed: %d", again.resp.StatusCode)
	}
}
