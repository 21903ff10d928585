package main

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/moatmcp/moat/internal/bench"
	"github.com/moatmcp/moat/internal/bytesize"
	"github.com/moatmcp/moat/internal/manifest"
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

const benchUsage = `usage: moat bench [--duration 2s] [--clients 1,4,16,64] [--client raw|sdk] [--era stateless|session]
                  [--runs 1] [--tools c,go-rx] [--in-process] [--cpuprofile f] [--memprofile f] [--startup]

Measures tools/call over HTTP on loopback, in one process and one run: a
bare net/http JSON-RPC echo (the limit), the echo as a go-sdk tool (native)
and as sandboxed guests served by a real moat (WAT, C, AssemblyScript, a Go
command, a Go reactor in three isolation modes). For each row: calls/s,
p50, p99, server CPU and allocations per call, and the ratio to bare and
to native in the same run. The load runs in a child process (this program
again), so that CPU and allocations are the server's. Run it from the
repository's root.`

// cmdBench turns flags into bench.Load and prints internal/bench's cells.
func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if os.Getenv(bench.ChildEnv) == "1" {
		return bench.ChildMain(ctx, os.Stdin, stdout)
	}
	fs := newFlags("moat bench", stderr, benchUsage)
	dur := fs.Duration("duration", 2*time.Second, "how long each (row, clients) cell runs")
	clientsFlag := fs.String("clients", "1,4,16,64", "comma-separated client counts")
	client := fs.String("client", "raw", "load client: raw (hand-made HTTP requests) or sdk (the go-sdk's client)")
	era := fs.String("era", "stateless", "protocol era of the raw client: stateless (2026-07-28) or session (2025-11-25)")
	runs := fs.Int("runs", 1, "passes over every cell; the table shows medians (ratios: of each pass's own)")
	goSrc := fs.String("go-guest", "cmd/moat/benchdata/goecho", "folder of the Go echo guest (built with the go command); empty to skip")
	rxSrc := fs.String("go-reactor", "cmd/moat/benchdata/goreactor", "folder of the Go reactor echo guest (built with -buildmode=c-shared); empty to skip")
	only := fs.String("tools", "", "comma-separated subset of the rows to run (bare and native always run: they are the baselines), e.g. c,go-rx")
	inProcess := fs.Bool("in-process", false, "run the load in this process (CPU and allocations then include the client's)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the measured cells to this file (go tool pprof)")
	memProfile := fs.String("memprofile", "", "write an allocation profile (after the cells) to this file (go tool pprof -sample_index=alloc_space)")
	startup := fs.Bool("startup", false, "also measure server start-up with 20 tools (cold and warm compile cache) and host memory per tool and per call")
	if _, err := parseInterspersed(fs, args); err != nil {
		return flagExit(err)
	}
	var clients []int
	for _, s := range strings.Split(*clientsFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > bench.MaxClients {
			fmt.Fprintf(stderr, "moat bench: bad --clients %q (each 1..%d)\n", *clientsFlag, bench.MaxClients)
			return exitUsage
		}
		clients = append(clients, n)
	}
	load := bench.Load{Duration: *dur, Client: bench.Client(*client)}
	switch *era {
	case "stateless":
		load.Era = bench.Stateless
	case "session":
		load.Era = bench.Session
	default:
		fmt.Fprintf(stderr, "moat bench: bad --era %q (stateless or session)\n", *era)
		return exitUsage
	}
	if load.Client != bench.RawClient && load.Client != bench.SDKClient {
		fmt.Fprintf(stderr, "moat bench: bad --client %q (raw or sdk)\n", *client)
		return exitUsage
	}
	if *runs < 1 || *runs > 20 || *dur <= 0 {
		fmt.Fprintln(stderr, "moat bench: --runs must be 1..20 and --duration positive")
		return exitUsage
	}
	var opts *bench.Options
	if !*inProcess {
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintln(stderr, err)
			return exitInternal
		}
		opts = &bench.Options{Child: func() *exec.Cmd {
			cmd := exec.Command(exe, "bench")
			cmd.Env = append(os.Environ(), bench.ChildEnv+"=1")
			cmd.Stderr = stderr
			return cmd
		}}
	}

	tmp, err := os.MkdirTemp("", "moat-bench")
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitInternal
	}
	defer os.RemoveAll(tmp)
	bt, err := bench.NewTools(filepath.Join(tmp, "tools"))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitInternal
	}
	rows := []string{bench.RowBare, bench.RowNative}
	for _, g := range []struct {
		row  string
		wasm []byte
	}{{"wat", echoWasm}, {"c", cEchoWasm}, {"as", asEchoWasm}} {
		if err := bt.Add("echo_"+g.row, g.wasm, manifest.IsolationPerCall); err != nil {
			fmt.Fprintln(stderr, err)
			return exitInternal
		}
		rows = append(rows, g.row)
	}
	var goWasm, rxWasm []byte
	if *goSrc != "" {
		out := filepath.Join(tmp, "goecho.wasm")
		if err := buildGoTool(ctx, *goSrc, out, stderr); err != nil {
			fmt.Fprintf(stderr, "moat bench: skipping the Go guest: %v\n", err)
		} else if goWasm, err = os.ReadFile(out); err == nil {
			if err := bt.Add("echo_go", goWasm, manifest.IsolationPerCall); err != nil {
				fmt.Fprintln(stderr, err)
				return exitInternal
			}
			rows = append(rows, "go")
		}
	}
	if *rxSrc != "" {
		out := filepath.Join(tmp, "goreactor.wasm")
		if err := buildGoReactor(ctx, *rxSrc, out, stderr); err != nil {
			fmt.Fprintf(stderr, "moat bench: skipping the Go reactor guest: %v\n", err)
		} else if rxWasm, err = os.ReadFile(out); err == nil {
			for _, mode := range []struct {
				row string
				iso manifest.Isolation
			}{{"go-rx", manifest.IsolationPerCall}, {"go-rx-pp", manifest.IsolationPerPrincipal}, {"go-rx-sh", manifest.IsolationShared}} {
				if err := bt.Add("echo_"+mode.row, rxWasm, mode.iso); err != nil {
					fmt.Fprintln(stderr, err)
					return exitInternal
				}
				rows = append(rows, mode.row)
			}
		}
	}
	if *startup {
		rep, err := bench.Startup(ctx, tmp, 20, goWasm, rxWasm)
		if err != nil {
			fmt.Fprintf(stderr, "moat bench: --startup: %v\n", err)
			return exitInternal
		}
		printStartup(stdout, rep)
	}

	// Each server's goroutines carry a profiler label (server=moat, bare,
	// native), so that a profile can be cut by row: go tool pprof
	// -tagfocus=server=moat.
	var moatURL string
	var stopMoat func()
	pprof.Do(ctx, pprof.Labels("server", "moat"), func(ctx context.Context) { moatURL, stopMoat, err = bt.Serve(ctx, tmp) })
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitInternal
	}
	defer stopMoat()
	var bareURL string
	var stopBare func()
	pprof.Do(ctx, pprof.Labels("server", "bare"), func(context.Context) { bareURL, stopBare, err = bench.Serve(bench.Bare()) })
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitInternal
	}
	defer stopBare()
	// Stateless, as moat serves the 2026-07-28 clients; with sessions for
	// a 2025-11-25 load: the rows compare the same protocol.
	var nativeURL string
	var stopNative func()
	pprof.Do(ctx, pprof.Labels("server", "native"), func(context.Context) {
		nativeURL, stopNative, err = bench.Serve(bench.Native("echo_native", load.Era == bench.Stateless))
	})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitInternal
	}
	defer stopNative()

	if *only != "" {
		keep := strings.Split(*only, ",")
		rows = slices.DeleteFunc(rows, func(r string) bool {
			return r != bench.RowBare && r != bench.RowNative && !slices.Contains(keep, r)
		})
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
	if *memProfile != "" {
		runtime.MemProfileRate = 4096
	}
	where := "child process: CPU and allocations are the server's"
	if *inProcess {
		where = "in process: CPU and allocations include the client's"
	}
	fmt.Fprintf(stdout, "moat bench: tools/call over HTTP on loopback, %s client, %s era, %s per cell, %d run(s), GOMAXPROCS=%d, %s/%s\nload: %s\n\n",
		load.Client, load.Era, *dur, *runs, runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, where)
	var all [][]bench.Cell
	for range *runs {
		var cells []bench.Cell
		for _, n := range clients {
			for _, row := range rows {
				l := load
				l.URL, l.Tool, l.Clients = moatURL, "echo_"+row, n
				switch row {
				case bench.RowBare:
					l.URL = bareURL
				case bench.RowNative:
					l.URL = nativeURL
				}
				cell, err := bench.Measure(ctx, row, l, opts)
				if err != nil {
					fmt.Fprintf(stderr, "moat bench: %s, %d clients: %v\n", row, n, err)
					return exitInternal
				}
				cells = append(cells, cell)
			}
		}
		all = append(all, cells)
	}
	fmt.Fprintf(stdout, "%-8s %7s %9s %9s %9s %9s %7s %8s %8s %9s %6s %7s\n", "row", "clients", "calls/s", "p50", "p99", "cpu/call", "allocs", "KiB/call", "vs bare", "vs native", "errors", "RSS MiB")
	for _, s := range bench.Summarize(all) {
		fmt.Fprintf(stdout, "%-8s %7d %9.0f %9s %9s %9s %7.0f %8.1f %7.0f%% %8.0f%% %6d %7d\n", s.Row, s.Clients, s.Rate,
			s.P50.Round(time.Microsecond), s.P99.Round(time.Microsecond), s.CPUPerCall.Round(100*time.Nanosecond),
			s.AllocsPerCall, s.BytesPerCall/1024, 100*s.VsBare, 100*s.VsNative, s.Errors, s.RSS>>20)
	}
	fmt.Fprintln(stdout, "\nbare = a plain net/http JSON-RPC echo (the limit); native = the echo as a go-sdk tool;\nwat, c, as = the echo in WebAssembly text, C and AssemblyScript (commands);\ngo = Go command (runtime start-up in every call); go-rx = Go reactor, per-call\nisolation (each call starts from the snapshot; its instance is reset in place\nafterwards); go-rx-pp = per-principal instances (one principal here);\ngo-rx-sh = shared instances (see docs/performance.md).")
	if *memProfile != "" {
		f, err := os.Create(*memProfile)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return exitInternal
		}
		defer f.Close()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			fmt.Fprintln(stderr, err)
			return exitInternal
		}
	}
	return exitOK
}

func printStartup(stdout io.Writer, rep *bench.StartupReport) {
	fmt.Fprintf(stdout, "start-up, %d Go tools (%d commands, %d reactors), loaded as moat serve loads them: cold cache %v (%v CPU, %.1f cores busy), warm cache %v (%v CPU)\n",
		rep.Tools, rep.Tools/2, rep.Tools/2, rep.Cold.Round(time.Millisecond), rep.ColdCPU.Round(time.Millisecond),
		busyCores(rep.ColdCPU, rep.Cold), rep.Warm.Round(time.Millisecond), rep.WarmCPU.Round(time.Millisecond))
	fmt.Fprintf(stdout, "idle tool: %s Go heap, %s RSS (compiled code, snapshots; averaged over the %d)\n",
		bytesize.Format(rep.IdleHeap/1024*1024), bytesize.Format(rep.IdleRSS/1024*1024), rep.Tools)
	fmt.Fprintf(stdout, "idle tool, %d copies of one Go reactor module: %s Go heap each (compiled code shared)\n",
		rep.Tools, bytesize.Format(rep.IdenticalHeap/1024*1024))
	for _, c := range rep.Calls {
		fmt.Fprintf(stdout, "call in flight, %s: guest memory %s, %s allocated per call; kept between calls %s\n", c.Kind,
			bytesize.Format(c.Guest), bytesize.Format(c.PerCall/1024*1024), bytesize.Format(c.KeptAfter/1024*1024))
	}
	fmt.Fprintln(stdout)
}

// busyCores is cpu over wall: how many cores a load kept busy on average.
func busyCores(cpu, wall time.Duration) float64 {
	if wall <= 0 {
		return 0
	}
	return float64(cpu) / float64(wall)
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
