//lint:file-ignore SA1019 these tests exercise MCP logging, sampling and roots, deprecated by 2026-07-28 but still served (host/logging.go, host/mrtr.go).

package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/moatmcp/moat/internal/audit"
	"github.com/moatmcp/moat/internal/manifest"
	"github.com/moatmcp/moat/internal/sandbox"
)

// Guests built once in TestMain, by name: hostfixture, readfile, listfiles.
var guests = map[string]string{}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "moat-host-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for name, src := range map[string]string{
		"hostfixture": "../testdata/guests/hostfixture",
		"usage":       "../testdata/guests/usage",
		"readfile":    "../tools/readfile",
		"listfiles":   "../tools/listfiles",
		"searchfiles": "../tools/searchfiles",
		"writefile":   "../tools/writefile",
		"jsonquery":   "../tools/jsonquery",
		"savefile":    "../tools/savefile",
		"fixtures":    "../testdata/conformance/fixtures",
	} {
		out := filepath.Join(dir, name+".wasm")
		cmd := exec.Command("go", "build", "-o", out, ".")
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if b, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n%s", src, err, b)
			os.Exit(1)
		}
		guests[name] = out
	}
	// The secret header of usageTools, set once for the run (t.Setenv
	// would keep those tests from running in parallel).
	os.Setenv("MOAT_TEST_SECRET", testSecret)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	rtOnce sync.Once
	rt     *sandbox.Runtime
	rtErr  error
)

// runtime shares one sandbox runtime (and compile cache) across tests.
func runtime(t *testing.T) *sandbox.Runtime {
	rtOnce.Do(func() {
		cache, err := os.MkdirTemp("", "moat-host-cache")
		if err != nil {
			rtErr = err
			return
		}
		os.Chmod(cache, 0o700)
		rt, rtErr = sandbox.New(context.Background(), &sandbox.Options{CacheDir: cache})
	})
	if rtErr != nil {
		t.Fatal(rtErr)
	}
	return rt
}

// loadTool writes a manifest for module into a temp dir and loads it.
func loadTool(t *testing.T, module, body string) *Tool {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "tool.toml")
	text := fmt.Sprintf("module = %q\n%s", module, body)
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	tool, err := LoadTool(context.Background(), runtime(t), m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tool.Close(context.Background()) })
	return tool
}

func resultJSON(t *testing.T, res *mcp.CallToolResult) string {
	t.Helper()
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCallResultModes(t *testing.T) {
	t.Parallel()
	const outSchema = `
[output_schema]
type = "object"
required = ["n"]
[output_schema.properties.n]
type = "integer"
`
	tests := []struct {
		name        string
		manifest    string
		args        string
		wantResult  string
		wantOutcome audit.Outcome
	}{
		{
			name:        "text",
			manifest:    `name = "emit"`,
			args:        `{"stdout":"hello\nworld"}`,
			wantResult:  `{"content":[{"type":"text","text":"hello\nworld"}]}`,
			wantOutcome: "ok",
		},
		{
			name:        "text with invalid utf-8",
			manifest:    `name = "emit"`,
			args:        `{"stdout":"a\u00ffb"}`,
			wantResult:  `{"content":[{"type":"text","text":"aÿb"}]}`,
			wantOutcome: "ok",
		},
		{
			name:        "json",
			manifest:    "name = \"emit\"\n" + outSchema,
			args:        `{"stdout":" {\"n\": 3}\n"}`,
			wantResult:  `{"content":[{"type":"text","text":"{\"n\": 3}"}],"structuredContent":{"n":3}}`,
			wantOutcome: "ok",
		},
		{
			name:        "json that breaks the output schema",
			manifest:    "name = \"emit\"\n" + outSchema,
			args:        `{"stdout":"{\"n\":\"three\"}"}`,
			wantOutcome: "bad_output",
		},
		{
			name:        "json that is two values",
			manifest:    "name = \"emit\"\n" + outSchema,
			args:        `{"stdout":"{\"n\":1}{\"n\":2}"}`,
			wantResult:  `{"content":[{"type":"text","text":"tool output is not one JSON value"}],"isError":true}`,
			wantOutcome: "bad_output",
		},
		{
			name:        "content with an image",
			manifest:    "name = \"emit\"\nresult = \"content\"",
			args:        `{"stdout":"{\"content\":[{\"type\":\"image\",\"data\":\"iVBORw0KGgo=\",\"mimeType\":\"image/png\"},{\"type\":\"text\",\"text\":\"hi\"}]}"}`,
			wantResult:  `{"content":[{"type":"image","mimeType":"image/png","data":"iVBORw0KGgo="},{"type":"text","text":"hi"}]}`,
			wantOutcome: "ok",
		},
		{
			name:        "content with a foreign type",
			manifest:    "name = \"emit\"\nresult = \"content\"",
			args:        `{"stdout":"{\"content\":[{\"type\":\"tool_use\",\"id\":\"x\"}]}"}`,
			wantResult:  `{"content":[{"type":"text","text":"tool output is not a valid MCP tool result: content[0]: unsupported content type"}],"isError":true}`,
			wantOutcome: "bad_output",
		},
		{
			name:        "content that is not JSON: no encoding/json text",
			manifest:    "name = \"emit\"\nresult = \"content\"",
			args:        `{"stdout":"{\"content\": [oops"}`,
			wantResult:  `{"content":[{"type":"text","text":"tool output is not a valid MCP tool result: not one JSON value"}],"isError":true}`,
			wantOutcome: "bad_output",
		},
		{
			name:        "content with an unknown field",
			manifest:    "name = \"emit\"\nresult = \"content\"",
			args:        `{"stdout":"{\"content\":[],\"_meta\":{}}"}`,
			wantOutcome: "bad_output",
		},
		{
			name:        "content reporting an error",
			manifest:    "name = \"emit\"\nresult = \"content\"",
			args:        `{"stdout":"{\"content\":[{\"type\":\"text\",\"text\":\"nope\"}],\"isError\":true}"}`,
			wantResult:  `{"content":[{"type":"text","text":"nope"}],"isError":true}`,
			wantOutcome: "tool_error",
		},
		{
			name:        "exit code with stderr",
			manifest:    `name = "emit"`,
			args:        `{"stdout":"partial","stderr":"  disk on fire\n","exit":3}`,
			wantResult:  `{"content":[{"type":"text","text":"disk on fire"}],"isError":true}`,
			wantOutcome: "tool_error",
		},
		{
			name:        "exit code with nothing said",
			manifest:    `name = "emit"`,
			args:        `{"exit":4}`,
			wantResult:  `{"content":[{"type":"text","text":"tool failed with exit code 4"}],"isError":true}`,
			wantOutcome: "tool_error",
		},
		{
			name:        "arguments over max_input",
			manifest:    "name = \"emit\"\n[limits]\nmax_input = 16",
			args:        `{"stdout":"this is more than sixteen bytes"}`,
			wantResult:  `{"content":[{"type":"text","text":"arguments too large: 44 bytes (limit 16)"}],"isError":true}`,
			wantOutcome: "input_too_large",
		},
		{
			name:        "arguments failing the input schema",
			manifest:    "name = \"emit\"\n[input_schema]\ntype = \"object\"\n[input_schema.properties.exit]\ntype = \"integer\"\nmaximum = 1",
			args:        `{"exit":7}`,
			wantOutcome: "invalid_arguments",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tool := loadTool(t, guests["hostfixture"], tc.manifest)
			res, info, err := tool.Call(context.Background(), json.RawMessage(tc.args), nil)
			if err != nil {
				t.Fatal(err)
			}
			if info.Outcome != tc.wantOutcome {
				t.Errorf("outcome %q, want %q (result %s)", info.Outcome, tc.wantOutcome, resultJSON(t, res))
			}
			if tc.wantResult != "" && resultJSON(t, res) != tc.wantResult {
				t.Errorf("result\n got %s\nwant %s", resultJSON(t, res), tc.wantResult)
			}
			if tc.wantOutcome != "ok" && !res.IsError {
				t.Errorf("isError not set for outcome %s", info.Outcome)
			}
		})
	}
}

// TestInvalidArgumentsNameTheField checks that a schema failure tells the
// agent which field is wrong, and that no instance ran.
func TestInvalidArgumentsNameTheField(t *testing.T) {
	t.Parallel()
	tool := loadTool(t, guests["readfile"], `name = "read_file"
[input_schema]
type = "object"
required = ["path"]
[input_schema.properties.path]
type = "string"
maxLength = 8
`)
	for _, tc := range []struct{ args, want string }{
		{`{"path": 5}`, "/path"},
		{`{"path": "much-too-long-path"}`, "/path"},
		{`{}`, "path"},
	} {
		res, info, err := tool.Call(context.Background(), json.RawMessage(tc.args), nil)
		if err != nil {
			t.Fatal(err)
		}
		text := res.Content[0].(*mcp.TextContent).Text
		if !res.IsError || info.Outcome != "invalid_arguments" || !strings.Contains(text, tc.want) || info.Run != nil {
			t.Errorf("%s: got %q (outcome %s, ran %v); want an error naming %s", tc.args, text, info.Outcome, info.Run != nil, tc.want)
		}
	}
}

// TestIsolation: every call gets a fresh instance, so a global counter is
// 1 on every call.
func TestIsolation(t *testing.T) {
	t.Parallel()
	tool := loadTool(t, guests["hostfixture"], `name = "counter"`)
	for i := 0; i < 3; i++ {
		res, _, err := tool.Call(context.Background(), json.RawMessage(`{}`), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := resultJSON(t, res); got != `{"content":[{"type":"text","text":"1"}]}` {
			t.Fatalf("call %d: %s", i, got)
		}
	}
}

// exampleTree copies the bundled manifests and sample share into a temp
// tree laid out like the repository, with the freshly built modules where
// the manifests expect them, so the test loads the real manifests.
func exampleTree(t *testing.T) string {
	root := t.TempDir()
	copyFile := func(src, dst string) {
		b := mustRead(t, src)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"manifests/read_file.toml", "manifests/list_files.toml",
		"testdata/public-files/README.txt", "testdata/public-files/pixel.png",
		"testdata/public-files/notes/meeting.md", "testdata/public-files/notes/todo.txt"} {
		copyFile(filepath.Join("..", f), filepath.Join(root, f))
	}
	copyFile(guests["readfile"], filepath.Join(root, "tools/readfile/readfile.wasm"))
	copyFile(guests["listfiles"], filepath.Join(root, "tools/listfiles/listfiles.wasm"))
	return root
}

func TestExampleTools(t *testing.T) {
	t.Parallel()
	root := exampleTree(t)
	read, err := manifest.Load(filepath.Join(root, "manifests/read_file.toml"))
	if err != nil {
		t.Fatal(err)
	}
	list, err := manifest.Load(filepath.Join(root, "manifests/list_files.toml"))
	if err != nil {
		t.Fatal(err)
	}
	readTool, err := LoadTool(context.Background(), runtime(t), read)
	if err != nil {
		t.Fatal(err)
	}
	defer readTool.Close(context.Background())
	listTool, err := LoadTool(context.Background(), runtime(t), list)
	if err != nil {
		t.Fatal(err)
	}
	defer listTool.Close(context.Background())

	tests := []struct {
		name    string
		tool    *Tool
		args    string
		want    string
		isError bool
	}{
		{"read a file", readTool, `{"path":"notes/todo.txt"}`, "- write the manifest docs\n- fuzz the manifest parser\n- benchmark a fresh instance per call\n", false},
		{"read a line range", readTool, `{"path":"notes/todo.txt","start_line":2,"end_line":2}`, "- fuzz the manifest parser\n", false},
		{"read an absolute guest path", readTool, `{"path":"/data/notes/todo.txt","start_line":3}`, "- benchmark a fresh instance per call\n", false},
		{"binary is reported", readTool, `{"path":"pixel.png"}`, "pixel.png is a binary file (69 bytes); its contents are not shown.", false},
		{"traversal finds nothing", readTool, `{"path":"../../../../etc/passwd"}`, "path must be inside the shared folder", true},
		{"absolute host path finds nothing", readTool, `{"path":"/etc/passwd"}`, "path must be inside the shared folder", true},
		{"missing file", readTool, `{"path":"nope.txt"}`, "nope.txt: no such file or folder", true},
		{"a folder", readTool, `{"path":"notes"}`, "notes is a directory; use list_files", true},
		{"list the top", listTool, `{}`, `{"entries":[{"path":"README.txt","type":"file","size":214},{"path":"notes","type":"dir"},{"path":"pixel.png","type":"file","size":69}],"truncated":false}`, false},
		{"list with a cap", listTool, `{"recursive":true,"max_entries":2}`, `{"entries":[{"path":"README.txt","type":"file","size":214},{"path":"notes","type":"dir"}],"truncated":true}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, _, err := tc.tool.Call(context.Background(), json.RawMessage(tc.args), nil)
			if err != nil {
				t.Fatal(err)
			}
			text := res.Content[0].(*mcp.TextContent).Text
			if text != tc.want || res.IsError != tc.isError {
				t.Errorf("got %q (isError %v), want %q (isError %v)", text, res.IsError, tc.want, tc.isError)
			}
		})
	}
}

func mustRead(t *testing.T, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// connect serves h over an in-memory transport and returns a client
// session, with the notifications it received.
type notes struct {
	mu       sync.Mutex
	arrived  chan struct{} // one token per notification
	logs     []string
	progress []string
}

// wait waits until n notifications have arrived, bounded (generously) for a
// broken test.
func (n *notes) wait(t *testing.T, count int) {
	t.Helper()
	bound := time.NewTimer(60 * time.Second)
	defer bound.Stop()
	for range count {
		select {
		case <-n.arrived:
		case <-bound.C:
			t.Fatalf("gave up waiting for %d notifications", count)
		}
	}
}

func connect(t *testing.T, ts *testServer) (*mcp.ClientSession, *notes) {
	t.Helper()
	ctx := context.Background()
	st, ct := mcp.NewInMemoryTransports()
	if _, err := ts.mcp.Connect(ctx, st, nil); err != nil {
		t.Fatal(err)
	}
	n := &notes{arrived: make(chan struct{}, 4096)}
	client := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, &mcp.ClientOptions{
		LoggingMessageHandler: func(_ context.Context, r *mcp.LoggingMessageRequest) {
			n.mu.Lock()
			n.logs = append(n.logs, fmt.Sprintf("%s %s: %v", r.Params.Level, r.Params.Logger, r.Params.Data))
			n.mu.Unlock()
			n.arrived <- struct{}{}
		},
		ProgressNotificationHandler: func(_ context.Context, r *mcp.ProgressNotificationClientRequest) {
			n.mu.Lock()
			n.progress = append(n.progress, fmt.Sprintf("%g/%g %s", r.Params.Progress, r.Params.Total, r.Params.Message))
			n.mu.Unlock()
			n.arrived <- struct{}{}
		},
	})
	cs, err := client.Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs, n
}

func TestServeOverMCP(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, testConfig{tools: map[string]string{
		"notify": manifestText(guests["hostfixture"], "name = \"notify\"\n[[mount]]\nhost = \".\"\nguest = \"/w\"\nmode = \"rw\""),
		"emit":   manifestText(guests["hostfixture"], "name = \"emit\"\ntitle = \"Emit\"\n[annotations]\nidempotent = true"),
	}})
	cs, n := connect(t, ts)
	ctx := context.Background()

	lt, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tool := range lt.Tools {
		a := tool.Annotations
		got = append(got, fmt.Sprintf("%s title=%q ro=%v destructive=%v idempotent=%v openworld=%v", tool.Name, a.Title, a.ReadOnlyHint, *a.DestructiveHint, a.IdempotentHint, *a.OpenWorldHint))
	}
	want := []string{
		`emit title="Emit" ro=true destructive=false idempotent=true openworld=false`,
		`notify title="" ro=false destructive=true idempotent=false openworld=false`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("tools/list:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	if err := cs.SetLoggingLevel(ctx, &mcp.SetLoggingLevelParams{Level: "debug"}); err != nil {
		t.Fatal(err)
	}
	params := &mcp.CallToolParams{Name: "notify", Arguments: map[string]any{"logs": 2, "steps": 2}}
	// Protocol 2026-07-28 carries the log level in each request's _meta;
	// older ones use logging/setLevel (above).
	params.Meta = mcp.Meta{mcp.MetaKeyLogLevel: "debug"}
	params.SetProgressToken("tok")
	res, err := cs.CallTool(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Content) != 1 || res.Content[0].(*mcp.TextContent).Text != "done" || res.IsError {
		t.Errorf("result %s", resultJSON(t, res))
	}
	// Notifications are delivered to the client's handlers asynchronously;
	// wait until all five (two logs, three progress) have arrived.
	n.wait(t, 5)
	n.mu.Lock()
	defer n.mu.Unlock()
	if strings.Join(n.logs, "|") != "info notify: log 1|info notify: log 2" {
		t.Errorf("logs %q", n.logs)
	}
	if strings.Join(n.progress, "|") != "0/0 started|1/2 step 1|2/2 step 2" {
		t.Errorf("progress %q", n.progress)
	}
}

func TestUnknownToolIsAProtocolError(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, testConfig{tools: map[string]string{"emit": manifestText(guests["hostfixture"], `name = "emit"`)}})
	cs, _ := connect(t, ts)
	_, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "nope", Arguments: map[string]any{}})
	var rpcErr *jsonrpc.Error
	if err == nil || !errors.As(err, &rpcErr) || rpcErr.Code != jsonrpc.CodeInvalidParams {
		t.Fatalf("got %v, want a JSON-RPC invalid params error", err)
	}
}

// TestCallAfterCancellation: a client that cancels a call stops its guest
// (the audit record says canceled), and the session goes on working.
func TestCallAfterCancellation(t *testing.T) {
	t.Parallel()
	sleep, err := filepath.Abs("../testdata/guests/lim_sleep.wasm")
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, testConfig{tools: map[string]string{
		"sleepy": manifestText(sleep, "name = \"sleepy\"\n[grants]\nclock = true\n[limits]\ntimeout = \"10m\""),
		"emit":   manifestText(guests["hostfixture"], `name = "emit"`),
	}})
	buf := auditReader{ts}
	cs, _ := connect(t, ts)

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "sleepy", Arguments: map[string]any{}})
		errc <- err
	}()
	ts.waitCallStarted("sleepy", 1)
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("canceled call returned no error")
	}
	// The server side ends with a "canceled" record (well before the 10m timeout).
	ts.waitAudited("sleepy", "canceled")
	if !strings.Contains(buf.String(), `"tool":"sleepy"`) || !strings.Contains(buf.String(), `"outcome":"canceled"`) {
		t.Fatalf("audit after cancellation:\n%s", buf.String())
	}
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "emit", Arguments: map[string]any{"stdout": "still here"}})
	if err != nil || res.Content[0].(*mcp.TextContent).Text != "still here" {
		t.Fatalf("call after cancellation: %v %+v", err, res)
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestToolEntry: moat check says how each kind of module's calls run.
func TestToolEntry(t *testing.T) {
	t.Parallel()
	abs := func(name string) string {
		p, err := filepath.Abs(filepath.Join("..", "testdata", "guests", name))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct{ module, body, want string }{
		{abs("lim_echo.wasm"), `name = "echo"`, "command: a new instance per call"},
		{abs("lim_rx_table.wasm"), `name = "table"`, "reactor, per-call isolation: a new instance from the snapshot per call, not reset in place because it uses table.set"},
	} {
		tool := loadTool(t, tc.module, tc.body)
		if got := tool.Entry(); got != tc.want {
			t.Errorf("%s: Entry() = %q, want %q", tc.module, got, tc.want)
		}
		tool.Close(context.Background())
	}
}
