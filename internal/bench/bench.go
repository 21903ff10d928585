// Package bench measures moat's tools/call path against the limit of this
// machine: the same echo answered by a bare net/http JSON-RPC handler
// (Bare, the physical limit of "a JSON-RPC call over HTTP"), by a plain
// go-sdk handler (Native) and by a real moat (host.Server, set up by
// Tools) with the echo as sandboxed guests. It is the library behind
// `moat bench`; cmd/moat only turns flags into Options and prints.
//
// It sits outside the call path: it drives it over loopback HTTP as a
// client would, with a raw HTTP load client (RawClient: one POST per
// call, no MCP library, so that the client costs little next to the
// server) or the go-sdk's client (SDKClient). Each cell reports calls/s,
// p50/p99 latency, and the server process's CPU time and heap
// allocations per call. Those two are only the server's when the load
// runs in a child process (Options.Child): getrusage and the Go
// allocator cannot tell a client goroutine from a server one.
//
// Nothing here asserts a timing; its tests check the shape of what is
// measured, not how fast it is.
package bench

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"slices"
	"time"

	"github.com/moatmcp/moat/internal/procstat"
)

// Errors of a load run.
var (
	// ErrNoCalls is returned when not one call of a cell succeeded.
	ErrNoCalls = errors.New("bench: no call succeeded")
	// ErrBadSpec is returned for a Load with missing or out-of-range fields.
	ErrBadSpec = errors.New("bench: bad load spec")
	// ErrChild is returned when the load's child process misbehaved.
	ErrChild = errors.New("bench: load child process failed")
)

// MaxClients bounds Load.Clients: each client is a goroutine and an HTTP
// connection.
const MaxClients = 256

// Client is the kind of load client.
type Client string

const (
	// RawClient sends each call as one hand-made HTTP POST over a
	// keep-alive connection and checks the answer without a JSON
	// library: the cheapest client that still speaks MCP.
	RawClient Client = "raw"
	// SDKClient calls through the go-sdk's mcp.Client (CallTool), as an
	// MCP application would. It costs 95–180 µs of CPU per call on this
	// project's 2-core VM: on a small machine it caps every row.
	SDKClient Client = "sdk"
)

// Era is the MCP protocol era the raw client speaks.
type Era string

const (
	// Stateless is MCP 2026-07-28: every request stands alone (no
	// session), carrying its protocol version in a header and _meta.
	Stateless Era = "2026-07-28"
	// Session is MCP 2025-11-25: one initialize per client, then calls
	// within the session (Mcp-Session-Id).
	Session Era = "2025-11-25"
)

// Args is the payload of every benchmarked call.
const Args = `{"msg":"hello from moat bench"}`

// Load is what one cell's clients do. It is also the spec handed to a
// child process (as JSON), so every field is exported.
type Load struct {
	// URL is the server's base URL (http://127.0.0.1:port); calls go to
	// URL+"/mcp". Required.
	URL string `json:"url"`
	// Tool is the tool called. Required.
	Tool string `json:"tool"`
	// Clients is the number of concurrent clients, 1..MaxClients. Each
	// has its own connection (and, in the Session era, its own session).
	Clients int `json:"clients"`
	// Duration is how long the measured calls run. Required (> 0).
	Duration time.Duration `json:"duration"`
	// Client is the load client. Zero value: RawClient.
	Client Client `json:"client,omitempty"`
	// Era is the protocol era of the raw client. Zero value: Stateless.
	// The go-sdk client negotiates its own (2026-07-28).
	Era Era `json:"era,omitempty"`
	// Warmup is the number of unmeasured calls each client makes first
	// (connection set-up, pools, caches). Zero value: 20.
	Warmup int `json:"warmup,omitempty"`
}

func (l *Load) check() error {
	switch {
	case l.URL == "" || l.Tool == "":
		return fmt.Errorf("%w: url and tool are required", ErrBadSpec)
	case l.Clients < 1 || l.Clients > MaxClients:
		return fmt.Errorf("%w: clients %d not in 1..%d", ErrBadSpec, l.Clients, MaxClients)
	case l.Duration <= 0:
		return fmt.Errorf("%w: duration must be positive", ErrBadSpec)
	case l.Client != "" && l.Client != RawClient && l.Client != SDKClient:
		return fmt.Errorf("%w: unknown client %q", ErrBadSpec, l.Client)
	case l.Era != "" && l.Era != Stateless && l.Era != Session:
		return fmt.Errorf("%w: unknown era %q", ErrBadSpec, l.Era)
	case l.Warmup < 0 || l.Warmup > 10000:
		return fmt.Errorf("%w: warmup %d not in 0..10000", ErrBadSpec, l.Warmup)
	}
	return nil
}

func (l Load) withDefaults() Load {
	if l.Client == "" {
		l.Client = RawClient
	}
	if l.Era == "" {
		l.Era = Stateless
	}
	if l.Warmup == 0 {
		l.Warmup = 20
	}
	return l
}

// Result is what the clients of one cell saw.
type Result struct {
	// Calls is the number of measured calls that succeeded.
	Calls int `json:"calls"`
	// Errors counts calls that failed (transport error, HTTP status other
	// than 200, a JSON-RPC error or a tool error).
	Errors int `json:"errors"`
	// Elapsed is the wall time of the measured calls.
	Elapsed time.Duration `json:"elapsed"`
	// P50 and P99 are latency percentiles of the successful calls.
	P50 time.Duration `json:"p50"`
	P99 time.Duration `json:"p99"`
}

// Rate is successful calls per second.
func (r Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Calls) / r.Elapsed.Seconds()
}

// Cell is one measured (row, clients) pair.
type Cell struct {
	Row     string
	Clients int
	Result
	// ServerCPU is the CPU time (user + system) the server process used
	// while the calls ran; it includes the clients' when InProcess.
	ServerCPU time.Duration
	// Mallocs is the number of heap allocations in the server process
	// while the calls ran, and AllocBytes their size; both include the
	// clients' when InProcess.
	Mallocs, AllocBytes uint64
	// RSS is the server process's resident set size right after the
	// calls (pools still full; Linux, else 0).
	RSS int64
	// InProcess says the load ran in this process: ServerCPU and Mallocs
	// then include the client's share.
	InProcess bool
}

// CPUPerCall is ServerCPU divided by the successful calls (0 without any).
func (c Cell) CPUPerCall() time.Duration {
	if c.Calls == 0 {
		return 0
	}
	return c.ServerCPU / time.Duration(c.Calls)
}

// AllocsPerCall is Mallocs divided by the successful calls.
func (c Cell) AllocsPerCall() float64 {
	if c.Calls == 0 {
		return 0
	}
	return float64(c.Mallocs) / float64(c.Calls)
}

// BytesPerCall is AllocBytes divided by the successful calls: what the
// garbage collector has to reclaim per call.
func (c Cell) BytesPerCall() float64 {
	if c.Calls == 0 {
		return 0
	}
	return float64(c.AllocBytes) / float64(c.Calls)
}

// Ratio is c's calls/s as a fraction of base's (0 when base has none).
func (c Cell) Ratio(base Cell) float64 {
	if base.Rate() == 0 {
		return 0
	}
	return c.Rate() / base.Rate()
}

// Options configures Measure. A nil *Options is the zero Options.
type Options struct {
	// Child makes the command a load runs in: a program that calls
	// ChildMain (cmd/moat re-executes itself with ChildEnv set). The load
	// then runs in that process, so that the CPU time and allocations
	// measured here are the server's alone. Zero value: the load runs in
	// this process, and ServerCPU and Mallocs include the client's.
	Child func() *exec.Cmd
}

// Measure runs load against a server in this process and returns its
// cell: what the clients saw, and what this process spent meanwhile.
func Measure(ctx context.Context, row string, load Load, opts *Options) (Cell, error) {
	if err := load.check(); err != nil {
		return Cell{}, err
	}
	load = load.withDefaults()
	var o Options
	if opts != nil {
		o = *opts
	}
	cell := Cell{Row: row, Clients: load.Clients, InProcess: o.Child == nil}
	var before, after usage
	var res Result
	var err error
	if o.Child == nil {
		var r *runner
		r, err = newRunner(ctx, load)
		if err != nil {
			return Cell{}, err
		}
		defer r.close()
		if err = r.warmup(ctx); err != nil {
			return Cell{}, err
		}
		before = readUsage()
		res, err = r.run(ctx)
		after = readUsage()
	} else {
		res, err = runChild(ctx, o.Child(), load, &before, &after)
	}
	if err != nil {
		return Cell{}, err
	}
	cell.Result = res
	cell.ServerCPU = after.cpu - before.cpu
	cell.Mallocs = after.mallocs - before.mallocs
	cell.AllocBytes = after.bytes - before.bytes
	cell.RSS = procstat.RSS()
	return cell, nil
}

// usage is the process's CPU time and allocation count at one moment.
type usage struct {
	cpu            time.Duration
	mallocs, bytes uint64
}

func readUsage() usage {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return usage{cpu: procstat.CPU(), mallocs: ms.Mallocs, bytes: ms.TotalAlloc}
}

// percentile is the p-th percentile (0..1) of sorted latencies.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)) * p)
	return sorted[min(i, len(sorted)-1)]
}

func summarize(lats []time.Duration, errs int, elapsed time.Duration) Result {
	slices.Sort(lats)
	return Result{Calls: len(lats), Errors: errs, Elapsed: elapsed, P50: percentile(lats, 0.50), P99: percentile(lats, 0.99)}
}
