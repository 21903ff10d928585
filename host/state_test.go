package host

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moatmcp/moat/internal/state/statetest"
)

// stateToml is moat.toml's [state] for redis r, plus extra lines.
func stateToml(r *statetest.Redis, replica string, extra ...string) string {
	return "[state]\nurl = \"" + r.URL() + "\"\ntimeout = \"200ms\"\nreplica = \"" + replica + "\"\n" + strings.Join(extra, "\n") + "\n"
}

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`

// post sends body to ts's /mcp and returns the status, the session id
// header and the body.
func post(t *testing.T, ts *testServer, method, body, session string) (int, string, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(mcpRequest(context.Background(), method, ts.url+"/mcp", body, session))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Mcp-Session-Id"), string(b)
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestStateSharedAcrossReplicas: two servers on one Redis enforce one
// principal's tool-call rate together, count its sessions together, and
// name themselves in their audit records.
func TestStateSharedAcrossReplicas(t *testing.T) {
	t.Parallel()
	r := statetest.Start(t)
	rates := "[rate_limits]\nper_principal = \"1/hour burst 4\"\n[server]\nmax_sessions_per_principal = 2\n"
	a := newTestServer(t, testConfig{http: true, noAuth: true, toml: rates + stateToml(r, "replica-a"), tools: map[string]string{}})
	b := newTestServer(t, testConfig{http: true, noAuth: true, toml: rates + stateToml(r, "replica-b"), tools: map[string]string{}})
	call := `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"nope","arguments":{}}}`
	var limited []int
	for i, ts := range []*testServer{a, b, a, b, a, b} {
		if code, _, _ := post(t, ts, "POST", call, ""); code == http.StatusTooManyRequests {
			limited = append(limited, i)
		}
	}
	if len(limited) != 2 || limited[0] != 4 {
		t.Fatalf("limited calls %v; want [4 5]: a burst of 4 across both replicas", limited)
	}
	// Sessions: one on each replica fills the principal's cap of 2.
	_, sa, _ := post(t, a, "POST", initializeBody, "")
	_, sb, _ := post(t, b, "POST", initializeBody, "")
	if sa == "" || sb == "" {
		t.Fatalf("sessions %q %q", sa, sb)
	}
	if code, _, body := post(t, a, "POST", initializeBody, ""); code != http.StatusTooManyRequests || !strings.Contains(body, "too many open sessions for this caller (2)") {
		t.Fatalf("third session: %d %s", code, body)
	}
	if code, _, _ := post(t, b, "DELETE", "", sb); code >= 300 {
		t.Fatalf("DELETE: %d", code)
	}
	if code, sid, body := post(t, a, "POST", initializeBody, ""); code != 200 || sid == "" {
		t.Fatalf("after a session ended on the other replica: %d %s", code, body)
	}
	if !strings.Contains(a.auditText(), `"replica":"replica-a"`) || !strings.Contains(b.auditText(), `"replica":"replica-b"`) {
		t.Fatal("audit records do not name their replica")
	}
}

// lineCounter counts log records whose message has a prefix.
type lineCounter struct {
	slog.Handler
	mu     sync.Mutex
	prefix string
	n      int
	// up, when set, receives a token at each "state store available"
	// line: the store's transition back up, logged after it is marked up.
	up chan struct{}
}

func (c *lineCounter) Handle(ctx context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, c.prefix) {
		c.mu.Lock()
		c.n++
		c.mu.Unlock()
	}
	if c.up != nil && strings.HasPrefix(r.Message, "state store available") {
		select {
		case c.up <- struct{}{}:
		default:
		}
	}
	return nil
}
func (c *lineCounter) Enabled(context.Context, slog.Level) bool { return true }
func (c *lineCounter) count() int                               { c.mu.Lock(); defer c.mu.Unlock(); return c.n }

// TestStateDownFailsClosed: with Redis stopped, requests are refused with
// 503 and an error id (no Go error text), /readyz is not ready,
// moat_state_up is 0 and one log line says so; with Redis back, service
// resumes by itself.
func TestStateDownFailsClosed(t *testing.T) {
	t.Parallel()
	r := statetest.Start(t)
	logs := &lineCounter{Handler: slog.DiscardHandler, prefix: "state store unavailable", up: make(chan struct{}, 1)}
	ts := newTestServer(t, testConfig{http: true, noAuth: true, toml: stateToml(r, "r1"), tools: map[string]string{}, logger: slog.New(logs)})
	if code, _, body := post(t, ts, "POST", initializeBody, ""); code != 200 {
		t.Fatalf("with Redis up: %d %s", code, body)
	}
	r.Stop()
	for i := range 20 {
		code, _, body := post(t, ts, "POST", `{"jsonrpc":"2.0","id":"x","method":"tools/list"}`, "")
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "error id ") || !strings.Contains(body, `"id":"x"`) ||
			strings.Contains(body, "connection refused") || strings.Contains(body, "dial") {
			t.Fatalf("request %d with Redis down: %d %s", i, code, body)
		}
	}
	if code, body := get(t, ts.url+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "state store unavailable") {
		t.Fatalf("/readyz with Redis down: %d %s", code, body)
	}
	if code, body := get(t, ts.url+"/healthz"); code != 200 {
		t.Fatalf("/healthz with Redis down: %d %s", code, body)
	}
	rec := httptest.NewRecorder()
	ts.metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), "moat_state_up 0") {
		t.Fatal("moat_state_up is not 0 with Redis down")
	}
	if n := logs.count(); n != 1 {
		t.Fatalf("%d log lines for one outage; want 1", n)
	}
	select { // the line logged when the store first came up
	case <-logs.up:
	default:
	}
	r.Restart()
	// The store's probe finds Redis again on its own ticker and logs the
	// transition once it is marked up: wait for that line, then check.
	select {
	case <-logs.up:
	case <-time.After(60 * time.Second):
		t.Fatal("no \"state store available\" line 60s after Redis came back")
	}
	if code, body := get(t, ts.url+"/readyz"); code != 200 {
		t.Fatalf("/readyz after Redis came back: %d %s", code, body)
	}
	if code, _, body := post(t, ts, "POST", initializeBody, ""); code != 200 {
		t.Fatalf("after Redis came back: %d %s", code, body)
	}
}

// TestStateDownLocalFallback: with on_failure = "local", Redis stopped
// means per-replica limits: requests are served and the server stays
// ready, while moat_state_up says Redis is gone.
func TestStateDownLocalFallback(t *testing.T) {
	t.Parallel()
	r := statetest.Start(t)
	ts := newTestServer(t, testConfig{http: true, noAuth: true, toml: stateToml(r, "r1", `on_failure = "local"`), tools: map[string]string{}})
	r.Stop()
	for i := range 3 {
		if code, _, body := post(t, ts, "POST", initializeBody, ""); code != 200 {
			t.Fatalf("request %d with Redis down, on_failure local: %d %s", i, code, body)
		}
	}
	if code, body := get(t, ts.url+"/readyz"); code != 200 {
		t.Fatalf("/readyz: %d %s", code, body)
	}
	rec := httptest.NewRecorder()
	ts.metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), "moat_state_up 0") {
		t.Fatal("moat_state_up is not 0 with Redis down")
	}
}

// TestStateRedisStartsDown: a replica whose Redis is not up yet starts,
// not ready, instead of failing: Kubernetes starts pods in any order.
func TestStateRedisStartsDown(t *testing.T) {
	t.Parallel()
	r := statetest.Start(t)
	r.Stop()
	ts := newTestServer(t, testConfig{http: true, noAuth: true, toml: stateToml(r, "r1"), tools: map[string]string{}})
	if code, _ := get(t, ts.url+"/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz before Redis: %d", code)
	}
}

// TestStateChangeTakesARestart: a reload that changes [state] is refused
// whole: the store is the process's.
func TestStateChangeTakesARestart(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, testConfig{tools: map[string]string{}})
	ts.writeConfig("[state]\nurl = \"redis://127.0.0.1:1/0\"\n")
	rep := ts.Reload(context.Background())
	if rep.OK() || !strings.Contains(rep.Err.Error(), "[state] changed") || !strings.Contains(rep.Err.Error(), "takes a restart") {
		t.Fatalf("reload: %v; want refused, naming [state]", rep.Err)
	}
}
