package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/moatmcp/moat/host"
	"github.com/moatmcp/moat/host/manifest"
	"github.com/moatmcp/moat/host/sandbox"
	"github.com/moatmcp/moat/host/transport"
)

//go:embed benchdata/echo.wasm
var echoWasm []byte

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
	fs := flag.NewFlagSet("moat bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dur := fs.Duration("duration", 3*time.Second, "how long each (tool, clients) cell runs")
	clientsFlag := fs.String("clients", "1,4", "comma-separated client counts")
	goSrc := fs.String("go-guest", "cmd/moat/benchdata/goecho", "folder of the Go echo guest (built with the go command); empty to skip")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: moat bench [--duration 3s] [--clients 1,4]\n\nMeasures calls/s, p50 and p99 of tools/call over HTTP on loopback for a\nnative go-sdk tool, a WAT guest and a Go guest doing the same echo, and\nprints each one's ratio to native. Run it from the repository's root.")
		fs.PrintDefaults()
	}
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
	rt, err := sandbox.New(ctx, &sandbox.Options{CacheDir: filepath.Join(tmp, "cache")})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitInternal
	}
	defer rt.Close(context.Background())
	h := host.New(nil)
	defer h.Close(context.Background())

	tools := []string{"native"}
	mcp.AddTool(h.Server(), &mcp.Tool{Name: "echo_native", Description: "echo, in process"},
		func(_ context.Context, req *mcp.CallToolRequest, in struct {
			Msg string `json:"msg"`
		}) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: string(req.Params.Arguments)}}}, nil, nil
		})
	if err := addBenchGuest(ctx, rt, h, "echo_wat", echoWasm); err != nil {
		fmt.Fprintln(stderr, err)
		return exitInternal
	}
	tools = append(tools, "wat")
	if *goSrc != "" {
		out := filepath.Join(tmp, "goecho.wasm")
		if err := buildGoTool(ctx, *goSrc, out, stderr); err != nil {
			fmt.Fprintf(stderr, "moat bench: skipping the Go guest: %v\n", err)
		} else if wasm, err := os.ReadFile(out); err == nil {
			if err := addBenchGuest(ctx, rt, h, "echo_go", wasm); err != nil {
				fmt.Fprintln(stderr, err)
				return exitInternal
			}
			tools = append(tools, "go")
		}
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitInternal
	}
	addr := ln.Addr().String()
	srv := &http.Server{Handler: transport.Wrap(h.HTTPHandler(0), &transport.Options{ListenAddr: addr})}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + addr

	fmt.Fprintf(stdout, "moat bench: tools/call over HTTP on loopback, %s per cell, GOMAXPROCS=%d, %s/%s\n\n", *dur, runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(stdout, "%-8s %7s %10s %10s %10s %8s %7s\n", "tool", "clients", "calls/s", "p50", "p99", "vs native", "errors")
	for _, n := range clients {
		var native float64
		for _, tool := range tools {
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
	return exitOK
}

func addBenchGuest(ctx context.Context, rt *sandbox.Runtime, h *host.Host, name string, wasm []byte) error {
	m := &manifest.Tool{
		File:        "(bench)",
		Name:        name,
		Description: "echo, as a sandboxed guest",
		Wasm:        wasm,
		InputSchema: json.RawMessage(`{"type":"object","properties":{"msg":{"type":"string"}}}`),
		Result:      manifest.ResultText,
		Limits:      manifest.DefaultLimits(),
	}
	m.Limits.MaxConcurrency = 64
	t, err := host.LoadTool(ctx, rt, m)
	if err != nil {
		return err
	}
	h.AddTool(t)
	return nil
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
