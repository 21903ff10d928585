package bench

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moatmcp/moat/internal/manifest"
)

// TestMain lets this test binary serve as the load's child process.
func TestMain(m *testing.M) {
	if os.Getenv(ChildEnv) == "1" {
		os.Exit(ChildMain(context.Background(), os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

// childOptions runs loads in this test binary (TestMain above).
func childOptions() *Options {
	return &Options{Child: func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), ChildEnv+"=1")
		cmd.Stderr = os.Stderr
		return cmd
	}}
}

// tiny is a load short enough for a test; timings are never asserted.
func tiny(url, tool string, clients int) Load {
	return Load{URL: url, Tool: tool, Clients: clients, Duration: 20 * time.Millisecond, Warmup: 2}
}

func TestLoadCheck(t *testing.T) {
	good := tiny("http://127.0.0.1:1", "t", 1)
	cases := []struct {
		name string
		edit func(*Load)
		want string // "" = valid
	}{
		{"valid", func(*Load) {}, ""},
		{"no url", func(l *Load) { l.URL = "" }, "url and tool are required"},
		{"no tool", func(l *Load) { l.Tool = "" }, "url and tool are required"},
		{"zero clients", func(l *Load) { l.Clients = 0 }, "clients 0 not in 1..256"},
		{"too many clients", func(l *Load) { l.Clients = MaxClients + 1 }, "clients 257 not in 1..256"},
		{"zero duration", func(l *Load) { l.Duration = 0 }, "duration must be positive"},
		{"unknown client", func(l *Load) { l.Client = "curl" }, `unknown client "curl"`},
		{"unknown era", func(l *Load) { l.Era = "2024-01-01" }, `unknown era "2024-01-01"`},
		{"negative warmup", func(l *Load) { l.Warmup = -1 }, "warmup -1 not in 0..10000"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := good
			tc.edit(&l)
			err := l.check()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("check: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrBadSpec) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("check = %v, want ErrBadSpec with %q", err, tc.want)
			}
			if _, err := Measure(context.Background(), "x", l, nil); !errors.Is(err, ErrBadSpec) {
				t.Fatalf("Measure = %v, want ErrBadSpec", err)
			}
		})
	}
}

func TestCheckAnswer(t *testing.T) {
	cases := []struct {
		name string
		body string
		want error
	}{
		{"json result", `{"jsonrpc":"2.0","id":1,"result":{"content":[]}}`, nil},
		{"sse result", "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"content\":[]}}\n\n", nil},
		{"tool error", `{"jsonrpc":"2.0","id":1,"result":{"content":[],"isError":true}}`, errToolError},
		{"json-rpc error", `{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"x"}}`, errNoResult},
		{"echoed text cannot fake a result", `{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"\"result\":"}}`, errNoResult},
		{"empty", ``, errNoResult},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := checkAnswer([]byte(tc.body)); !errors.Is(got, tc.want) {
				t.Fatalf("checkAnswer = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCallBody(t *testing.T) {
	c := &rawCaller{load: Load{Tool: "echo_c", Era: Stateless}}
	want := `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo_c","arguments":{"msg":"hello from moat bench"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"moat-bench","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}}}`
	if got := string(c.callBody(nil, 7)); got != want {
		t.Fatalf("stateless body:\n got %s\nwant %s", got, want)
	}
	c.load.Era = Session
	want = `{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"echo_c","arguments":{"msg":"hello from moat bench"}}}`
	if got := string(c.callBody(nil, 8)); got != want {
		t.Fatalf("session body:\n got %s\nwant %s", got, want)
	}
}

// TestMeasureBaselines drives the bare and native rows with each client
// and era, in process and from a child process, and checks what a cell
// holds (never how fast it was).
func TestMeasureBaselines(t *testing.T) {
	ctx := context.Background()
	bareURL, stopBare, err := Serve(Bare())
	if err != nil {
		t.Fatal(err)
	}
	defer stopBare()
	statelessURL, stopStateless, err := Serve(Native("echo_native", true))
	if err != nil {
		t.Fatal(err)
	}
	defer stopStateless()
	sessionURL, stopSession, err := Serve(Native("echo_native", false))
	if err != nil {
		t.Fatal(err)
	}
	defer stopSession()
	cases := []struct {
		name, url, tool string
		client          Client
		era             Era
		child           bool
	}{
		{"bare raw", bareURL, "echo", RawClient, Stateless, false},
		{"bare raw child", bareURL, "echo", RawClient, Stateless, true},
		{"bare raw session", bareURL, "echo", RawClient, Session, false},
		{"native raw stateless", statelessURL, "echo_native", RawClient, Stateless, false},
		{"native raw session", sessionURL, "echo_native", RawClient, Session, false},
		{"native sdk", statelessURL, "echo_native", SDKClient, "", false},
		{"native raw stateless child", statelessURL, "echo_native", RawClient, Stateless, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := tiny(tc.url, tc.tool, 2)
			l.Client, l.Era = tc.client, tc.era
			var opts *Options
			if tc.child {
				opts = childOptions()
			}
			cell, err := Measure(ctx, tc.name, l, opts)
			if err != nil {
				t.Fatalf("Measure: %v", err)
			}
			if cell.Row != tc.name || cell.Clients != 2 || cell.InProcess == tc.child {
				t.Fatalf("cell = %+v", cell)
			}
			if cell.Calls < 2 || cell.Errors != 0 {
				t.Fatalf("calls %d, errors %d: want ≥ 2 calls (one per client at least) and no error", cell.Calls, cell.Errors)
			}
			if cell.P50 <= 0 || cell.P99 < cell.P50 || cell.Elapsed <= 0 {
				t.Fatalf("latencies p50 %v p99 %v elapsed %v", cell.P50, cell.P99, cell.Elapsed)
			}
			if cell.Mallocs == 0 || cell.AllocBytes == 0 {
				t.Fatalf("no allocation counted in the server process")
			}
		})
	}
}

func TestMeasureRefusedTool(t *testing.T) {
	url, stop, err := Serve(Native("echo_native", true))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	for _, child := range []bool{false, true} {
		var opts *Options
		if child {
			opts = childOptions()
		}
		_, err := Measure(context.Background(), "x", tiny(url, "no_such_tool", 1), opts)
		if err == nil || !strings.Contains(err.Error(), "warm-up call to no_such_tool") {
			t.Fatalf("child %v: Measure = %v, want a warm-up failure", child, err)
		}
	}
}

func TestChildMainBadInput(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"no spec", "", "error: bench: bad load spec: no load spec\n"},
		{"not json", "{\n", "error: bench: bad load spec: unexpected end of JSON input\n"},
		{"bad spec", `{"url":"http://127.0.0.1:1","tool":"t","clients":0,"duration":1}` + "\n", "error: bench: bad load spec: clients 0 not in 1..256\n"},
		{"not http", `{"url":"ftp://x","tool":"t","clients":1,"duration":1}` + "\n", "error: bench: bad load spec: url \"ftp://x\" must be http://host:port\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if code := ChildMain(context.Background(), strings.NewReader(tc.in), &out); code != 1 {
				t.Fatalf("exit %d, want 1", code)
			}
			if out.String() != tc.want {
				t.Fatalf("out = %q, want %q", out.String(), tc.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	cell := func(row string, clients, calls int, cpu time.Duration, mallocs uint64) Cell {
		return Cell{Row: row, Clients: clients, Result: Result{Calls: calls, Elapsed: time.Second, P50: time.Duration(calls), P99: 2 * time.Duration(calls)},
			ServerCPU: cpu, Mallocs: mallocs, AllocBytes: 1024 * mallocs}
	}
	runs := [][]Cell{
		{cell("bare", 4, 1000, time.Second, 10000), cell("native", 4, 500, time.Second, 20000), cell("c", 4, 400, time.Second, 40000)},
		{cell("bare", 4, 2000, time.Second, 20000), cell("native", 4, 500, time.Second, 20000), cell("c", 4, 500, time.Second, 50000)},
		{cell("bare", 4, 800, time.Second, 8000), cell("native", 4, 400, time.Second, 16000), cell("c", 4, 600, time.Second, 60000)},
	}
	got := Summarize(runs)
	if len(got) != 3 || got[0].Row != "bare" || got[1].Row != "native" || got[2].Row != "c" {
		t.Fatalf("rows = %+v", got)
	}
	c := got[2]
	// Ratios per run: vs bare 0.4, 0.25, 0.75 → 0.4; vs native 0.8, 1.0, 1.5 → 1.0.
	if c.Runs != 3 || c.Rate != 500 || c.VsBare != 0.4 || c.VsNative != 1.0 || c.AllocsPerCall != 100 || c.BytesPerCall != 102400 || c.CPUPerCall != 2*time.Millisecond || c.P50 != 500 {
		t.Fatalf("c = %+v", c)
	}
	if b := got[0]; b.VsBare != 1 || b.Rate != 1000 {
		t.Fatalf("bare = %+v", b)
	}
	if s := Summarize(nil); len(s) != 0 {
		t.Fatalf("Summarize(nil) = %+v", s)
	}
}

// TestMoatRow serves the WAT echo from a real moat and measures it.
func TestMoatRow(t *testing.T) {
	wasm, err := os.ReadFile("../../cmd/moat/benchdata/echo.wasm")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	url := serveOne(t, "echo_wat", wasm)
	for _, era := range []Era{Stateless, Session} {
		l := tiny(url, "echo_wat", 2)
		l.Era = era
		cell, err := Measure(ctx, "wat", l, nil)
		if err != nil {
			t.Fatalf("%s: Measure: %v", era, err)
		}
		if cell.Calls < 2 || cell.Errors != 0 {
			t.Fatalf("%s: calls %d errors %d", era, cell.Calls, cell.Errors)
		}
	}
}

// serveOne serves wasm as the one per-call tool name of a real moat until
// the test ends, and returns its URL.
func serveOne(t *testing.T, name string, wasm []byte) string {
	t.Helper()
	tmp := t.TempDir()
	tools, err := NewTools(filepath.Join(tmp, "tools"))
	if err != nil {
		t.Fatal(err)
	}
	if err := tools.Add(name, wasm, manifest.IsolationPerCall); err != nil {
		t.Fatal(err)
	}
	url, stop, err := tools.Serve(context.Background(), tmp)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return url
}

func TestDistinct(t *testing.T) {
	base := []byte("\x00asm\x01\x00\x00\x00")
	got := Distinct(base, "ab")
	want := append(append([]byte(nil), base...), 0, 4, 2, 'a', 'b', 0)
	if !bytes.Equal(got, want) {
		t.Fatalf("Distinct = %q, want %q", got, want)
	}
	if len(base) != 8 {
		t.Fatal("Distinct changed its input")
	}
}
