package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/moatmcp/moat/host"
	"github.com/moatmcp/moat/internal/manifest"
	"github.com/moatmcp/moat/internal/procstat"
	"github.com/moatmcp/moat/internal/sandbox"
)

// Tools is a folder of echo guests with their manifests, served by a
// real moat (Serve): the sandboxed rows.
type Tools struct{ dir string }

// NewTools makes the folder dir (private) for the guests.
func NewTools(dir string) (*Tools, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("bench: tools folder: %w", err)
	}
	return &Tools{dir: dir}, nil
}

// Add writes the guest wasm as the tool name, with the echo's schema, the
// isolation mode iso and a max_concurrency high enough for any bench.
func (b *Tools) Add(name string, wasm []byte, iso manifest.Isolation) error {
	mod := filepath.Join(b.dir, name+".wasm")
	if err := os.WriteFile(mod, wasm, 0o600); err != nil {
		return fmt.Errorf("bench: write %s: %w", name, err)
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
max_concurrency = %d
`, name, mod, iso, MaxClients)
	if err := os.WriteFile(filepath.Join(b.dir, name+".toml"), []byte(text), 0o600); err != nil {
		return fmt.Errorf("bench: write %s: %w", name, err)
	}
	return nil
}

// Serve runs a moat over the tools on a loopback port, with its state
// (config, compile cache, audit log) under tmp: no authentication (one
// anonymous principal on loopback) and rates off, so that the bench
// measures the call path, not the limiter; the audit log is written as
// in production (to a file, before each answer).
func (b *Tools) Serve(ctx context.Context, tmp string) (url string, stop func(), err error) {
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
		return "", nil, fmt.Errorf("bench: write config: %w", err)
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

// StartupReport is what Startup measured.
type StartupReport struct {
	Tools      int
	Cold, Warm time.Duration
	// ColdCPU and WarmCPU are the process's CPU time over each load:
	// CPU/wall is how many cores it kept busy (other tenants of the
	// machine take the rest).
	ColdCPU, WarmCPU  time.Duration
	IdleHeap, IdleRSS uint64 // per tool, distinct modules (half commands, half reactors)
	IdenticalHeap     uint64 // per tool, n copies of one reactor module
	Calls             []CallMemory
}

// CallMemory is the memory one kind of Go tool uses per call.
type CallMemory struct {
	Kind      string
	Guest     uint64 // guest memory of a call in flight
	PerCall   uint64 // bytes the host allocated per call
	KeptAfter uint64 // heap still in use after the calls
}

// Startup loads n distinct Go tools (half commands from goWasm, half
// reactors from rxWasm; each made distinct by a custom section, so that
// the compile cache cannot share their code) into a new runtime with an
// empty compile cache under tmp, then again with the cache filled, as a
// server start-up would, and measures the memory idle tools and calls
// hold.
func Startup(ctx context.Context, tmp string, n int, goWasm, rxWasm []byte) (*StartupReport, error) {
	if goWasm == nil || rxWasm == nil {
		return nil, errors.New("bench: start-up needs both Go guests")
	}
	if n < 2 || n > 200 {
		return nil, fmt.Errorf("%w: start-up tools %d not in 2..200", ErrBadSpec, n)
	}
	mods := make([][]byte, n)
	for i := range mods {
		base := goWasm
		if i%2 == 1 {
			base = rxWasm
		}
		mods[i] = Distinct(base, fmt.Sprintf("moat-bench-%d", i))
	}
	cache := filepath.Join(tmp, "startup-cache")
	load := func() (time.Duration, time.Duration, *sandbox.Runtime, []*host.Tool, error) {
		start, cpu := time.Now(), procstat.CPU()
		rt, err := sandbox.New(ctx, &sandbox.Options{CacheDir: cache})
		if err != nil {
			return 0, 0, nil, nil, err
		}
		ms := make([]*manifest.Tool, len(mods))
		for i, wasm := range mods {
			ms[i] = &manifest.Tool{File: "(bench)", Name: fmt.Sprintf("t%d", i), Wasm: wasm,
				InputSchema: json.RawMessage(`{"type":"object"}`), Result: manifest.ResultText, Limits: manifest.DefaultLimits()}
		}
		// As moat serve loads a tool set: compilations in parallel,
		// bounded by the cores.
		tools, err := host.LoadTools(ctx, rt, ms)
		if err != nil {
			rt.Close(ctx)
			return 0, 0, nil, nil, err
		}
		return time.Since(start), procstat.CPU() - cpu, rt, tools, nil
	}
	rep := &StartupReport{Tools: n}
	cold, coldCPU, rt, _, err := load()
	if err != nil {
		return nil, err
	}
	rt.Close(ctx)
	rep.Cold, rep.ColdCPU = cold, coldCPU

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	rssBefore := procstat.RSS()
	warm, warmCPU, rt, tools, err := load()
	if err != nil {
		return nil, err
	}
	defer rt.Close(ctx)
	rep.Warm, rep.WarmCPU = warm, warmCPU
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	rep.IdleHeap = uint64(max(0, int64(after.HeapAlloc)-int64(before.HeapAlloc))) / uint64(n)
	rep.IdleRSS = uint64(max(0, procstat.RSS()-rssBefore)) / uint64(n)

	// The same reactor n times (one digest): what identical modules
	// share (wazero keeps one compiled copy per module digest).
	same := make([]*manifest.Tool, n)
	for i := range same {
		same[i] = &manifest.Tool{File: "(bench)", Name: fmt.Sprintf("s%d", i), Wasm: rxWasm,
			InputSchema: json.RawMessage(`{"type":"object"}`), Result: manifest.ResultText, Limits: manifest.DefaultLimits()}
	}
	runtime.GC()
	runtime.ReadMemStats(&before)
	sameTools, err := host.LoadTools(ctx, rt, same)
	for _, t := range sameTools {
		defer t.Close(ctx)
	}
	if err != nil {
		return nil, err
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	rep.IdenticalHeap = uint64(max(0, int64(after.HeapAlloc)-int64(before.HeapAlloc))) / uint64(n)

	args := json.RawMessage(Args)
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
				return nil, err
			}
			if info.Run != nil {
				held = max(held, info.Run.Memory)
			}
		}
		runtime.ReadMemStats(&s1)
		time.Sleep(100 * time.Millisecond) // the last reset runs in the background: a measurement, not a test
		runtime.GC()
		runtime.ReadMemStats(&s2)
		rep.Calls = append(rep.Calls, CallMemory{Kind: c.kind, Guest: held, PerCall: (s1.TotalAlloc - s0.TotalAlloc) / calls,
			KeptAfter: uint64(max(0, int64(s2.HeapInuse)-int64(s0.HeapInuse)))})
	}
	return rep, nil
}

// Distinct returns wasm with a custom section named name appended: a
// module that behaves the same but has another digest (so no cache can
// share it with the original).
func Distinct(wasm []byte, name string) []byte {
	sec := append(append([]byte{byte(len(name))}, name...), 0) // name, one byte of payload
	out := append([]byte(nil), wasm...)
	return append(append(out, 0, byte(len(sec))), sec...)
}
