package host

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moatmcp/moat/internal/audit"
	"github.com/moatmcp/moat/internal/auth"
	"github.com/moatmcp/moat/internal/telemetry"
)

// testServer is a Server built the way moat serve builds one: from a
// moat.toml and a folder of manifests, written into a temp folder that
// tests may change and reload.
type testServer struct {
	*Server
	t      testing.TB
	dir    string // moat.toml, audit.log
	tools  string // the manifest folder
	cfg    string // moat.toml's path
	url    string // "http://127.0.0.1:port" when served over HTTP
	notice *syncBuf
	extra  string // the caller's part of moat.toml
	events *eventLog
}

// testConfig describes a testServer.
type testConfig struct {
	// toml is moat.toml besides [tools], [sandbox] and [audit], which the
	// helper writes.
	toml string
	// tools are manifests by file name (".toml" added).
	tools map[string]string
	// http serves over HTTP on 127.0.0.1:0; otherwise the server is made
	// for stdio (callers without a token are [auth.local]: every tool)
	// and tests connect in memory (connect).
	http bool
	// noAuth serves HTTP without authentication.
	noAuth bool
	// now is the clock of credential expiry; nil = time.Now.
	now func() time.Time
	// logger receives the server's log; nil discards it.
	logger *slog.Logger
	// traces receives every span; nil: tracing as [telemetry] says.
	traces *telemetry.Recorder
}

var (
	cacheOnce sync.Once
	cacheDir  string
)

// sharedCache is one compile cache for every test server, so a module is
// compiled once per test run.
func sharedCache(t testing.TB) string {
	cacheOnce.Do(func() {
		d, err := os.MkdirTemp("", "moat-host-cache")
		if err == nil {
			os.Chmod(d, 0o700)
			cacheDir = d
		}
	})
	if cacheDir == "" {
		t.Fatal("no cache dir")
	}
	return cacheDir
}

// manifestText is a manifest for module with body's other fields.
func manifestText(module, body string) string {
	return fmt.Sprintf("module = %q\n%s\n", module, body)
}

func newTestServer(t testing.TB, c testConfig) *testServer {
	t.Helper()
	dir := t.TempDir()
	ts := &testServer{t: t, dir: dir, tools: filepath.Join(dir, "tools"), cfg: filepath.Join(dir, "moat.toml"), notice: &syncBuf{}, extra: c.toml}
	if err := os.Mkdir(ts.tools, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range c.tools {
		ts.writeTool(name, text)
	}
	ts.writeConfig(c.toml)
	ts.events = newEventLog()
	opts := &Options{ConfigFile: ts.cfg, Stdio: !c.http, NoAuth: c.noAuth, Notice: ts.notice, Logger: c.logger, now: c.now, events: ts.events.hooks(), traces: c.traces}
	if c.http {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		opts.Listener = ln
		ts.url = "http://" + ln.Addr().String()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := New(ctx, opts)
	if err != nil {
		cancel()
		t.Fatalf("New: %v", err)
	}
	ts.Server = s
	done := make(chan struct{})
	if c.http {
		go func() {
			defer close(done)
			if err := s.Serve(ctx); err != nil {
				t.Errorf("Serve: %v", err)
			}
		}()
	} else {
		close(done)
	}
	t.Cleanup(func() {
		cancel()
		<-done
		if err := s.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return ts
}

// writeConfig writes moat.toml with extra as the caller's part.
func (ts *testServer) writeConfig(extra string) {
	ts.t.Helper()
	text := fmt.Sprintf("[tools]\ndirs = [\"tools\"]\n[sandbox]\ncache_dir = %q\n[audit]\nfile = \"audit.log\"\n%s\n", sharedCache(ts.t), extra)
	if err := os.WriteFile(ts.cfg, []byte(text), 0o600); err != nil {
		ts.t.Fatal(err)
	}
	ts.extra = extra
}

func (ts *testServer) writeTool(name, text string) {
	ts.t.Helper()
	if err := os.WriteFile(filepath.Join(ts.tools, name+".toml"), []byte(text), 0o644); err != nil {
		ts.t.Fatal(err)
	}
}

// auditText is the audit log so far.
func (ts *testServer) auditText() string {
	ts.t.Helper()
	b, err := os.ReadFile(filepath.Join(ts.dir, "audit.log"))
	if err != nil {
		ts.t.Fatal(err)
	}
	return string(b)
}

// reload reloads and fails the test unless it took.
func (ts *testServer) reload() *ReloadReport {
	ts.t.Helper()
	rep := ts.Reload(context.Background())
	if !rep.OK() {
		ts.t.Fatalf("reload: %v", rep.Err)
	}
	return rep
}

// testKey is one API key of a test config.
type testKey struct {
	id, secret, hash string
}

// newTestKeys makes keys with the given ids.
func newTestKeys(t *testing.T, ids ...string) map[string]testKey {
	t.Helper()
	keys := map[string]testKey{}
	for _, id := range ids {
		secret, hash, err := auth.NewKey()
		if err != nil {
			t.Fatal(err)
		}
		keys[id] = testKey{id: id, secret: secret, hash: hash}
	}
	return keys
}

// keyBlock is an [[auth.keys]] entry.
func keyBlock(k testKey, tools string, more ...string) string {
	return fmt.Sprintf("[[auth.keys]]\nid = %q\nhash = %q\ntools = %s\n%s\n", k.id, k.hash, tools, strings.Join(more, "\n"))
}

// auditReader reads a test server's audit log, as a String.
type auditReader struct{ ts *testServer }

func (a auditReader) String() string { return a.ts.auditText() }

// eventLog collects what a test server reports through Options.events, so
// tests wait for an event instead of polling with sleeps.
type eventLog struct {
	mu            sync.Mutex
	changed       chan struct{} // closed, and replaced, at every event
	records       []audit.Record
	started       map[string]int // calls started, by tool
	listensClosed int
}

func newEventLog() *eventLog {
	return &eventLog{changed: make(chan struct{}), started: map[string]int{}}
}

func (e *eventLog) hooks() *testEvents {
	return &testEvents{
		audited:      func(r audit.Record) { e.add(func() { e.records = append(e.records, r) }) },
		callStarted:  func(tool string) { e.add(func() { e.started[tool]++ }) },
		listenClosed: func() { e.add(func() { e.listensClosed++ }) },
	}
}

func (e *eventLog) add(f func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f()
	close(e.changed)
	e.changed = make(chan struct{})
}

// waitEvent waits until cond, which reads the log under its lock, holds. It
// wakes at each event, never on a timer; the bound is generous, for a broken
// test, not a timing assertion.
func (ts *testServer) waitEvent(what string, cond func(*eventLog) bool) {
	ts.t.Helper()
	bound := time.NewTimer(60 * time.Second)
	defer bound.Stop()
	for {
		e := ts.events
		e.mu.Lock()
		ok, changed := cond(e), e.changed
		e.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-changed:
		case <-bound.C:
			ts.t.Fatalf("gave up waiting for %s", what)
		}
	}
}

// waitCallStarted waits until n calls of tool have started their guest.
func (ts *testServer) waitCallStarted(tool string, n int) {
	ts.t.Helper()
	ts.waitEvent(fmt.Sprintf("call %d of %s to start", n, tool), func(e *eventLog) bool { return e.started[tool] >= n })
}

// waitAudited waits until an audit record for tool has the outcome.
func (ts *testServer) waitAudited(tool string, outcome audit.Outcome) {
	ts.t.Helper()
	ts.waitEvent(fmt.Sprintf("a %s record for %s", outcome, tool), func(e *eventLog) bool {
		for _, r := range e.records {
			if r.Tool == tool && r.Outcome == outcome {
				return true
			}
		}
		return false
	})
}
