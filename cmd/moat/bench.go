package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moatmcp/moat/internal/bytesize"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/moatmcp/moat/host"
	"github.com/moatmcp/moat/host/manifest"
	"github.com/moatmcp/moat/host/sandbox"
)

//go:embed benchdata/echo.wasm
var echoWasm []byte

// The same echo in C (testdata/guests/lim_cecho.c) and AssemblyScript
// (wasi-shim); see
// benchdata/build.sh.
var (
	//go:embed benchdata/cecho.wasm
	cEchoWasm []byte
	//go:embed benchdata/asecho.wasm
	asEchoWasm []byte
)

// benchArgs is the payload of every benchmarked call.
const benchArgs = `{"msg":"hello from moat bench"}`

type benchRow struct {
	tool     string
	clients  int
	calls    int
	elapsed  time.Duration
	p50, p99 time.Duration
	errors   int
}

func (r benchRow) rate() float64 { return float64(r.calls) / r.elapsed.Seconds() }

// cmdBench drives tools/call over HTTP on loopback against a native go-sdk
// tool and the same echo as a WAT guest and a Go guest, in one process and
// one run, so the ratios compare like with like on a noisy machine.
func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("moat bench", stderr, "usage: moat bench [--duration 3s] [--clients 1,4] [--startup]\n\nMeasures calls/s, p50 and p99 of tools/call over HTTP on loopback for a\nnative go-sdk tool, WAT, C and AssemblyScript guests, a Go command guest and a Go reactor guest\n(per-call snapshot, per-principal and shared instances) doing the same\necho, and prints each one's ratio to native. Run it from the repository's root.")
	dur := fs.Duration("duration", 3*time.Second, "how long each (tool, clients) cell runs")
	clientsFlag := fs.String("clients", "1,4", "comma-separated client counts")
	goSrc := fs.String("go-guest", "cmd/moat/benchdata/goecho", "folder of the Go echo guest (built with the go command); empty to skip")
	rxSrc := fs.String("go-reactor", "cmd/moat/benchdata/goreactor", "folder of the Go reactor echo guest (built with -buildmode=c-shared); empty to skip")
	only := fs.String("tools", "", "comma-separated subset of the rows to run (native always runs: it is the baseline), e.g. wat,go-rx")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the measured cells to this file (go tool pprof)")
	startup := fs.Bool("startup", false, "also measure server start-up with 20 tools (cold and warm compile cache) and host memory per tool and per call")
	if _, err := parseInterspersed(fs, args); err != nil {
		return flagExit(err)
	}
	var clients []int
	for _, s := range strings.Split(*clientsFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 64 {
			fmt.Fprintf(stderr, "moat bench: bad --clients %q\n", *clientsFlag)
			return exitUsage
		}
		clients = append(clients, n)
	}

	tmp, err := os.MkdirTemp("", "moat-bench")
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitInternal
	}
	defer os.RemoveAll(tmp)
	// The sandboxed rows are served by a real moat (host.Server) from
	// manifests written here, without authentication (one anonymous
	// principal on loopback) and with rates off, so that the bench
	// measures the call path, not the limiter; the native row is a plain
	// go-sdk server beside it, the baseline.
	bt := &benchTools{dir: filepath.Join(tmp, "tools")}
	if err := os.MkdirAll(bt.dir, 0o700); err != nil {
		fmt.Fprintln(stderr, err)
		return exitInternal
	}
	tools := []string{"native"}
	if err := bt.add("echo_wat", echoWasm, manifest.IsolationPerCall); err != nil {
		fmt.Fprintln(stderr, err)
		return exitInternal
	}
	tools = append(tools, "wat")
	for _, g := range []struct {
		row  string
		wasm []byte
	}{{"c", cEchoWasm}, {"as", asEchoWasm}} {
		if err := bt.add("echo_"+g.row, g.wasm, manifest.IsolationPerCall); err != nil {
			fmt.Fprintln(stderr, err)
			return exitInternal
		}
		tools = append(tools, g.row)
	}
	var goWasm []byte
	if *goSrc != "" {
		out := filepath.Join(tmp, "goecho.wasm")
		if err := buildGoTool(ctx, *goSrc, out, stderr); err != nil {
			fmt.Fprintf(stderr, "moat bench: skipping the Go guest: %v\n", err)
		} else if wasm, err := os.ReadFile(out); err == nil {
			goWasm = wasm
			if err := bt.add("echo_go", wasm, manifest.IsolationPerCall); err != nil {
				fmt.Fprintln(stderr, err)
				return exitInternal
			}
			tools = append(tools, "go")
		}
	}

	var rxWasm []byte
	if *rxSrc != "" {
		out := filepath.Join(tmp, "goreactor.wasm")
		if err := buildGoReactor(ctx, *rxSrc, out, stderr); err != nil {
			fmt.Fprintf(stderr, "moat bench: skipping the Go reactor guest: %v\n", err)
		} else if rxWasm, err = os.ReadFile(out); err == nil {
			for _, mode := range []struct {
				tool string
				iso  manifest.Isolation
			}{{"go-rx", manifest.IsolationPerCall}, {"go-rx-pp", manifest.IsolationPerPrincipal}, {"go-rx-sh", manifest.IsolationShared}} {
				if err := bt.add("echo_"+mode.tool, rxWasm, mode.iso); err != nil {
					fmt.Fprintln(stderr, err)
					return exitInternal
				}
				tools = append(tools, mode.tool)
			}
		}
	}
	if *startup {
		if err := benchStartup(ctx, stdout, tmp, goWasm, rxWasm); err != nil {
			fmt.Fprintf(stderr, "moat bench: --startup: %v\n", err)
			return exitInternal
		}
	}

	moatURL, stopMoat, err := bt.serve(ctx, tmp)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitInternal
	}
	defer stopMoat()
	nativeURL, stopNative, err := serveNative()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitInternal
	}
	defer stopNative()

	if *only != "" {
		keep := strings.Split(*only, ",")
		tools = slices.DeleteFunc(tools, func(t string) bool { return t != "native" && !slices.Contains(keep, t) })
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return exitInternal
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, err)
			return exitInternal
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Fprintf(stdout, "moat bench: tools/call over HTTP on loopback, %s per cell, GOMAXPROCS=%d, %s/%s\n\n", *dur, runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(stdout, "%-8s %7s %10s %10s %10s %9s %7s\n", "tool", "clients", "calls/s", "p50", "p99", "vs native", "errors")
	for _, n := range clients {
		var native float64
		for _, tool := range tools {
			url := moatURL
			if tool == "native" {
				url = nativeURL
			}
			row, err := benchCell(ctx, url, "echo_"+tool, n, *dur)
			if err != nil {
				fmt.Fprintf(stderr, "moat bench: %s: %v\n", tool, err)
				return exitInternal
			}
			row.tool = tool
			if tool == "native" {
				native = row.rate()
			}
			fmt.Fprintf(stdout, "%-8s %7d %10.0f %10s %10s %8.0f%% %7d\n", row.tool, n, row.rate(),
				row.p50.Round(time.Microsecond), row.p99.Round(time.Microsecond), 100*row.rate()/native, row.errors)
		}
	}
	fmt.Fprintln(stdout, "\nwat, c, as = the echo in WebAssembly text, C and AssemblyScript (commands);\ngo = Go command (runtime start-up in every call); go-rx = Go reactor, per-call\nisolation (each call starts from the snapshot; its instance is reset in place\nafterwards); go-rx-pp = per-principal instances (one principal here);\ngo-rx-sh = shared instances (see docs/performance.md).")
	return exitOK
}

// benchTools writes the bench's guests and their manifests into dir.
type benchTools struct{ dir string }

func (b *benchTools) add(name string, wasm []byte, iso manifest.Isolation) error {
	mod := filepath.Join(b.dir, name+".wasm")
	if err := os.WriteFile(mod, wasm, 0o600); err != nil {
		return err
	}
	text := fmt.Sprintf(`name = %q
description = "echo, as a sandboxed guest"
module = %q
isolation = %q
[input_schema]
type = "object"
[input_schema.properties.msg]
type = "string"
[limits]
max_concurrency = 64
`, name, mod, iso)
	return os.WriteFile(filepath.Join(b.dir, name+".toml"), []byte(text), 0o600)
}

// serve runs a moat over the bench's tools on a loopback port.
func (b *benchTools) serve(ctx context.Context, tmp string) (url string, stop func(), err error) {
	cfgFile := filepath.Join(tmp, "moat.toml")
	cfg := fmt.Sprintf(`[tools]
dirs = [%q]
[sandbox]
cache_dir = %q
[audit]
file = %q
[rate_limits]
per_principal = "unlimited"
per_principal_requests = "unlimited"
per_principal_tool = "unlimited"
per_tool = "unlimited"
`, b.dir, filepath.Join(tmp, "cache"), filepath.Join(tmp, "audit.log"))
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv, err := host.New(ctx, &host.Options{ConfigFile: cfgFile, NoAuth: true, Listener: ln, Notice: io.Discard})
	if err != nil {
		ln.Close()
		return "", nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(sctx)
	}()
	return "http://" + ln.Addr().String(), func() {
		cancel()
		<-done
		srv.Close(context.Background())
	}, nil
}

// serveNative serves the echo as a plain go-sdk tool on a loopback port:
// the bench's baseline.
func serveNative() (url string, stop func(), err error) {
	s := mcp.NewServer(&mcp.Implementation{Name: "native", Version: "1"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "echo_native", Description: "echo, in process"},
		func(_ context.Context, req *mcp.CallToolRequest, in struct {
			Msg string `json:"msg"`
		}) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: string(req.Params.Arguments)}}}, nil, nil
		})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := ln.Addr().String()
	// Stateless, as moat serves the go-sdk client (which speaks
	// 2026-07-28): the rows compare the same protocol.
	srv := &http.Server{Handler: mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, &mcp.StreamableHTTPOptions{Stateless: true})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	return "http://" + addr, func() { srv.Close(); <-done }, nil
}

// benchCell runs n clients, each in its own MCP session, calling tool in a
// loop for d.
func benchCell(ctx context.Context, url, tool string, n int, d time.Duration) (benchRow, error) {
	sessions := make([]*mcp.ClientSession, n)
	for i := range sessions {
		c := mcp.NewClient(&mcp.Implementation{Name: "moat-bench", Version: "1"}, nil)
		cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url + "/mcp", DisableStandaloneSSE: true}, nil)
		if err != nil {
			return benchRow{}, err
		}
		defer cs.Close()
		sessions[i] = cs
	}
	var args map[string]any
	_ = json.Unmarshal([]byte(benchArgs), &args)
	// Warm up: the first calls pay for connection set-up.
	for _, cs := range sessions {
		for i := 0; i < 5; i++ {
			if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args}); err != nil {
				return benchRow{}, err
			}
		}
	}
	var (
		mu   sync.Mutex
		lats []time.Duration
		errs int
		wg   sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for _, cs := range sessions {
		wg.Add(1)
		go func(cs *mcp.ClientSession) {
			defer wg.Done()
			var mine []time.Duration
			bad := 0
			for time.Now().Before(deadline) && ctx.Err() == nil {
				t0 := time.Now()
				res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
				if err != nil || res.IsError {
					bad++
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lats = append(lats, mine...)
			errs += bad
			mu.Unlock()
		}(cs)
	}
	wg.Wait()
	elapsed := time.Since(start)
	if len(lats) == 0 {
		return benchRow{}, errors.New("no call succeeded")
	}
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	return benchRow{
		clients: n, calls: len(lats), elapsed: elapsed, errors: errs,
		p50: lats[len(lats)/2], p99: lats[len(lats)*99/100],
	}, nil
}

// buildGoReactor builds the Go package in dir as a wasip1 reactor
// (-buildmode=c-shared: _initialize plus its //go:wasmexport moat_call).
func buildGoReactor(ctx context.Context, dir, out string, stderr io.Writer) error {
	absOut, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildmode=c-shared", "-o", absOut, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		stderr.Write(msg)
		return fmt.Errorf("go build -buildmode=c-shared in %s: %w", dir, err)
	}
	return nil
}

// benchStartup loads 20 distinct Go tools (half commands, half reactors;
// each module made distinct by a custom section, so the cache cannot
// share their code) into a new runtime with an empty compile cache and
// then into another runtime with the cache filled, as a server start-up
// would, and reports the host memory the idle tools and a call hold.
func benchStartup(ctx context.Context, stdout io.Writer, tmp string, goWasm, rxWasm []byte) error {
	if goWasm == nil || rxWasm == nil {
		return errors.New("needs both Go guests")
	}
	const n = 20
	mods := make([][]byte, n)
	for i := range mods {
		base := goWasm
		if i%2 == 1 {
			base = rxWasm
		}
		name := fmt.Sprintf("moat-bench-%d", i)
		sec := append(append([]byte{byte(len(name))}, name...), 0) // name, one byte of payload
		mods[i] = append(append(append([]byte(nil), base...), 0, byte(len(sec))), sec...)
	}
	cache := filepath.Join(tmp, "startup-cache")
	load := func() (time.Duration, *sandbox.Runtime, []*host.Tool, error) {
		start := time.Now()
		rt, err := sandbox.New(ctx, &sandbox.Options{CacheDir: cache})
		if err != nil {
			return 0, nil, nil, err
		}
		var tools []*host.Tool
		for i, wasm := range mods {
			m := &manifest.Tool{File: "(bench)", Name: fmt.Sprintf("t%d", i), Wasm: wasm,
				InputSchema: json.RawMessage(`{"type":"object"}`), Result: manifest.ResultText, Limits: manifest.DefaultLimits()}
			t, err := host.LoadTool(ctx, rt, m)
			if err != nil {
				rt.Close(ctx)
				return 0, nil, nil, err
			}
			tools = append(tools, t)
		}
		return time.Since(start), rt, tools, nil
	}
	cold, rt, _, err := load()
	if err != nil {
		return err
	}
	rt.Close(ctx)

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	rssBefore := rssBytes()
	warm, rt, tools, err := load()
	if err != nil {
		return err
	}
	defer rt.Close(ctx)
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	rssAfter := rssBytes()

	fmt.Fprintf(stdout, "start-up, %d Go tools (%d commands, %d reactors): cold cache %v, warm cache %v\n",
		n, n/2, n/2, cold.Round(time.Millisecond), warm.Round(time.Millisecond))
	fmt.Fprintf(stdout, "idle tool: %s Go heap, %s RSS (compiled code, snapshots; averaged over the %d)\n",
		bytesize.Format(uint64(max(0, int64(after.HeapAlloc)-int64(before.HeapAlloc))/n/1024*1024)),
		bytesize.Format(uint64(max(0, rssAfter-rssBefore)/n/1024*1024)), n)
	args := json.RawMessage(benchArgs)
	for _, c := range []struct {
		kind string
		t    *host.Tool
	}{{"Go command", tools[0]}, {"Go reactor (per-call)", tools[1]}} {
		const calls = 100
		var s0, s1, s2 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&s0)
		var held uint64
		for range calls {
			_, info, err := c.t.Call(ctx, args, nil)
			if err != nil {
				return err
			}
			if info.Run != nil {
				held = max(held, info.Run.Memory)
			}
		}
		runtime.ReadMemStats(&s1)
		time.Sleep(100 * time.Millisecond) // the last reset, in the background
		runtime.GC()
		runtime.ReadMemStats(&s2)
		fmt.Fprintf(stdout, "call in flight, %s: guest memory %s, %s allocated per call; kept between calls %s\n", c.kind,
			bytesize.Format(held), bytesize.Format((s1.TotalAlloc-s0.TotalAlloc)/calls/1024*1024),
			bytesize.Format(uint64(max(0, int64(s2.HeapInuse)-int64(s0.HeapInuse)))/1024*1024))
	}
	fmt.Fprintln(stdout)
	return nil
}

// rssBytes is the process's resident set size (Linux), or 0.
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
